//! # nascent-study
//!
//! A study as a library: its settings, the loop that runs it, and the driver that turns a
//! search into a retrained, exported and reported model.
//!
//! - [`settings`]: the TOML schema of a study ([`StudySettings`], every field with a default)
//!   and [`StudySettings::check`], which validates it against a backend's [`Catalog`] into a
//!   [`StudyConfig`];
//! - [`Study`]: the driver: search, retrain, export, report, returning a [`StudyOutcome`],
//!   with progress sent to a [`StudyObserver`] and a [`StopSignal`] to stop it;
//! - [`backend`]: the traits a deep-learning library implements for the driver
//!   ([`Backend`], [`Trainer`]); the libtorch one is `nascent_train::study::Torch`;
//! - [`Runner`]: the search loop over any space, strategy and evaluator, with budgets in
//!   trials, seconds or epochs ([`StudyBudget`]), several workers (threads here, and processes
//!   sharing one SQLite file), trials claimed in transactions, heartbeats, pruning
//!   ([`nascent_core::Pruner`]), progress events ([`Observer`]), a stop signal and resumption
//!   after a crash with nothing completed lost;
//! - [`testing::SyntheticEvaluator`], a deterministic evaluator reporting plausible learning
//!   curves, for exercising all of this without training.
//!
//! ```
//! use nascent_core::{Objective, StudySpec};
//! use nascent_space::Nb201Space;
//! use nascent_study::testing::{SyntheticEvaluator, TournamentMutation, nb201_structural_accuracy};
//! use nascent_study::{RunConfig, Runner, StudyBudget, open_or_create_study};
//!
//! let storage = nascent_store::open("memory:")?;
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
//! let summary = Runner::new(&*storage, study, &space, &evaluator, config)
//!     .run(&mut TournamentMutation::default())?;
//! assert_eq!(summary.counts.complete, 20);
//! # Ok::<(), nascent_study::Error>(())
//! ```

#![warn(missing_docs)]

pub mod backend;
pub mod driver;
pub mod error;
pub mod observer;
pub mod output;
pub mod runner;
pub mod settings;
pub mod testing;
pub mod worker;

pub use backend::{
    Backend, Catalog, DataInfo, FinalEpoch, FinalModel, MemberRun, Prepared, RaceRun, RetrainPlan,
    SpaceEntry, SpaceInfo, SpaceTask, Trainer,
};
pub use driver::{
    BestTrial, RETRAIN_DEADLINE, RETRAIN_USABLE, Study, StudyOutcome, WorkerLimits,
    available_cores, min_trial_speed, retrain_time_limit, seconds_per_epoch, stored_final_model,
    stored_settings, view_of, write_report,
};
pub use error::{Error, Result};
pub use observer::{LogStudy, RetrainEpoch, Silent, StudyEvent, StudyObserver};
pub use output::{BestOutput, SCHEMA_VERSION, SearchOutput, TrialLine, WorkerOutput};
pub use runner::{
    Event, LogObserver, Observer, RequeueReason, RunConfig, RunSummary, Runner, StopReason,
    StudyBudget, load_history, open_or_create_study,
};
pub use settings::{
    BudgetSettings, DataSettings, EvaluatorSettings, OptimizerKind, Precision, ProxySettings,
    RaceSettings, RetrainSettings, SpaceSettings, StudyConfig, StudySettings, TrainSettings,
    WarmStartSettings,
};
pub use worker::{StopSignal, WorkerSet};
