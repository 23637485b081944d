//! # nascent-report
//!
//! What a search leaves for people to read: dependency-free SVG charts ([`plot`]), cell
//! diagrams ([`cell`]) and the self-contained HTML report of a study ([`report`]).
//!
//! Nothing here depends on a deep-learning library: the crate builds in seconds.

#![warn(missing_docs)]

pub mod analysis;
pub mod cell;
pub mod compare;
pub mod plot;
pub mod report;

pub use cell::{CellGraph, ChainDiagram, Edge, EdgeStyle, Node, NodeKind};
pub use plot::escape;
pub use report::{
    ArchDiagram, ArchView, ChainView, DartsView, DecisionView, EpochRow, ExportedFile, FinalResult,
    JointView, Nb201View, Report, TrialRow, settings_rows,
};

/// Mean and sample standard deviation of a non-empty sample (the deviation is 0 for one value).
pub(crate) fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, std)
}
