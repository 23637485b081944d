//! # nascent-store
//!
//! Where studies live, and the loop that runs them.
//!
//! - Storage back ends behind [`nascent_core::Storage`]: [`MemoryStorage`],
//!   [`SqliteStorage`] (one file per project, WAL mode, versioned schema with migrations) and
//!   [`PostgresStorage`] (one database shared by many machines; row-locked claims, fencing,
//!   reconnection), opened from a URL with [`open`] (`memory:`, `sqlite:///path/to.db`, a
//!   plain path, or `postgresql://user@host:port/database`). [`pg_server`] starts throwaway
//!   PostgreSQL servers for tests and benchmarks.
//!   Every back end passes the [`conformance`] suite ([`storage_conformance!`]).
//! - The study [`Runner`]: the search loop over any space, strategy and evaluator, with
//!   budgets in trials, seconds or epochs ([`StudyBudget`]), several workers (threads here, and
//!   processes sharing one SQLite file), trials claimed in transactions, heartbeats, pruning
//!   ([`Pruner`]), progress events ([`Observer`]), Ctrl-C ([`StopSignal`]) and resumption after
//!   a crash with nothing completed lost.
//! - [`testing::SyntheticEvaluator`], a deterministic evaluator reporting plausible learning
//!   curves, for exercising all of this without training.
//!
//! ```
//! use nascent_core::{Objective, StudySpec};
//! use nascent_space::Nb201Space;
//! use nascent_store::testing::{SyntheticEvaluator, nb201_structural_accuracy};
//! use nascent_store::{RunConfig, Runner, StudyBudget, open, open_or_create_study};
//!
//! # struct Random;
//! # impl nascent_core::Strategy<Nb201Space> for Random {
//! #     fn name(&self) -> String { "random".into() }
//! #     fn ask(&mut self, s: &Nb201Space, _: &nascent_core::History<nascent_space::Nb201Arch>,
//! #            rng: &mut nascent_core::Rng) -> Option<nascent_space::Nb201Arch> {
//! #         Some(nascent_core::SearchSpace::sample(s, rng))
//! #     }
//! # }
//! let storage = open("memory:")?;
//! let space = Nb201Space::new();
//! let spec = StudySpec {
//!     name: "demo".into(),
//!     space: "nb201".into(),
//!     objectives: vec![Objective::maximize("val_accuracy")],
//!     constraints: vec![],
//!     config: serde_json::json!({}),
//!     seed: 7,
//! };
//! let study = open_or_create_study(&*storage, &spec)?;
//! let evaluator = SyntheticEvaluator::new(nb201_structural_accuracy);
//! let config = RunConfig { workers: 2, budget: StudyBudget::trials(20), ..RunConfig::default() };
//! let summary = Runner::new(&*storage, study, &space, &evaluator, config).run(&mut Random)?;
//! assert_eq!(summary.counts.complete, 20);
//! # Ok::<(), nascent_store::Error>(())
//! ```

#![warn(missing_docs)]

pub mod conformance;
pub mod error;
pub mod memory;
pub mod pg_server;
pub mod postgres;
pub mod runner;
pub mod sqlite;
pub mod testing;
pub mod url;
pub mod worker;

pub use error::{Error, Result};
pub use memory::MemoryStorage;
pub use postgres::{PG_SCHEMA_VERSION, PgOptions, PostgresStorage};
pub use runner::{
    Event, LogObserver, Observer, PruneContext, Pruner, RequeueReason, RunConfig, RunSummary,
    Runner, StopReason, StudyBudget, Verdict, load_history,
};
pub use sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStorage};
pub use url::{StorageUrl, open, open_with};
pub use worker::{StopSignal, WorkerSet};

use nascent_core::storage::{Storage, StorageError, StudyRecord, StudySpec};

/// The study named in `spec`: created if the storage has none of that name, otherwise the
/// stored one after checking that it searches the same space with the same objectives.
pub fn open_or_create_study(storage: &dyn Storage, spec: &StudySpec) -> Result<StudyRecord> {
    match storage.study(&spec.name) {
        Ok(existing) => {
            let mismatch = |reason: String| Error::Mismatch {
                study: spec.name.clone(),
                url: storage.url().to_string(),
                reason,
            };
            if existing.space != spec.space {
                return Err(mismatch(format!(
                    "searches space `{}`, not `{}`; pick another study name",
                    existing.space, spec.space
                )));
            }
            if existing.objectives != spec.objectives {
                return Err(mismatch(format!(
                    "has objectives {}, not {}; pick another study name",
                    describe(&existing.objectives),
                    describe(&spec.objectives)
                )));
            }
            Ok(existing)
        }
        Err(StorageError::NoStudy { .. }) => match storage.create_study(spec) {
            Ok(s) => Ok(s),
            // Another process created it meanwhile.
            Err(StorageError::StudyExists { .. }) => Ok(storage.study(&spec.name)?),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

fn describe(objectives: &[nascent_core::Objective]) -> String {
    objectives
        .iter()
        .map(|o| {
            let d = match o.direction {
                nascent_core::Direction::Maximize => "maximize",
                nascent_core::Direction::Minimize => "minimize",
            };
            format!("{} ({d})", o.metric)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
