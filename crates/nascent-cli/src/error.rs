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

/// The error and its causes on one line, `a: b: c`, leaving out a cause whose text the line
/// already holds (errors that print their source would otherwise say it twice).
pub fn render(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod render_tests {
    use super::render;

    #[test]
    fn a_cause_already_said_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = anyhow::Error::new(nascent_core::Error::io("/x.csv", io)).context("reading");
        assert_eq!(render(&e), "reading: /x.csv: No such file");
    }
}
