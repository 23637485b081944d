//! `nascent analyze`: what matters in a study — the importance of each decision, the marginal
//! effect of each option, the motifs of the top decile — and, with `--compare`, how stable the
//! top architectures and these conclusions are across studies (seeds).

use super::{StudyArgs, open_existing};
use anyhow::{Context, Result, anyhow, bail};
use nascent_core::TrialState;
use nascent_core::storage::{StudyRecord, TrialRecord};
use nascent_report::analysis::{
    Analysis, AnalysisConfig, Comparison, SCHEMA_VERSION, StudyTrials, analyze_study,
    importance_svg, marginal_svg, stability,
};
use nascent_report::plot::format_value;
use std::path::PathBuf;

/// Arguments of `nascent analyze`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub study: StudyArgs,
    /// Other studies of the same storage to compare with (repeat the flag): top-k overlap and
    /// rank correlations across them.
    #[arg(long, value_name = "STUDY")]
    pub compare: Vec<String>,
    /// The objective analysed: its metric name or its position (0 = the first).
    #[arg(long, default_value = "0")]
    pub objective: String,
    /// The k of the top-k lists compared across studies.
    #[arg(long, default_value_t = 10)]
    pub top_k: usize,
    /// Members of the surrogate forest.
    #[arg(long, default_value_t = 128)]
    pub trees: usize,
    /// Seed of the surrogate's resamples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the charts (importance.svg, marginals.svg) to this folder.
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,
    /// Print JSON (an analysis; with --compare, the analyses and their stability).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let (storage, record) = args.study.open()?;
    let mut studies = vec![(record.clone(), storage.trials(record.id, 0)?)];
    if !args.compare.is_empty() {
        let storage = open_existing(&args.study.storage)?;
        for name in &args.compare {
            let r = storage.study(name)?;
            if r.space != record.space {
                bail!(
                    "study `{name}` searches space `{}`, study `{}` space `{}`: only studies of one space compare",
                    r.space,
                    record.name,
                    record.space
                );
            }
            let t = storage.trials(r.id, 0)?;
            studies.push((r, t));
        }
    }
    let cfg = AnalysisConfig {
        forest: nascent_report::analysis::ForestConfig {
            trees: args.trees,
            seed: args.seed,
            ..Default::default()
        },
        ..AnalysisConfig::default()
    };
    let mut analyses = Vec::new();
    for (r, t) in &studies {
        let index = objective_index(r, &args.objective)?;
        let a = analyze_study(r, t, index, &cfg)
            .with_context(|| format!("cannot analyse study `{}`", r.name))?;
        analyses.push(a);
    }
    if let Some(dir) = &args.svg {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, svg) in [
            ("importance.svg", importance_svg(&analyses[0])),
            ("marginals.svg", marginal_svg(&analyses[0])),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, svg).with_context(|| format!("cannot write {}", p.display()))?;
            log::info!("wrote {}", p.display());
        }
    }
    let comparison = (studies.len() > 1).then(|| {
        let trials: Vec<StudyTrials> = studies
            .iter()
            .zip(&analyses)
            .map(|((r, t), a)| StudyTrials {
                name: r.name.clone(),
                trials: values(t, r, a),
            })
            .collect();
        Comparison {
            schema_version: SCHEMA_VERSION,
            stability: stability(&trials, &analyses[0].objective, args.top_k, Some(&analyses)),
            analyses: analyses.clone(),
        }
    });
    if args.json {
        return match &comparison {
            Some(c) => crate::output::print_json(c),
            None => crate::output::print_json(&analyses[0]),
        };
    }
    for a in &analyses {
        print_analysis(a);
    }
    if let Some(c) = &comparison {
        let s = &c.stability;
        println!(
            "stability over {} studies, top {}: mean overlap {:.0} %{}",
            s.studies.len(),
            s.k,
            s.mean_top_k_overlap * 100.0,
            s.mean_importance_spearman
                .map(|r| format!(", mean Spearman of the importances {r:.2}"))
                .unwrap_or_default()
        );
        for p in &s.pairs {
            println!(
                "  {} / {}: overlap {:.0} %, {} shared trials{}",
                p.a,
                p.b,
                p.top_k_overlap * 100.0,
                p.shared,
                p.importance_spearman
                    .map(|r| format!(", importance Spearman {r:.2}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// The position of `--objective` among the study's objectives.
fn objective_index(r: &StudyRecord, objective: &str) -> Result<usize> {
    if let Ok(i) = objective.parse::<usize>() {
        if i < r.objectives.len() {
            return Ok(i);
        }
        bail!(
            "--objective {i}: study `{}` has {} objective(s)",
            r.name,
            r.objectives.len()
        );
    }
    r.objectives
        .iter()
        .position(|o| o.metric == objective)
        .ok_or_else(|| {
            let names: Vec<&str> = r.objectives.iter().map(|o| o.metric.as_str()).collect();
            anyhow!(
                "--objective `{objective}`: study `{}` optimises {}",
                r.name,
                names.join(", ")
            )
        })
}

/// Each completed trial's value of the analysed objective.
fn values(trials: &[TrialRecord], r: &StudyRecord, a: &Analysis) -> Vec<(String, f64)> {
    let index = r
        .objectives
        .iter()
        .position(|o| o.metric == a.objective.metric)
        .unwrap_or(0);
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| {
            t.values
                .get(index)
                .copied()
                .filter(|v| v.is_finite())
                .map(|v| (t.arch.clone(), v))
        })
        .collect()
}

fn print_analysis(a: &Analysis) {
    println!(
        "study {} ({}): {} of {} trials analysed, objective {}; surrogate out-of-bag R² {}",
        a.study,
        a.space,
        a.trials_used,
        a.trials_total,
        a.objective.metric,
        a.surrogate
            .oob_r2
            .map(|r| format!("{r:.2}"))
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "importance (share of variance, {} % interval over members) and best option:",
        format_value(a.interval * 100.0)
    );
    for imp in a.ranked_importance() {
        let best = a
            .marginals
            .iter()
            .find(|m| m.dimension == imp.dimension)
            .and_then(|m| m.choices.iter().find(|c| c.label == m.best).map(|c| (m, c)));
        println!(
            "  {:>2}. {:<24} {:>5.1} % [{:.1}, {:.1}]  best {}",
            imp.rank,
            imp.dimension,
            imp.mean * 100.0,
            imp.low * 100.0,
            imp.high * 100.0,
            best.map(|(m, c)| format!(
                "{} (expected {} [{}, {}]){}",
                c.label,
                format_value(c.mean),
                format_value(c.low),
                format_value(c.high),
                if m.best_set.len() > 1 {
                    format!(", tied with {}", m.best_set[1..].join(", "))
                } else {
                    String::new()
                }
            ))
            .unwrap_or_else(|| "-".into())
        );
    }
    if let Some(m) = &a.motifs {
        println!(
            "motifs of the top {} trials (of {}), by p-value:",
            m.top_trials, m.trials
        );
        for x in m.combinations.iter().chain(&m.options).take(8) {
            let items: Vec<String> = x
                .items
                .iter()
                .map(|i| format!("{}={}", i.dimension, i.option))
                .collect();
            println!(
                "  {}  top {}/{}, all {}/{}, lift {}, p {:.2e}, q {:.2e}",
                items.join(" + "),
                x.top_count,
                m.top_trials,
                x.all_count,
                m.trials,
                format_value(x.lift),
                x.p_value,
                x.q_value
            );
        }
    }
    for n in &a.notes {
        println!("note: {n}");
    }
}
