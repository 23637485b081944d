//! Machine-readable output: every `--json` document is a typed struct with a `schema_version`
//! (nascent-study's [`nascent_study::SCHEMA_VERSION`]), printed as one line of JSON.

use anyhow::Result;
use serde::Serialize;

/// Prints `value` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
