//! The study runner: the search loop of DESIGN.md over a [`Storage`], for any space, strategy
//! and evaluator, with several workers, budgets, pruning, heartbeats and resumption.
//!
//! Every worker (a thread here; more threads or processes may run the same study against the
//! same storage) repeats:
//!
//! 1. claim a queued (re-queued) trial, if any, and evaluate its architecture again;
//! 2. otherwise rebuild the history from storage, ask the strategy for an architecture not in
//!    it (nascent-core's repeat rule: a repeat is handed back, not evaluated, not counted),
//!    and create the trial in one storage transaction, which refuses an architecture another
//!    worker created meanwhile and refuses to go past the trial budget;
//! 3. evaluate it: every intermediate value is written to storage as it comes and the pruner
//!    decides there whether the trial goes on; a heartbeat thread marks the trial alive;
//! 4. write the result, and tell the strategy (through the history rebuilt from storage, so
//!    the strategy also learns of the trials of other workers).
//!
//! When a run starts it re-queues the trials of dead workers (on this host: their process is
//! gone; elsewhere: their heartbeat is stale), restores the strategy's state from the history
//! ([`Strategy::restore`]), and finishes the budget. A [`StopSignal`] (raised by the caller's Ctrl-C
//! handler, say) stops claiming, re-queues the trials in flight and returns.

use crate::error::{Error, Result};
use crate::worker::{StopSignal, WorkerSet, is_known_dead, is_live_here};
use nascent_core::storage::{
    CreateOutcome, NewTrial, RequeueIf, Storage, StorageError, StudyCounts, StudyRecord, StudySpec,
    TrialRecord, TrialResult, now,
};
use nascent_core::{
    Budget, Control, Direction, Evaluator, History, Outcome, PruneContext, Pruner, Reporter, Rng,
    SearchSpace, Strategy, TrialState, Verdict, derive_seed, next_fresh,
};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// When a study stops: after so many trials, so much wall-clock time (over all its runs), or
/// so many epochs of training (summed over trials), whichever comes first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyBudget {
    /// Trials (of any outcome); re-queued trials count once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials: Option<u64>,
    /// Wall-clock seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Epochs of training, summed over trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u64>,
}

impl StudyBudget {
    /// A budget of `n` trials.
    pub fn trials(n: u64) -> Self {
        StudyBudget {
            trials: Some(n),
            ..Self::default()
        }
    }

    /// A budget of `s` wall-clock seconds.
    pub fn seconds(s: f64) -> Self {
        StudyBudget {
            seconds: Some(s),
            ..Self::default()
        }
    }

    /// A budget of `n` epochs of training.
    pub fn epochs(n: u64) -> Self {
        StudyBudget {
            epochs: Some(n),
            ..Self::default()
        }
    }

    /// Checks that at least one limit is set and each is positive; errors name the field
    /// under `prefix` (`budget`).
    pub fn check(&self, prefix: &str) -> Result<()> {
        if self.trials.is_none() && self.seconds.is_none() && self.epochs.is_none() {
            return Err(Error::config(
                prefix,
                "set at least one of `trials`, `seconds`, `epochs`",
            ));
        }
        if self.trials == Some(0) {
            return Err(Error::config(
                format!("{prefix}.trials"),
                "must be positive",
            ));
        }
        if self.epochs == Some(0) {
            return Err(Error::config(
                format!("{prefix}.epochs"),
                "must be positive",
            ));
        }
        if let Some(s) = self.seconds
            && !(s.is_finite() && s > 0.0)
        {
            return Err(Error::config(
                format!("{prefix}.seconds"),
                format!("must be a positive number of seconds, not {s}"),
            ));
        }
        Ok(())
    }

    /// Which limit, if any, `counts` and `elapsed` seconds have reached.
    pub fn spent(&self, counts: &StudyCounts, elapsed: f64) -> Option<StopReason> {
        if self.trials.is_some_and(|t| counts.total >= t) {
            return Some(StopReason::TrialBudget);
        }
        if self.seconds.is_some_and(|s| elapsed >= s) {
            return Some(StopReason::TimeBudget);
        }
        if self.epochs.is_some_and(|e| counts.epochs >= e) {
            return Some(StopReason::EpochBudget);
        }
        None
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The trial budget is spent.
    TrialBudget,
    /// The wall-clock budget is spent.
    TimeBudget,
    /// The epoch budget is spent.
    EpochBudget,
    /// Every architecture of the (finite) space has been tried.
    SpaceExhausted,
    /// The stop signal (Ctrl-C) was raised; trials in flight were re-queued.
    Interrupted,
    /// The study's first trials all failed ([`RunConfig::stop_after_failures`]): something
    /// in the settings fails every trial, so the rest of the budget is not spent on it.
    AllFailed,
    /// This run evaluated its [`RunConfig::max_evaluations`] (a worker's `--max-trials`).
    WorkerLimit,
    /// Nothing was run: the study was only created (`nascent search --no-run`).
    NotRun,
}

/// How a run goes: workers, budgets, the fidelity of each trial, heartbeats.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Worker threads in this process.
    pub workers: usize,
    /// When the study stops.
    pub budget: StudyBudget,
    /// The fidelity every trial is evaluated at (passed to the evaluator).
    pub trial_budget: Budget,
    /// Hyperparameters stored with every trial.
    pub params: serde_json::Value,
    /// How often the heartbeat of running trials is refreshed.
    pub heartbeat_interval: Duration,
    /// A running trial whose heartbeat is older than this is re-queued.
    pub stale_after: Duration,
    /// How often an idle worker looks for work while others still run trials.
    pub poll_interval: Duration,
    /// Re-queue every running trial when the run starts, alive or not (for a caller that
    /// knows no other worker runs this study).
    pub requeue_running: bool,
    /// When the wall-clock budget runs out, stop the trials in flight at their next
    /// intermediate value (they end `PRUNED`) instead of letting them finish.
    pub stop_at_deadline: bool,
    /// Direction of the intermediate values (for pruners); `None` takes the first objective's.
    pub intermediate_direction: Option<Direction>,
    /// Stop ([`StopReason::AllFailed`]) once this many trials of the study have failed while
    /// none has completed or been pruned; `None` never stops for failures.
    pub stop_after_failures: Option<u64>,
    /// Stop after this run has evaluated this many trials (a worker's `--max-trials`).
    pub max_evaluations: Option<u64>,
    /// When the budget allows no new trial, wait while other workers still run trials (and
    /// take over any that are re-queued) instead of stopping at once.
    pub wait_for_others: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            workers: 1,
            budget: StudyBudget::trials(100),
            trial_budget: Budget::default(),
            params: serde_json::Value::Object(Default::default()),
            heartbeat_interval: Duration::from_secs(5),
            stale_after: Duration::from_secs(60),
            poll_interval: Duration::from_millis(200),
            requeue_running: false,
            stop_at_deadline: false,
            intermediate_direction: None,
            stop_after_failures: Some(10),
            max_evaluations: None,
            wait_for_others: true,
        }
    }
}

impl RunConfig {
    /// Checks the settings; errors name the field (`run.workers`, `budget.trials`).
    pub fn check(&self) -> Result<()> {
        if self.workers == 0 {
            return Err(Error::config("run.workers", "must be at least 1"));
        }
        if self.workers > 1024 {
            return Err(Error::config("run.workers", "must be at most 1024"));
        }
        self.budget.check("budget")?;
        if self.heartbeat_interval.is_zero() {
            return Err(Error::config("run.heartbeat_interval", "must be positive"));
        }
        if self.stale_after <= self.heartbeat_interval * 2 {
            return Err(Error::config(
                "run.stale_after",
                format!(
                    "must be more than twice the heartbeat interval ({:?})",
                    self.heartbeat_interval
                ),
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(Error::config("run.poll_interval", "must be positive"));
        }
        if let Some(f) = self.trial_budget.data_fraction
            && !(f > 0.0 && f <= 1.0)
        {
            return Err(Error::config(
                "trial_budget.data_fraction",
                format!("must be in (0, 1], not {f}"),
            ));
        }
        Ok(())
    }
}

/// Why a trial was re-queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequeueReason {
    /// Its worker's process is gone.
    DeadWorker,
    /// Its heartbeat is stale.
    StaleHeartbeat,
    /// The run was asked to re-queue every running trial.
    Forced,
    /// This run was interrupted while the trial was in flight.
    Interrupted,
}

/// Something that happened in a run, for progress bars and logs.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// The run starts; `counts` are the study's so far.
    RunStarted {
        /// The study.
        study: &'a StudyRecord,
        /// Its trials so far.
        counts: StudyCounts,
        /// The budget.
        budget: &'a StudyBudget,
        /// Worker threads.
        workers: usize,
    },
    /// A worker starts evaluating a trial.
    TrialStarted {
        /// The trial as claimed.
        trial: &'a TrialRecord,
        /// Whether it was re-queued (this is a later attempt).
        resumed: bool,
    },
    /// A trial reported an intermediate value.
    Intermediate {
        /// The trial.
        number: u64,
        /// The step.
        step: u32,
        /// The value.
        value: f64,
        /// The step the trial would end at, when known.
        of: Option<u32>,
    },
    /// A trial ended.
    TrialFinished {
        /// The trial as stored.
        trial: &'a TrialRecord,
    },
    /// A trial was re-queued.
    TrialRequeued {
        /// The trial.
        number: u64,
        /// Why.
        reason: RequeueReason,
    },
    /// The run ends.
    RunFinished {
        /// What it did.
        summary: &'a RunSummary,
    },
}

/// Receives the events of a run (from any worker thread).
pub trait Observer: Send + Sync {
    /// Something happened.
    fn event(&self, event: &Event<'_>);
}

impl<F: Fn(&Event<'_>) + Send + Sync> Observer for F {
    fn event(&self, event: &Event<'_>) {
        self(event)
    }
}

/// An observer that logs events through the `log` crate (info for trials, debug for steps).
#[derive(Clone, Copy, Debug, Default)]
pub struct LogObserver;

impl Observer for LogObserver {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::RunStarted {
                study,
                counts,
                workers,
                ..
            } => log::info!(
                "study `{}`: {} trials so far ({} complete); running with {workers} worker(s)",
                study.name,
                counts.total,
                counts.complete
            ),
            Event::TrialStarted { trial, resumed } => log::info!(
                "trial {}{} {}",
                trial.number,
                if *resumed { " (re-queued)" } else { "" },
                trial.arch
            ),
            Event::Intermediate {
                number,
                step,
                value,
                ..
            } => log::debug!("trial {number} step {step}: {value}"),
            Event::TrialFinished { trial } => log::info!(
                "trial {} {} {:?}{}",
                trial.number,
                trial.state.as_str(),
                trial.values,
                trial
                    .reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            Event::TrialRequeued { number, reason } => {
                log::warn!("trial {number} re-queued ({reason:?})")
            }
            Event::RunFinished { summary } => log::info!(
                "run finished ({:?}): {} evaluated in this run, {} trials in the study",
                summary.stop,
                summary.evaluated,
                summary.counts.total
            ),
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Why it ended.
    pub stop: StopReason,
    /// The study's counts at the end.
    pub counts: StudyCounts,
    /// Trials this run finished (complete, pruned or failed).
    pub evaluated: u64,
    /// Trials this run re-queued (dead workers at start, interrupted ones at the end).
    pub requeued: u64,
    /// Wall-clock seconds of this run.
    pub elapsed_seconds: f64,
    /// Wall-clock seconds of the study over all its runs.
    pub study_elapsed_seconds: f64,
}

/// Loads a study's trials from storage as a [`History`] (architectures parsed by `space`, the
/// finish order as stored).
pub fn load_history<S: SearchSpace>(
    storage: &dyn Storage,
    study: &StudyRecord,
    space: &S,
) -> Result<History<S::Arch>> {
    check_space(storage, study, space)?;
    let mut h = new_history(study)?;
    let mut sequence = Vec::new();
    for rec in storage.trials(study.id, 0)? {
        if rec.number as usize != h.len() {
            return Err(gap(storage, study, h.len(), rec.number));
        }
        sequence.push(rec.sequence.unwrap_or(u64::MAX));
        h.push(rec.to_trial(space)?);
    }
    h.sort_finish_order_from(0, |i| (sequence[i], i));
    Ok(h)
}

fn new_history<A: Clone + Eq + std::hash::Hash>(study: &StudyRecord) -> Result<History<A>> {
    if study.objectives.is_empty() {
        return Err(Error::Mismatch {
            study: study.name.clone(),
            url: String::new(),
            reason: "has no objectives".into(),
        });
    }
    Ok(History::new(study.objectives.clone()).with_constraints(study.constraints.clone()))
}

fn gap(storage: &dyn Storage, study: &StudyRecord, expected: usize, found: u64) -> Error {
    Error::Mismatch {
        study: study.name.clone(),
        url: storage.url().to_string(),
        reason: format!("has trial {found} where trial {expected} was expected"),
    }
}

fn check_space<S: SearchSpace>(
    storage: &dyn Storage,
    study: &StudyRecord,
    space: &S,
) -> Result<()> {
    if study.space != space.name() {
        return Err(Error::Mismatch {
            study: study.name.clone(),
            url: storage.url().to_string(),
            reason: format!("searches space `{}`, not `{}`", study.space, space.name()),
        });
    }
    Ok(())
}

/// Hands a repeat back to the strategy only when the repeated trial has finished (a running
/// trial of another worker has no result to give); otherwise forwards everything.
struct FinishedRepeats<'a, St: ?Sized>(&'a mut St);

impl<S: SearchSpace, St: Strategy<S> + ?Sized> Strategy<S> for FinishedRepeats<'_, St> {
    fn name(&self) -> String {
        self.0.name()
    }
    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        self.0.ask(space, history, rng)
    }
    fn tell(&mut self, space: &S, history: &History<S::Arch>, index: usize, rng: &mut Rng) {
        self.0.tell(space, history, index, rng)
    }
    fn repeated(&mut self, space: &S, history: &History<S::Arch>, index: usize, rng: &mut Rng) {
        if history.trials()[index].state.is_finished() {
            self.0.repeated(space, history, index, rng)
        }
    }
    fn restore(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) {
        self.0.restore(space, history, rng)
    }
}

/// The strategy and the history mirrored from storage, shared by the workers of a run.
struct Shared<'s, S: SearchSpace, St: ?Sized> {
    strategy: &'s mut St,
    /// The study's trials from number `base` on (trial `n` at index `n - base`).
    history: History<S::Arch>,
    /// The trials below this number are not read: 0 for a strategy that uses the past, the
    /// study's first unfinished trial at the start of the run for one that does not
    /// ([`Strategy::uses_past`]), so that joining a large study does not read it whole.
    base: usize,
    /// Every trial below this number has finished (in `history`, from `base` on).
    first_unfinished: usize,
    tell_rng: Rng,
}

impl<S: SearchSpace, St: ?Sized> Shared<'_, S, St> {
    /// The number the next new trial gets.
    fn next_number(&self) -> usize {
        self.base + self.history.len()
    }
}

/// The runner of one study: a space, an evaluator, an optional pruner and observer, a storage.
pub struct Runner<'a, S: SearchSpace> {
    storage: &'a dyn Storage,
    study: StudyRecord,
    space: &'a S,
    evaluator: &'a dyn Evaluator<S::Arch>,
    pruner: Option<&'a dyn Pruner>,
    observer: Option<&'a dyn Observer>,
    stop: StopSignal,
    config: RunConfig,
}

/// What one evaluation led to, for the run's bookkeeping.
enum TrialEnd {
    Finished,
    Requeued,
    /// Another worker took the trial over (this one was declared dead); its result is dropped.
    Lost,
}

/// The state of one run shared by its threads.
struct RunState {
    workers: WorkerSet,
    start: Instant,
    base_elapsed: f64,
    /// Trials being evaluated by this run: (number, worker).
    active: Mutex<Vec<(u64, String)>>,
    /// Raised when a worker fails: the others stop as on Ctrl-C.
    halt: AtomicBool,
    /// Evaluations this run started or reserved (for `max_evaluations`).
    started: AtomicU64,
    evaluated: AtomicU64,
    requeued: AtomicU64,
    stop_reason: Mutex<Option<StopReason>>,
    last_recovery: Mutex<Instant>,
    first_unfinished: AtomicU64,
}

impl RunState {
    fn elapsed(&self) -> f64 {
        self.base_elapsed + self.start.elapsed().as_secs_f64()
    }

    fn set_reason(&self, r: StopReason) {
        let mut g = lock(&self.stop_reason);
        if g.is_none() {
            *g = Some(r);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'a, S: SearchSpace> Runner<'a, S> {
    /// A runner of `study` (as stored in `storage`) over `space`, evaluating with `evaluator`.
    pub fn new(
        storage: &'a dyn Storage,
        study: StudyRecord,
        space: &'a S,
        evaluator: &'a dyn Evaluator<S::Arch>,
        config: RunConfig,
    ) -> Self {
        Runner {
            storage,
            study,
            space,
            evaluator,
            pruner: None,
            observer: None,
            stop: StopSignal::new(),
            config,
        }
    }

    /// Prunes trials with `pruner`.
    pub fn with_pruner(mut self, pruner: &'a dyn Pruner) -> Self {
        self.pruner = Some(pruner);
        self
    }

    /// Sends events to `observer`.
    pub fn with_observer(mut self, observer: &'a dyn Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Stops when `stop` is raised (by a Ctrl-C handler, say).
    pub fn with_stop(mut self, stop: StopSignal) -> Self {
        self.stop = stop;
        self
    }

    /// The run's settings.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    fn emit(&self, e: Event<'_>) {
        if let Some(o) = self.observer {
            o.event(&e);
        }
    }

    fn stopping(&self, run: &RunState) -> bool {
        self.stop.is_stopped() || run.halt.load(Ordering::SeqCst)
    }

    /// Runs the study with `strategy` until its budget is spent, the space is exhausted, or
    /// the stop signal is raised. Resumes where the study stands in storage.
    pub fn run<St: Strategy<S> + ?Sized>(&self, strategy: &mut St) -> Result<RunSummary> {
        self.config.check()?;
        check_space(self.storage, &self.study, self.space)?;
        // Fresh from storage: its elapsed time and existence.
        let study = self.storage.study(&self.study.name)?;
        if study.id != self.study.id {
            return Err(Error::Mismatch {
                study: study.name.clone(),
                url: self.storage.url().to_string(),
                reason: format!("has id {} now, not {}", study.id.0, self.study.id.0),
            });
        }
        let run = RunState {
            workers: WorkerSet::new(self.config.workers),
            start: Instant::now(),
            base_elapsed: study.elapsed_seconds,
            active: Mutex::new(Vec::new()),
            halt: AtomicBool::new(false),
            evaluated: AtomicU64::new(0),
            started: AtomicU64::new(0),
            requeued: AtomicU64::new(0),
            stop_reason: Mutex::new(None),
            last_recovery: Mutex::new(Instant::now()),
            first_unfinished: AtomicU64::new(0),
        };
        // A strategy that never looks at earlier trials does not need them read.
        let base = if strategy.uses_past() {
            0
        } else {
            self.storage.first_unfinished(self.study.id)?
        };
        run.first_unfinished.store(base, Ordering::SeqCst);
        self.recover(&run, self.config.requeue_running)?;

        let seed = self.study.seed;
        let mut shared = Shared::<S, St> {
            strategy,
            history: new_history(&self.study)?,
            base: base as usize,
            first_unfinished: base as usize,
            tell_rng: Rng::new(derive_seed(seed, u64::MAX)),
        };
        self.sync(&mut shared, false)?;
        {
            // The tells of earlier runs, replayed in the order they happened with the same
            // random numbers: the strategy resumes in the state it was left in.
            let Shared {
                strategy,
                history,
                tell_rng,
                ..
            } = &mut shared;
            strategy.restore(self.space, history, tell_rng);
        }
        run.first_unfinished
            .store(shared.first_unfinished as u64, Ordering::SeqCst);
        let counts = self.storage.counts(self.study.id)?;
        self.emit(Event::RunStarted {
            study: &self.study,
            counts,
            budget: &self.config.budget,
            workers: self.config.workers,
        });

        let shared = Mutex::new(shared);
        let done = AtomicBool::new(false);
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let hb = scope.spawn(|| self.heartbeat_loop(&run, &done));
            let handles: Vec<_> = (0..self.config.workers)
                .map(|w| {
                    let shared = &shared;
                    let run = &run;
                    scope.spawn(move || {
                        let r = self.worker_loop(w, shared, run);
                        if r.is_err() {
                            run.halt.store(true, Ordering::SeqCst);
                        }
                        r
                    })
                })
                .collect();
            let mut out: Vec<Result<()>> = handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|p| {
                        run.halt.store(true, Ordering::SeqCst);
                        Err(Error::Panic(panic_message(&*p)))
                    })
                })
                .collect();
            done.store(true, Ordering::SeqCst);
            if let Err(p) = hb.join() {
                out.push(Err(Error::Panic(panic_message(&*p))));
            }
            out
        });
        self.storage.record_elapsed(self.study.id, run.elapsed())?;
        for r in results {
            r?;
        }
        let stop = if self.stop.is_stopped() {
            StopReason::Interrupted
        } else {
            lock(&run.stop_reason).unwrap_or(StopReason::TrialBudget)
        };
        let summary = RunSummary {
            stop,
            counts: self.storage.counts(self.study.id)?,
            evaluated: run.evaluated.load(Ordering::SeqCst),
            requeued: run.requeued.load(Ordering::SeqCst),
            elapsed_seconds: run.start.elapsed().as_secs_f64(),
            study_elapsed_seconds: run.elapsed(),
        };
        self.emit(Event::RunFinished { summary: &summary });
        Ok(summary)
    }

    /// Re-queues running trials whose worker is dead or whose heartbeat is stale (or all
    /// running trials not held by this run, with `force`).
    fn recover(&self, run: &RunState, force: bool) -> Result<()> {
        *lock(&run.last_recovery) = Instant::now();
        let from = run.first_unfinished.load(Ordering::SeqCst);
        let stale_before = now() - self.config.stale_after.as_secs_f64();
        for rec in self.storage.trials(self.study.id, from)? {
            let Some(w) = rec.worker.as_deref() else {
                continue;
            };
            if rec.state != TrialState::Running || is_live_here(w) {
                continue;
            }
            let (cond, reason) = if force {
                (
                    RequeueIf {
                        worker: Some(w),
                        heartbeat_before: None,
                    },
                    RequeueReason::Forced,
                )
            } else if is_known_dead(w) {
                (
                    RequeueIf {
                        worker: Some(w),
                        heartbeat_before: None,
                    },
                    RequeueReason::DeadWorker,
                )
            } else if rec.heartbeat.is_none_or(|h| h < stale_before) {
                (
                    RequeueIf {
                        worker: Some(w),
                        heartbeat_before: Some(stale_before),
                    },
                    RequeueReason::StaleHeartbeat,
                )
            } else {
                continue;
            };
            if self.storage.requeue(self.study.id, rec.number, &cond)? {
                run.requeued.fetch_add(1, Ordering::SeqCst);
                self.emit(Event::TrialRequeued {
                    number: rec.number,
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Brings `shared.history` up to date with storage; tells the strategy of every trial that
    /// finished since (when `tell`), in the order they finished (their storage sequence).
    fn sync<St: Strategy<S> + ?Sized>(
        &self,
        shared: &mut Shared<'_, S, St>,
        tell: bool,
    ) -> Result<()> {
        let recs = self
            .storage
            .trials(self.study.id, shared.first_unfinished as u64)?;
        let told = shared.history.finish_order().len();
        let base = shared.base;
        // Keyed by index in `history` (number - base).
        let mut sequence = std::collections::HashMap::new();
        for rec in recs {
            let Some(i) = (rec.number as usize).checked_sub(base) else {
                continue;
            };
            let len = shared.history.len();
            if rec.state.is_finished() {
                sequence.insert(i, rec.sequence.unwrap_or(u64::MAX));
            }
            if i < len {
                let known = shared.history.trials()[i].state;
                if !known.is_finished() && rec.state.is_finished() {
                    shared.history.update(i, rec.to_trial(self.space)?);
                }
            } else if i == len {
                shared.history.push(rec.to_trial(self.space)?);
            } else {
                return Err(gap(self.storage, &self.study, base + len, rec.number));
            }
        }
        // Several trials may have finished since the last look: tell them in their order.
        shared
            .history
            .sort_finish_order_from(told, |i| (sequence.get(&i).copied().unwrap_or(u64::MAX), i));
        if tell {
            let newly: Vec<usize> = shared.history.finish_order()[told..].to_vec();
            for n in newly {
                shared
                    .strategy
                    .tell(self.space, &shared.history, n, &mut shared.tell_rng);
            }
        }
        let trials = shared.history.trials();
        while shared.first_unfinished < base + trials.len()
            && trials[shared.first_unfinished - base].state.is_finished()
        {
            shared.first_unfinished += 1;
        }
        Ok(())
    }

    fn heartbeat_loop(&self, run: &RunState, done: &AtomicBool) {
        let slice = Duration::from_millis(20).min(self.config.heartbeat_interval);
        let mut last = Instant::now();
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(slice);
            if last.elapsed() < self.config.heartbeat_interval {
                continue;
            }
            last = Instant::now();
            let active = lock(&run.active).clone();
            for (number, worker) in active {
                match self.storage.heartbeat(self.study.id, number, &worker) {
                    Ok(true) => {}
                    Ok(false) => self.log_lost(number, &worker),
                    Err(e) => log::warn!("heartbeat of trial {number}: {e}"),
                }
            }
            if let Err(e) = self.storage.record_elapsed(self.study.id, run.elapsed()) {
                log::warn!("recording the study's time: {e}");
            }
        }
    }

    /// Says why `worker` no longer holds trial `number`, which its heartbeat found not held;
    /// quiet when the worker finished it between the copy of `active` and the heartbeat.
    fn log_lost(&self, number: u64, worker: &str) {
        let why = match self.storage.trial(self.study.id, number) {
            Ok(rec) => match lost_hold(&rec, worker) {
                Some(why) => why,
                None => {
                    log::debug!("trial {number}: finished before its heartbeat");
                    return;
                }
            },
            Err(e) => e.to_string(),
        };
        log::warn!("trial {number}: worker `{worker}` no longer holds it ({why})");
    }

    fn worker_loop<St: Strategy<S> + ?Sized>(
        &self,
        w: usize,
        shared: &Mutex<Shared<'_, S, St>>,
        run: &RunState,
    ) -> Result<()> {
        let worker = run.workers.ids()[w].as_str();
        let recovery_every = (self.config.stale_after / 4).max(self.config.poll_interval);
        loop {
            if self.stopping(run) {
                return Ok(());
            }
            if let Some(s) = self.config.budget.seconds
                && run.elapsed() >= s
            {
                run.set_reason(StopReason::TimeBudget);
                return Ok(());
            }
            if lock(&run.last_recovery).elapsed() >= recovery_every {
                self.recover(run, false)?;
            }
            // A place among this run's evaluations, given back when nothing starts.
            if let Some(m) = self.config.max_evaluations
                && run.started.fetch_add(1, Ordering::SeqCst) >= m
            {
                run.set_reason(StopReason::WorkerLimit);
                return Ok(());
            }
            let release = || {
                if self.config.max_evaluations.is_some() {
                    run.started.fetch_sub(1, Ordering::SeqCst);
                }
            };
            if let Some(rec) = self.storage.claim_queued(self.study.id, worker)? {
                self.evaluate(rec, true, worker, shared, run)?;
                continue;
            }
            match self.create(worker, shared, run)? {
                Ok(rec) => self.evaluate(rec, false, worker, shared, run)?,
                Err(reason) => {
                    release();
                    // Nothing new to start: wait while other workers still run trials, in
                    // case one of them dies and its trial comes back to the queue.
                    let counts = self.storage.counts(self.study.id)?;
                    if counts.queued > 0 {
                        continue;
                    }
                    if counts.running == 0 || !self.config.wait_for_others {
                        run.set_reason(reason);
                        return Ok(());
                    }
                    std::thread::sleep(self.config.poll_interval);
                    self.recover(run, false)?;
                }
            }
        }
    }

    /// Proposes a new architecture and creates its trial; `Err(reason)` when the budget or
    /// the space is spent.
    fn create<St: Strategy<S> + ?Sized>(
        &self,
        worker: &str,
        shared: &Mutex<Shared<'_, S, St>>,
        run: &RunState,
    ) -> Result<std::result::Result<TrialRecord, StopReason>> {
        let mut g = lock(shared);
        for attempt in 0..1000u64 {
            self.sync(&mut g, true)?;
            run.first_unfinished
                .store(g.first_unfinished as u64, Ordering::SeqCst);
            let budget = &self.config.budget;
            if budget.trials.is_some_and(|t| g.next_number() as u64 >= t) {
                return Ok(Err(StopReason::TrialBudget));
            }
            if let Some(e) = budget.epochs
                && self.storage.counts(self.study.id)?.epochs >= e
            {
                return Ok(Err(StopReason::EpochBudget));
            }
            let n = g.next_number() as u64;
            // Without the trials below `base`, a proposal may repeat one of them (the storage
            // refuses it): the next attempt draws afresh. With the whole history, a repeat is
            // in it after the sync, so the same draw moves on by itself.
            let salt = if g.base > 0 { attempt } else { 0 };
            let mut rng = Rng::new(derive_seed(self.study.seed, n) ^ salt);
            let arch = {
                let Shared {
                    strategy, history, ..
                } = &mut *g;
                let mut guard = FinishedRepeats(&mut **strategy);
                next_fresh(self.space, &mut guard, history, &mut rng)
            };
            let Some(arch) = arch else {
                return Ok(Err(StopReason::SpaceExhausted));
            };
            let new = NewTrial {
                arch: self.space.format(&arch),
                params: self.config.params.clone(),
                budget: self.config.trial_budget.clone(),
                seed: derive_seed(self.study.seed ^ 0x5EED_7121_A100_0000, n),
                worker: worker.to_string(),
            };
            match self
                .storage
                .create_trial(self.study.id, &new, self.config.budget.trials)?
            {
                CreateOutcome::Created(rec) => {
                    let rec = *rec;
                    self.sync(&mut g, true)?;
                    return Ok(Ok(rec));
                }
                // Another worker created it after our last look: look again.
                CreateOutcome::Exists(_) => continue,
                CreateOutcome::LimitReached => return Ok(Err(StopReason::TrialBudget)),
            }
        }
        Err(Error::Mismatch {
            study: self.study.name.clone(),
            url: self.storage.url().to_string(),
            reason: "kept proposing architectures that other workers had created".into(),
        })
    }

    fn evaluate<St: Strategy<S> + ?Sized>(
        &self,
        rec: TrialRecord,
        resumed: bool,
        worker: &str,
        shared: &Mutex<Shared<'_, S, St>>,
        run: &RunState,
    ) -> Result<()> {
        let end = self.evaluate_inner(&rec, resumed, worker, run);
        lock(&run.active).retain(|(n, _)| *n != rec.number);
        match end? {
            TrialEnd::Finished => {
                run.evaluated.fetch_add(1, Ordering::SeqCst);
                let mut g = lock(shared);
                self.sync(&mut g, true)?;
                run.first_unfinished
                    .store(g.first_unfinished as u64, Ordering::SeqCst);
                drop(g);
                if let Some(limit) = self.config.stop_after_failures {
                    let c = self.storage.counts(self.study.id)?;
                    if c.failed >= limit && c.complete == 0 && c.pruned == 0 {
                        log::error!(
                            "stopping: all {} trials of study `{}` failed (the reasons are in \
                             `nascent trials`)",
                            c.failed,
                            self.study.name
                        );
                        run.set_reason(StopReason::AllFailed);
                        run.halt.store(true, Ordering::SeqCst);
                    }
                }
            }
            TrialEnd::Requeued => {
                run.requeued.fetch_add(1, Ordering::SeqCst);
            }
            TrialEnd::Lost => {}
        }
        Ok(())
    }

    fn evaluate_inner(
        &self,
        rec: &TrialRecord,
        resumed: bool,
        worker: &str,
        run: &RunState,
    ) -> Result<TrialEnd> {
        let number = rec.number;
        lock(&run.active).push((number, worker.to_string()));
        self.emit(Event::TrialStarted {
            trial: rec,
            resumed,
        });
        let arch = self.space.parse(&rec.arch)?;
        let deadline = match (self.config.stop_at_deadline, self.config.budget.seconds) {
            (true, Some(s)) => {
                Some(run.start + Duration::from_secs_f64((s - run.base_elapsed).max(0.0)))
            }
            _ => None,
        };
        let direction = self
            .config
            .intermediate_direction
            .unwrap_or(self.study.objectives[0].direction);
        let mut reporter = StoreReporter {
            storage: self.storage,
            study: &self.study,
            rec,
            worker,
            pruner: self.pruner,
            observer: self.observer,
            stop: &self.stop,
            halt: &run.halt,
            deadline,
            direction,
            curve: Vec::new(),
            error: None,
            interrupted: false,
            pruned: None,
        };
        let t0 = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.evaluator.evaluate(&arch, &rec.budget, &mut reporter)
        }))
        .unwrap_or_else(|p| Outcome::Failed {
            reason: format!("the evaluator panicked: {}", panic_message(&*p)),
            cost_seconds: t0.elapsed().as_secs_f64(),
        });
        let wall = t0.elapsed().as_secs_f64();
        match reporter.error.take() {
            Some(StorageError::Conflict { reason, .. }) => {
                log::warn!("trial {number}: dropping this attempt's result: {reason}");
                return Ok(TrialEnd::Lost);
            }
            Some(e) => {
                // Leave the trial to be re-queued by the next run; report the failure.
                let _ = self.storage.requeue(
                    self.study.id,
                    number,
                    &RequeueIf {
                        worker: Some(worker),
                        heartbeat_before: None,
                    },
                );
                return Err(e.into());
            }
            None => {}
        }
        if reporter.interrupted {
            let requeued = self.storage.requeue(
                self.study.id,
                number,
                &RequeueIf {
                    worker: Some(worker),
                    heartbeat_before: None,
                },
            )?;
            if requeued {
                self.emit(Event::TrialRequeued {
                    number,
                    reason: RequeueReason::Interrupted,
                });
                return Ok(TrialEnd::Requeued);
            }
            return Ok(TrialEnd::Lost);
        }
        let cost = |c: f64| if c > 0.0 { c } else { wall };
        let (state, reason, metrics, cost_seconds) = match outcome {
            Outcome::Complete(e) => (TrialState::Complete, None, e.metrics, cost(e.cost_seconds)),
            Outcome::Pruned(e) => {
                let why = reporter
                    .pruned
                    .take()
                    .unwrap_or_else(|| "stopped by the evaluator".to_string());
                (
                    TrialState::Pruned,
                    Some(why),
                    e.metrics,
                    cost(e.cost_seconds),
                )
            }
            Outcome::Failed {
                reason,
                cost_seconds,
            } => (
                TrialState::Fail,
                Some(reason),
                Default::default(),
                cost(cost_seconds),
            ),
        };
        let values = self
            .study
            .objectives
            .iter()
            .map(|o| metrics.get(&o.metric).copied().unwrap_or(f64::NAN))
            .collect();
        let result = TrialResult {
            state,
            reason,
            metrics,
            values,
            cost_seconds,
        };
        match self.storage.finish(self.study.id, number, worker, &result) {
            Ok(()) => {}
            Err(StorageError::Conflict { reason, .. }) => {
                log::warn!("trial {number}: dropping this attempt's result: {reason}");
                return Ok(TrialEnd::Lost);
            }
            Err(e) => return Err(e.into()),
        }
        if self.observer.is_some() {
            let stored = self.storage.trial(self.study.id, number)?;
            self.emit(Event::TrialFinished { trial: &stored });
        }
        Ok(TrialEnd::Finished)
    }
}

/// The reporter handed to the evaluator: writes each value to storage, asks the pruner, and
/// stops the evaluation on the stop signal or the deadline.
struct StoreReporter<'r> {
    storage: &'r dyn Storage,
    study: &'r StudyRecord,
    rec: &'r TrialRecord,
    worker: &'r str,
    pruner: Option<&'r dyn Pruner>,
    observer: Option<&'r dyn Observer>,
    stop: &'r StopSignal,
    halt: &'r AtomicBool,
    deadline: Option<Instant>,
    direction: Direction,
    curve: Vec<(u32, f64)>,
    error: Option<StorageError>,
    interrupted: bool,
    pruned: Option<String>,
}

impl Reporter for StoreReporter<'_> {
    fn report(&mut self, step: u32, value: f64) -> Control {
        if self.error.is_some() || self.interrupted || self.pruned.is_some() {
            return Control::Stop;
        }
        let number = self.rec.number;
        if let Err(e) = self
            .storage
            .report(self.study.id, number, self.worker, step, value)
        {
            self.error = Some(e);
            return Control::Stop;
        }
        match self.curve.last() {
            Some(&(s, _)) if s >= step => {
                self.curve.retain(|(s, _)| *s != step);
                self.curve.push((step, value));
                self.curve.sort_by_key(|(s, _)| *s);
            }
            _ => self.curve.push((step, value)),
        }
        if let Some(o) = self.observer {
            o.event(&Event::Intermediate {
                number,
                step,
                value,
                of: self.rec.budget.epochs,
            });
        }
        if self.stop.is_stopped() || self.halt.load(Ordering::SeqCst) {
            self.interrupted = true;
            return Control::Stop;
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.pruned = Some(format!(
                "stopped at step {step}: the study's time budget ran out"
            ));
            return Control::Stop;
        }
        if let Some(p) = self.pruner {
            let ctx = PruneContext {
                storage: self.storage,
                study: self.study,
                number,
                budget: &self.rec.budget,
                curve: &self.curve,
                step,
                value,
                direction: self.direction,
            };
            match p.decide(&ctx) {
                Ok(Verdict::Continue) => {}
                Ok(Verdict::Prune(why)) => {
                    self.pruned = Some(format!("{} at step {step}: {why}", p.name()));
                    return Control::Stop;
                }
                Err(e) => {
                    log::warn!("pruner {} on trial {number}: {e}; going on", p.name());
                }
            }
        }
        Control::Continue
    }
}

/// Why `worker` no longer holds the trial `rec` after its heartbeat found it not held; `None`
/// when the worker itself finished it (the heartbeat raced the trial's end: nothing was lost).
fn lost_hold(rec: &TrialRecord, worker: &str) -> Option<String> {
    let holder = rec.worker.as_deref();
    if rec.state.is_finished() {
        return match holder {
            Some(h) if h == worker => None,
            Some(h) => Some(format!("it was re-queued and worker `{h}` finished it")),
            None => Some("it finished without a worker".into()),
        };
    }
    Some(match holder {
        None => "it was re-queued".into(),
        Some(h) => format!("it was re-queued and worker `{h}` holds it"),
    })
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// The study named in `spec`: created if the storage has none of that name, otherwise the
/// stored one after checking that it searches the same space with the same objectives.
pub fn open_or_create_study(storage: &dyn Storage, spec: &StudySpec) -> Result<StudyRecord> {
    match storage.study(&spec.name) {
        Ok(existing) => {
            let mismatch = |reason: String| Error::Mismatch {
                study: spec.name.clone(),
                url: storage.url().to_string(),
                reason,
            };
            if existing.space != spec.space {
                return Err(mismatch(format!(
                    "searches space `{}`, not `{}`; pick another study name",
                    existing.space, spec.space
                )));
            }
            if existing.objectives != spec.objectives {
                return Err(mismatch(format!(
                    "has objectives {}, not {}; pick another study name",
                    describe(&existing.objectives),
                    describe(&spec.objectives)
                )));
            }
            Ok(existing)
        }
        Err(StorageError::NoStudy { .. }) => match storage.create_study(spec) {
            Ok(s) => Ok(s),
            // Another process created it meanwhile.
            Err(StorageError::StudyExists { .. }) => Ok(storage.study(&spec.name)?),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

fn describe(objectives: &[nascent_core::Objective]) -> String {
    objectives
        .iter()
        .map(|o| {
            let d = match o.direction {
                Direction::Maximize => "maximize",
                Direction::Minimize => "minimize",
            };
            format!("{} ({d})", o.metric)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(worker: Option<&str>, state: TrialState) -> TrialRecord {
        let new = NewTrial {
            arch: "a".into(),
            params: serde_json::Value::Null,
            budget: Budget::default(),
            seed: 0,
            worker: "w0".into(),
        };
        let mut rec = TrialRecord::created(nascent_core::storage::StudyId(1), 7, &new, 0.0);
        rec.worker = worker.map(str::to_string);
        rec.state = state;
        rec
    }

    #[test]
    fn a_trial_its_own_worker_finished_is_not_reported_lost() {
        assert_eq!(
            lost_hold(&held_by(Some("w0"), TrialState::Complete), "w0"),
            None
        );
        assert_eq!(
            lost_hold(&held_by(Some("w0"), TrialState::Fail), "w0"),
            None
        );
        let requeued = lost_hold(&held_by(None, TrialState::Running), "w0").unwrap();
        assert!(requeued.contains("re-queued"), "{requeued}");
        let taken = lost_hold(&held_by(Some("w1"), TrialState::Running), "w0").unwrap();
        assert!(taken.contains("`w1` holds it"), "{taken}");
        let done = lost_hold(&held_by(Some("w1"), TrialState::Pruned), "w0").unwrap();
        assert!(done.contains("`w1` finished it"), "{done}");
    }
}
