//! The machine-readable results of a study (`nascent search --json`, `trials --json`, `best
//! --json`): typed, with a `schema_version` that changes only when a field changes meaning or
//! goes away (new fields may be added within a version).

use crate::backend::FinalModel;
use crate::driver::{BestTrial, StudyOutcome};
use crate::runner::StopReason;
use nascent_core::Objective;
use nascent_core::storage::TrialRecord;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The version of every JSON document nascent writes (`--json` outputs and `final.json`).
pub const SCHEMA_VERSION: u32 = 1;

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// `nascent search --json` and `nascent resume --json`: what a study run did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchOutput {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The study's name.
    pub study: String,
    /// Trials in the study (any state).
    pub trials: u64,
    /// Completed trials.
    pub complete: u64,
    /// Pruned trials.
    pub pruned: u64,
    /// Failed trials.
    pub failed: u64,
    /// The best trial.
    pub best: Option<BestTrial>,
    /// The retrained model.
    #[serde(rename = "final")]
    pub final_model: Option<FinalModel>,
    /// The report written.
    pub report: Option<PathBuf>,
    /// Wall-clock seconds of this run.
    pub seconds: f64,
}

impl From<&StudyOutcome> for SearchOutput {
    fn from(o: &StudyOutcome) -> Self {
        let c = &o.summary.counts;
        SearchOutput {
            schema_version: SCHEMA_VERSION,
            study: o.study.clone(),
            trials: c.total,
            complete: c.complete,
            pruned: c.pruned,
            failed: c.failed,
            best: o.best.clone(),
            final_model: o.final_model.clone(),
            report: o.report.clone(),
            seconds: o.seconds,
        }
    }
}

/// One line of `nascent trials --json`: a stored trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialLine {
    /// [`SCHEMA_VERSION`].
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// The trial as stored.
    #[serde(flatten)]
    pub trial: TrialRecord,
}

/// `nascent best --json`: the best trials of a study and its retrained model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestOutput {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The study's name.
    pub study: String,
    /// The objective that ranks them.
    pub objective: Objective,
    /// The best completed feasible trials, best first.
    pub best: Vec<TrialRecord>,
    /// The retrained model, if any.
    #[serde(rename = "final")]
    pub final_model: Option<FinalModel>,
}

/// `nascent worker --json`: what one worker of a shared study did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerOutput {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The study's name.
    pub study: String,
    /// Why this worker stopped.
    pub stop: StopReason,
    /// Trials this worker finished.
    pub evaluated: u64,
    /// Trials this worker re-queued.
    pub requeued: u64,
    /// The study's trials when it stopped (any state).
    pub trials: u64,
    /// Completed trials of the study.
    pub complete: u64,
    /// Trials still running (other workers').
    pub running: u64,
    /// The study's best trial so far.
    pub best: Option<BestTrial>,
    /// Wall-clock seconds of this worker.
    pub seconds: f64,
}

impl From<&StudyOutcome> for WorkerOutput {
    fn from(o: &StudyOutcome) -> Self {
        let s = &o.summary;
        WorkerOutput {
            schema_version: SCHEMA_VERSION,
            study: o.study.clone(),
            stop: s.stop,
            evaluated: s.evaluated,
            requeued: s.requeued,
            trials: s.counts.total,
            complete: s.counts.complete,
            running: s.counts.running,
            best: o.best.clone(),
            seconds: o.seconds,
        }
    }
}
