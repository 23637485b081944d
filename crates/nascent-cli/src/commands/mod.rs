//! One module per command.

pub mod bench;
pub mod export;
pub mod inspect;
