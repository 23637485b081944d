//! The error type of nascent's core vocabulary.

use std::path::PathBuf;

/// Errors raised by the core and by spaces, strategies and evaluators built on it.
///
/// Every variant names what went wrong and, where there is one, the file, field or input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Text that should name something (an architecture, an objective) could not be parsed.
    #[error("cannot parse {what} `{input}`: {reason}")]
    Parse {
        /// What was being parsed ("NB201 arch string", "objective").
        what: &'static str,
        /// The offending input (possibly shortened).
        input: String,
        /// Why it failed.
        reason: String,
    },
    /// An architecture that the space cannot hold.
    #[error("invalid architecture: {0}")]
    InvalidArch(String),
    /// A name that is not one of the known ones.
    #[error("unknown {kind} `{name}` (known: {known})")]
    Unknown {
        /// What kind of thing ("strategy", "dataset", "device").
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names accepted, comma separated.
        known: String,
    },
    /// A configuration value that is out of range or inconsistent.
    #[error("invalid `{field}`: {reason}")]
    Config {
        /// The field, dotted (`strategy.population`).
        field: String,
        /// Why the value is not acceptable.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data file was read but its content is wrong.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Data {
        /// The file.
        path: PathBuf,
        /// The 1-based line, where known.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// Anything else, with its explanation.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// A parse error; the input is shortened to 200 characters.
    pub fn parse(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        let input = if input.chars().count() > 200 {
            let s: String = input.chars().take(200).collect();
            format!("{s}...")
        } else {
            input.to_string()
        };
        Error::Parse {
            what,
            input,
            reason: reason.into(),
        }
    }

    /// An unknown name among the known ones.
    pub fn unknown(kind: &'static str, name: &str, known: &[&str]) -> Self {
        Error::Unknown {
            kind,
            name: name.to_string(),
            known: known.join(", "),
        }
    }

    /// A configuration error on `field`.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A content error in `path` at `line`.
    pub fn data(path: impl Into<PathBuf>, line: Option<usize>, reason: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            line,
            reason: reason.into(),
        }
    }
}

/// Result with nascent's core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
