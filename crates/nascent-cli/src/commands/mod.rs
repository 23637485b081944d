//! One module per command.

pub mod bench;
