//! `nascent compare [STUDY.toml] [--set key=value]... [--arm ARM]... [--seeds 0,1]`: does the
//! search pay off? For the same data, budget and seeds it runs the study as configured
//! (`study`), the same study with random search (`random`), and hand-designed reference cells
//! trained by the same trainer with the study's recipe for the study's whole wall-clock budget
//! (`ref:<name>`). Every arm and seed adds one JSON line to the results file, so a long
//! comparison can be spread over several runs; the summary of the whole file (test accuracy
//! mean ± std per arm, wall time, parameters, latency) is printed and written as JSON and SVG.

use crate::layered::{Layered, env_overrides};
use crate::study::{RunOptions, run as run_study};
use anyhow::{Context, Result, anyhow};
use nascent_core::{Budget, NoReporter};
use nascent_report::compare::{ArmRun, STUDY_ARM, append_run, chart, read_runs, summarize, table};
use nascent_space::Nb201Arch;
use nascent_strategy::{StrategyConfig, StrategyKind};
use nascent_study::{
    Backend, EvaluatorSettings, FinalModel, RETRAIN_USABLE, StudySettings, retrain_time_limit,
    seconds_per_epoch,
};
use nascent_train::evaluate::TrainEvaluator;
use nascent_train::study::{load_data, train_config};
use nascent_train::trainer::{NoObserver, TimeLimit};
use nascent_train::{Builder, Nb201Builder};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// NB201's ResNet cell.
pub const RESNET_CELL: &str =
    "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|";
/// The all-conv3x3 NB201 cell.
pub const CONV3X3_CELL: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";

/// Arguments of `nascent compare`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The study file (TOML); without one, the default study.
    pub file: Option<PathBuf>,
    /// Override a field of the study file (repeatable), as in `nascent search`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Arms to run: study, random, reference (repeatable or comma-separated; default all).
    #[arg(long = "arm", value_delimiter = ',')]
    pub arms: Vec<String>,
    /// Seeds to run each arm with (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub seeds: Vec<u64>,
    /// Reference cells (NB201 arch strings; repeatable). Default: NB201's ResNet cell and the
    /// all-conv3x3 cell.
    #[arg(long = "reference-arch")]
    pub reference_arch: Vec<String>,
    /// Channels of the reference networks.
    #[arg(long, default_value_t = 16)]
    pub reference_channels: u32,
    /// Cells per stage of the reference networks.
    #[arg(long, default_value_t = 1)]
    pub reference_cells: u32,
    /// Folder for each arm's storage, model and report, and the summary.
    #[arg(long, default_value = "nascent-compare")]
    pub out: PathBuf,
    /// The results file (JSON lines) runs are added to (default: OUT/results.jsonl).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Only summarise the results file; run nothing.
    #[arg(long)]
    pub summary_only: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The results file's name of the random-search arm (the study's is [`STUDY_ARM`]).
const RANDOM_ARM: &str = "random";

/// Which arm a run is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Arm {
    Study,
    Random,
    Reference,
}

fn parse_arms(names: &[String]) -> Result<Vec<Arm>> {
    if names.is_empty() {
        return Ok(vec![Arm::Study, Arm::Random, Arm::Reference]);
    }
    names
        .iter()
        .map(|n| match n.trim() {
            STUDY_ARM => Ok(Arm::Study),
            RANDOM_ARM => Ok(Arm::Random),
            "reference" | "ref" => Ok(Arm::Reference),
            other => Err(anyhow!(
                "invalid `--arm`: unknown arm `{other}` (known: study, random, reference)"
            )),
        })
        .collect()
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let results = args
        .results
        .clone()
        .unwrap_or_else(|| args.out.join("results.jsonl"));
    if !args.summary_only {
        let arms = parse_arms(&args.arms)?;
        let layered = Layered::load(args.file.as_deref(), &env_overrides(), &args.sets)?;
        let mut base: StudySettings = layered.parse()?;
        if let Some(file) = &args.file {
            base.resolve_paths(file);
        }
        base.clone()
            .check(&crate::backend::torch().catalog())
            .map_err(|e| anyhow!("{}: {e}", layered.origin))?;
        let refs = references(&args)?;
        if args.seeds.is_empty() {
            return Err(anyhow!("invalid `--seeds`: name at least one seed"));
        }
        for &seed in &args.seeds {
            for arm in &arms {
                match arm {
                    Arm::Study | Arm::Random => {
                        let run = study_arm(&base, arm == &Arm::Random, seed, &args.out)?;
                        append_run(&results, &run).map_err(|e| anyhow!(e))?;
                        eprintln!(
                            "compare: {} seed {seed}: {:.2} % in {:.0} s",
                            run.arm, run.test_accuracy, run.wall_seconds
                        );
                    }
                    Arm::Reference => {
                        for (name, cell) in &refs {
                            let run = reference_arm(&base, name, cell, &args, seed)?;
                            append_run(&results, &run).map_err(|e| anyhow!(e))?;
                            eprintln!(
                                "compare: {} seed {seed}: {:.2} % in {:.0} s",
                                run.arm, run.test_accuracy, run.wall_seconds
                            );
                        }
                    }
                }
            }
        }
    }
    let runs = read_runs(&results).map_err(|e| anyhow!(e))?;
    show_references(&runs, &args.out)?;
    summarise(&results, &args)
}

/// Puts the reference arms' accuracy (same seed) next to the final model in the report of
/// every study and random arm that has one.
fn show_references(runs: &[ArmRun], out: &Path) -> Result<()> {
    for r in runs
        .iter()
        .filter(|r| r.arm == STUDY_ARM || r.arm == RANDOM_ARM)
    {
        let dir = out.join(format!("{}-seed{}", r.arm, r.seed));
        let refs: Vec<(String, f64)> = runs
            .iter()
            .filter(|x| x.arm.starts_with("ref:") && x.seed == r.seed)
            .map(|x| {
                (
                    format!("{} (same budget, seed {})", x.arm, x.seed),
                    x.test_accuracy,
                )
            })
            .collect();
        let (Ok(text), false) = (
            std::fs::read_to_string(dir.join("final.json")),
            refs.is_empty(),
        ) else {
            continue;
        };
        let fm: FinalModel = serde_json::from_str(&text)?;
        std::fs::write(dir.join("references.json"), serde_json::to_string(&refs)?)?;
        let storage =
            nascent_store::open(&format!("sqlite://{}", dir.join("nascent.db").display()))?;
        let Some(record) = storage.studies()?.into_iter().next() else {
            continue;
        };
        let settings = nascent_study::stored_settings(&record)?;
        let view = nascent_study::view_of(&crate::backend::torch(), &record.space)?;
        let path =
            nascent_study::write_report(&*storage, &record, &settings, Some(&fm), &dir, view)?;
        eprintln!("compare: {} shows the references", path.display());
    }
    Ok(())
}

fn references(args: &Args) -> Result<Vec<(String, Nb201Arch)>> {
    if args.reference_arch.is_empty() {
        return Ok(vec![
            ("ref:resnet".into(), RESNET_CELL.parse()?),
            ("ref:conv3x3".into(), CONV3X3_CELL.parse()?),
        ]);
    }
    args.reference_arch
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let a: Nb201Arch = s
                .parse()
                .with_context(|| format!("invalid `--reference-arch` #{}", i + 1))?;
            let name = match s.as_str() {
                RESNET_CELL => "ref:resnet".to_string(),
                CONV3X3_CELL => "ref:conv3x3".to_string(),
                _ => format!("ref:{}", i + 1),
            };
            Ok((name, a))
        })
        .collect()
}

/// Runs the study (or its random-search twin) with `seed` in its own storage and folder.
fn study_arm(base: &StudySettings, random: bool, seed: u64, out: &Path) -> Result<ArmRun> {
    let arm = if random { RANDOM_ARM } else { STUDY_ARM };
    let mut s = base.clone();
    let dir = out.join(format!("{arm}-seed{seed}"));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    s.seed = seed;
    s.name = format!("{}-{arm}-seed{seed}", base.name);
    s.storage = format!("sqlite://{}", dir.join("nascent.db").display());
    s.out = dir.clone();
    if random {
        s.strategy = StrategyConfig::default_for(StrategyKind::Random);
        if matches!(s.evaluator, EvaluatorSettings::Proxy(_)) {
            // Random sampling ranked by the same proxy is the study itself: the baseline a
            // user knows is random search that trains each sampled cell briefly (the base
            // settings' low fidelity) and retrains the best exactly as the study does.
            let plain = StudySettings::default();
            s.evaluator = plain.evaluator;
            s.objectives = plain.objectives;
            s.fidelity = plain.fidelity;
            s.pruner = plain.pruner;
        }
    }
    let strategy = s.strategy.kind().to_string();
    eprintln!(
        "compare: arm {arm}, seed {seed}, strategy {strategy}, folder {}",
        dir.display()
    );
    let backend = crate::backend::torch();
    let config = s
        .clone()
        .check(&backend.catalog())
        .map_err(|e| anyhow!("the {arm} arm's settings: {e}"))?;
    let t0 = Instant::now();
    let outcome = run_study(
        config,
        &backend,
        &RunOptions {
            json: false,
            search_only: false,
            result_to_stderr: true,
        },
    )?;
    let wall = t0.elapsed().as_secs_f64();
    let fm: FinalModel = outcome.final_model.ok_or_else(|| {
        anyhow!("the {arm} arm retrained no final model (is retraining off in the study?)")
    })?;
    let mut notes = BTreeMap::new();
    notes.insert("strategy".into(), strategy.into());
    notes.insert("evaluator".into(), s.evaluator.kind().into());
    notes.insert("epochs".into(), fm.epochs.into());
    notes.insert("retrain_seconds".into(), fm.seconds.into());
    if !fm.members.is_empty() {
        // An ensemble: how many networks, and each one's own test accuracy.
        notes.insert("members".into(), fm.members.len().into());
        notes.insert(
            "member_test_accuracy".into(),
            fm.members
                .iter()
                .map(|m| m.test_accuracy)
                .collect::<Vec<_>>()
                .into(),
        );
    }
    Ok(ArmRun {
        arm: arm.into(),
        seed,
        data: s.data.name.clone(),
        budget_minutes: s.budget.minutes.unwrap_or(0.0),
        test_accuracy: fm
            .test_accuracy
            .ok_or_else(|| anyhow!("the {arm} arm's final model has no test accuracy"))?,
        val_accuracy: fm.val_accuracy,
        wall_seconds: wall,
        params: fm.params,
        latency_ms: fm.latency_ms,
        arch: fm.arch,
        notes,
    })
}

/// Trains a reference cell with the study's recipe for the study's whole budget: a short
/// timing run (two passes over a twentieth of the data, the second timed, as the study's own
/// probe times its second pass) measures the cost of an epoch, then as many
/// full epochs as fit in what is left of the budget, with the cosine schedule over them.
fn reference_arm(
    base: &StudySettings,
    name: &str,
    cell: &Nb201Arch,
    args: &Args,
    seed: u64,
) -> Result<ArmRun> {
    let t0 = Instant::now();
    let minutes = base.budget.minutes.ok_or_else(|| {
        anyhow!("invalid `budget.minutes`: the reference arm needs a wall-clock budget")
    })?;
    let mut s = base.clone();
    s.seed = seed;
    let config = s
        .clone()
        .check(&crate::backend::torch().catalog())
        .map_err(|e| anyhow!("the reference arm's settings: {e}"))?;
    let (data, augment) = load_data(&config)?;
    let data = Arc::new(data);
    let recipe = s.retrain.train.clone().unwrap_or_else(|| s.train.clone());
    let threads = recipe
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let cfg = train_config(&recipe, &augment, seed, threads, true);
    let builder = || Box::new(Nb201Builder) as Box<dyn Builder<Nb201Arch>>;
    let evaluator = TrainEvaluator::new(
        builder(),
        data.clone(),
        cfg,
        tch::Device::cuda_if_available(),
    )?
    .with_test(true)
    .with_latency(true);
    let shape = |epochs: u32, fraction: Option<f64>| Budget {
        epochs: Some(epochs),
        data_fraction: fraction,
        resolution: None,
        cells: Some(args.reference_cells),
        channels: Some(args.reference_channels),
    };
    // The probe's training time scales with the data; its evaluation (the whole validation
    // split, as every full epoch has) and the building do not.
    let probe = 0.05;
    let p0 = Instant::now();
    let (_, probe_report) = evaluator
        .train(
            cell,
            &shape(2, Some(probe)),
            &mut NoReporter,
            &mut NoObserver,
        )
        .with_context(|| format!("timing {name}"))?;
    let probe_total = p0.elapsed().as_secs_f64();
    let probe_train = probe_report
        .epochs
        .iter()
        .map(|e| e.train_seconds)
        .sum::<f64>()
        .min(probe_total);
    // The same rule as the study's retraining (`seconds_per_epoch`, `RETRAIN_USABLE`), from
    // the probe's training speed; the probe's whole time (building, evaluation) is what a probe
    // without that speed falls back on.
    // The second pass: the first runs slower while the kernels' layouts are made (in bfloat16
    // more so), and timing it under-measured the speed by about 10 %, leaving that share unused.
    let probe_ips = probe_report
        .epochs
        .last()
        .map(|e| e.images_per_second)
        .filter(|v| v.is_finite() && *v > 0.0);
    let per_epoch = match probe_ips {
        Some(ips) => seconds_per_epoch(data.train.len(), data.val.len(), ips),
        None => probe_train / (2.0 * probe) + (probe_total - probe_train),
    };
    let left = minutes * 60.0 - t0.elapsed().as_secs_f64();
    let epochs = ((left * RETRAIN_USABLE) / per_epoch).floor().max(1.0) as u32;
    eprintln!(
        "compare: {name} ({cell}), {} channels, {} cells: about {per_epoch:.0} s per epoch, {epochs} epochs in {left:.0} s",
        args.reference_channels, args.reference_cells
    );
    // And the same time limit: the schedule shortens or lengthens to the epochs that fit, up
    // to the study's cap.
    let evaluator = evaluator.with_time_limit(Some(TimeLimit {
        seconds: retrain_time_limit(left),
        max_epochs: s.retrain.max_epochs.max(epochs),
    }));
    let (model, report) = evaluator
        .train(cell, &shape(epochs, None), &mut NoReporter, &mut NoObserver)
        .with_context(|| format!("training {name}"))?;
    let latency = nascent_train::metrics::latency(&model, 1, 5, 20)
        .ok()
        .map(|l| l.median_ms);
    let mut notes = BTreeMap::new();
    notes.insert("epochs".into(), report.epochs_done.into());
    if report.epochs_done != epochs {
        notes.insert("epochs_planned".into(), epochs.into());
    }
    notes.insert("channels".into(), args.reference_channels.into());
    notes.insert("cells".into(), args.reference_cells.into());
    Ok(ArmRun {
        arm: name.into(),
        seed,
        data: s.data.name.clone(),
        budget_minutes: minutes,
        test_accuracy: report
            .test_accuracy
            .ok_or_else(|| anyhow!("the data has no test split to score {name} on"))?,
        val_accuracy: report.val_accuracy,
        wall_seconds: t0.elapsed().as_secs_f64(),
        params: model.num_params() as f64,
        latency_ms: latency,
        arch: cell.to_string(),
        notes,
    })
}

fn summarise(results: &Path, args: &Args) -> Result<()> {
    let runs = read_runs(results).map_err(|e| anyhow!(e))?;
    if runs.is_empty() {
        return Err(anyhow!("{} holds no runs yet", results.display()));
    }
    let summaries = summarize(&runs);
    let dir = results.parent().unwrap_or(Path::new("."));
    let json_path = dir.join("summary.json");
    let svg_path = dir.join("summary.svg");
    std::fs::write(&json_path, serde_json::to_string_pretty(&summaries)?)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    let title = format!(
        "{}: {} min budget, test accuracy",
        runs[0].data, runs[0].budget_minutes
    );
    std::fs::write(&svg_path, chart(&summaries, &title))
        .with_context(|| format!("cannot write {}", svg_path.display()))?;
    if args.json {
        crate::output::print_json(&crate::output::CompareOutput {
            schema_version: nascent_study::SCHEMA_VERSION,
            results: results.to_path_buf(),
            arms: summaries,
        })?;
    } else {
        print!("{}", table(&summaries));
    }
    eprintln!(
        "summary: {} and {}",
        json_path.display(),
        svg_path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arms_parse_with_clear_errors() {
        assert_eq!(parse_arms(&[]).unwrap().len(), 3);
        assert_eq!(
            parse_arms(&["random".into(), "ref".into()]).unwrap(),
            vec![Arm::Random, Arm::Reference]
        );
        let e = parse_arms(&["grid".into()]).unwrap_err().to_string();
        assert!(e.contains("`--arm`") && e.contains("`grid`"), "{e}");
        RESNET_CELL.parse::<Nb201Arch>().unwrap();
        CONV3X3_CELL.parse::<Nb201Arch>().unwrap();
    }
}
