//! # nascent-estimate
//!
//! Performance estimation beyond full training, each an [`nascent_core::Evaluator`] wrapper
//! or a [`nascent_core::Pruner`] the study runner consults:
//!
//! - [`fidelity`]: low fidelity ([`LowFidelity`]): fewer epochs, a fraction of the data, a
//!   lower resolution, fewer cells or channels, mapped onto the budget of the inner evaluator;
//! - [`pruners`]: early stopping from intermediate values: the median rule
//!   ([`MedianPruner`]), asynchronous successive halving ([`SuccessiveHalvingPruner`]),
//!   Hyperband ([`HyperbandPruner`]) and learning-curve extrapolation ([`CurvePruner`]), chosen
//!   in a study file through [`PrunerConfig`];
//! - [`curve`]: the parametric learning-curve models and their least-squares fits;
//! - [`surrogate`]: a Gaussian-process surrogate trained on the trials so far that answers when
//!   confident and defers to the real evaluator otherwise ([`Surrogate`]).

#![warn(missing_docs)]

pub mod curve;
pub mod fidelity;
pub mod pruners;
pub mod surrogate;

pub use curve::{CurveFit, CurveModel, Extrapolation, extrapolate};
pub use fidelity::{Fidelity, LowFidelity};
pub use pruners::{
    CurvePruner, HyperbandPruner, MedianPruner, PrunerConfig, SuccessiveHalvingPruner,
};
pub use surrogate::{Surrogate, SurrogateConfig, SurrogateStats};
