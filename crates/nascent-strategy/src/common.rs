//! Settings shared by the model-based strategies.

use nascent_core::Encoding;
use serde::{Deserialize, Serialize};

/// Which encoding of an architecture a surrogate model reads (spaces without the chosen
/// encoding fall back to the one-hot of their decisions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureEncoding {
    /// One-hot per decision.
    OneHot,
    /// Path encoding (BANANAS).
    Path,
}

impl From<FeatureEncoding> for Encoding {
    fn from(e: FeatureEncoding) -> Self {
        match e {
            FeatureEncoding::OneHot => Encoding::OneHot,
            FeatureEncoding::Path => Encoding::Path,
        }
    }
}

/// An acquisition function over a surrogate's normal prediction (mean, standard deviation)
/// of the standardised fitness, maximised.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Acquisition {
    /// Expected improvement over the best observed value plus `xi`.
    Ei {
        /// Margin an improvement must exceed (in standard deviations of the fitness).
        xi: f64,
    },
    /// Upper confidence bound `mean + beta * sd`.
    Ucb {
        /// Weight of the standard deviation.
        beta: f64,
    },
    /// Independent Thompson sampling: one draw from the prediction of each candidate.
    Its,
}

impl Acquisition {
    /// Checks the parameters; `field` names the setting in errors.
    pub fn check(&self, field: &str) -> nascent_core::Result<()> {
        let bad = |what: &str, v: f64| {
            Err(nascent_core::Error::config(
                field,
                format!("{what} must be a finite number >= 0, got {v}"),
            ))
        };
        match *self {
            Acquisition::Ei { xi } if !(xi.is_finite() && xi >= 0.0) => bad("xi", xi),
            Acquisition::Ucb { beta } if !(beta.is_finite() && beta >= 0.0) => bad("beta", beta),
            _ => Ok(()),
        }
    }

    /// The acquisition value of a prediction, given the best standardised value observed.
    pub fn score(&self, mean: f64, sd: f64, best: f64, rng: &mut nascent_core::Rng) -> f64 {
        match *self {
            Acquisition::Ei { xi } => crate::util::expected_improvement(mean, sd, best, xi),
            Acquisition::Ucb { beta } => mean + beta * sd,
            Acquisition::Its => mean + sd * rng.normal(),
        }
    }
}
