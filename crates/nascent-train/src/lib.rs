//! # nascent-train
//!
//! The deep-learning side of nascent, on tch (libtorch): the operation library, network
//! builders (genotype -> model), datasets and augmentation, the trainer, measured metrics
//! (parameters, FLOPs, latency, memory) and export (safetensors, ONNX).
//!
//! Everything above this crate talks to [`Model`], [`Network`] and [`Builder`]; it never
//! touches tch directly.

#![warn(missing_docs)]

pub mod data;
#[cfg(feature = "torch")]
pub mod device;
#[cfg(feature = "torch")]
pub mod error;
#[cfg(feature = "torch")]
pub mod evaluate;
#[cfg(feature = "torch")]
pub mod export;
#[cfg(feature = "torch")]
pub mod graph;
#[cfg(feature = "torch")]
pub mod metrics;
#[cfg(feature = "torch")]
pub mod model;
#[cfg(feature = "torch")]
mod native;
#[cfg(feature = "torch")]
pub mod nets;
#[cfg(feature = "torch")]
pub mod ops;
#[cfg(feature = "torch")]
pub mod recipe;
#[cfg(feature = "torch")]
pub mod study;
#[cfg(feature = "torch")]
pub mod trainer;

#[cfg(feature = "torch")]
pub use error::{TrainError, TrainResult};
#[cfg(feature = "torch")]
pub use model::{Builder, Model, NetOutput, NetSpec, Network};
#[cfg(feature = "torch")]
pub use nets::{ChainBuilder, DartsBuilder, GraphNet, Nb201Builder};
#[cfg(feature = "torch")]
pub use ops::{Op, OpConfig};
