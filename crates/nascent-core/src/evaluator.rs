//! The performance-estimation trait.

use crate::objective::Metrics;
use crate::trial::Budget;

/// What a reporter tells an evaluation after an intermediate value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop now: the trial is pruned.
    Stop,
}

/// Receives intermediate values (per epoch, say) during an evaluation, records them, and may
/// stop the evaluation early.
pub trait Reporter {
    /// Reports `value` (the evaluator's main metric) at `step` (1-based epoch).
    fn report(&mut self, step: u32, value: f64) -> Control;
}

/// A reporter that records nothing and never stops.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {
    fn report(&mut self, _step: u32, _value: f64) -> Control {
        Control::Continue
    }
}

/// A reporter that records every value and never stops.
#[derive(Clone, Debug, Default)]
pub struct RecordingReporter {
    /// What was reported, in order.
    pub values: Vec<(u32, f64)>,
}

impl Reporter for RecordingReporter {
    fn report(&mut self, step: u32, value: f64) -> Control {
        self.values.push((step, value));
        Control::Continue
    }
}

/// The measured result of an evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Everything measured.
    pub metrics: Metrics,
    /// Seconds spent (or simulated).
    pub cost_seconds: f64,
}

/// How an evaluation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Evaluated to the end.
    Complete(Evaluation),
    /// Stopped early by the reporter; metrics at the point of stopping.
    Pruned(Evaluation),
    /// Failed, with the reason (a NaN loss, an architecture that cannot be built).
    Failed {
        /// Why.
        reason: String,
        /// Seconds spent before failing.
        cost_seconds: f64,
    },
}

/// Turns an architecture and a budget into measured metrics.
pub trait Evaluator<A>: Send + Sync {
    /// The names of the metrics it reports (so a study can check its objectives).
    fn metrics(&self) -> Vec<String>;

    /// Evaluates `arch` within `budget`, reporting intermediate values to `reporter`.
    fn evaluate(&self, arch: &A, budget: &Budget, reporter: &mut dyn Reporter) -> Outcome;
}

impl<A, E: Evaluator<A> + ?Sized> Evaluator<A> for Box<E> {
    fn metrics(&self) -> Vec<String> {
        (**self).metrics()
    }

    fn evaluate(&self, arch: &A, budget: &Budget, reporter: &mut dyn Reporter) -> Outcome {
        (**self).evaluate(arch, budget, reporter)
    }
}
