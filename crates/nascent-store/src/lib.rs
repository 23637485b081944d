//! # nascent-store
//!
//! Where studies live: the storage back ends behind [`nascent_core::Storage`].
//!
//! - [`MemoryStorage`] (this process only), [`SqliteStorage`] (one file per project, WAL
//!   mode, versioned schema with migrations) and [`PostgresStorage`] (one database shared by
//!   many machines; row-locked claims, fencing, reconnection), opened from a URL with [`open`]
//!   (`memory:`, `sqlite:///path/to.db`, a plain path, or `postgresql://user@host:port/db`);
//! - the [`conformance`] suite every back end passes ([`storage_conformance!`]);
//! - [`pg_server`], throwaway PostgreSQL servers for tests and benchmarks.
//!
//! The loop that runs a study over a storage (the runner, its workers, the study settings
//! and driver) lives in `nascent-study`.
//!
//! ```
//! use nascent_core::{Objective, Storage, StudySpec};
//!
//! let storage = nascent_store::open("memory:")?;
//! let spec = StudySpec {
//!     name: "demo".into(),
//!     space: "nb201".into(),
//!     objectives: vec![Objective::maximize("val_accuracy")],
//!     constraints: vec![],
//!     config: serde_json::json!({}),
//!     seed: 7,
//! };
//! let study = storage.create_study(&spec)?;
//! assert_eq!(storage.study("demo")?.id, study.id);
//! # Ok::<(), nascent_core::StorageError>(())
//! ```

#![warn(missing_docs)]

pub mod conformance;
pub mod memory;
pub mod pg_server;
pub mod postgres;
pub mod sqlite;
pub mod url;

pub use memory::MemoryStorage;
pub use postgres::{PG_SCHEMA_VERSION, PgOptions, PostgresStorage};
pub use sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStorage};
pub use url::{StorageUrl, open, open_with};
