//! Objectives, constraints and measured metrics.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Named measured values of one evaluation ("val_accuracy", "latency_ms", "params", ...).
pub type Metrics = BTreeMap<String, f64>;

/// Whether larger or smaller values of a metric are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger is better (accuracy).
    Maximize,
    /// Smaller is better (latency, parameters, FLOPs, memory, error).
    Minimize,
}

/// One thing a study optimises: a metric and its direction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Objective {
    /// The metric the evaluator reports under this name.
    pub metric: String,
    /// Whether it is maximised or minimised.
    pub direction: Direction,
}

impl Objective {
    /// Maximise `metric`.
    pub fn maximize(metric: impl Into<String>) -> Self {
        Objective {
            metric: metric.into(),
            direction: Direction::Maximize,
        }
    }

    /// Minimise `metric`.
    pub fn minimize(metric: impl Into<String>) -> Self {
        Objective {
            metric: metric.into(),
            direction: Direction::Minimize,
        }
    }

    /// The value turned so that larger is always better.
    pub fn utility(&self, value: f64) -> f64 {
        match self.direction {
            Direction::Maximize => value,
            Direction::Minimize => -value,
        }
    }

    /// The value turned so that smaller is always better (the convention of Pareto tools).
    pub fn loss(&self, value: f64) -> f64 {
        -self.utility(value)
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(&self, a: f64, b: f64) -> bool {
        self.utility(a) > self.utility(b)
    }
}

/// A hard limit on a metric: a trial that breaks it is infeasible.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    /// The metric limited.
    pub metric: String,
    /// Largest acceptable value.
    #[serde(default)]
    pub max: Option<f64>,
    /// Smallest acceptable value.
    #[serde(default)]
    pub min: Option<f64>,
}

impl Constraint {
    /// By how much `metrics` break this constraint, relative to the limit; 0 when satisfied.
    /// A missing metric counts as a violation of 1.
    pub fn violation(&self, metrics: &Metrics) -> f64 {
        let Some(&v) = metrics.get(&self.metric) else {
            return 1.0;
        };
        let mut out = 0.0;
        if let Some(max) = self.max
            && v > max
        {
            out += (v - max) / max.abs().max(1e-12);
        }
        if let Some(min) = self.min
            && v < min
        {
            out += (min - v) / min.abs().max(1e-12);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utility_and_constraints() {
        let acc = Objective::maximize("acc");
        let lat = Objective::minimize("lat");
        assert!(acc.better(2.0, 1.0));
        assert!(lat.better(1.0, 2.0));
        assert_eq!(lat.loss(3.0), 3.0);
        let c = Constraint {
            metric: "lat".into(),
            max: Some(10.0),
            min: None,
        };
        let mut m = Metrics::new();
        m.insert("lat".into(), 12.0);
        assert!((c.violation(&m) - 0.2).abs() < 1e-12);
        m.insert("lat".into(), 9.0);
        assert_eq!(c.violation(&m), 0.0);
        assert_eq!(c.violation(&Metrics::new()), 1.0);
    }
}
