//! The error type of nascent-study.

use nascent_core::StorageError;
use std::path::PathBuf;

/// Errors of the study: its settings, its runner, its backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A storage operation failed (the message names the storage URL or the trial).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A space, strategy or evaluator failed (an architecture string that does not parse).
    #[error(transparent)]
    Core(#[from] nascent_core::Error),
    /// A setting that is out of range or cannot work.
    #[error("invalid `{field}`: {reason}")]
    Config {
        /// The field, dotted (`fidelity.channels`, `run.workers`).
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
    /// The study has no completed trial to retrain.
    #[error(
        "study `{study}` has no completed trial to retrain (all {trials} failed or were pruned)"
    )]
    NoCompletedTrial {
        /// The study's name.
        study: String,
        /// Its trials.
        trials: usize,
    },
    /// The study's first trials all failed, so it stopped instead of spending its budget.
    #[error(
        "study `{study}` stopped: its first {failed} trials all failed, the last because: \
         {reason} (fix the settings and run again; `nascent trials` lists every reason)"
    )]
    AllTrialsFailed {
        /// The study's name.
        study: String,
        /// Failed trials.
        failed: u64,
        /// Why the last one failed.
        reason: String,
    },
    /// The deep-learning backend failed (loading data, training, exporting).
    #[error("{what}")]
    Backend {
        /// What it was doing.
        what: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
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

    /// A backend failure while doing `what`.
    pub fn backend(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Backend {
            what: what.into(),
            source: source.into(),
        }
    }

    /// An I/O failure on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
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

/// Result with nascent-study's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
