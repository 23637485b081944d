//! Exit codes: user errors (1) against internal errors (2).

use std::fmt;

/// Marks an error as nascent's own fault (exit code 2) rather than the user's (exit code 1).
#[derive(Debug)]
pub struct Internal(pub String);

impl fmt::Display for Internal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "internal error: {}", self.0)
    }
}

impl std::error::Error for Internal {}

/// The exit code for an error: 2 when any cause is [`Internal`], else 1.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    if e.chain().any(|c| c.downcast_ref::<Internal>().is_some()) {
        2
    } else {
        1
    }
}
