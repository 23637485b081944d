//! # nascent-report
//!
//! What a search leaves for people to read: dependency-free SVG charts ([`plot`]).

#![warn(missing_docs)]

pub mod plot;

pub use plot::escape;
