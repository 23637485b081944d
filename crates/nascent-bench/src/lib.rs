//! # nascent-bench
//!
//! Tabular NAS benchmarks and the harness that replays search strategies on them over many
//! seeds, as NAS papers do: NAS-Bench-201 accuracies ([`Nb201Table`]) and device latencies
//! ([`LatencyTable`]), a look-up [`Nb201Evaluator`], and [`Nb201Bench`], which runs a strategy
//! R times and summarises the final test accuracy, the queries until the best architecture was
//! found, best-so-far curves and, for several objectives, the hypervolume reached.
//!
//! ```no_run
//! use nascent_bench::{BenchSpec, Dataset, Nb201Bench, Nb201Table};
//! use nascent_strategy::{StrategyConfig, StrategyKind};
//! use std::sync::Arc;
//!
//! let table = Arc::new(Nb201Table::load("../shared/data/nb201/nb201.csv")?);
//! let bench = Nb201Bench::new(table, None);
//! let spec = BenchSpec::new(Dataset::Cifar10, 100, 500, 0);
//! let summary = bench.run(&spec, &StrategyConfig::default_for(StrategyKind::Random), &|| {})?;
//! println!("{:.2} ± {:.2}", summary.test_accuracy.mean, summary.test_accuracy.std);
//! # Ok::<(), nascent_core::Error>(())
//! ```

#![warn(missing_docs)]

pub mod evaluator;
pub mod harness;
pub mod table;

pub use evaluator::{FLOPS, Nb201Evaluator, PARAMS, TEST_ACCURACY, VAL_ACCURACY, latency_metric};
pub use harness::{
    BenchObjective, BenchSpec, HV_REFERENCE, Nb201Bench, RunRecord, Stat, Summary, WarmPool,
};
pub use table::{Dataset, Device, LatencyTable, Nb201Row, Nb201Table, nb201_index};
