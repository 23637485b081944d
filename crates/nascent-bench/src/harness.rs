//! The harness that replays a strategy on NAS-Bench-201 many times, as NAS papers do.
//!
//! Run `r` of a benchmark uses the generator seeded with `derive_seed(seed, r)` (the same for
//! every strategy, so strategies are compared on common random numbers). Runs execute in
//! parallel (rayon) and are collected in order, so the result does not depend on the number of
//! threads. What a run reports is the 200-epoch test accuracy of the queried architecture with
//! the best search signal (12-epoch validation accuracy; the earliest among ties).
//!
//! Multi-objective runs also report the hypervolume of the queried architectures as a fraction
//! of the hypervolume of the true Pareto front of the whole table. Both are measured on the
//! objectives the search sees, each normalised to [0, 1] by its range over the whole table
//! (0 the best value of any cell, 1 the worst) with the reference point 1.1 in every
//! coordinate, so a fraction of 1 means the run found the whole true front.

use crate::evaluator::{
    FLOPS, Nb201Evaluator, PARAMS, TEST_ACCURACY, VAL_ACCURACY, latency_metric,
};
use crate::table::{Dataset, Device, LatencyTable, Nb201Table};
use nascent_core::pareto::hypervolume;
use nascent_core::{
    Budget, Error, History, Objective, Result, Rng, SearchSpace, derive_seed, run_queries,
};
use nascent_space::Nb201Space;
use nascent_strategy::{StrategyConfig, Warm};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// The reference point of the normalised hypervolume, in every coordinate.
pub const HV_REFERENCE: f64 = 1.1;

/// An objective of a benchmark run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BenchObjective {
    /// Maximise the search signal (12-epoch validation accuracy).
    Accuracy,
    /// Minimise the latency on a device of the latency table.
    Latency(Device),
    /// Minimise the parameters.
    Params,
    /// Minimise the FLOPs.
    Flops,
}

impl BenchObjective {
    /// Parses `accuracy,latency:DEVICE,params,flops` (any non-empty subset, in any order).
    /// Latency objectives need the latency table.
    pub fn parse_list(s: &str, latency: Option<&LatencyTable>) -> Result<Vec<Self>> {
        let mut out = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let lower = item.to_ascii_lowercase();
            let o = match lower.as_str() {
                "accuracy" | "acc" | "val_accuracy" => BenchObjective::Accuracy,
                "params" | "parameters" => BenchObjective::Params,
                "flops" | "macs" => BenchObjective::Flops,
                _ => match lower.split_once(':') {
                    Some(("latency", device)) => {
                        let table = latency.ok_or_else(|| {
                            Error::config(
                                "objectives",
                                format!(
                                    "`{item}` needs the latency table: pass --latency PATH to \
                                     nb201_latency_ms.csv"
                                ),
                            )
                        })?;
                        let device = &item[item.len() - device.len()..];
                        BenchObjective::Latency(table.device(device)?)
                    }
                    _ => {
                        return Err(Error::unknown(
                            "objective",
                            item,
                            &["accuracy", "latency:DEVICE", "params", "flops"],
                        ));
                    }
                },
            };
            if out.contains(&o) {
                return Err(Error::config(
                    "objectives",
                    format!("`{item}` is listed twice"),
                ));
            }
            out.push(o);
        }
        if out.is_empty() {
            return Err(Error::config("objectives", "no objective named"));
        }
        Ok(out)
    }

    /// The metric of the evaluator it reads.
    pub fn metric(&self, latency: Option<&LatencyTable>) -> String {
        match self {
            BenchObjective::Accuracy => VAL_ACCURACY.into(),
            BenchObjective::Params => PARAMS.into(),
            BenchObjective::Flops => FLOPS.into(),
            BenchObjective::Latency(d) => {
                latency_metric(latency.map_or("?", |l| l.device_name(*d)))
            }
        }
    }

    /// The objective, with its direction.
    pub fn objective(&self, latency: Option<&LatencyTable>) -> Objective {
        match self {
            BenchObjective::Accuracy => Objective::maximize(self.metric(latency)),
            _ => Objective::minimize(self.metric(latency)),
        }
    }

    /// The name as the CLI writes it (`accuracy`, `latency:pixel3`).
    pub fn label(&self, latency: Option<&LatencyTable>) -> String {
        match self {
            BenchObjective::Accuracy => "accuracy".into(),
            BenchObjective::Params => "params".into(),
            BenchObjective::Flops => "flops".into(),
            BenchObjective::Latency(d) => {
                format!("latency:{}", latency.map_or("?", |l| l.device_name(*d)))
            }
        }
    }
}

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchSpec {
    /// The data set whose signal is searched.
    pub dataset: Dataset,
    /// Queries per run (distinct architectures evaluated).
    pub queries: usize,
    /// Independent runs.
    pub runs: usize,
    /// The seed every run's seed is derived from.
    pub seed: u64,
    /// The objectives (just accuracy for a single-objective benchmark).
    pub objectives: Vec<BenchObjective>,
}

impl BenchSpec {
    /// A single-objective benchmark.
    pub fn new(dataset: Dataset, queries: usize, runs: usize, seed: u64) -> Self {
        BenchSpec {
            dataset,
            queries,
            runs,
            seed,
            objectives: vec![BenchObjective::Accuracy],
        }
    }

    /// Validates the numbers; errors name the field.
    pub fn check(&self) -> Result<()> {
        let size = nascent_space::nb201::NB201_SIZE;
        if self.queries == 0 || self.queries > size {
            return Err(Error::config(
                "queries",
                format!(
                    "must be between 1 and {size} (the size of NB201), got {}",
                    self.queries
                ),
            ));
        }
        if self.runs == 0 {
            return Err(Error::config("runs", "must be at least 1"));
        }
        if self.objectives.is_empty() {
            return Err(Error::config("objectives", "no objective named"));
        }
        Ok(())
    }

    /// Whether several objectives are searched.
    pub fn is_multi_objective(&self) -> bool {
        self.objectives.len() > 1
    }
}

/// Mean and (population) standard deviation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (over runs, divided by n).
    pub std: f64,
}

impl Stat {
    /// Of the values.
    pub fn of(xs: impl IntoIterator<Item = f64>) -> Self {
        let xs: Vec<f64> = xs.into_iter().collect();
        if xs.is_empty() {
            return Stat {
                mean: f64::NAN,
                std: f64::NAN,
            };
        }
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        Stat {
            mean,
            std: var.sqrt(),
        }
    }
}

/// The outcome of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRecord {
    /// The run's seed.
    pub seed: u64,
    /// Test accuracy (200 epochs) of the architecture with the best signal.
    pub test_accuracy: f64,
    /// Its signal (12-epoch validation accuracy).
    pub val_accuracy: f64,
    /// Its benchmark index.
    pub best_index: usize,
    /// The query (1-based) at which it was found.
    pub found_at: usize,
    /// After each query: the test accuracy of the architecture with the best signal so far.
    pub curve: Vec<f64>,
    /// Multi-objective runs: hypervolume reached as a fraction of the true front's.
    pub hypervolume: Option<f64>,
}

/// One strategy's results over all runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The strategy's name.
    pub strategy: String,
    /// The data set.
    pub dataset: Dataset,
    /// The objectives, as the CLI writes them.
    pub objectives: Vec<String>,
    /// Queries per run.
    pub queries: usize,
    /// Runs.
    pub runs: usize,
    /// The seed.
    pub seed: u64,
    /// Final 200-epoch test accuracy (%) of the architecture with the best signal.
    pub test_accuracy: Stat,
    /// Its 12-epoch validation accuracy (%).
    pub val_accuracy: Stat,
    /// Queries until the architecture with the best signal was found.
    pub queries_to_best: Stat,
    /// Multi-objective runs: hypervolume fraction reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hypervolume: Option<Stat>,
    /// Wall-clock seconds for all runs.
    pub seconds: f64,
    /// Best-so-far test accuracy after each query (1..=queries), over runs.
    pub curve: Vec<Stat>,
    /// The individual runs.
    #[serde(skip)]
    pub records: Vec<RunRecord>,
}

/// A warm start for benchmark runs: a pool of cells ordered best first by cheap scores (zero-
/// cost proxies), of which the first `k` are queried before the strategy takes over.
#[derive(Clone, Debug)]
pub struct WarmPool {
    /// The pool, best first.
    pub candidates: Arc<Vec<nascent_space::Nb201Arch>>,
    /// How many of them are queried first.
    pub k: usize,
}

/// NAS-Bench-201 with its tables, ready to replay strategies.
#[derive(Clone, Debug)]
pub struct Nb201Bench {
    table: Arc<Nb201Table>,
    latency: Option<Arc<LatencyTable>>,
}

/// The normalisation of the objectives of one benchmark configuration.
struct Normaliser {
    /// Per objective: the table-wide range of its loss.
    ranges: Vec<(f64, f64)>,
    /// The hypervolume of the true front.
    true_hv: f64,
}

impl Normaliser {
    fn point(&self, losses: &[f64]) -> Vec<f64> {
        losses
            .iter()
            .zip(&self.ranges)
            .map(|(&l, &(lo, hi))| if hi > lo { (l - lo) / (hi - lo) } else { 0.0 })
            .collect()
    }
}

impl Nb201Bench {
    /// A benchmark over the accuracy table and, optionally, the latency table.
    pub fn new(table: Arc<Nb201Table>, latency: Option<Arc<LatencyTable>>) -> Self {
        Nb201Bench { table, latency }
    }

    /// The accuracy table.
    pub fn table(&self) -> &Nb201Table {
        &self.table
    }

    /// The latency table, if loaded.
    pub fn latency(&self) -> Option<&LatencyTable> {
        self.latency.as_deref()
    }

    /// The evaluator for a benchmark: the data set, and latency on the devices of its
    /// objectives.
    pub fn evaluator(&self, spec: &BenchSpec) -> Result<Nb201Evaluator> {
        let mut eval = Nb201Evaluator::new(self.table.clone(), spec.dataset);
        let devices: Vec<Device> = spec
            .objectives
            .iter()
            .filter_map(|o| match o {
                BenchObjective::Latency(d) => Some(*d),
                _ => None,
            })
            .collect();
        if !devices.is_empty() {
            let lat = self.latency.clone().ok_or_else(|| {
                Error::config(
                    "objectives",
                    "latency objectives need the latency table (--latency PATH)",
                )
            })?;
            eval = eval.with_latency(lat, devices);
        }
        Ok(eval)
    }

    fn objectives(&self, spec: &BenchSpec) -> Vec<Objective> {
        spec.objectives
            .iter()
            .map(|o| o.objective(self.latency()))
            .collect()
    }

    /// Table-wide ranges and the true front's hypervolume for the spec's objectives.
    fn normaliser(&self, spec: &BenchSpec, eval: &Nb201Evaluator) -> Normaliser {
        let objectives = self.objectives(spec);
        let losses: Vec<Vec<f64>> = self
            .table
            .rows()
            .par_iter()
            .map(|row| {
                let m = eval.measure(&row.arch);
                objectives.iter().map(|o| o.loss(m[&o.metric])).collect()
            })
            .collect();
        let ranges: Vec<(f64, f64)> = (0..objectives.len())
            .map(|k| {
                losses
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                        (lo.min(p[k]), hi.max(p[k]))
                    })
            })
            .collect();
        let mut norm = Normaliser {
            ranges,
            true_hv: 0.0,
        };
        let points: Vec<Vec<f64>> = losses.iter().map(|l| norm.point(l)).collect();
        norm.true_hv = hypervolume(&points, &vec![HV_REFERENCE; objectives.len()]);
        norm
    }

    /// Replays `strategy` `spec.runs` times; calls `progress` after each run (from any thread).
    pub fn run(
        &self,
        spec: &BenchSpec,
        strategy: &StrategyConfig,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Summary> {
        self.run_warm(spec, strategy, None, progress)
    }

    /// Like [`Nb201Bench::run`], with the strategy warm-started from `warm` (its first queries
    /// are the best-scored candidates of the pool; see [`nascent_strategy::Warm`]); the
    /// strategy is then named `NAME+warm`.
    pub fn run_warm(
        &self,
        spec: &BenchSpec,
        strategy: &StrategyConfig,
        warm: Option<&WarmPool>,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Summary> {
        spec.check()?;
        if let Some(w) = warm
            && (w.k == 0 || w.candidates.is_empty())
        {
            return Err(Error::config(
                "warm",
                "a warm start needs k >= 1 and a non-empty pool",
            ));
        }
        strategy.check()?;
        let eval = self.evaluator(spec)?;
        let objectives = self.objectives(spec);
        let normaliser = spec
            .is_multi_objective()
            .then(|| self.normaliser(spec, &eval));
        let space = Nb201Space::new();
        let budget = Budget::epochs(12);
        let name = match warm {
            Some(_) => format!("{}+warm", strategy.kind().name()),
            None => strategy.kind().name().to_string(),
        };
        let start = Instant::now();
        let records: Vec<RunRecord> = (0..spec.runs)
            .into_par_iter()
            .map(|r| -> Result<RunRecord> {
                let seed = derive_seed(spec.seed, r as u64);
                let mut rng = Rng::new(seed);
                let mut s = strategy.build::<Nb201Space>()?;
                if let Some(w) = warm {
                    s = Box::new(Warm::new(s, w.candidates.clone(), w.k));
                }
                let mut history = History::new(objectives.clone());
                run_queries(
                    &space,
                    &mut s,
                    &eval,
                    &mut history,
                    spec.queries,
                    &budget,
                    &mut rng,
                );
                let record = record(&space, seed, &history, spec.queries, normaliser.as_ref());
                progress();
                Ok(record)
            })
            .collect::<Result<_>>()?;
        let seconds = start.elapsed().as_secs_f64();
        let curve = (0..spec.queries)
            .map(|q| Stat::of(records.iter().map(|r| r.curve[q])))
            .collect();
        Ok(Summary {
            strategy: name,
            dataset: spec.dataset,
            objectives: spec
                .objectives
                .iter()
                .map(|o| o.label(self.latency()))
                .collect(),
            queries: spec.queries,
            runs: spec.runs,
            seed: spec.seed,
            test_accuracy: Stat::of(records.iter().map(|r| r.test_accuracy)),
            val_accuracy: Stat::of(records.iter().map(|r| r.val_accuracy)),
            queries_to_best: Stat::of(records.iter().map(|r| r.found_at as f64)),
            hypervolume: normaliser
                .as_ref()
                .map(|_| Stat::of(records.iter().filter_map(|r| r.hypervolume))),
            seconds,
            curve,
            records,
        })
    }
}

/// Summarises one run's history.
fn record(
    space: &Nb201Space,
    seed: u64,
    history: &History<nascent_space::Nb201Arch>,
    queries: usize,
    normaliser: Option<&Normaliser>,
) -> RunRecord {
    let mut best: Option<(usize, f64)> = None;
    let mut curve = Vec::with_capacity(queries);
    for (i, t) in history.trials().iter().enumerate() {
        if let Some(&v) = t.metrics.get(VAL_ACCURACY)
            && best.is_none_or(|(_, b)| v > b)
        {
            best = Some((i, v));
        }
        curve.push(best.map_or(f64::NAN, |(j, _)| {
            history.trials()[j].metrics[TEST_ACCURACY]
        }));
    }
    // A run cut short (an exhausted space) keeps its last value.
    while curve.len() < queries {
        curve.push(curve.last().copied().unwrap_or(f64::NAN));
    }
    let (bi, bv) = best.unwrap_or((0, f64::NAN));
    let best_trial = &history.trials()[bi];
    let hypervolume = normaliser.map(|n| {
        let objectives = history.objectives();
        let points: Vec<Vec<f64>> = history
            .completed()
            .map(|t| {
                let losses: Vec<f64> = objectives
                    .iter()
                    .map(|o| o.loss(t.metrics[&o.metric]))
                    .collect();
                n.point(&losses)
            })
            .collect();
        let reference = vec![HV_REFERENCE; objectives.len()];
        hypervolume(&points, &reference) / n.true_hv
    });
    RunRecord {
        seed,
        test_accuracy: best_trial.metrics[TEST_ACCURACY],
        val_accuracy: bv,
        best_index: space.index(&best_trial.arch).unwrap_or(0) as usize,
        found_at: bi + 1,
        curve,
        hypervolume,
    }
}
