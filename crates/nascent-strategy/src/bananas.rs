//! BANANAS (White et al., 2021): Bayesian optimisation with an ensemble of neural predictors
//! on the path encoding.
//!
//! After `num_init` random queries, every `batch` queries the strategy trains an ensemble of
//! small MLPs on the (floored, standardised) fitness of the queried architectures, scores
//! candidates (the neighbours of the best architectures, random two-step mutations of them, and
//! uniform samples) with the acquisition function (independent Thompson sampling by default),
//! and queries the `batch` best candidates in order.

use crate::common::{Acquisition, FeatureEncoding};
use crate::gp::check_fraction;
use crate::mlp::{MlpEnsemble, MlpSpec, SparseInput, sparse};
use crate::util::{candidates, features, fresh_sample, observed, surrogate_targets};
use nascent_core::{Error, History, Result, Rng, SearchSpace, Strategy};
use serde::{Deserialize, Serialize};

/// Settings of [`Bananas`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BananasConfig {
    /// Random queries before the first ensemble is trained (at least 2).
    pub num_init: usize,
    /// Queries proposed from each trained ensemble.
    pub batch: usize,
    /// The encoding the predictors read.
    pub encoding: FeatureEncoding,
    /// Networks in the ensemble.
    pub ensemble: usize,
    /// Widths of the hidden layers of each network.
    pub hidden: Vec<usize>,
    /// Training epochs.
    pub epochs: usize,
    /// Samples per gradient step.
    pub batch_size: usize,
    /// Adam step size.
    pub learning_rate: f64,
    /// L2 penalty on the weights.
    pub weight_decay: f64,
    /// The acquisition function.
    pub acquisition: Acquisition,
    /// Observed values below this quantile are raised to it before training (0 disables).
    pub floor_quantile: f64,
    /// Best architectures whose neighbours are all candidates.
    pub top: usize,
    /// Random two-step mutations of the best architectures among the candidates.
    pub mutations: usize,
    /// Uniform samples among the candidates.
    pub random: usize,
}

impl Default for BananasConfig {
    fn default() -> Self {
        BananasConfig {
            num_init: 30,
            batch: 5,
            encoding: FeatureEncoding::Path,
            ensemble: 5,
            hidden: vec![32, 32],
            epochs: 50,
            batch_size: 32,
            learning_rate: 0.01,
            weight_decay: 0.0,
            acquisition: Acquisition::Its,
            floor_quantile: 0.5,
            top: 10,
            mutations: 50,
            random: 50,
        }
    }
}

impl BananasConfig {
    /// Validates the settings; the error names the field.
    pub fn check(&self) -> Result<()> {
        let at_least = |field: &str, v: usize, min: usize| {
            if v < min {
                Err(Error::config(
                    field,
                    format!("must be at least {min}, got {v}"),
                ))
            } else {
                Ok(())
            }
        };
        at_least("bananas.num_init", self.num_init, 2)?;
        at_least("bananas.batch", self.batch, 1)?;
        at_least("bananas.ensemble", self.ensemble, 1)?;
        at_least("bananas.epochs", self.epochs, 1)?;
        at_least("bananas.batch_size", self.batch_size, 1)?;
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(Error::config(
                "bananas.hidden",
                format!(
                    "needs at least one layer, each wider than 0, got {:?}",
                    self.hidden
                ),
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::config(
                "bananas.learning_rate",
                format!("must be a positive number, got {}", self.learning_rate),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::config(
                "bananas.weight_decay",
                format!("must be zero or positive, got {}", self.weight_decay),
            ));
        }
        self.acquisition.check("bananas.acquisition")?;
        check_fraction("bananas.floor_quantile", self.floor_quantile)?;
        if self.top == 0 && self.random == 0 {
            return Err(Error::config(
                "bananas.random",
                "`bananas.top` and `bananas.random` are both 0: there would be no candidates",
            ));
        }
        Ok(())
    }

    /// Builds the strategy.
    pub fn init(&self) -> Result<Bananas> {
        self.check()?;
        Ok(Bananas {
            config: self.clone(),
            pending: Vec::new(),
            cache: Vec::new(),
        })
    }
}

/// BANANAS. Its only state besides a cache of encodings is the rest of the current batch of
/// proposals; `restore` drops it, so a study resumed in the middle of a batch trains a new
/// ensemble at once (resuming at a batch boundary continues exactly).
#[derive(Clone, Debug)]
pub struct Bananas {
    config: BananasConfig,
    /// Proposals left from the last ensemble, next last.
    pending: Vec<Vec<usize>>,
    /// Sparse encodings of the history's architectures, by trial index.
    cache: Vec<SparseInput>,
}

impl<S: SearchSpace> Strategy<S> for Bananas {
    fn name(&self) -> String {
        "bananas".into()
    }

    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        while let Some(choices) = self.pending.pop() {
            if let Ok(arch) = space.from_decisions(&choices)
                && !history.contains(&arch)
            {
                return Some(arch);
            }
        }
        let (idx, y) = observed(history);
        if idx.len() < self.config.num_init {
            return Some(fresh_sample(space, history, rng));
        }
        let enc = self.config.encoding.into();
        while self.cache.len() < history.len() {
            let arch = &history.trials()[self.cache.len()].arch;
            self.cache.push(sparse(&features(space, arch, enc)));
        }
        let x: Vec<SparseInput> = idx.iter().map(|&i| self.cache[i].clone()).collect();
        let t = surrogate_targets(&y, self.config.floor_quantile);
        let best = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let inputs = features(space, &history.trials()[idx[0]].arch, enc).len();
        let spec = MlpSpec {
            inputs,
            hidden: self.config.hidden.clone(),
            epochs: self.config.epochs,
            batch_size: self.config.batch_size,
            learning_rate: self.config.learning_rate,
            weight_decay: self.config.weight_decay,
        };
        let ensemble = MlpEnsemble::train(self.config.ensemble, &spec, &x, &t, rng);
        let cands = candidates(
            space,
            history,
            self.config.top,
            self.config.mutations,
            self.config.random,
            rng,
        );
        if cands.is_empty() {
            return Some(fresh_sample(space, history, rng));
        }
        let mut scored: Vec<(f64, usize)> = cands
            .iter()
            .enumerate()
            .map(|(k, a)| {
                let (m, s) = ensemble.predict(&sparse(&features(space, a, enc)));
                (self.config.acquisition.score(m, s, best, rng), k)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(self.config.batch);
        // Stored next-last so that `pop` hands them out best first.
        self.pending = scored
            .iter()
            .rev()
            .map(|&(_, k)| space.to_decisions(&cands[k]))
            .collect();
        let first = self.pending.pop()?;
        space.from_decisions(&first).ok()
    }

    fn restore(&mut self, _: &S, _: &History<S::Arch>, _: &mut Rng) {
        self.pending.clear();
    }

    fn repeated(&mut self, _: &S, _: &History<S::Arch>, _: usize, _: &mut Rng) {}
}
