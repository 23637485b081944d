//! Support for tests that need something from outside the repository: the shared data
//! (`../shared/data` beside the clone), onnxruntime, Chromium.
//!
//! Such a test must not pass by accident. Under CI (the environment variable `CI` set, as
//! every CI service does, to anything but `false`, `0` or nothing) a missing file or tool is a
//! failure naming it; elsewhere the test prints to stderr that it skipped and why, and
//! returns.
//!
//! ```no_run
//! # fn test() {
//! let Some(table) = nascent_core::testing::shared_data("nb201/nb201.csv") else {
//!     return; // skipped (outside CI only: under CI the call panics)
//! };
//! # }
//! ```

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// Whether the tests run under CI: `CI` is set to anything but empty, `0` or `false`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| ci_value(&v))
}

/// Whether a value of `CI` means CI.
fn ci_value(v: &str) -> bool {
    let v = v.trim();
    !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
}

/// Says that a test cannot run because `what` (a sentence naming the missing file or tool,
/// and how to get it) is missing. Under CI it panics with that message; elsewhere it prints
/// `skipped: <what>` to stderr and returns, for the test to return.
#[track_caller]
pub fn skip(what: impl Display) {
    if in_ci() {
        panic!(
            "{what}; CI is set (CI={}), where a test must not pass without what it needs",
            std::env::var("CI").unwrap_or_default()
        );
    }
    eprintln!("skipped: {what}");
}

/// The folder of the shared data: `$NASCENT_SHARED_DATA` when set, else `../shared/data`
/// beside the repository (where CI has it).
pub fn shared_data_dir() -> PathBuf {
    match std::env::var_os("NASCENT_SHARED_DATA") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")),
    }
}

/// `<shared data>/<rel>` (see [`shared_data_dir`]) when it exists; otherwise [`skip`]s (a
/// failure under CI) and returns `None`.
#[track_caller]
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let p = shared_data_dir().join(rel);
    if p.exists() {
        Some(p)
    } else {
        skip(format_args!("{} is missing (the shared data)", p.display()));
        None
    }
}

/// Replays a fuzz corpus folder through `run` (a fuzz target's body): every input may be
/// refused with an error, none may panic; a panic names the input file.
pub fn replay_corpus(dir: &Path, run: fn(&[u8])) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "{} holds {} inputs",
        dir.display(),
        files.len()
    );
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{} makes the parser panic", f.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_values() {
        // Only the value: the environment is shared by the test threads, so it is not changed
        // here (the crates' tests that need the shared data were run with CI=true and a
        // missing folder to see them fail).
        for (v, ci) in [
            ("true", true),
            ("1", true),
            ("yes", true),
            ("false", false),
            ("FALSE", false),
            ("0", false),
            ("", false),
        ] {
            assert_eq!(ci_value(v), ci, "{v:?}");
        }
    }
}
