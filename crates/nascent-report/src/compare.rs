//! The comparison of a study with its baselines (`nascent compare`): one record per arm and
//! seed, kept as JSON lines so that a long comparison can be spread over several runs that add
//! to the same file; a summary per arm (test accuracy mean and standard deviation, wall time,
//! parameters, latency), printed as a table, written as JSON and drawn as an SVG bar chart.
//! Each baseline's summary also carries the study's lead over it, paired by seed: the seeds
//! share their data order and initial draws across arms, so a seed's luck (a hard seed is hard
//! for every arm) cancels in the difference, and only the seeds both arms ran count.

use crate::mean_std;
use crate::plot::{BarChart, BarGroup, Orientation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// One finished run of one arm with one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmRun {
    /// The arm (`study`, `random`, `reference`).
    pub arm: String,
    /// The seed.
    pub seed: u64,
    /// The data set (its name or path).
    pub data: String,
    /// The wall-clock budget of the arm, in minutes.
    pub budget_minutes: f64,
    /// Test accuracy (%) of the arm's final model.
    pub test_accuracy: f64,
    /// Validation accuracy (%), when measured.
    #[serde(default)]
    pub val_accuracy: Option<f64>,
    /// Wall seconds the arm took, search and retraining included.
    pub wall_seconds: f64,
    /// Parameters of the final model.
    pub params: f64,
    /// Batch-1 inference latency of the final model (ms), when measured.
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// The final architecture (and recipe) as its space prints it.
    pub arch: String,
    /// Anything else worth keeping (trials, epochs, strategy).
    #[serde(default)]
    pub notes: BTreeMap<String, serde_json::Value>,
}

/// The summary of one arm over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmSummary {
    /// The arm.
    pub arm: String,
    /// Runs (seeds) summarised.
    pub runs: usize,
    /// The seeds, in the file's order.
    pub seeds: Vec<u64>,
    /// Mean test accuracy (%).
    pub test_accuracy_mean: f64,
    /// Sample standard deviation of the test accuracy (0 for one run).
    pub test_accuracy_std: f64,
    /// Mean wall seconds.
    pub wall_seconds_mean: f64,
    /// Mean parameters.
    pub params_mean: f64,
    /// Mean latency (ms) over the runs that measured it.
    pub latency_ms_mean: Option<f64>,
    /// The architecture of the best run.
    pub best_arch: String,
    /// The `study` arm's test accuracy minus this arm's, on the seeds both ran (absent for the
    /// study itself, or when they share no seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_lead: Option<PairedLead>,
}

/// The study's lead over one arm, paired by seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedLead {
    /// The seeds both arms ran, in the study's order.
    pub seeds: Vec<u64>,
    /// Mean of the per-seed differences (percentage points; positive: the study is ahead).
    pub mean: f64,
    /// Sample standard deviation of the per-seed differences (0 for one seed).
    pub std: f64,
}

/// The arm whose lead over the others a summary reports.
pub const STUDY_ARM: &str = "study";

/// Reads the runs of a results file (JSON lines; blank lines are skipped). A missing file is
/// an empty list; a line that is not a run is an error naming the file and the line.
pub fn read_runs(path: &Path) -> Result<Vec<ArmRun>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                format!(
                    "{} line {}: not a comparison run: {e}",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// Appends one run to a results file (creating it and its folder), one JSON line, flushed.
pub fn append_run(path: &Path, run: &ArmRun) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let line = serde_json::to_string(run).map_err(|e| e.to_string())?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writeln!(f, "{line}")
        .and_then(|_| f.sync_data())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// One summary per arm, in the order arms first appear. When an arm has several runs with the
/// same seed, the last one counts (a rerun replaces the earlier result).
pub fn summarize(runs: &[ArmRun]) -> Vec<ArmSummary> {
    let mut arms: Vec<String> = Vec::new();
    let mut by_arm: BTreeMap<&str, BTreeMap<u64, &ArmRun>> = BTreeMap::new();
    let mut seed_order: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for r in runs {
        if !arms.contains(&r.arm) {
            arms.push(r.arm.clone());
        }
        let order = seed_order.entry(&r.arm).or_default();
        if !order.contains(&r.seed) {
            order.push(r.seed);
        }
        by_arm.entry(&r.arm).or_default().insert(r.seed, r);
    }
    let study = by_arm.get(STUDY_ARM);
    arms.iter()
        .map(|arm| {
            let seeds = seed_order[arm.as_str()].clone();
            let rs: Vec<&ArmRun> = seeds.iter().map(|s| by_arm[arm.as_str()][s]).collect();
            let n = rs.len() as f64;
            let mean = |f: &dyn Fn(&ArmRun) -> f64| rs.iter().map(|r| f(r)).sum::<f64>() / n;
            let accuracies: Vec<f64> = rs.iter().map(|r| r.test_accuracy).collect();
            let (acc, std) = mean_std(&accuracies);
            let study_lead = study.filter(|_| arm != STUDY_ARM).and_then(|study| {
                let paired: Vec<(u64, f64)> = seed_order[STUDY_ARM]
                    .iter()
                    .filter_map(|s| {
                        let other = by_arm[arm.as_str()].get(s)?;
                        Some((*s, study[s].test_accuracy - other.test_accuracy))
                    })
                    .collect();
                if paired.is_empty() {
                    return None;
                }
                let (mean, std) = mean_std(&paired.iter().map(|p| p.1).collect::<Vec<_>>());
                Some(PairedLead {
                    seeds: paired.iter().map(|p| p.0).collect(),
                    mean,
                    std,
                })
            });
            let lat: Vec<f64> = rs.iter().filter_map(|r| r.latency_ms).collect();
            let best = rs
                .iter()
                .max_by(|a, b| a.test_accuracy.total_cmp(&b.test_accuracy))
                .map(|r| r.arch.clone())
                .unwrap_or_default();
            ArmSummary {
                arm: arm.clone(),
                runs: rs.len(),
                seeds,
                test_accuracy_mean: acc,
                test_accuracy_std: std,
                wall_seconds_mean: mean(&|r| r.wall_seconds),
                params_mean: mean(&|r| r.params),
                latency_ms_mean: (!lat.is_empty()).then(|| mean_std(&lat).0),
                best_arch: best,
                study_lead,
            }
        })
        .collect()
}

/// The summaries as a text table (one line per arm).
pub fn table(summaries: &[ArmSummary]) -> String {
    let mut out = format!(
        "{:<12} {:>5} {:>16} {:>10} {:>11} {:>11}  {}\n",
        "arm",
        "runs",
        "test acc (%)",
        "wall (s)",
        "params",
        "latency ms",
        "study ahead by (same seeds)"
    );
    for s in summaries {
        let lead = s.study_lead.as_ref().map_or_else(
            || "-".to_string(),
            |l| format!("{:+.2} ± {:.2} (n={})", l.mean, l.std, l.seeds.len()),
        );
        out.push_str(&format!(
            "{:<12} {:>5} {:>16} {:>10.0} {:>11.0} {:>11}  {}\n",
            s.arm,
            s.runs,
            format!("{:.2} ± {:.2}", s.test_accuracy_mean, s.test_accuracy_std),
            s.wall_seconds_mean,
            s.params_mean,
            s.latency_ms_mean
                .map_or_else(|| "-".to_string(), |l| format!("{l:.2}")),
            lead
        ));
    }
    out
}

/// A bar chart of the arms' mean test accuracy (each run as its own bar group by seed order
/// would clutter: the labels carry mean ± std and the runs).
pub fn chart(summaries: &[ArmSummary], title: &str) -> String {
    BarChart {
        title: title.to_string(),
        value_label: "test accuracy (%)".into(),
        categories: summaries
            .iter()
            .map(|s| {
                format!(
                    "{} ({:.2} ± {:.2}, n={})",
                    s.arm, s.test_accuracy_mean, s.test_accuracy_std, s.runs
                )
            })
            .collect(),
        groups: vec![BarGroup {
            name: String::new(),
            values: summaries.iter().map(|s| s.test_accuracy_mean).collect(),
        }],
        orientation: Orientation::Horizontal,
    }
    .to_svg()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(arm: &str, seed: u64, acc: f64) -> ArmRun {
        ArmRun {
            arm: arm.into(),
            seed,
            data: "fashion-mnist".into(),
            budget_minutes: 30.0,
            test_accuracy: acc,
            val_accuracy: None,
            wall_seconds: 100.0 + seed as f64,
            params: 1000.0,
            latency_ms: Some(0.5),
            arch: format!("{arm}-{seed}"),
            notes: BTreeMap::new(),
        }
    }

    #[test]
    fn runs_append_read_back_and_summarise() {
        let dir = std::env::temp_dir().join(format!("nascent-compare-{}", std::process::id()));
        let path = dir.join("sub/results.jsonl");
        let _ = std::fs::remove_file(&path);
        assert!(read_runs(&path).unwrap().is_empty());
        for r in [
            run("study", 0, 93.0),
            run("reference", 0, 92.0),
            run("study", 1, 94.0),
            run("reference", 1, 91.0),
            // A rerun of seed 1 replaces the first.
            run("reference", 1, 92.0),
        ] {
            append_run(&path, &r).unwrap();
        }
        let runs = read_runs(&path).unwrap();
        assert_eq!(runs.len(), 5);
        let s = summarize(&runs);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].arm, "study");
        assert!((s[0].test_accuracy_mean - 93.5).abs() < 1e-12);
        assert!((s[0].test_accuracy_std - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(s[1].runs, 2);
        assert_eq!(s[1].test_accuracy_mean, 92.0);
        assert_eq!(s[1].test_accuracy_std, 0.0);
        assert_eq!(s[0].best_arch, "study-1");
        // Paired by seed: 93 - 92 and 94 - 92 (the rerun), so +1.5 ± 0.71 over seeds 0 and 1.
        assert_eq!(s[0].study_lead, None);
        let lead = s[1].study_lead.as_ref().unwrap();
        assert_eq!(lead.seeds, vec![0, 1]);
        assert!((lead.mean - 1.5).abs() < 1e-12 && (lead.std - 0.5f64.sqrt()).abs() < 1e-12);
        let t = table(&s);
        assert!(t.contains("93.50 ± 0.71"), "{t}");
        assert!(t.contains("+1.50 ± 0.71 (n=2)"), "{t}");
        let svg = chart(&s, "fashion-mnist, 30 minutes");
        assert!(
            svg.starts_with("<svg") && svg.contains("93.50 ± 0.71"),
            "{svg}"
        );
        std::fs::write(&path, "{\"arm\": 3}\n").unwrap();
        let e = read_runs(&path).unwrap_err();
        assert!(e.contains("line 1") && e.contains("results.jsonl"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_study_lead_pairs_only_the_seeds_both_arms_ran() {
        // The random arm ran seeds 1 and 2; the study 0 and 1: only seed 1 pairs. The reference
        // ran no seed of the study's. A hard seed (1) is hard for both arms: unpaired, the
        // study trails by 0.15; paired, it leads by 0.2.
        let runs = vec![
            run("study", 0, 95.0),
            run("study", 1, 93.7),
            run("random", 1, 93.5),
            run("random", 2, 95.5),
            run("ref:conv3x3", 7, 90.0),
        ];
        let s = summarize(&runs);
        assert_eq!(s.len(), 3);
        let random = &s[1];
        assert!((s[0].test_accuracy_mean - random.test_accuracy_mean - -0.15).abs() < 1e-9);
        let lead = random.study_lead.as_ref().unwrap();
        assert_eq!((lead.seeds.clone(), lead.std), (vec![1], 0.0));
        assert!((lead.mean - 0.2).abs() < 1e-9, "{lead:?}");
        assert_eq!(s[2].study_lead, None);
        let json = serde_json::to_value(&s).unwrap();
        assert!(json[0].get("study_lead").is_none() && json[2].get("study_lead").is_none());
        assert_eq!(json[1]["study_lead"]["seeds"], serde_json::json!([1]));
        // Without a study arm no summary carries a lead.
        let s = summarize(&runs[2..]);
        assert!(s.iter().all(|a| a.study_lead.is_none()));
        let t = table(&s);
        assert!(t.lines().skip(1).all(|l| l.ends_with(" -")), "{t}");
    }
}
