//! The pruner trait: early stopping of poor trials from their intermediate values.
//!
//! The study runner asks a [`Pruner`] after every value a trial reports; the built-in pruners
//! (median rule, successive halving, Hyperband, learning-curve extrapolation) live in
//! `nascent-estimate`.

use crate::objective::Direction;
use crate::storage::{Storage, StorageError, StudyRecord};
use crate::trial::Budget;

/// A pruner's verdict on a trial after an intermediate value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let it go on.
    Continue,
    /// Stop it; the reason is stored with the pruned trial.
    Prune(String),
}

/// What a pruner sees when a trial reports an intermediate value.
pub struct PruneContext<'a> {
    /// The storage, to read the other trials' values.
    pub storage: &'a dyn Storage,
    /// The study.
    pub study: &'a StudyRecord,
    /// The trial's number.
    pub number: u64,
    /// The trial's fidelity (its `epochs` is the step the curve would end at).
    pub budget: &'a Budget,
    /// The trial's values so far `(step, value)`, the latest last.
    pub curve: &'a [(u32, f64)],
    /// The latest step.
    pub step: u32,
    /// The latest value.
    pub value: f64,
    /// Whether larger or smaller intermediate values are better.
    pub direction: Direction,
}

/// Decides from intermediate values whether a trial goes on (median rule, successive halving,
/// learning-curve extrapolation: see nascent-estimate).
pub trait Pruner: Send + Sync {
    /// The pruner's name, as stored in prune reasons and shown to users.
    fn name(&self) -> String;

    /// The verdict after the trial's latest value; errors are storage errors.
    fn decide(&self, ctx: &PruneContext<'_>) -> Result<Verdict, StorageError>;
}
