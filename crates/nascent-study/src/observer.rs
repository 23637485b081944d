//! Progress of a study: what the driver tells an observer (a progress bar, a log, a test).

use crate::backend::DataInfo;
use crate::runner::{Event, Observer, RunSummary};

/// One epoch of the final retraining.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrainEpoch {
    /// The epoch (1-based).
    pub epoch: u32,
    /// Of how many.
    pub epochs: u32,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (%).
    pub train_accuracy: f64,
    /// Validation accuracy (%), when there is a validation split.
    pub val_accuracy: Option<f64>,
    /// Training throughput.
    pub images_per_second: f64,
}

/// What happens in a study, in order.
#[derive(Debug)]
pub enum StudyEvent<'a> {
    /// The data is being loaded.
    Loading {
        /// The dataset's name or path.
        data: &'a str,
    },
    /// The data is loaded.
    DataReady(&'a DataInfo),
    /// An event of the search loop (trials started, finished, re-queued).
    Run(&'a Event<'a>),
    /// The search ended.
    SearchFinished(&'a RunSummary),
    /// One run of `[retrain.race]` ended.
    Race {
        /// Which run (1-based).
        n: usize,
        /// Of how many.
        of: usize,
        /// What it measured.
        run: &'a crate::backend::RaceRun,
    },
    /// The best architecture is being retrained.
    RetrainStarted {
        /// Its search trial.
        trial: u64,
        /// Its canonical string.
        arch: &'a str,
        /// Epochs.
        epochs: u32,
        /// Width (`None`: the space's default).
        channels: Option<u32>,
        /// Cells (`None`: the space's default).
        cells: Option<u32>,
        /// Networks trained at once and averaged (1: one network).
        members: usize,
    },
    /// Retraining is about to run `batches` batches per epoch.
    RetrainBatches {
        /// The first epoch.
        first_epoch: u32,
        /// Epochs.
        epochs: u32,
        /// Batches per epoch.
        batches: usize,
    },
    /// One retraining batch is done.
    RetrainBatch,
    /// One retraining epoch is done.
    RetrainEpoch(&'a RetrainEpoch),
    /// Retraining ended.
    RetrainFinished,
}

/// Receives the events of a study (from any worker thread).
pub trait StudyObserver: Send + Sync {
    /// Something happened.
    fn event(&self, event: &StudyEvent<'_>);
}

impl<F: Fn(&StudyEvent<'_>) + Send + Sync> StudyObserver for F {
    fn event(&self, event: &StudyEvent<'_>) {
        self(event)
    }
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl StudyObserver for Silent {
    fn event(&self, _event: &StudyEvent<'_>) {}
}

/// An observer that logs through the `log` crate.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogStudy;

impl StudyObserver for LogStudy {
    fn event(&self, event: &StudyEvent<'_>) {
        match event {
            StudyEvent::Loading { data } => log::info!("loading {data} ..."),
            StudyEvent::DataReady(d) => log::info!(
                "data: {} training, {} validation, {} test samples of shape {:?}, {} classes",
                d.train,
                d.val,
                d.test,
                d.shape,
                d.classes
            ),
            StudyEvent::Run(e) => crate::runner::LogObserver.event(e),
            StudyEvent::SearchFinished(s) => log::info!(
                "search done ({:?}): {} trials, {} complete",
                s.stop,
                s.counts.total,
                s.counts.complete
            ),
            StudyEvent::Race { n, of, run } => log::info!("{}", run.line(*n, *of)),
            StudyEvent::RetrainStarted {
                trial,
                arch,
                epochs,
                members,
                ..
            } => log::info!(
                "retraining #{trial} {arch} for {epochs} epochs{}",
                ensemble_note(*members)
            ),
            StudyEvent::RetrainEpoch(e) => log::info!(
                "retrain epoch {}/{}: loss {:.4} train {:.2}%",
                e.epoch,
                e.epochs,
                e.train_loss,
                e.train_accuracy
            ),
            StudyEvent::RetrainBatches { .. }
            | StudyEvent::RetrainBatch
            | StudyEvent::RetrainFinished => {}
        }
    }
}

/// Forwards the runner's events to a study observer.
pub(crate) struct RunEvents<'a>(pub &'a dyn StudyObserver);

impl Observer for RunEvents<'_> {
    fn event(&self, event: &Event<'_>) {
        self.0.event(&StudyEvent::Run(event));
    }
}

/// ` (an ensemble of N networks, trained at once)` for more than one member; empty otherwise.
pub fn ensemble_note(members: usize) -> String {
    if members > 1 {
        format!(" (an ensemble of {members} networks, trained at once)")
    } else {
        String::new()
    }
}
