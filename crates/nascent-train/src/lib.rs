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
pub mod device;
pub mod error;
pub mod evaluate;
pub mod export;
pub mod graph;
pub mod metrics;
pub mod model;
pub mod nets;
pub mod ops;
pub mod study;
pub mod trainer;

pub use error::{TrainError, TrainResult};
pub use model::{Builder, Model, NetOutput, NetSpec, Network};
pub use nets::{ChainBuilder, DartsBuilder, GraphNet, Nb201Builder};
pub use ops::{Op, OpConfig};
