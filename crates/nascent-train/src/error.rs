//! The error type of the training crate.

/// Errors of building, training, measuring and exporting networks.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Core errors (parsing, I/O, bad data files, configuration).
    #[error(transparent)]
    Core(#[from] nascent_core::Error),
    /// A genotype this builder cannot turn into a network.
    #[error("cannot build `{arch}`: {reason}")]
    Build {
        /// The genotype, as written.
        arch: String,
        /// Why.
        reason: String,
    },
    /// Training diverged (a NaN or infinite loss), with where it happened.
    #[error("training diverged: {0}")]
    Diverged(String),
    /// Slower than [`crate::trainer::TrainConfig::min_images_per_second`] over its first batches.
    #[error("too slow: {0}")]
    TooSlow(String),
    /// An error from libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// Result with [`TrainError`].
pub type TrainResult<T> = Result<T, TrainError>;
