//! # nascent-oneshot
//!
//! One-shot neural architecture search and zero-cost proxies.
//!
//! * [`supernet`]: supernets of the NAS-Bench-201 and DARTS spaces, every edge a mixed
//!   operation over the candidate ops of `nascent-train`'s operation library, weights shared
//!   by all architectures;
//! * [`mod@search`]: DARTS (first and second order), GDAS, PC-DARTS, SPOS (with evolution and BN
//!   recalibration) and ENAS (an LSTM controller trained with REINFORCE) on any supernet, with
//!   the collapse diagnostics (parameter-free share, dominant Hessian eigenvalue);
//! * [`proxies`]: zero-cost proxies computed at initialisation (synflow, NASWOT, ZiCo, MeCo,
//!   jacob_cov, snip, grad_norm, fisher, grasp, params, FLOPs), an [`nascent_core::Evaluator`] that
//!   returns them, and Spearman's rank correlation;
//!
//! The proxy warm start of any strategy lives in `nascent_strategy::warm` (it needs no tensors:
//! it reads the scores this crate writes).
//!
//! Everything runs on the CPU or a CUDA GPU (`tch::Device::cuda_if_available()`), and every
//! random choice follows the seed.

#![warn(missing_docs)]

pub mod data;
pub mod proxies;
pub mod search;
pub mod supernet;

pub use proxies::{Proxy, ProxyBatch, ProxyComputer, ProxyEvaluator, ProxyScores, spearman};
pub use search::{
    Collapse, EpochReport, Method, SearchConfig, SearchData, SearchObserver, SearchOutcome,
    SupernetShape, darts_supernet, nb201_supernet, search,
};
pub use supernet::{DartsSupernet, Nb201Supernet, Selection, Supernet};
