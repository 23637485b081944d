//! # nascent-core
//!
//! The vocabulary of nascent and its three pillars as traits: a [`SearchSpace`] defines the
//! architectures, a [`Strategy`] proposes the next one from the [`History`] of trials, and an
//! [`Evaluator`] turns an architecture and a [`Budget`] into measured [`Metrics`]. Studies name
//! their [`Objective`]s explicitly; every random choice flows from one seed through [`Rng`].
//!
//! This crate has no heavy dependencies: spaces, strategies and tabular benchmarks build on it
//! and compile in seconds.

#![warn(missing_docs)]

pub mod error;
pub mod evaluator;
pub mod objective;
pub mod optimize;
pub mod pareto;
pub mod pruner;
pub mod rng;
pub mod space;
pub mod stats;
pub mod storage;
pub mod strategy;
pub mod testing;
pub mod trial;

pub use error::{Error, Result};
pub use evaluator::{
    Control, Evaluation, Evaluator, NoReporter, Outcome, RecordingReporter, Reporter,
};
pub use objective::{Constraint, Direction, Metrics, Objective};
pub use optimize::{next_fresh, run_queries};
pub use pruner::{PruneContext, Pruner, Verdict};
pub use rng::{Rng, derive_seed};
pub use space::{Decision, Dimension, Encoding, SearchSpace};
pub use storage::{
    Artefact, ArtefactKind, CreateOutcome, NewTrial, RequeueIf, StepValue, Storage, StorageError,
    StorageResult, StudyCounts, StudyId, StudyRecord, StudySpec, TrialRecord, TrialResult,
};
pub use strategy::Strategy;
pub use trial::{Budget, History, Trial, TrialState};
