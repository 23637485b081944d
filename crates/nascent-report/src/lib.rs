//! # nascent-report
//!
//! What a search leaves for people to read: dependency-free SVG charts ([`plot`]) and cell
//! diagrams ([`cell`]).

#![warn(missing_docs)]

pub mod cell;
pub mod plot;

pub use cell::{CellGraph, ChainDiagram, Edge, EdgeStyle, Node, NodeKind};
pub use plot::escape;
