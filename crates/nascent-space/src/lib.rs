//! # nascent-space
//!
//! The search spaces of nascent, each behind [`nascent_core::SearchSpace`]:
//! the NAS-Bench-201 cell ([`nb201`]).

#![warn(missing_docs)]

mod mt19937;
pub mod nb201;

pub use nb201::{Nb201Arch, Nb201Op, Nb201Shape, Nb201Space};
