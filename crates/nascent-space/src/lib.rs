//! # nascent-space
//!
//! The search spaces of nascent, each behind [`nascent_core::SearchSpace`]:
//! the NAS-Bench-201 cell ([`nb201`]), the DARTS cells ([`darts`]) and chain-structured
//! networks ([`chain`]), and the joint space of an NB201 cell with its width, depth and
//! training recipe ([`joint`]).

#![warn(missing_docs)]

pub mod chain;
pub mod darts;
pub mod joint;
pub mod joint_cost;
mod mt19937;
pub mod nb201;

pub use chain::{ChainArch, ChainConfig, ChainLayer, ChainOp, ChainSpace};
pub use darts::{DartsCell, DartsGenotype, DartsOp, DartsSpace};
pub use joint::{JointArch, JointConfig, JointSpace, Recipe};
pub use nb201::{Nb201Arch, Nb201Op, Nb201Shape, Nb201Space};
