//! The error type of nascent-store.

use nascent_core::StorageError;

/// Errors of the storage back ends and the study runner.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A storage operation failed (the message names the storage URL or the trial).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A space, strategy or evaluator failed (an architecture string that does not parse).
    #[error(transparent)]
    Core(#[from] nascent_core::Error),
    /// A run setting that is out of range.
    #[error("invalid `{field}`: {reason}")]
    Config {
        /// The field, dotted (`run.workers`).
        field: String,
        /// Why the value is not acceptable.
        reason: String,
    },
    /// The study in storage does not match what the run was given.
    #[error("study `{study}` in `{url}` {reason}")]
    Mismatch {
        /// The study's name.
        study: String,
        /// The storage URL.
        url: String,
        /// What does not match.
        reason: String,
    },
    /// The Ctrl-C handler could not be installed.
    #[error("cannot install the Ctrl-C handler: {0}")]
    Signal(String),
    /// A worker thread panicked outside the evaluator (in the strategy, say).
    #[error("worker thread panicked: {0}")]
    Panic(String),
}

impl Error {
    /// A configuration error on `field`.
    pub fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<Error> for nascent_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Core(e) => e,
            Error::Config { field, reason } => nascent_core::Error::Config { field, reason },
            e => nascent_core::Error::Other(e.to_string()),
        }
    }
}

/// Result with nascent-store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
