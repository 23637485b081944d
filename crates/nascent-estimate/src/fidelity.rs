//! Low-fidelity evaluation: train less (fewer epochs, a fraction of the data, a lower input
//! resolution, fewer cells, fewer channels) to rank architectures cheaply.
//!
//! A [`Fidelity`] is mapped onto the [`Budget`] handed to the inner evaluator; the evaluator
//! (the trainer, a tabular benchmark) decides what each field means for it.

use nascent_core::{Budget, Error, Evaluator, Outcome, Reporter, Result};
use serde::{Deserialize, Serialize};

/// How much to cut training by. Every field set caps the corresponding budget field: the
/// inner evaluator gets the smaller of the two (a low fidelity never raises the budget), or
/// this value when the budget leaves the field to the evaluator's default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fidelity {
    /// Training epochs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
    /// Fraction of the training data, in (0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_fraction: Option<f64>,
    /// Input resolution (side in pixels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<u32>,
    /// Cells (or layers) per stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cells: Option<u32>,
    /// Base channel width.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
}

fn cap<T: PartialOrd + Copy>(budget: Option<T>, limit: Option<T>) -> Option<T> {
    match (budget, limit) {
        (Some(b), Some(l)) => Some(if l < b { l } else { b }),
        (b, None) => b,
        (None, l) => l,
    }
}

impl Fidelity {
    /// Checks the values; errors name the field under `prefix` (`fidelity`).
    pub fn check(&self, prefix: &str) -> Result<()> {
        for (name, v) in [
            ("epochs", self.epochs),
            ("resolution", self.resolution),
            ("cells", self.cells),
            ("channels", self.channels),
        ] {
            if v == Some(0) {
                return Err(Error::config(
                    format!("{prefix}.{name}"),
                    "must be at least 1",
                ));
            }
        }
        if let Some(f) = self.data_fraction
            && !(f > 0.0 && f <= 1.0)
        {
            return Err(Error::config(
                format!("{prefix}.data_fraction"),
                format!("must be in (0, 1], not {f}"),
            ));
        }
        Ok(())
    }

    /// Whether it changes nothing.
    pub fn is_full(&self) -> bool {
        *self == Fidelity::default()
    }

    /// The budget the inner evaluator gets.
    pub fn apply(&self, budget: &Budget) -> Budget {
        Budget {
            epochs: cap(budget.epochs, self.epochs),
            data_fraction: cap(budget.data_fraction, self.data_fraction),
            resolution: cap(budget.resolution, self.resolution),
            cells: cap(budget.cells, self.cells),
            channels: cap(budget.channels, self.channels),
        }
    }
}

/// An evaluator that evaluates at a lower fidelity: it hands the inner evaluator
/// [`Fidelity::apply`] of its budget, and adds the fidelity used to the metrics
/// (`fidelity.epochs`, `fidelity.data_fraction`, ...).
#[derive(Clone, Debug)]
pub struct LowFidelity<E> {
    inner: E,
    fidelity: Fidelity,
}

impl<E> LowFidelity<E> {
    /// Wraps `inner`; an error when the fidelity is invalid.
    pub fn new(inner: E, fidelity: Fidelity) -> Result<Self> {
        fidelity.check("fidelity")?;
        Ok(LowFidelity { inner, fidelity })
    }

    /// The fidelity.
    pub fn fidelity(&self) -> &Fidelity {
        &self.fidelity
    }

    /// The inner evaluator.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

fn annotate(outcome: &mut Outcome, budget: &Budget) {
    let metrics = match outcome {
        Outcome::Complete(e) | Outcome::Pruned(e) => &mut e.metrics,
        Outcome::Failed { .. } => return,
    };
    let fields = [
        ("fidelity.epochs", budget.epochs.map(f64::from)),
        ("fidelity.data_fraction", budget.data_fraction),
        ("fidelity.resolution", budget.resolution.map(f64::from)),
        ("fidelity.cells", budget.cells.map(f64::from)),
        ("fidelity.channels", budget.channels.map(f64::from)),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            metrics.insert(k.to_string(), v);
        }
    }
}

impl<A, E: Evaluator<A>> Evaluator<A> for LowFidelity<E> {
    fn metrics(&self) -> Vec<String> {
        self.inner.metrics()
    }

    fn evaluate(&self, arch: &A, budget: &Budget, reporter: &mut dyn Reporter) -> Outcome {
        let low = self.fidelity.apply(budget);
        let mut out = self.inner.evaluate(arch, &low, reporter);
        annotate(&mut out, &low);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_never_raise() {
        let f = Fidelity {
            epochs: Some(12),
            data_fraction: Some(0.25),
            resolution: Some(16),
            ..Fidelity::default()
        };
        let full = Budget {
            epochs: Some(200),
            data_fraction: None,
            resolution: Some(32),
            cells: Some(5),
            channels: Some(16),
        };
        let low = f.apply(&full);
        assert_eq!(low.epochs, Some(12));
        assert_eq!(low.data_fraction, Some(0.25));
        assert_eq!(low.resolution, Some(16));
        assert_eq!((low.cells, low.channels), (Some(5), Some(16)));
        assert_eq!(f.apply(&Budget::epochs(5)).epochs, Some(5));
        assert!(Fidelity::default().is_full());
        assert_eq!(Fidelity::default().apply(&full), full);
        let bad = Fidelity {
            data_fraction: Some(1.5),
            ..Fidelity::default()
        };
        let e = bad.check("fidelity").unwrap_err().to_string();
        assert!(e.contains("fidelity.data_fraction"), "{e}");
        let bad = Fidelity {
            channels: Some(0),
            ..Fidelity::default()
        };
        assert!(
            bad.check("f")
                .unwrap_err()
                .to_string()
                .contains("f.channels")
        );
        assert!(serde_json::from_str::<Fidelity>(r#"{"epoch": 3}"#).is_err());
    }
}
