//! # nascent-estimate
//!
//! Performance estimation beyond full training.
