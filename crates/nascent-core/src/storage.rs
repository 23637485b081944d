//! The storage trait: the one shared state of a study.
//!
//! A [`Storage`] keeps studies, their trials (architecture, hyperparameters, state, metrics,
//! intermediate values, timings, worker and heartbeat) and artefacts (checkpoints, exports,
//! reports). Every worker of a study — threads, processes, machines — reads and writes the
//! same storage, so each operation that decides who does what (creating a trial, claiming a
//! re-queued one, finishing one) is atomic in the back end.
//!
//! Architectures are stored as their canonical strings ([`crate::SearchSpace::format`]); the
//! runner parses them back with the space ([`TrialRecord::to_trial`]).
//!
//! A trial is *queued* when it is `RUNNING` but claimed by no worker: it was re-queued after
//! its worker died or was interrupted, and the next worker that looks for work claims it and
//! evaluates the same architecture again.
//!
//! The back ends live in `nascent-store` (in-memory and SQLite) with one conformance suite
//! that every back end passes.

use crate::error::Error;
use crate::objective::{Constraint, Metrics, Objective};
use crate::space::SearchSpace;
use crate::trial::{Budget, Trial, TrialState};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch: the clock of every timestamp in storage.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The identifier of a study inside one storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StudyId(pub i64);

/// What a new study is: everything needed to run (and resume) it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudySpec {
    /// Unique name in the storage.
    pub name: String,
    /// The search space's name ([`crate::SearchSpace::name`]).
    pub space: String,
    /// The objectives, in order (the first one ranks trials), each with its direction.
    pub objectives: Vec<Objective>,
    /// Hard constraints.
    pub constraints: Vec<Constraint>,
    /// The full study configuration as JSON, so a study can be resumed from storage alone.
    pub config: serde_json::Value,
    /// The study's seed.
    pub seed: u64,
}

/// A stored study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyRecord {
    /// Its identifier in this storage.
    pub id: StudyId,
    /// Unique name.
    pub name: String,
    /// The search space's name.
    pub space: String,
    /// The objectives, in order.
    pub objectives: Vec<Objective>,
    /// Hard constraints.
    pub constraints: Vec<Constraint>,
    /// The configuration blob.
    pub config: serde_json::Value,
    /// The seed.
    pub seed: u64,
    /// When it was created (Unix seconds).
    pub created: f64,
    /// Wall-clock seconds the study has run so far, over all its runs.
    pub elapsed_seconds: f64,
}

/// A trial about to be created, claimed by `worker`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewTrial {
    /// Canonical architecture string.
    pub arch: String,
    /// Hyperparameters (any JSON).
    pub params: serde_json::Value,
    /// The fidelity the trial is evaluated at.
    pub budget: Budget,
    /// The trial's seed.
    pub seed: u64,
    /// The worker that claims it.
    pub worker: String,
}

/// A stored trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// The study it belongs to.
    pub study: StudyId,
    /// 0-based number in its study, contiguous, in creation order.
    pub number: u64,
    /// Canonical architecture string.
    pub arch: String,
    /// Hyperparameters (any JSON).
    pub params: serde_json::Value,
    /// Where it stands.
    pub state: TrialState,
    /// Why it failed or was pruned.
    pub reason: Option<String>,
    /// The fidelity it is evaluated at.
    pub budget: Budget,
    /// Everything measured (empty until it finishes).
    pub metrics: Metrics,
    /// Objective values in the study's order (NaN where missing).
    pub values: Vec<f64>,
    /// Intermediate values `(step, value)` of the current attempt, by step.
    pub intermediate: Vec<(u32, f64)>,
    /// The trial's seed.
    pub seed: u64,
    /// The worker evaluating it; `None` while queued and (possibly) after it finished.
    pub worker: Option<String>,
    /// Created (Unix seconds).
    pub created: f64,
    /// Started by its current (or last) worker.
    pub started: Option<f64>,
    /// Finished.
    pub finished: Option<f64>,
    /// Last heartbeat of its worker.
    pub heartbeat: Option<f64>,
    /// Seconds the evaluation took.
    pub cost_seconds: f64,
    /// How many times a worker has claimed it (1 unless it was re-queued).
    pub attempts: u32,
    /// Epochs trained in the current attempt (the largest step reported; for a trial that
    /// completed without reporting, its budget's epochs).
    pub epochs: u32,
    /// Its place (0-based) in the order the study's trials finished, given in the transaction
    /// that finished it: the order a strategy is told of them, replayed on resume. `None`
    /// while it runs (and for trials finished by storages written before this was recorded).
    #[serde(default)]
    pub sequence: Option<u64>,
}

impl TrialRecord {
    /// The record of `trial`, just created as number `number` of `study` at time `t` and held
    /// by its worker (what every back end's `create_trial` gives back).
    pub fn created(study: StudyId, number: u64, trial: &NewTrial, t: f64) -> Self {
        TrialRecord {
            study,
            number,
            arch: trial.arch.clone(),
            params: trial.params.clone(),
            state: TrialState::Running,
            reason: None,
            budget: trial.budget.clone(),
            metrics: Metrics::new(),
            values: Vec::new(),
            intermediate: Vec::new(),
            seed: trial.seed,
            worker: Some(trial.worker.clone()),
            created: t,
            started: Some(t),
            finished: None,
            heartbeat: Some(t),
            cost_seconds: 0.0,
            attempts: 1,
            epochs: 0,
            sequence: None,
        }
    }

    /// Whether the trial waits for a worker (re-queued).
    pub fn is_queued(&self) -> bool {
        self.state == TrialState::Running && self.worker.is_none()
    }

    /// The state as shown to users: `QUEUED` for a re-queued trial, else the state's name.
    pub fn state_label(&self) -> &'static str {
        if self.is_queued() {
            "QUEUED"
        } else {
            self.state.as_str()
        }
    }

    /// The trial with its architecture parsed by `space`.
    pub fn to_trial<S: SearchSpace + ?Sized>(&self, space: &S) -> crate::Result<Trial<S::Arch>> {
        let arch = space.parse(&self.arch)?;
        Ok(Trial {
            number: self.number,
            arch,
            state: self.state,
            fail_reason: self.reason.clone(),
            budget: self.budget.clone(),
            metrics: self.metrics.clone(),
            values: self.values.clone(),
            intermediate: self.intermediate.clone(),
            cost_seconds: self.cost_seconds,
        })
    }
}

/// How a trial ended, as written by [`Storage::finish`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    /// `Complete`, `Pruned` or `Fail` (never `Running`).
    pub state: TrialState,
    /// Why it failed or was pruned.
    pub reason: Option<String>,
    /// Everything measured.
    pub metrics: Metrics,
    /// Objective values in the study's order.
    pub values: Vec<f64>,
    /// Seconds the evaluation took.
    pub cost_seconds: f64,
}

/// The answer to [`Storage::create_trial`].
#[derive(Clone, Debug, PartialEq)]
pub enum CreateOutcome {
    /// The trial was created and claimed.
    Created(Box<TrialRecord>),
    /// The architecture is already trial `number` of the study; nothing was created.
    Exists(u64),
    /// The study already holds the maximum number of trials; nothing was created.
    LimitReached,
}

/// When [`Storage::requeue`] may re-queue a running trial.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequeueIf<'a> {
    /// Only if this worker holds it.
    pub worker: Option<&'a str>,
    /// Only if its last heartbeat is older than this time (Unix seconds).
    pub heartbeat_before: Option<f64>,
}

/// One trial's value at one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepValue {
    /// The trial's number.
    pub number: u64,
    /// The trial's state.
    pub state: TrialState,
    /// The value it reported at the step.
    pub value: f64,
}

/// How many trials a study has in each state, and the epochs they trained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StudyCounts {
    /// All trials.
    pub total: u64,
    /// Waiting for a worker.
    pub queued: u64,
    /// Claimed by a worker.
    pub running: u64,
    /// Complete.
    pub complete: u64,
    /// Pruned.
    pub pruned: u64,
    /// Failed.
    pub failed: u64,
    /// Epochs trained, summed over trials.
    pub epochs: u64,
}

impl StudyCounts {
    /// Trials that have ended.
    pub fn finished(&self) -> u64 {
        self.complete + self.pruned + self.failed
    }
}

/// What an artefact is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtefactKind {
    /// Model weights saved during or after training.
    Checkpoint,
    /// An exported model (genotype, weights, ONNX).
    Export,
    /// A report (HTML page, plot).
    Report,
    /// Anything else.
    Other,
}

impl ArtefactKind {
    /// The name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtefactKind::Checkpoint => "checkpoint",
            ArtefactKind::Export => "export",
            ArtefactKind::Report => "report",
            ArtefactKind::Other => "other",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "checkpoint" => ArtefactKind::Checkpoint,
            "export" => ArtefactKind::Export,
            "report" => ArtefactKind::Report,
            "other" => ArtefactKind::Other,
            _ => return None,
        })
    }
}

/// A file produced by a study or one of its trials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artefact {
    /// The study.
    pub study: StudyId,
    /// The trial, for per-trial artefacts.
    pub trial: Option<u64>,
    /// What it is.
    pub kind: ArtefactKind,
    /// Where it is.
    pub path: PathBuf,
    /// When it was recorded (Unix seconds).
    pub created: f64,
}

/// Errors of a storage back end; each names the storage URL or the study and trial concerned.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage could not be opened (unreachable, unwritable, not a database).
    #[error("cannot open storage `{url}`: {reason}")]
    Open {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The URL is not one this build understands.
    #[error("invalid storage URL `{url}`: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The file was written by a newer nascent.
    #[error(
        "storage `{url}` has schema version {found}, newer than the {supported} this nascent \
         supports; upgrade nascent to open it"
    )]
    NewerSchema {
        /// The URL.
        url: String,
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// No study of that name.
    #[error("storage `{url}` has no study named `{name}`")]
    NoStudy {
        /// The URL.
        url: String,
        /// The name asked for.
        name: String,
    },
    /// A study of that name exists already.
    #[error("storage `{url}` already has a study named `{name}`")]
    StudyExists {
        /// The URL.
        url: String,
        /// The name.
        name: String,
    },
    /// No trial of that number.
    #[error("study {study} has no trial {number}")]
    NoTrial {
        /// The study id.
        study: i64,
        /// The trial number.
        number: u64,
    },
    /// The operation does not fit the trial's state (finishing a finished trial, reporting to
    /// a trial another worker now holds).
    #[error("trial {number} of study {study}: {reason}")]
    Conflict {
        /// The study id.
        study: i64,
        /// The trial number.
        number: u64,
        /// What does not fit.
        reason: String,
    },
    /// An argument that cannot be stored.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was invalid.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The back end failed (I/O, database error, corrupt data).
    #[error("storage `{url}`: {reason}")]
    Backend {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        Error::Other(e.to_string())
    }
}

/// Result of storage operations.
pub type StorageResult<T> = std::result::Result<T, StorageError>;

/// The shared state of studies: in memory, in an SQLite file, or in a database server.
///
/// All methods take `&self`; back ends lock internally and make each method atomic, so one
/// storage can be shared by worker threads (and, for persistent back ends, by processes).
pub trait Storage: Send + Sync {
    /// The URL it was opened from (`memory:`, `sqlite:///path/to.db`).
    fn url(&self) -> &str;

    /// Creates a study; an error if the name is taken.
    fn create_study(&self, spec: &StudySpec) -> StorageResult<StudyRecord>;

    /// The study named `name`.
    fn study(&self, name: &str) -> StorageResult<StudyRecord>;

    /// All studies, in creation order.
    fn studies(&self) -> StorageResult<Vec<StudyRecord>>;

    /// Raises the study's recorded wall-clock time to `seconds` (never lowers it, so workers
    /// running at the same time do not add up their clocks).
    fn record_elapsed(&self, study: StudyId, seconds: f64) -> StorageResult<()>;

    /// Atomically: unless the architecture is already a trial of the study
    /// ([`CreateOutcome::Exists`]) or the study holds `max_trials` trials
    /// ([`CreateOutcome::LimitReached`]), creates trial number `count` claimed by
    /// `trial.worker`, with one attempt.
    fn create_trial(
        &self,
        study: StudyId,
        trial: &NewTrial,
        max_trials: Option<u64>,
    ) -> StorageResult<CreateOutcome>;

    /// Atomically claims the lowest-numbered queued trial for `worker` (attempts + 1, started
    /// and heartbeat now), or `None` when none is queued.
    fn claim_queued(&self, study: StudyId, worker: &str) -> StorageResult<Option<TrialRecord>>;

    /// Refreshes the heartbeat of a running trial held by `worker`; `false` when the worker
    /// no longer holds it (it was re-queued or finished).
    fn heartbeat(&self, study: StudyId, number: u64, worker: &str) -> StorageResult<bool>;

    /// Records an intermediate value of a running trial held by `worker` (replacing a value
    /// already at `step`); a [`StorageError::Conflict`] when the worker does not hold it.
    fn report(
        &self,
        study: StudyId,
        number: u64,
        worker: &str,
        step: u32,
        value: f64,
    ) -> StorageResult<()>;

    /// Ends a running trial held by `worker`; a [`StorageError::Conflict`] when the worker
    /// does not hold it or `result.state` is `Running`.
    fn finish(
        &self,
        study: StudyId,
        number: u64,
        worker: &str,
        result: &TrialResult,
    ) -> StorageResult<()>;

    /// Re-queues a running trial when `cond` holds: no worker, no start time, no heartbeat,
    /// no intermediate values, zero epochs; the architecture, budget and seed are kept.
    /// `false` when the trial is not running or `cond` does not hold.
    fn requeue(&self, study: StudyId, number: u64, cond: &RequeueIf<'_>) -> StorageResult<bool>;

    /// The trials numbered `from` and above, by number.
    fn trials(&self, study: StudyId, from: u64) -> StorageResult<Vec<TrialRecord>>;

    /// One trial.
    fn trial(&self, study: StudyId, number: u64) -> StorageResult<TrialRecord>;

    /// The values reported at `step` by every trial that reported one, by trial number.
    fn step_values(&self, study: StudyId, step: u32) -> StorageResult<Vec<StepValue>>;

    /// Counts of trials by state and the epochs trained.
    fn counts(&self, study: StudyId) -> StorageResult<StudyCounts>;

    /// The number of the study's first trial that has not finished (running or queued), or
    /// the number of trials when every one has finished: every trial below it has finished.
    /// Persistent back ends answer from indexes; this default reads every trial.
    fn first_unfinished(&self, study: StudyId) -> StorageResult<u64> {
        let trials = self.trials(study, 0)?;
        Ok(trials
            .iter()
            .find(|t| t.state == TrialState::Running)
            .map_or(trials.len() as u64, |t| t.number))
    }

    /// The completed trials with a finite first objective value, best first (by the first
    /// objective's direction, ties by number), skipping `offset` of them and returning at most
    /// `limit`. Persistent back ends answer from an index, so the cost does not grow with the
    /// number of trials; this default reads every trial.
    fn ranked_trials(
        &self,
        study: StudyId,
        offset: u64,
        limit: u64,
    ) -> StorageResult<Vec<TrialRecord>> {
        let record = self
            .studies()?
            .into_iter()
            .find(|s| s.id == study)
            .ok_or_else(|| StorageError::Invalid {
                what: "study id",
                reason: format!("no study with id {} in `{}`", study.0, self.url()),
            })?;
        let Some(objective) = record.objectives.first() else {
            return Ok(Vec::new());
        };
        let mut done: Vec<TrialRecord> = self
            .trials(study, 0)?
            .into_iter()
            .filter(|t| t.state == TrialState::Complete)
            .filter(|t| t.values.first().is_some_and(|v| v.is_finite()))
            .collect();
        done.sort_by(|a, b| {
            objective
                .utility(b.values[0])
                .total_cmp(&objective.utility(a.values[0]))
                .then(a.number.cmp(&b.number))
        });
        Ok(done
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect())
    }

    /// Records an artefact.
    fn add_artefact(&self, artefact: &Artefact) -> StorageResult<()>;

    /// The artefacts of a study, in the order they were recorded.
    fn artefacts(&self, study: StudyId) -> StorageResult<Vec<Artefact>>;
}

macro_rules! forward_storage {
    ($ptr:ident) => {
        impl<T: Storage + ?Sized> Storage for $ptr<T> {
            fn url(&self) -> &str {
                (**self).url()
            }
            fn create_study(&self, spec: &StudySpec) -> StorageResult<StudyRecord> {
                (**self).create_study(spec)
            }
            fn study(&self, name: &str) -> StorageResult<StudyRecord> {
                (**self).study(name)
            }
            fn studies(&self) -> StorageResult<Vec<StudyRecord>> {
                (**self).studies()
            }
            fn record_elapsed(&self, study: StudyId, seconds: f64) -> StorageResult<()> {
                (**self).record_elapsed(study, seconds)
            }
            fn create_trial(
                &self,
                study: StudyId,
                trial: &NewTrial,
                max_trials: Option<u64>,
            ) -> StorageResult<CreateOutcome> {
                (**self).create_trial(study, trial, max_trials)
            }
            fn claim_queued(
                &self,
                study: StudyId,
                worker: &str,
            ) -> StorageResult<Option<TrialRecord>> {
                (**self).claim_queued(study, worker)
            }
            fn heartbeat(&self, study: StudyId, number: u64, worker: &str) -> StorageResult<bool> {
                (**self).heartbeat(study, number, worker)
            }
            fn report(
                &self,
                study: StudyId,
                number: u64,
                worker: &str,
                step: u32,
                value: f64,
            ) -> StorageResult<()> {
                (**self).report(study, number, worker, step, value)
            }
            fn finish(
                &self,
                study: StudyId,
                number: u64,
                worker: &str,
                result: &TrialResult,
            ) -> StorageResult<()> {
                (**self).finish(study, number, worker, result)
            }
            fn requeue(
                &self,
                study: StudyId,
                number: u64,
                cond: &RequeueIf<'_>,
            ) -> StorageResult<bool> {
                (**self).requeue(study, number, cond)
            }
            fn trials(&self, study: StudyId, from: u64) -> StorageResult<Vec<TrialRecord>> {
                (**self).trials(study, from)
            }
            fn trial(&self, study: StudyId, number: u64) -> StorageResult<TrialRecord> {
                (**self).trial(study, number)
            }
            fn step_values(&self, study: StudyId, step: u32) -> StorageResult<Vec<StepValue>> {
                (**self).step_values(study, step)
            }
            fn counts(&self, study: StudyId) -> StorageResult<StudyCounts> {
                (**self).counts(study)
            }
            fn first_unfinished(&self, study: StudyId) -> StorageResult<u64> {
                (**self).first_unfinished(study)
            }
            fn ranked_trials(
                &self,
                study: StudyId,
                offset: u64,
                limit: u64,
            ) -> StorageResult<Vec<TrialRecord>> {
                (**self).ranked_trials(study, offset, limit)
            }
            fn add_artefact(&self, artefact: &Artefact) -> StorageResult<()> {
                (**self).add_artefact(artefact)
            }
            fn artefacts(&self, study: StudyId) -> StorageResult<Vec<Artefact>> {
                (**self).artefacts(study)
            }
        }
    };
}

forward_storage!(Box);
forward_storage!(Arc);
