//! The main job: a resumable search on real data, then the best architecture retrained at full
//! fidelity, exported, and explained in a report.
//!
//! ```text
//! settings -> check -> storage -> data -> Runner (strategy, TrainEvaluator, pruner)
//!          -> best trial -> retrain (test accuracy) -> export -> report.html
//! ```

use crate::settings::{OptimizerKind, SpaceKind, StudySettings, TrainSettings};
use anyhow::{Context, Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use nascent_core::storage::{Artefact, ArtefactKind, Storage, StudyRecord, StudySpec};
use nascent_core::{Budget, History, NoReporter, SearchSpace, Trial};
use nascent_report::{EpochRow, ExportedFile, FinalResult, Report};
use nascent_space::{ChainSpace, DartsSpace, Nb201Space};
use nascent_store::{
    Event, Observer, RunConfig, RunSummary, Runner, StopReason, StopSignal, StudyBudget,
    load_history, open_or_create_study,
};
use nascent_train::data::{Augment, DataSpec, DataSplits};
use nascent_train::evaluate::TrainEvaluator;
use nascent_train::trainer::{EpochStats, Optimizer, Schedule, TrainConfig, TrainObserver};
use nascent_train::{Builder, ChainBuilder, DartsBuilder, Model, Nb201Builder};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the command line asks of a run besides the settings.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Print the result as one JSON object.
    pub json: bool,
    /// Skip retraining, export and the final report (search only).
    pub search_only: bool,
    /// Print the result to stderr, keeping stdout for the caller (`nascent compare`).
    pub result_to_stderr: bool,
}

/// What the final, retrained model achieved: written to `final.json` beside the report and
/// recorded in storage, so `nascent report` and `nascent best` can show it later.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FinalModel {
    /// The genotype.
    pub arch: String,
    /// The search trial it came from.
    pub trial: u64,
    /// Its search-time validation accuracy.
    pub search_val_accuracy: Option<f64>,
    /// Epochs of retraining.
    pub epochs: u32,
    /// Width and depth of the final network.
    pub channels: Option<u32>,
    /// Cells of the final network.
    pub cells: Option<u32>,
    /// Test accuracy (%) after retraining.
    pub test_accuracy: Option<f64>,
    /// Validation accuracy (%) after retraining.
    pub val_accuracy: Option<f64>,
    /// Training accuracy (%) after retraining.
    pub train_accuracy: f64,
    /// Parameters.
    pub params: f64,
    /// Multiply-accumulates of one forward pass.
    pub flops: Option<f64>,
    /// Batch-1 latency on this machine (ms).
    pub latency_ms: Option<f64>,
    /// Seconds of retraining.
    pub seconds: f64,
    /// Exported files.
    pub exports: Vec<(String, PathBuf)>,
    /// The retraining epoch by epoch (absent in files written before it was recorded).
    #[serde(default)]
    pub history: Vec<RetrainEpoch>,
}

/// One epoch of the final retraining.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RetrainEpoch {
    /// 1-based epoch.
    pub epoch: u32,
    /// Mean training loss.
    pub loss: f64,
    /// Training accuracy (%).
    pub train_accuracy: f64,
    /// Validation accuracy (%), where there was a validation set.
    pub val_accuracy: Option<f64>,
}

/// Runs (or resumes) the study described by `settings`.
pub fn run(settings: StudySettings, opts: &RunOptions) -> Result<()> {
    settings.check()?;
    let started = Instant::now();
    let storage = nascent_store::open(&settings.storage)?;
    match settings.space.kind {
        SpaceKind::Nb201 => Study::new(settings, storage, Nb201Space::new(), || {
            Box::new(Nb201Builder) as Box<dyn Builder<_>>
        })?
        .run(opts, started),
        SpaceKind::Darts => Study::new(settings, storage, DartsSpace::default(), || {
            Box::new(DartsBuilder::new(false)) as Box<dyn Builder<_>>
        })?
        .run(opts, started),
        SpaceKind::Chain => Study::new(settings, storage, ChainSpace::default(), || {
            Box::new(ChainBuilder) as Box<dyn Builder<_>>
        })?
        .run(opts, started),
    }
}

/// The settings stored with a study (so `nascent resume` needs only the storage and the name).
pub fn stored_settings(study: &StudyRecord) -> Result<StudySettings> {
    serde_json::from_value(study.config.clone()).with_context(|| {
        format!(
            "study `{}` holds settings this version of nascent cannot read",
            study.name
        )
    })
}

struct Study<S: SearchSpace, F> {
    settings: StudySettings,
    storage: Box<dyn Storage>,
    space: S,
    builder: F,
    record: StudyRecord,
}

impl<S, F> Study<S, F>
where
    S: SearchSpace,
    F: Fn() -> Box<dyn Builder<S::Arch>>,
{
    fn new(
        settings: StudySettings,
        storage: Box<dyn Storage>,
        space: S,
        builder: F,
    ) -> Result<Self> {
        let spec = StudySpec {
            name: settings.name.clone(),
            space: space.name().to_string(),
            objectives: settings.objectives.clone(),
            constraints: settings.constraints.clone(),
            config: serde_json::to_value(&settings)?,
            seed: settings.seed,
        };
        let record = open_or_create_study(&*storage, &spec)?;
        Ok(Study {
            settings,
            storage,
            space,
            builder,
            record,
        })
    }

    fn run(self, opts: &RunOptions, started: Instant) -> Result<()> {
        let s = &self.settings;
        let (data, augment) = load_data(s)?;
        let data = Arc::new(data);
        let threads = s
            .train
            .threads
            .unwrap_or_else(|| (available_cores() / s.workers).max(1));
        let search_cfg = train_config(&s.train, &augment, s.seed, threads, false);
        let device = tch::Device::cuda_if_available();
        let evaluator = TrainEvaluator::new((self.builder)(), data.clone(), search_cfg, device)?;
        let budget = Budget {
            epochs: s.fidelity.epochs,
            data_fraction: s.fidelity.data_fraction,
            resolution: s.fidelity.resolution,
            cells: s.fidelity.cells,
            channels: s.fidelity.channels,
        };
        let mut strategy = s.strategy.build::<S>()?;
        let run_cfg = RunConfig {
            workers: s.workers,
            budget: StudyBudget {
                trials: s.budget.trials,
                seconds: s.search_seconds(),
                epochs: s.budget.epochs,
            },
            trial_budget: budget,
            params: serde_json::to_value(&s.train)?,
            stop_at_deadline: true,
            ..RunConfig::default()
        };
        run_cfg.check()?;
        let pruner = s.pruner.build();
        let progress = StudyProgress::new(&run_cfg.budget, s.fidelity.epochs);
        let mut runner = Runner::new(
            &*self.storage,
            self.record.clone(),
            &self.space,
            &evaluator,
            run_cfg,
        )
        .with_observer(&progress)
        .with_stop(StopSignal::ctrlc()?);
        if let Some(p) = &pruner {
            runner = runner.with_pruner(&**p);
        }
        let summary = runner.run(&mut strategy)?;
        progress.finish(&summary);
        if summary.stop == StopReason::Interrupted {
            eprintln!(
                "interrupted: {} trials kept; continue with `nascent resume --storage {} --study {}`",
                summary.counts.finished(),
                self.storage.url(),
                self.record.name
            );
            return Ok(());
        }
        let history = load_history(&*self.storage, &self.record, &self.space)?;
        let Some(best) = history.best().cloned() else {
            return Err(anyhow!(
                "study `{}` has no completed trial to retrain (all {} failed or were pruned)",
                self.record.name,
                history.len()
            ));
        };
        let best_string = self.space.format(&best.arch);
        log::info!(
            "best of {} trials: #{} {} ({:?})",
            history.len(),
            best.number,
            best_string,
            best.metrics.get("val_accuracy")
        );
        let final_model = if s.retrain.enabled && !opts.search_only {
            let elapsed = self
                .storage
                .study(&self.record.name)?
                .elapsed_seconds
                .max(started.elapsed().as_secs_f64());
            Some(self.retrain(&best, &history, (&data, &augment), threads, elapsed)?)
        } else {
            None
        };
        let report_path = if opts.search_only {
            None
        } else {
            Some(self.write_report(final_model.as_ref())?)
        };
        if opts.result_to_stderr {
            eprintln!(
                "{}: best #{} {}, final test accuracy {}, {:.1} min",
                self.record.name,
                best.number,
                best_string,
                final_model
                    .as_ref()
                    .and_then(|f| f.test_accuracy)
                    .map_or("-".into(), |a| format!("{a:.2}%")),
                started.elapsed().as_secs_f64() / 60.0
            );
            return Ok(());
        }
        print_result(
            &self.record,
            &best_string,
            &best,
            final_model.as_ref(),
            report_path.as_deref(),
            &summary,
            started.elapsed().as_secs_f64(),
            opts.json,
        );
        Ok(())
    }

    /// Retrains the best architecture at full fidelity and exports it.
    fn retrain(
        &self,
        best: &Trial<S::Arch>,
        history: &History<S::Arch>,
        (data, augment): (&Arc<DataSplits>, &Augment),
        threads: usize,
        elapsed: f64,
    ) -> Result<FinalModel> {
        let s = &self.settings;
        let recipe = s.retrain.train.clone().unwrap_or_else(|| s.train.clone());
        let channels = s.retrain.channels.or(s.fidelity.channels);
        let cells = s.retrain.cells.or(s.fidelity.cells);
        let epochs = match s.retrain.epochs {
            Some(e) => e,
            None => {
                let left = s
                    .budget
                    .minutes
                    .map(|m| m * 60.0 - elapsed)
                    .unwrap_or(s.retrain.minutes * 60.0);
                fit_epochs(s, history, best, channels, cells, left)
            }
        };
        let threads = recipe.threads.unwrap_or(threads.max(available_cores()));
        let cfg = train_config(&recipe, augment, s.seed, threads, true);
        let evaluator = TrainEvaluator::new(
            (self.builder)(),
            data.clone(),
            cfg,
            tch::Device::cuda_if_available(),
        )?
        .with_test(true);
        let budget = Budget {
            epochs: Some(epochs),
            data_fraction: None,
            resolution: s.fidelity.resolution,
            cells,
            channels,
        };
        let arch_string = self.space.format(&best.arch);
        eprintln!(
            "retraining #{} {} for {epochs} epochs on all training data (channels {:?}, cells {:?})",
            best.number, arch_string, channels, cells
        );
        let t0 = Instant::now();
        let mut bar = EpochBar::new(epochs);
        let (model, report) = evaluator
            .train(&best.arch, &budget, &mut NoReporter, &mut bar)
            .with_context(|| format!("retraining {arch_string}"))?;
        bar.finish();
        let seconds = t0.elapsed().as_secs_f64();
        let mut fm = FinalModel {
            arch: arch_string.clone(),
            trial: best.number,
            search_val_accuracy: best.metrics.get("val_accuracy").copied(),
            epochs,
            channels,
            cells,
            test_accuracy: report.test_accuracy,
            val_accuracy: report.val_accuracy,
            train_accuracy: report.train_accuracy,
            params: model.num_params() as f64,
            flops: None,
            latency_ms: None,
            seconds,
            exports: Vec::new(),
            history: report
                .epochs
                .iter()
                .map(|e| RetrainEpoch {
                    epoch: e.epoch,
                    loss: e.train_loss,
                    train_accuracy: e.train_accuracy,
                    val_accuracy: e.val_accuracy,
                })
                .collect(),
        };
        measure(&model, &mut fm);
        let out = &s.out;
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create the output folder {}", out.display()))?;
        if s.retrain.export {
            fm.exports = export(&model, &arch_string, self.space.name(), out)?;
        }
        let final_path = out.join("final.json");
        std::fs::write(&final_path, serde_json::to_string_pretty(&fm)?)
            .with_context(|| format!("cannot write {}", final_path.display()))?;
        for path in std::iter::once(&final_path).chain(fm.exports.iter().map(|(_, p)| p)) {
            self.storage.add_artefact(&Artefact {
                study: self.record.id,
                trial: Some(best.number),
                kind: ArtefactKind::Export,
                path: path.clone(),
                created: nascent_core::storage::now(),
            })?;
        }
        Ok(fm)
    }

    fn write_report(&self, final_model: Option<&FinalModel>) -> Result<PathBuf> {
        let path = write_report(
            &*self.storage,
            &self.record,
            &self.settings,
            final_model,
            &self.settings.out,
        )?;
        Ok(path)
    }
}

/// Writes `report.html` for a study into `out` and records it in storage.
pub fn write_report(
    storage: &dyn Storage,
    record: &StudyRecord,
    settings: &StudySettings,
    final_model: Option<&FinalModel>,
    out: &Path,
) -> Result<PathBuf> {
    let record = storage.study(&record.name)?;
    let trials = storage.trials(record.id, 0)?;
    let mut report = Report::from_records(&record, &trials);
    report.strategy = settings.strategy.kind().to_string();
    report.settings = settings_rows(settings);
    report.intermediate_label = "validation accuracy (%)".into();
    if let Some(fm) = final_model {
        report.retraining = fm
            .history
            .iter()
            .map(|e| EpochRow {
                epoch: e.epoch,
                loss: Some(e.loss).filter(|v| v.is_finite()),
                train_accuracy: Some(e.train_accuracy).filter(|v| v.is_finite()),
                val_accuracy: e.val_accuracy,
            })
            .collect();
        report.final_result = Some(FinalResult {
            arch: fm.arch.clone(),
            test_accuracy: fm.test_accuracy,
            params: Some(fm.params),
            flops: fm.flops,
            latency_ms: fm.latency_ms,
            metrics: [
                ("epochs".to_string(), fm.epochs as f64),
                ("train_accuracy".into(), fm.train_accuracy),
                ("seconds".into(), fm.seconds),
            ]
            .into_iter()
            .chain(fm.val_accuracy.map(|v| ("val_accuracy".to_string(), v)))
            .collect(),
            notes: format!(
                "trial #{} retrained for {} epochs on all training data (channels {}, cells {})",
                fm.trial,
                fm.epochs,
                fm.channels.map_or("default".into(), |c| c.to_string()),
                fm.cells.map_or("default".into(), |c| c.to_string())
            ),
            exports: fm
                .exports
                .iter()
                .map(|(label, path)| ExportedFile {
                    label: label.clone(),
                    path: relative(path, out),
                })
                .collect(),
        });
    }
    // Reference results of `nascent compare` for this study, when it wrote them.
    if let Ok(text) = std::fs::read_to_string(out.join("references.json")) {
        match serde_json::from_str::<Vec<(String, f64)>>(&text) {
            Ok(refs) => report.references = refs,
            Err(e) => log::warn!("ignoring {}: {e}", out.join("references.json").display()),
        }
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the output folder {}", out.display()))?;
    let path = report
        .write(out.join("report.html"))
        .with_context(|| format!("cannot write the report into {}", out.display()))?;
    storage.add_artefact(&Artefact {
        study: record.id,
        trial: None,
        kind: ArtefactKind::Report,
        path: path.clone(),
        created: nascent_core::storage::now(),
    })?;
    Ok(path)
}

fn relative(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

fn settings_rows(s: &StudySettings) -> Vec<(String, String)> {
    let mut rows = vec![
        ("seed".to_string(), s.seed.to_string()),
        ("data".into(), s.data.name.clone()),
        ("workers".into(), s.workers.to_string()),
        (
            "strategy".into(),
            serde_json::to_string(&s.strategy).unwrap_or_default(),
        ),
        (
            "fidelity".into(),
            serde_json::to_string(&s.fidelity).unwrap_or_default(),
        ),
        (
            "pruner".into(),
            serde_json::to_string(&s.pruner).unwrap_or_default(),
        ),
        (
            "budget".into(),
            serde_json::to_string(&s.budget).unwrap_or_default(),
        ),
    ];
    rows.push((
        "train".into(),
        serde_json::to_string(&s.train).unwrap_or_default(),
    ));
    rows
}

/// Loads and splits the study's dataset.
pub fn load_data(s: &StudySettings) -> Result<(DataSplits, Augment)> {
    let spec = match (DataSpec::parse(&s.data.name), &s.data.path) {
        (DataSpec::Known(k, _), Some(p)) => DataSpec::Known(k, Some(p.clone())),
        (DataSpec::Path(p), _) => {
            if !p.exists() {
                return Err(anyhow!(
                    "invalid `data.name`: {} does not exist (a dataset name is one of fashion-mnist, mnist, cifar10)",
                    p.display()
                ));
            }
            DataSpec::Path(p)
        }
        (known, None) => known,
    };
    eprintln!("loading {} ...", s.data.name);
    let loaded = spec.load()?;
    let augment = spec.default_augment(&loaded);
    let splits = DataSplits::split(loaded, s.data.validation_fraction, s.seed)?;
    eprintln!(
        "data: {} training, {} validation, {} test samples of shape {:?}, {} classes",
        splits.train.len(),
        splits.val.len(),
        splits.test.as_ref().map_or(0, |t| t.len()),
        splits.shape(),
        splits.classes()
    );
    Ok((splits, augment))
}

pub(crate) fn train_config(
    t: &TrainSettings,
    dataset_augment: &Augment,
    seed: u64,
    threads: usize,
    test: bool,
) -> TrainConfig {
    let optimizer = match t.optimizer {
        OptimizerKind::Sgd => Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: t.weight_decay,
        },
        OptimizerKind::Adam | OptimizerKind::Adamw => Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: t.weight_decay,
            decoupled: t.optimizer == OptimizerKind::Adamw,
        },
    };
    let mut augment = if t.augment {
        dataset_augment.clone()
    } else {
        Augment::none()
    };
    if t.cutout > 0 {
        augment.cutout = t.cutout;
    }
    TrainConfig {
        batch_size: t.batch_size,
        eval_batch_size: t.batch_size.max(512),
        lr: t.lr,
        optimizer,
        schedule: Schedule::Cosine { min_lr: 0.0 },
        warmup_epochs: t.warmup_epochs,
        label_smoothing: t.label_smoothing,
        grad_clip: (t.grad_clip > 0.0).then_some(t.grad_clip),
        augment,
        seed,
        threads: Some(threads),
        evaluate_test: test,
        ..TrainConfig::default()
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How many full-data epochs fit in `seconds`, from what the search trials cost per epoch: the
/// best architecture's own cost where its trial measured it (a conv-heavy cell costs several
/// times a pooling one), else the median over the completed trials.
fn fit_epochs<A: Clone + Eq + std::hash::Hash>(
    s: &StudySettings,
    history: &History<A>,
    best: &Trial<A>,
    channels: Option<u32>,
    cells: Option<u32>,
    seconds: f64,
) -> u32 {
    // Seconds per epoch over the whole training split.
    let fraction = s.fidelity.data_fraction.unwrap_or(1.0);
    let per_epoch_of = |t: &Trial<A>| {
        let secs = t.metrics.get("train_seconds")?;
        let ep = t.metrics.get("epochs")?;
        (*ep > 0.0).then(|| secs / ep / fraction)
    };
    let mut per_epoch: Vec<f64> = history.completed().filter_map(per_epoch_of).collect();
    per_epoch.sort_by(f64::total_cmp);
    let Some(median) = per_epoch_of(best).or_else(|| per_epoch.get(per_epoch.len() / 2).copied())
    else {
        return s.retrain.max_epochs.min(10);
    };
    // Wider or deeper final networks cost more: scale by the ratio of widths squared and depths.
    let width = match (channels, s.fidelity.channels) {
        (Some(a), Some(b)) if b > 0 => (a as f64 / b as f64).powi(2),
        _ => 1.0,
    };
    let depth = match (cells, s.fidelity.cells) {
        (Some(a), Some(b)) if b > 0 => a as f64 / b as f64,
        _ => 1.0,
    };
    // Keep a tenth of the time for evaluation, export and the report.
    let usable = seconds * 0.88;
    let epochs = (usable / (median * width * depth)).floor();
    log::info!(
        "retraining budget: {seconds:.0} s left, about {:.0} s per full epoch -> {epochs} epochs",
        median * width * depth
    );
    (epochs.max(1.0) as u32).min(s.retrain.max_epochs)
}

fn measure(model: &Model, fm: &mut FinalModel) {
    match nascent_train::metrics::complexity(model) {
        Ok(c) => fm.flops = Some(c.flops as f64),
        Err(e) => log::warn!("cannot count FLOPs: {e}"),
    }
    match nascent_train::metrics::latency(model, 1, 5, 30) {
        Ok(l) => fm.latency_ms = Some(l.median_ms),
        Err(e) => log::warn!("cannot measure latency: {e}"),
    }
}

fn export(model: &Model, arch: &str, space: &str, out: &Path) -> Result<Vec<(String, PathBuf)>> {
    let dir = out.join("model");
    let files = nascent_train::export::export_model(model, space, arch, &dir)
        .with_context(|| format!("exporting the final model into {}", dir.display()))?;
    Ok(vec![
        ("genotype".to_string(), files.genotype_txt),
        ("genotype (JSON)".to_string(), files.genotype_json),
        ("weights (safetensors)".to_string(), files.weights),
        ("ONNX model".to_string(), files.onnx),
    ])
}

#[allow(clippy::too_many_arguments)]
fn print_result<A>(
    study: &StudyRecord,
    arch: &str,
    best: &Trial<A>,
    fm: Option<&FinalModel>,
    report: Option<&Path>,
    summary: &RunSummary,
    seconds: f64,
    json: bool,
) {
    if json {
        let v = serde_json::json!({
            "study": study.name,
            "trials": summary.counts.total,
            "complete": summary.counts.complete,
            "pruned": summary.counts.pruned,
            "failed": summary.counts.failed,
            "best": {
                "trial": best.number,
                "arch": arch,
                "metrics": best.metrics,
            },
            "final": fm,
            "report": report,
            "seconds": seconds,
        });
        println!("{v}");
        return;
    }
    println!("study        {}", study.name);
    println!(
        "trials       {} ({} complete, {} pruned, {} failed)",
        summary.counts.total, summary.counts.complete, summary.counts.pruned, summary.counts.failed
    );
    println!("best trial   #{} {}", best.number, arch);
    if let Some(v) = best.metrics.get("val_accuracy") {
        println!("search val   {v:.2}%");
    }
    if let Some(fm) = fm {
        println!(
            "retrained    {} epochs in {:.0} s: test accuracy {}",
            fm.epochs,
            fm.seconds,
            fm.test_accuracy
                .map_or("n/a".to_string(), |t| format!("{t:.2}%"))
        );
        println!("params       {:.0}", fm.params);
        if let Some(f) = fm.flops {
            println!("flops        {:.1} M multiply-accumulates", f / 1e6);
        }
        if let Some(l) = fm.latency_ms {
            println!("latency      {l:.2} ms (batch 1, this machine)");
        }
        for (label, path) in &fm.exports {
            println!("export       {label}: {}", path.display());
        }
    }
    if let Some(r) = report {
        println!("report       {}", r.display());
    }
    println!("wall time    {:.1} min", seconds / 60.0);
}

/// The study's progress bar: trials finished and the time budget, with the current trial's
/// epoch.
struct StudyProgress {
    bar: ProgressBar,
    epochs: Option<u32>,
    state: Mutex<ProgressState>,
}

#[derive(Default)]
struct ProgressState {
    best: Option<f64>,
    finished: u64,
}

impl StudyProgress {
    fn new(budget: &StudyBudget, epochs: Option<u32>) -> Self {
        let (len, style) = match (budget.seconds, budget.trials) {
            (Some(s), _) => (
                s.ceil() as u64,
                "{spinner} search [{elapsed_precise}] {wide_bar} {pos}/{len} s  {msg}",
            ),
            (None, Some(t)) => (
                t,
                "{spinner} search [{elapsed_precise}] {wide_bar} {pos}/{len} trials  {msg}",
            ),
            _ => (0, "{spinner} search [{elapsed_precise}] {msg}"),
        };
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(style).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(500));
        StudyProgress {
            bar,
            epochs,
            state: Mutex::new(ProgressState::default()),
        }
    }

    fn finish(&self, summary: &RunSummary) {
        self.bar.finish_and_clear();
        eprintln!(
            "search done ({:?}): {} trials, {} complete, {} pruned, {} failed, {:.0} s",
            summary.stop,
            summary.counts.total,
            summary.counts.complete,
            summary.counts.pruned,
            summary.counts.failed,
            summary.study_elapsed_seconds
        );
    }
}

impl Observer for StudyProgress {
    fn event(&self, event: &Event<'_>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::RunStarted { counts, .. } => {
                st.finished = counts.finished();
            }
            Event::TrialStarted { trial, resumed } => {
                self.bar.set_message(format!(
                    "trial {}{}: training ... | {} done, best {}",
                    trial.number,
                    if *resumed { " (re-queued)" } else { "" },
                    st.finished,
                    st.best.map_or("-".into(), |b| format!("{b:.2}"))
                ));
            }
            Event::Intermediate {
                number,
                step,
                value,
                of,
            } => {
                self.bar.set_message(format!(
                    "trial {number}: epoch {step}/{} val {value:.2} | {} done, best {}",
                    of.or(self.epochs).map_or("?".into(), |e| e.to_string()),
                    st.finished,
                    st.best.map_or("-".into(), |b| format!("{b:.2}"))
                ));
            }
            Event::TrialFinished { trial } => {
                st.finished += 1;
                if let Some(v) = trial.values.first().copied().filter(|v| v.is_finite())
                    && trial.state == nascent_core::TrialState::Complete
                {
                    st.best = Some(st.best.map_or(v, |b: f64| b.max(v)));
                }
                crate::progress::say(
                    &self.bar,
                    format!(
                        "trial {:>3} {:<8} {} {}",
                        trial.number,
                        trial.state.as_str(),
                        trial
                            .values
                            .iter()
                            .map(|v| format!("{v:.2}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                        trial.arch
                    ),
                );
                if let Some(r) = &trial.reason {
                    crate::progress::say(&self.bar, format!("          ({r})"));
                }
            }
            Event::TrialRequeued { number, reason } => {
                crate::progress::say(&self.bar, format!("trial {number} re-queued ({reason:?})"));
            }
            Event::RunFinished { .. } => {}
        }
        if let Some(len) = self.bar.length()
            && len > 0
            && self.bar.position() < len
        {
            self.bar.set_position(self.bar.elapsed().as_secs().min(len));
        }
    }
}

/// Progress of the retraining, one tick per batch.
struct EpochBar {
    bar: ProgressBar,
}

impl EpochBar {
    fn new(epochs: u32) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} retrain epoch {msg} [{elapsed_precise}] {wide_bar} {pos}/{len} batches (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("1/{epochs}"));
        EpochBar { bar }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl TrainObserver for EpochBar {
    fn on_start(&mut self, first_epoch: u32, epochs: u32, batches: usize) {
        self.bar.set_length((epochs as u64) * batches as u64);
        self.bar.set_message(format!("{first_epoch}/{epochs}"));
    }
    fn on_batch(&mut self, _epoch: u32, _batch: usize, _loss: Option<f64>) {
        self.bar.inc(1);
    }
    fn on_epoch(&mut self, stats: &EpochStats) {
        crate::progress::say(
            &self.bar,
            format!(
                "retrain epoch {:>3}: loss {:.4} train {:.2}% val {} ({:.0} img/s)",
                stats.epoch,
                stats.train_loss,
                stats.train_accuracy,
                stats
                    .val_accuracy
                    .map_or("-".into(), |v| format!("{v:.2}%")),
                stats.images_per_second
            ),
        );
        self.bar.set_message(format!("{}", stats.epoch + 1));
    }
}
