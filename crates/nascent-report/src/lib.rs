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
