//! The study driver: a resumable search, then the best architecture retrained at full
//! fidelity, exported, and explained in a report.
//!
//! ```text
//! StudyConfig -> storage -> backend.with_space -> data -> Runner (strategy, evaluator, pruner)
//!             -> best trial -> retrain (test accuracy) -> export -> report.html -> StudyOutcome
//! ```

use crate::backend::{
    Backend, DataInfo, FinalModel, MemberRun, Prepared, RaceRun, RetrainPlan, SpaceEntry,
    SpaceTask, Trainer,
};
use crate::error::{Error, Result};
use crate::observer::{RunEvents, Silent, StudyEvent, StudyObserver};
use crate::runner::{
    RunConfig, RunSummary, Runner, StopReason, StudyBudget, load_history, open_or_create_study,
};
use crate::settings::{
    EvaluatorSettings, RETRAIN_EPOCHS, RaceSettings, StudyConfig, StudySettings, WarmStartSettings,
};
use crate::worker::StopSignal;
use nascent_core::storage::{Artefact, ArtefactKind, Storage, StudyRecord, StudySpec};
use nascent_core::{
    Budget, Evaluation, Evaluator, History, Metrics, Outcome, Reporter, Rng, SearchSpace, Trial,
    TrialState,
};
use nascent_estimate::{LowFidelity, Surrogate};
use nascent_report::{ArchView, EpochRow, ExportedFile, FinalResult, Report};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The best search trial of a study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestTrial {
    /// Its number.
    pub trial: u64,
    /// Its architecture (canonical string).
    pub arch: String,
    /// What it measured.
    pub metrics: Metrics,
}

/// The trial retrained, and the `[retrain.race]` that chose it (empty without one).
struct Chosen<A> {
    trial: Trial<A>,
    race: Vec<RaceRun>,
}

impl<A> Chosen<A> {
    /// The trial, chosen without a race.
    fn unraced(trial: Trial<A>) -> Self {
        Chosen {
            trial,
            race: Vec::new(),
        }
    }
}

/// How many sampled architectures [`Driver::probe`] builds before the search.
const PROBES: usize = 8;

/// What a study run did.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyOutcome {
    /// The study's name.
    pub study: String,
    /// The storage URL.
    pub storage: String,
    /// The search.
    pub summary: RunSummary,
    /// The best trial (`None` when the run was interrupted before retraining).
    pub best: Option<BestTrial>,
    /// The retrained model (`None` without retraining).
    pub final_model: Option<FinalModel>,
    /// The report written (`None` with `search_only`).
    pub report: Option<PathBuf>,
    /// Wall-clock seconds of this run.
    pub seconds: f64,
}

impl StudyOutcome {
    /// Whether the stop signal ended the search (the study can be resumed).
    pub fn interrupted(&self) -> bool {
        self.summary.stop == StopReason::Interrupted
    }
}

/// A study ready to run: checked settings, a backend, and how to run.
///
/// ```no_run
/// # fn demo<B: nascent_study::Backend>(backend: &B) -> nascent_study::Result<()> {
/// use nascent_study::{Study, StudySettings};
/// let mut settings = StudySettings::default();
/// settings.storage = "memory:".into();
/// settings.budget.trials = Some(4);
/// let config = settings.check(&backend.catalog())?;
/// let outcome = Study::new(config, backend).run()?;
/// println!("{:?}", outcome.final_model);
/// # Ok(()) }
/// ```
pub struct Study<'a, B: Backend> {
    config: StudyConfig,
    backend: &'a B,
    observer: &'a dyn StudyObserver,
    stop: StopSignal,
    search_only: bool,
    create_only: bool,
    worker: WorkerLimits,
}

/// What one process running a shared study does (`nascent worker`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerLimits {
    /// Stop after evaluating this many trials (`None`: until the study's budget is spent).
    pub max_trials: Option<u64>,
    /// When the budget allows no new trial, wait for the trials other workers still run
    /// (taking over any that come back to the queue) instead of stopping at once.
    pub until_done: bool,
}

impl Default for WorkerLimits {
    fn default() -> Self {
        WorkerLimits {
            max_trials: None,
            until_done: true,
        }
    }
}

impl<'a, B: Backend> Study<'a, B> {
    /// A study of `config` on `backend`, silent, never stopped, retraining as configured.
    pub fn new(config: StudyConfig, backend: &'a B) -> Self {
        Study {
            config,
            backend,
            observer: &Silent,
            stop: StopSignal::new(),
            search_only: false,
            create_only: false,
            worker: WorkerLimits::default(),
        }
    }

    /// Creates the study in its storage (its settings stored with it, so that workers can
    /// join it by name) and runs nothing: [`Study::run`] then returns an outcome with no
    /// trials run (`nascent search --no-run`).
    pub fn create_only(mut self, on: bool) -> Self {
        self.create_only = on;
        self
    }

    /// Runs as one worker of a shared study: search only, within `limits`.
    pub fn worker(mut self, limits: WorkerLimits) -> Self {
        self.search_only = true;
        self.worker = limits;
        self
    }

    /// Sends progress to `observer`.
    pub fn observer(mut self, observer: &'a dyn StudyObserver) -> Self {
        self.observer = observer;
        self
    }

    /// Stops (re-queueing the trials in flight) when `stop` is raised.
    pub fn stop(mut self, stop: StopSignal) -> Self {
        self.stop = stop;
        self
    }

    /// Searches only: no retraining, export or report.
    pub fn search_only(mut self, on: bool) -> Self {
        self.search_only = on;
        self
    }

    /// Runs (or resumes) the study.
    pub fn run(self) -> Result<StudyOutcome> {
        let started = Instant::now();
        let storage = nascent_store::open(&self.config.storage)?;
        let space = self.config.space.clone();
        let task = DriverTask {
            study: &self,
            storage: &*storage,
            started,
        };
        self.backend.with_space(&space, task)?
    }
}

struct DriverTask<'s, 'a, B: Backend> {
    study: &'s Study<'a, B>,
    storage: &'s dyn Storage,
    started: Instant,
}

impl<B: Backend> SpaceTask for DriverTask<'_, '_, B> {
    type Output = Result<StudyOutcome>;

    fn run<S: SearchSpace + Clone + 'static>(
        self,
        entry: SpaceEntry<'_, S>,
    ) -> Result<StudyOutcome> {
        Driver {
            config: &self.study.config,
            observer: self.study.observer,
            stop: &self.study.stop,
            search_only: self.study.search_only,
            create_only: self.study.create_only,
            worker: self.study.worker,
            storage: self.storage,
            started: self.started,
            space: &entry.space,
            trainer: entry.trainer,
            view: entry.view,
        }
        .run()
    }
}

struct Driver<'d, S: SearchSpace> {
    config: &'d StudyConfig,
    observer: &'d dyn StudyObserver,
    stop: &'d StopSignal,
    search_only: bool,
    create_only: bool,
    worker: WorkerLimits,
    storage: &'d dyn Storage,
    started: Instant,
    space: &'d S,
    trainer: &'d dyn Trainer<S::Arch>,
    view: Option<Box<dyn ArchView>>,
}

/// The cores of this machine.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl<S: SearchSpace + Clone + 'static> Driver<'_, S> {
    fn run(self) -> Result<StudyOutcome> {
        let s = self.config;
        let spec = StudySpec {
            name: s.name.clone(),
            space: self.space.name().to_string(),
            objectives: s.objectives.clone(),
            constraints: s.constraints.clone(),
            config: serde_json::to_value(s.settings())
                .map_err(|e| Error::backend("storing the settings", e))?,
            seed: s.seed,
        };
        if self.create_only {
            let record = open_or_create_study(self.storage, &spec)?;
            let counts = self.storage.counts(record.id)?;
            return Ok(StudyOutcome {
                study: record.name,
                storage: self.storage.url().to_string(),
                summary: RunSummary {
                    stop: StopReason::NotRun,
                    counts,
                    evaluated: 0,
                    requeued: 0,
                    elapsed_seconds: 0.0,
                    study_elapsed_seconds: record.elapsed_seconds,
                },
                best: None,
                final_model: None,
                report: None,
                seconds: self.started.elapsed().as_secs_f64(),
            });
        }
        let prepared = self.trainer.prepare(s, self.observer)?;
        self.probe(&*prepared)?;
        let record = open_or_create_study(self.storage, &spec)?;
        let threads = s
            .train
            .threads
            .unwrap_or_else(|| (available_cores() / s.workers).max(1));
        let evaluator = self.evaluator(&*prepared, &record, threads)?;
        let mut strategy = s.strategy.build::<S>()?;
        if let Some(w) = &s.warm_start {
            let first = warm_start_archs(self.space, w)?;
            strategy = Box::new(nascent_strategy::Warm::new(strategy, Arc::new(first), w.k));
        }
        let run_cfg = RunConfig {
            workers: s.workers,
            budget: StudyBudget {
                trials: s.budget.trials,
                seconds: s.search_seconds(),
                epochs: s.budget.epochs,
            },
            trial_budget: s.trial_budget(),
            params: serde_json::to_value(&s.train)
                .map_err(|e| Error::backend("storing the recipe", e))?,
            stop_at_deadline: true,
            max_evaluations: self.worker.max_trials,
            wait_for_others: self.worker.until_done,
            ..RunConfig::default()
        };
        run_cfg.check()?;
        let pruner = s.pruner.build();
        let events = RunEvents(self.observer);
        let mut runner = Runner::new(
            self.storage,
            record.clone(),
            self.space,
            &*evaluator,
            run_cfg,
        )
        .with_observer(&events)
        .with_stop(self.stop.clone());
        if let Some(p) = &pruner {
            runner = runner.with_pruner(&**p);
        }
        let summary = runner.run(&mut strategy)?;
        if summary.stop == StopReason::AllFailed {
            let reason = self
                .storage
                .trials(record.id, 0)?
                .into_iter()
                .filter(|t| t.state == TrialState::Fail)
                .max_by(|a, b| {
                    a.finished
                        .unwrap_or(0.0)
                        .total_cmp(&b.finished.unwrap_or(0.0))
                })
                .and_then(|t| t.reason)
                .unwrap_or_else(|| "no reason recorded".into());
            return Err(Error::AllTrialsFailed {
                study: record.name.clone(),
                failed: summary.counts.failed,
                reason,
            });
        }
        self.observer.event(&StudyEvent::SearchFinished(&summary));
        let mut outcome = StudyOutcome {
            study: record.name.clone(),
            storage: self.storage.url().to_string(),
            summary,
            best: None,
            final_model: None,
            report: None,
            seconds: 0.0,
        };
        if outcome.interrupted() {
            outcome.seconds = self.started.elapsed().as_secs_f64();
            return Ok(outcome);
        }
        let history = load_history(self.storage, &record, self.space)?;
        let Some(best) = history.best().cloned() else {
            if self.search_only {
                // A worker (or a search-only run) has nothing to retrain: no error.
                outcome.seconds = self.started.elapsed().as_secs_f64();
                return Ok(outcome);
            }
            return Err(Error::NoCompletedTrial {
                study: record.name.clone(),
                trials: history.len(),
            });
        };
        let best_string = self.space.format(&best.arch);
        log::info!(
            "best of {} trials: #{} {} ({:?})",
            history.len(),
            best.number,
            best_string,
            best.metrics.get("val_accuracy")
        );
        let retrains = s.retrain.enabled && !self.search_only;
        let chosen = match &s.retrain.race {
            Some(r) if retrains => self.race(&*prepared, &history, best, r, threads)?,
            _ => Chosen::unraced(best),
        };
        let best = chosen.trial.clone();
        if retrains {
            let elapsed = self
                .storage
                .study(&record.name)?
                .elapsed_seconds
                .max(self.started.elapsed().as_secs_f64());
            let fm = self.retrain(&*prepared, &record, chosen, &history, threads, elapsed)?;
            outcome.final_model = Some(fm);
        }
        if !self.search_only {
            outcome.report = Some(write_report(
                self.storage,
                &record,
                s.settings(),
                outcome.final_model.as_ref(),
                &s.out,
                self.view,
            )?);
        }
        outcome.best = Some(BestTrial {
            trial: best.number,
            arch: best_string,
            metrics: best.metrics.clone(),
        });
        outcome.seconds = self.started.elapsed().as_secs_f64();
        Ok(outcome)
    }

    /// `[retrain.race]`: trains the best `candidates` feasible trials (distinct architectures,
    /// in the search's order) for the race's epochs and data at the retraining's width and
    /// depth, and returns the one with the best validation accuracy (the search's best when
    /// every run fails; the better-ranked among ties) with every run's result.
    fn race(
        &self,
        prepared: &dyn Prepared<S::Arch>,
        history: &History<S::Arch>,
        best: Trial<S::Arch>,
        race: &RaceSettings,
        threads: usize,
    ) -> Result<Chosen<S::Arch>> {
        let s = self.config;
        let mut seen = std::collections::HashSet::new();
        let candidates: Vec<&Trial<S::Arch>> = history
            .ranked()
            .into_iter()
            .map(|i| &history.trials()[i])
            .filter(|t| history.violation(t) <= 0.0)
            .filter(|t| seen.insert(self.space.format(&t.arch)))
            .take(race.candidates)
            .collect();
        if candidates.len() < 2 {
            log::info!("no race: {} candidate(s)", candidates.len());
            return Ok(Chosen::unraced(best));
        }
        let evaluator = prepared.train_evaluator(threads)?;
        let (channels, cells) = final_shape(s);
        let budget = Budget {
            epochs: Some(race.epochs),
            data_fraction: Some(race.data_fraction),
            resolution: s.trial_budget().resolution,
            channels,
            cells,
        };
        let mut runs = Vec::with_capacity(candidates.len());
        let mut winner: Option<(usize, f64)> = None;
        for (i, t) in candidates.iter().enumerate() {
            let started = Instant::now();
            let mut run = RaceRun {
                trial: t.number,
                arch: self.space.format(&t.arch),
                ..RaceRun::default()
            };
            match evaluator.evaluate(&t.arch, &budget, &mut nascent_core::NoReporter) {
                Outcome::Complete(e) | Outcome::Pruned(e) => {
                    run.val_accuracy = e.metrics.get("val_accuracy").copied();
                }
                Outcome::Failed { reason, .. } => run.failed = Some(reason),
            }
            run.seconds = started.elapsed().as_secs_f64();
            if let Some(v) = run.val_accuracy.filter(|v| v.is_finite())
                && winner.is_none_or(|(_, w)| v > w)
            {
                winner = Some((i, v));
            }
            self.observer.event(&StudyEvent::Race {
                n: i + 1,
                of: candidates.len(),
                run: &run,
            });
            runs.push(run);
        }
        Ok(Chosen {
            trial: winner.map_or(best, |(i, _)| candidates[i].clone()),
            race: runs,
        })
    }

    /// Refuses a study none of whose architectures can be built on its data before any trial
    /// runs: a sample of the space is built (not trained) at the trials' fidelity and at the
    /// retraining's width and depth; when every one fails, the error names the data and gives
    /// the builder's reason (the usual cause: a table whose rows are not images of the shape
    /// the space's networks need, which `data.shape` can give).
    fn probe(&self, prepared: &dyn Prepared<S::Arch>) -> Result<()> {
        let s = self.config;
        let mut rng = Rng::new(s.seed ^ 0x70_726f_6265);
        let archs: Vec<S::Arch> = (0..PROBES).map(|_| self.space.sample(&mut rng)).collect();
        let searched = s.trial_budget();
        let (channels, cells) = final_shape(s);
        let retrained = Budget {
            epochs: Some(1),
            data_fraction: None,
            resolution: searched.resolution,
            channels,
            cells,
        };
        for (what, budget) in [("search trials", &searched), ("the retraining", &retrained)] {
            let mut first = None;
            let mut built = 0;
            for a in &archs {
                match prepared.probe(a, budget) {
                    Ok(()) => built += 1,
                    Err(e) => {
                        first.get_or_insert_with(|| (self.space.format(a), e));
                    }
                }
            }
            if built == 0
                && let Some((arch, reason)) = first
            {
                let d = prepared.data();
                return Err(Error::config(
                    "data",
                    format!(
                        "none of {PROBES} sampled {} architectures can be built for {what} on                          {} (samples of shape {}x{}x{}): {reason} (e.g. {arch}); a table whose                          rows are images takes `data.shape = \"CxHxW\"`",
                        self.space.name(),
                        d.origin,
                        d.shape[0],
                        d.shape[1],
                        d.shape[2],
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The evaluator of search trials, as `[evaluator] kind` says.
    fn evaluator(
        &self,
        prepared: &dyn Prepared<S::Arch>,
        record: &StudyRecord,
        threads: usize,
    ) -> Result<Box<dyn Evaluator<S::Arch>>> {
        let s = self.config;
        let trained: Box<dyn Evaluator<S::Arch>> = match &s.evaluator {
            EvaluatorSettings::Proxy(p) => {
                return prepared.proxy_evaluator(p, &s.trial_budget());
            }
            EvaluatorSettings::Train { .. } => prepared.train_evaluator(threads)?,
            EvaluatorSettings::LowFidelity => Box::new(LowFidelity::new(
                prepared.train_evaluator(threads)?,
                s.fidelity.clone(),
            )?),
            EvaluatorSettings::Surrogate(c) => {
                let inner =
                    LowFidelity::new(prepared.train_evaluator(threads)?, s.fidelity.clone())?;
                let surrogate = Surrogate::new(self.space.clone(), inner, c.clone())?;
                // A resumed study's real evaluations train the model from the start.
                let history = load_history(self.storage, record, self.space)?;
                surrogate.observe_history(&history);
                Box::new(surrogate)
            }
        };
        Ok(if s.retrain.enabled {
            Box::new(WithRetrainEpochs::new(trained, s, prepared.data()))
        } else {
            trained
        })
    }

    /// Retrains the best architecture at full fidelity, exports it and records the files.
    fn retrain(
        &self,
        prepared: &dyn Prepared<S::Arch>,
        record: &StudyRecord,
        chosen: Chosen<S::Arch>,
        history: &History<S::Arch>,
        threads: usize,
        elapsed: f64,
    ) -> Result<FinalModel> {
        let s = self.config;
        let best = &chosen.trial;
        let searched = s.trial_budget();
        let recipe = s.retrain.train.clone().unwrap_or_else(|| s.train.clone());
        let (channels, cells) = final_shape(s);
        let plan_threads = recipe.threads.unwrap_or(threads.max(available_cores()));
        // At most one member a thread: each trains on its share of them, at once.
        let mut members = (s.retrain.ensemble as usize).clamp(1, plan_threads.max(1));
        let (epochs, time_limit) = match s.retrain.epochs {
            Some(e) => (e, None),
            None => {
                let started = std::time::Instant::now();
                // The trials' speed says what an epoch costs when the retraining has their
                // shape and is one network; otherwise (another width or depth, trials that
                // trained nothing, as with zero-cost proxies, or an ensemble) the final
                // configuration is timed on this machine.
                let trial_speed = best
                    .metrics
                    .get("train_images_per_second")
                    .is_some_and(|v| *v > 0.0);
                let same_shape = channels == searched.channels && cells == searched.cells;
                let shape = Budget {
                    channels,
                    cells,
                    resolution: searched.resolution,
                    ..Budget::default()
                };
                // One network on a member's share of the threads, timed alone: beside the
                // others each trains about a fifth slower (Fashion-MNIST: 731 images/s timed at
                // one thread, 560-635 trained side by side), which the schedule's time limit
                // absorbs. Timing the members side by side measured them a third below their
                // training (388 images/s), so `ensemble_min_epochs` counts epochs as timed alone.
                let timed = |n: usize| {
                    if n == 1 && trial_speed && same_shape {
                        return None;
                    }
                    let threads = (plan_threads / n).max(1);
                    prepared
                        .training_speed(&best.arch, &shape, &recipe, threads)
                        .unwrap_or_else(|e| {
                            log::warn!("the retraining's speed was not measured: {e}");
                            None
                        })
                };
                let left = || {
                    s.budget
                        .minutes
                        .map(|m| m * 60.0 - elapsed)
                        .unwrap_or(s.retrain.minutes * 60.0)
                        - started.elapsed().as_secs_f64()
                };
                let plan = |measured: Option<f64>| {
                    fit_epochs(
                        s,
                        history,
                        best,
                        (channels, cells),
                        left(),
                        prepared.data(),
                        measured,
                    )
                };
                let mut epochs = plan(timed(members));
                if members > 1 && epochs < s.retrain.ensemble_min_epochs {
                    log::info!(
                        "an ensemble of {members} would train {epochs} epochs each, fewer than \
                         retrain.ensemble_min_epochs ({}): one network on all {plan_threads} \
                         threads instead",
                        s.retrain.ensemble_min_epochs
                    );
                    members = 1;
                    epochs = plan(timed(1));
                }
                (epochs, Some(retrain_time_limit(left())))
            }
        };
        let plan = RetrainPlan {
            trial: best.number,
            arch: self.space.format(&best.arch),
            space: self.space.name().to_string(),
            epochs,
            time_limit,
            max_epochs: s.retrain.max_epochs.max(epochs),
            channels,
            cells,
            resolution: searched.resolution,
            threads: plan_threads,
            members,
            recipe,
            export: s.retrain.export,
            out: s.out.clone(),
        };
        self.observer.event(&StudyEvent::RetrainStarted {
            trial: plan.trial,
            arch: &plan.arch,
            epochs,
            channels,
            cells,
            members,
        });
        let mut fm = prepared.retrain(&best.arch, &plan, self.observer)?;
        self.observer.event(&StudyEvent::RetrainFinished);
        fm.search_val_accuracy = best.metrics.get("val_accuracy").copied();
        fm.race = chosen.race;
        let out = &s.out;
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let final_path = out.join("final.json");
        let text = serde_json::to_string_pretty(&fm)
            .map_err(|e| Error::backend("writing final.json", e))?;
        std::fs::write(&final_path, text).map_err(|e| Error::io(&final_path, e))?;
        for path in std::iter::once(&final_path).chain(fm.exports.iter().map(|(_, p)| p)) {
            self.storage.add_artefact(&Artefact {
                study: record.id,
                trial: Some(best.number),
                kind: ArtefactKind::Export,
                path: path.clone(),
                created: nascent_core::storage::now(),
            })?;
        }
        Ok(fm)
    }
}

/// The architectures of `[warm_start]`, best first; errors name the field and the file.
fn warm_start_archs<S: SearchSpace>(space: &S, w: &WarmStartSettings) -> Result<Vec<S::Arch>> {
    let file = nascent_strategy::ScoreFile::load(&w.scores)
        .map_err(|e| Error::config("warm_start.scores", e.to_string()))?;
    let order = file
        .ranking(&w.column)
        .map_err(|e| Error::config("warm_start.column", e.to_string()))?;
    order
        .into_iter()
        .map(|i| {
            let arch = &file.archs()[i];
            space.parse(arch).map_err(|e| {
                Error::config(
                    "warm_start.scores",
                    format!(
                        "{} line {}: `{arch}` is not an architecture of the `{}` space: {e}",
                        w.scores.display(),
                        i + 2,
                        space.name()
                    ),
                )
            })
        })
        .collect()
}

/// The settings stored with a study (so a study resumes from its storage and name alone).
pub fn stored_settings(study: &StudyRecord) -> Result<StudySettings> {
    serde_json::from_value(study.config.clone()).map_err(|e| Error::Mismatch {
        study: study.name.clone(),
        url: String::new(),
        reason: format!("holds settings this version of nascent cannot read: {e}"),
    })
}

/// The retrained model recorded for a study (its `final.json`), if any.
pub fn stored_final_model(
    storage: &dyn Storage,
    study: &StudyRecord,
) -> Result<Option<FinalModel>> {
    let found = storage
        .artefacts(study.id)?
        .into_iter()
        .rfind(|a| a.path.file_name().is_some_and(|n| n == "final.json"));
    Ok(found
        .and_then(|a| std::fs::read_to_string(&a.path).ok())
        .and_then(|s| serde_json::from_str(&s).ok()))
}

/// Writes `report.html` for a study into `out` (drawing architectures with `view`) and
/// records it in storage.
pub fn write_report(
    storage: &dyn Storage,
    record: &StudyRecord,
    settings: &StudySettings,
    final_model: Option<&FinalModel>,
    out: &Path,
    view: Option<Box<dyn ArchView>>,
) -> Result<PathBuf> {
    let record = storage.study(&record.name)?;
    let trials = storage.trials(record.id, 0)?;
    let mut report = Report::from_records(&record, &trials);
    report.view = view;
    report.strategy = settings.strategy.kind().to_string();
    report.settings = settings_rows(settings);
    report.intermediate_label = "validation accuracy (%)".into();
    if let Some(fm) = final_model {
        report.final_result = Some(final_result(fm, out));
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
    }
    // Reference results of `nascent compare` for this study, when it wrote them.
    let references = out.join("references.json");
    if let Ok(text) = std::fs::read_to_string(&references) {
        match serde_json::from_str::<Vec<(String, f64)>>(&text) {
            Ok(refs) => report.references = refs,
            Err(e) => log::warn!("ignoring {}: {e}", references.display()),
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let path = report
        .write(out.join("report.html"))
        .map_err(|e| Error::Backend {
            what: format!("cannot write the report into {}", out.display()),
            source: Box::new(e),
        })?;
    storage.add_artefact(&Artefact {
        study: record.id,
        trial: None,
        kind: ArtefactKind::Report,
        path: path.clone(),
        created: nascent_core::storage::now(),
    })?;
    Ok(path)
}

fn final_result(fm: &FinalModel, out: &Path) -> FinalResult {
    FinalResult {
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
            "trial #{} retrained for {} epochs on all training data (channels {}, cells {}){}{}",
            fm.trial,
            fm.epochs,
            fm.channels.map_or("default".into(), |c| c.to_string()),
            fm.cells.map_or("default".into(), |c| c.to_string()),
            race_note(&fm.race),
            members_note(&fm.members)
        ),
        exports: fm
            .exports
            .iter()
            .map(|(label, path)| ExportedFile {
                label: label.clone(),
                path: relative(path, out),
            })
            .collect(),
    }
}

/// How `[retrain.race]` chose the final model, for the report (empty without a race).
fn race_note(race: &[RaceRun]) -> String {
    if race.is_empty() {
        return String::new();
    }
    let runs: Vec<String> = race
        .iter()
        .map(|r| {
            let v = r
                .val_accuracy
                .map_or("failed".into(), |v| format!("{v:.2} %"));
            format!("#{} {v}", r.trial)
        })
        .collect();
    format!(
        "; chosen by a race of the {} best trials (validation accuracy after a short training: {})",
        race.len(),
        runs.join(", ")
    )
}

/// The ensemble behind the final model, for the report (empty for one network).
fn members_note(members: &[MemberRun]) -> String {
    if members.is_empty() {
        return String::new();
    }
    let each: Vec<String> = members
        .iter()
        .map(|m| m.test_accuracy.map_or("-".into(), |t| format!("{t:.2} %")))
        .collect();
    format!(
        "; an ensemble of {} networks trained at once from different seeds, averaging their \
         probabilities (each alone: {} test; parameters, FLOPs and latency are their sums)",
        members.len(),
        each.join(", ")
    )
}

fn relative(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

fn settings_rows(s: &StudySettings) -> Vec<(String, String)> {
    let json = |v: serde_json::Result<String>| v.unwrap_or_default();
    vec![
        ("seed".to_string(), s.seed.to_string()),
        ("space".into(), s.space.kind.clone()),
        ("data".into(), s.data.name.clone()),
        ("workers".into(), s.workers.to_string()),
        ("strategy".into(), json(serde_json::to_string(&s.strategy))),
        (
            "evaluator".into(),
            json(serde_json::to_string(&s.evaluator)),
        ),
        ("fidelity".into(), json(serde_json::to_string(&s.fidelity))),
        ("pruner".into(), json(serde_json::to_string(&s.pruner))),
        ("budget".into(), json(serde_json::to_string(&s.budget))),
        ("train".into(), json(serde_json::to_string(&s.train))),
    ]
}

/// The share of the time left that the retraining's epochs may fill; the rest is kept for the
/// test evaluation, the export and the report (and for a machine that slows down).
pub const RETRAIN_USABLE: f64 = 0.88;

/// The share of the time left that the retraining's epochs fill, whatever the speed measured
/// before them said: the trainer re-plans after each epoch, shortening or lengthening its
/// schedule to the epochs that fit (`bench/results/compare_cifar10`: the speed probe measured
/// 10 % high under load, and the study ran 32 s past its 60 minutes; 13 % low on an idle
/// machine, and its 50 epochs left minutes unused). What remains is the test pass, the export
/// and the report.
pub const RETRAIN_DEADLINE: f64 = 0.97;

/// The time limit of retraining epochs planned in `seconds_left` seconds
/// ([`RETRAIN_DEADLINE`]); the study's retraining and `nascent compare`'s reference arms share
/// it.
pub fn retrain_time_limit(seconds_left: f64) -> f64 {
    (seconds_left * RETRAIN_DEADLINE).max(1.0)
}

/// Seconds of one full epoch at `images_per_second`: the `train` images trained, plus the
/// validation pass over `val` images (a forward pass, about a third of a training step per
/// image). The study's retraining and `nascent compare`'s reference arms size their epochs by
/// it, so that both fill the same budget by the same rule.
pub fn seconds_per_epoch(train: usize, val: usize, images_per_second: f64) -> f64 {
    (train as f64 + val as f64 / 3.0) / images_per_second
}

/// How many full-data epochs fit in `seconds`, from what the search trials cost per epoch: the
/// best architecture's own cost where its trial measured it (a conv-heavy cell costs several
/// times a pooling one), else the median over the completed trials. A trial's cost per full
/// epoch is the training split over its measured training speed
/// (`train_images_per_second`), plus the validation pass (a forward pass, about a third of a
/// training step per image); trials without that speed fall back on their whole time over the
/// data fraction (which counts their validation pass once per fraction, so overestimates).
/// `measured`, the final configuration's own training speed when it was timed, replaces all of
/// that (and the width and depth scaling).
fn fit_epochs<A: Clone + Eq + std::hash::Hash>(
    s: &StudyConfig,
    history: &History<A>,
    best: &Trial<A>,
    (channels, cells): (Option<u32>, Option<u32>),
    seconds: f64,
    data: &DataInfo,
    measured: Option<f64>,
) -> u32 {
    let searched = s.trial_budget();
    // Seconds per epoch over the whole training split.
    let fraction = searched.data_fraction.unwrap_or(1.0);
    let train = data.train as f64;
    let per_epoch_of = |t: &Trial<A>| {
        if let Some(ips) = t.metrics.get("train_images_per_second")
            && *ips > 0.0
            && train > 0.0
        {
            return Some(seconds_per_epoch(data.train, data.val, *ips));
        }
        let secs = t.metrics.get("train_seconds")?;
        let ep = t.metrics.get("epochs")?;
        (*ep > 0.0).then(|| secs / ep / fraction)
    };
    let usable = seconds * RETRAIN_USABLE;
    if let Some(ips) = measured.filter(|v| *v > 0.0 && train > 0.0) {
        let per_epoch = seconds_per_epoch(data.train, data.val, ips);
        let epochs = (usable / per_epoch).floor();
        log::info!(
            "retraining budget: {seconds:.0} s left, {ips:.0} images/s measured for the final \
             configuration, about {per_epoch:.0} s per full epoch -> {epochs} epochs"
        );
        return (epochs.max(1.0) as u32).min(s.retrain.max_epochs);
    }
    let mut per_epoch: Vec<f64> = history.completed().filter_map(per_epoch_of).collect();
    per_epoch.sort_by(f64::total_cmp);
    let Some(median) = per_epoch_of(best).or_else(|| per_epoch.get(per_epoch.len() / 2).copied())
    else {
        return s.retrain.max_epochs.min(10);
    };
    let scale = retrain_cost_scale(s, (channels, cells));
    let epochs = (usable / (median * scale)).floor();
    log::info!(
        "retraining budget: {seconds:.0} s left, about {:.0} s per full epoch -> {epochs} epochs",
        median * scale
    );
    (epochs.max(1.0) as u32).min(s.retrain.max_epochs)
}

/// How much more an epoch of the final network costs than one of a search trial's: wider or
/// deeper final networks cost more, by the ratio of widths squared and of depths (1 when the
/// shapes are the same, as for a chain architecture, which sets its own).
fn retrain_cost_scale(s: &StudyConfig, (channels, cells): (Option<u32>, Option<u32>)) -> f64 {
    let searched = s.trial_budget();
    let width = match (channels, searched.channels) {
        (Some(a), Some(b)) if b > 0 => (a as f64 / b as f64).powi(2),
        _ => 1.0,
    };
    let depth = match (cells, searched.cells) {
        (Some(a), Some(b)) if b > 0 => a as f64 / b as f64,
        _ => 1.0,
    };
    width * depth
}

/// Adds `retrain_epochs` to each trained trial's metrics: how many full epochs of the trial's
/// architecture at the retraining's width and depth fit in the time reserved for retraining
/// (`retrain.minutes`, of which the epochs fill [`RETRAIN_USABLE`]), from the trial's measured
/// training speed; the fixed `retrain.epochs` when set. A constraint on it (`[[constraints]]
/// metric = "retrain_epochs", min = 15`) keeps the search from choosing a network too slow to
/// train well in the time the study has, whatever this machine's speed.
struct WithRetrainEpochs<E> {
    inner: E,
    fixed: Option<u32>,
    /// Usable retraining seconds over the cost scale of the final network.
    seconds: f64,
    train: usize,
    val: usize,
}

/// Retraining seconds the epochs may fill, over how much more an epoch of the final network
/// costs than one of a trial's: what a trial's speed is set against.
fn retrain_seconds_at_trial_cost(s: &StudyConfig) -> f64 {
    s.retrain.minutes * 60.0 * RETRAIN_USABLE / retrain_cost_scale(s, final_shape(s))
}

/// The final network's width and depth: the retraining's own, else the search trials'.
fn final_shape(s: &StudyConfig) -> (Option<u32>, Option<u32>) {
    let searched = s.trial_budget();
    (
        s.retrain.channels.or(searched.channels),
        s.retrain.cells.or(searched.cells),
    )
}

/// The training speed (images a second, at a trial's fidelity) below which a trial cannot meet
/// the study's `retrain_epochs` lower bound (`[[constraints]] metric = "retrain_epochs", min`):
/// the trainer stops such a trial as soon as its first batches show it, rather than spend the
/// search's time on a network that is infeasible anyway. `None` without such a bound, without
/// retraining or with fixed retraining epochs.
pub fn min_trial_speed(s: &StudyConfig, data: &DataInfo) -> Option<f64> {
    if !s.retrain.enabled || s.retrain.epochs.is_some() {
        return None;
    }
    let min = s
        .constraints
        .iter()
        .filter(|c| c.metric == RETRAIN_EPOCHS)
        .filter_map(|c| c.min)
        .reduce(f64::max)?;
    let seconds = retrain_seconds_at_trial_cost(s);
    // An epoch at one image a second takes as many seconds as it has images.
    (min > 0.0 && seconds > 0.0)
        .then(|| min * seconds_per_epoch(data.train, data.val, 1.0) / seconds)
}

impl<E> WithRetrainEpochs<E> {
    fn new(inner: E, s: &StudyConfig, data: &DataInfo) -> Self {
        WithRetrainEpochs {
            inner,
            fixed: s.retrain.epochs,
            seconds: retrain_seconds_at_trial_cost(s),
            train: data.train,
            val: data.val,
        }
    }

    fn add(&self, e: &mut Evaluation) {
        let epochs = match self.fixed {
            Some(n) => Some(f64::from(n)),
            None => e
                .metrics
                .get("train_images_per_second")
                .filter(|v| **v > 0.0 && self.train > 0)
                .map(|ips| (self.seconds / seconds_per_epoch(self.train, self.val, *ips)).floor()),
        };
        if let Some(n) = epochs {
            e.metrics.insert(RETRAIN_EPOCHS.into(), n);
        }
    }
}

impl<A, E: Evaluator<A>> Evaluator<A> for WithRetrainEpochs<E> {
    fn metrics(&self) -> Vec<String> {
        let mut m = self.inner.metrics();
        m.push(RETRAIN_EPOCHS.into());
        m
    }

    fn evaluate(&self, arch: &A, budget: &Budget, reporter: &mut dyn Reporter) -> Outcome {
        match self.inner.evaluate(arch, budget, reporter) {
            Outcome::Complete(mut e) => {
                self.add(&mut e);
                Outcome::Complete(e)
            }
            Outcome::Pruned(mut e) => {
                self.add(&mut e);
                Outcome::Pruned(e)
            }
            failed => failed,
        }
    }
}

/// The report view of the space registered as `name` (`None` when the backend has none).
pub fn view_of<B: Backend>(backend: &B, name: &str) -> Result<Option<Box<dyn ArchView>>> {
    struct ViewTask;
    impl SpaceTask for ViewTask {
        type Output = Option<Box<dyn ArchView>>;
        fn run<S: SearchSpace + Clone + 'static>(self, entry: SpaceEntry<'_, S>) -> Self::Output {
            entry.view
        }
    }
    backend.with_space(&crate::settings::SpaceSettings::named(name), ViewTask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Catalog, SpaceInfo};
    use crate::settings::StudySettings;
    use nascent_core::{Budget, Trial, TrialState};

    fn config() -> StudyConfig {
        StudySettings::default().check(&config_catalog()).unwrap()
    }

    fn trial(n: u64, metrics: &[(&str, f64)]) -> Trial<u32> {
        let mut t = Trial::running(n, n as u32, Budget::default());
        t.state = TrialState::Complete;
        t.values = vec![0.5];
        for (k, v) in metrics {
            t.metrics.insert((*k).to_string(), *v);
        }
        t
    }

    /// Fashion-MNIST's training split less a tenth for validation.
    fn fashion_mnist_splits() -> DataInfo {
        DataInfo {
            train: 54_000,
            val: 6_000,
            ..DataInfo::default()
        }
    }

    #[test]
    fn retraining_epochs_come_from_the_measured_training_speed() {
        let s = config();
        let data = fashion_mnist_splits();
        // A quarter-data epoch that trained at 1,800 images/s and took 10 s with validation:
        // a full epoch is 30 s of training plus the validation pass, not 40 s.
        let best = trial(
            0,
            &[
                ("train_seconds", 10.0),
                ("epochs", 1.0),
                ("train_images_per_second", 1_800.0),
            ],
        );
        let mut history = History::new(s.objectives.clone());
        history.push(best.clone());
        let by_speed = fit_epochs(&s, &history, &best, (None, None), 1020.0, &data, None);
        // (54,000 + 6,000 / 3) / 1,800 = 31.1 s a full epoch; 0.88 * 1020 / 31.1 = 28.9.
        assert_eq!(by_speed, 28);
        // Without the speed: the whole time over the fraction, 40 s an epoch.
        let old = trial(1, &[("train_seconds", 10.0), ("epochs", 1.0)]);
        let by_time = fit_epochs(&s, &history, &old, (None, None), 1020.0, &data, None);
        assert_eq!(by_time, 22);
    }

    #[test]
    fn a_measured_final_configuration_sizes_the_retraining_without_scaling() {
        let s = config();
        let data = fashion_mnist_splits();
        // Trials of a proxy study train nothing: without a measurement the retraining falls
        // back on at most 10 epochs whatever the time left.
        let proxy = trial(0, &[("meco", 12.0)]);
        let mut history = History::new(s.objectives.clone());
        history.push(proxy.clone());
        let shape = (Some(16), Some(1));
        let fallback = fit_epochs(&s, &history, &proxy, shape, 1_500.0, &data, None);
        assert_eq!(fallback, 10);
        // Timed at 450 images/s in its final shape: (54,000 + 2,000) / 450 = 124.4 s an
        // epoch; 0.88 * 1,500 / 124.4 = 10.6, with no width scaling on top.
        let measured = fit_epochs(&s, &history, &proxy, shape, 1_500.0, &data, Some(450.0));
        assert_eq!(measured, 10);
        let longer = fit_epochs(&s, &history, &proxy, shape, 3_000.0, &data, Some(450.0));
        assert_eq!(longer, 21);
        // A measurement also replaces the trials' speed (taken at another width).
        let trained = trial(1, &[("train_images_per_second", 1_800.0)]);
        history.push(trained.clone());
        let wide = fit_epochs(&s, &history, &trained, shape, 3_000.0, &data, Some(450.0));
        assert_eq!(wide, 21);
    }

    /// An evaluator that reports a fixed training speed (or fails).
    struct Speed(Option<f64>);

    impl Evaluator<u32> for Speed {
        fn metrics(&self) -> Vec<String> {
            vec!["train_images_per_second".into()]
        }

        fn evaluate(&self, _: &u32, _: &Budget, _: &mut dyn Reporter) -> Outcome {
            match self.0 {
                Some(ips) => Outcome::Complete(Evaluation {
                    metrics: [("train_images_per_second".to_string(), ips)].into(),
                    cost_seconds: 1.0,
                }),
                None => Outcome::Failed {
                    reason: "no".into(),
                    cost_seconds: 1.0,
                },
            }
        }
    }

    fn retrain_epochs(e: &dyn Evaluator<u32>) -> Option<f64> {
        match e.evaluate(&0, &Budget::default(), &mut nascent_core::NoReporter) {
            Outcome::Complete(ev) => ev.metrics.get(RETRAIN_EPOCHS).copied(),
            _ => None,
        }
    }

    #[test]
    fn trials_report_the_retraining_epochs_their_speed_fits() {
        let mut settings = StudySettings::default();
        settings.retrain.minutes = 24.0;
        settings.retrain.channels = None;
        settings.retrain.cells = None;
        settings.fidelity.channels = None;
        settings.fidelity.cells = None;
        let catalog = config_catalog();
        let s = settings.clone().check(&catalog).unwrap();
        let data = fashion_mnist_splits();
        // 900 images/s: (54,000 + 2,000) / 900 = 62.2 s an epoch; 0.88 * 1,440 / 62.2 = 20.4.
        let e = WithRetrainEpochs::new(Speed(Some(900.0)), &s, &data);
        assert_eq!(retrain_epochs(&e), Some(20.0));
        assert!(Evaluator::<u32>::metrics(&e).contains(&RETRAIN_EPOCHS.to_string()));
        // Half the speed, half the epochs (rounded down).
        let slow = WithRetrainEpochs::new(Speed(Some(450.0)), &s, &data);
        assert_eq!(retrain_epochs(&slow), Some(10.0));
        // A final network twice as wide as the trials' costs four times as much an epoch.
        settings.fidelity.channels = Some(8);
        settings.retrain.channels = Some(16);
        let wide = settings.clone().check(&catalog).unwrap();
        let e = WithRetrainEpochs::new(Speed(Some(900.0)), &wide, &data);
        assert_eq!(retrain_epochs(&e), Some(5.0));
        // Fixed retraining epochs are reported as they are; a failed trial gets nothing.
        settings.retrain.epochs = Some(7);
        let fixed = settings.clone().check(&catalog).unwrap();
        assert_eq!(
            retrain_epochs(&WithRetrainEpochs::new(Speed(Some(1.0)), &fixed, &data)),
            Some(7.0)
        );
        // The speed a trial needs for 15 epochs: 15 * 56,000 / (0.88 * 1,440) = 662.9.
        let mut bounded = settings.clone();
        bounded.retrain.epochs = None;
        bounded.constraints = vec![nascent_core::Constraint {
            metric: RETRAIN_EPOCHS.into(),
            min: Some(15.0),
            max: None,
        }];
        bounded.fidelity.channels = None;
        bounded.retrain.channels = None;
        let floor = min_trial_speed(&bounded.clone().check(&catalog).unwrap(), &data).unwrap();
        assert!((floor - 662.88).abs() < 0.1, "{floor}");
        assert_eq!(min_trial_speed(&s, &data), None, "no bound, no floor");
        let failed = WithRetrainEpochs::new(Speed(None), &s, &data);
        assert!(matches!(
            failed.evaluate(&0, &Budget::default(), &mut nascent_core::NoReporter),
            Outcome::Failed { .. }
        ));
    }

    fn config_catalog() -> Catalog {
        Catalog {
            spaces: vec![SpaceInfo {
                name: "nb201".into(),
                summary: String::new(),
                scalable: true,
            }],
            proxies: Vec::new(),
        }
    }
}
