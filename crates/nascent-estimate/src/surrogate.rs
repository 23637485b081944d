//! A surrogate predictor trained on the trials evaluated so far: it answers for the
//! architectures it is confident about and hands the others to the real evaluator.
//!
//! The model is nascent-strategy's Gaussian process (squared-exponential kernel on the space's
//! encoding, hyperparameters by marginal likelihood) fitted to the standardised values of
//! one metric. Its predictive standard deviation is the confidence: an architecture whose
//! standard deviation is at most `max_std` (in the metric's units) gets the predicted mean as
//! its metric at no cost; every other one is evaluated for real, and the result joins the
//! training set. Predicted values never train the model.

use nascent_core::{
    Budget, Encoding, Error, Evaluation, Evaluator, History, Metrics, Outcome, Reporter, Result,
    SearchSpace,
};
use nascent_strategy::{FeatureEncoding, GaussianProcess};
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, MutexGuard};

/// The metric set to 1 on answers that came from the surrogate.
pub const SURROGATE_FLAG: &str = "surrogate";
/// The metric holding the surrogate's predictive standard deviation.
pub const SURROGATE_STD: &str = "surrogate.std";

/// Settings of [`Surrogate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurrogateConfig {
    /// The metric predicted.
    pub metric: String,
    /// The encoding the model reads (spaces without it fall back to one-hot).
    pub encoding: FeatureEncoding,
    /// Real evaluations needed before the surrogate answers anything.
    pub min_observations: usize,
    /// The largest predictive standard deviation (metric units) at which it answers.
    pub max_std: f64,
    /// Refit after this many new observations.
    pub refit_every: usize,
    /// Keep at most this many (the latest) observations, bounding the cost of a fit.
    pub max_observations: usize,
}

impl Default for SurrogateConfig {
    fn default() -> Self {
        SurrogateConfig {
            metric: "val_accuracy".into(),
            encoding: FeatureEncoding::Path,
            min_observations: 30,
            max_std: 0.5,
            refit_every: 5,
            max_observations: 400,
        }
    }
}

impl SurrogateConfig {
    /// Checks the settings; errors name the field under `prefix` (`surrogate`).
    pub fn check(&self, prefix: &str) -> Result<()> {
        if self.metric.is_empty() {
            return Err(Error::config(
                format!("{prefix}.metric"),
                "must name a metric",
            ));
        }
        if self.min_observations < 2 {
            return Err(Error::config(
                format!("{prefix}.min_observations"),
                "must be at least 2",
            ));
        }
        if !(self.max_std.is_finite() && self.max_std >= 0.0) {
            return Err(Error::config(
                format!("{prefix}.max_std"),
                format!("must be a finite number >= 0, not {}", self.max_std),
            ));
        }
        if self.refit_every == 0 {
            return Err(Error::config(
                format!("{prefix}.refit_every"),
                "must be at least 1",
            ));
        }
        if self.max_observations < self.min_observations {
            return Err(Error::config(
                format!("{prefix}.max_observations"),
                format!(
                    "must be at least min_observations ({})",
                    self.min_observations
                ),
            ));
        }
        Ok(())
    }
}

/// How the surrogate has been used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SurrogateStats {
    /// Real observations it holds.
    pub observations: usize,
    /// Evaluations it answered itself.
    pub answered: u64,
    /// Evaluations it handed to the real evaluator.
    pub deferred: u64,
    /// Times the model was fitted.
    pub fits: u64,
}

struct Fitted {
    gp: GaussianProcess,
    mean: f64,
    sd: f64,
}

#[derive(Default)]
struct State {
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
    model: Option<Fitted>,
    since_fit: usize,
    stats: SurrogateStats,
}

/// An evaluator that answers from a surrogate model when confident and evaluates for real
/// otherwise.
pub struct Surrogate<S: SearchSpace, E> {
    space: S,
    inner: E,
    config: SurrogateConfig,
    state: Mutex<State>,
}

impl<S: SearchSpace, E: Evaluator<S::Arch>> Surrogate<S, E> {
    /// A surrogate over `space` in front of `inner`; an error when the settings are invalid.
    pub fn new(space: S, inner: E, config: SurrogateConfig) -> Result<Self> {
        config.check("surrogate")?;
        Ok(Surrogate {
            space,
            inner,
            config,
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn features(&self, arch: &S::Arch) -> Vec<f64> {
        let enc: Encoding = self.config.encoding.into();
        self.space
            .encode(arch, enc)
            .or_else(|| self.space.encode(arch, Encoding::OneHot))
            .unwrap_or_default()
    }

    /// Adds a real observation of the metric (from a trial evaluated elsewhere, say).
    pub fn observe(&self, arch: &S::Arch, value: f64) {
        if !value.is_finite() {
            return;
        }
        let x = self.features(arch);
        let mut g = self.lock();
        g.x.push(x);
        g.y.push(value);
        let excess = g.x.len().saturating_sub(self.config.max_observations);
        if excess > 0 {
            g.x.drain(..excess);
            g.y.drain(..excess);
        }
        g.since_fit += 1;
        g.stats.observations = g.x.len();
        if g.x.len() >= self.config.min_observations
            && (g.model.is_none() || g.since_fit >= self.config.refit_every)
        {
            self.refit(&mut g);
        }
    }

    /// Adds every completed trial of `history` that was evaluated for real (not answered by a
    /// surrogate), e.g. when a study resumes.
    pub fn observe_history(&self, history: &History<S::Arch>) {
        for t in history.completed() {
            if t.metrics.contains_key(SURROGATE_FLAG) {
                continue;
            }
            if let Some(&v) = t.metrics.get(&self.config.metric) {
                self.observe(&t.arch, v);
            }
        }
    }

    fn refit(&self, g: &mut State) {
        let n = g.y.len() as f64;
        let mean = g.y.iter().sum::<f64>() / n;
        let var = g.y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let sd = if var > 1e-18 { var.sqrt() } else { 1.0 };
        let ys: Vec<f64> = g.y.iter().map(|v| (v - mean) / sd).collect();
        g.model = GaussianProcess::fit(&g.x, &ys).map(|gp| Fitted { gp, mean, sd });
        g.since_fit = 0;
        g.stats.fits += 1;
    }

    /// The predicted mean and standard deviation of the metric for `arch`, once the model has
    /// been fitted.
    pub fn predict(&self, arch: &S::Arch) -> Option<(f64, f64)> {
        let x = self.features(arch);
        let g = self.lock();
        let f = g.model.as_ref()?;
        let (m, s) = f.gp.predict(&x);
        Some((f.mean + f.sd * m, f.sd * s))
    }

    /// How it has been used.
    pub fn stats(&self) -> SurrogateStats {
        self.lock().stats
    }

    /// The settings.
    pub fn config(&self) -> &SurrogateConfig {
        &self.config
    }
}

impl<S: SearchSpace, E: Evaluator<S::Arch>> Evaluator<S::Arch> for Surrogate<S, E> {
    fn metrics(&self) -> Vec<String> {
        let mut m = self.inner.metrics();
        m.push(SURROGATE_FLAG.into());
        m.push(SURROGATE_STD.into());
        m
    }

    fn evaluate(&self, arch: &S::Arch, budget: &Budget, reporter: &mut dyn Reporter) -> Outcome {
        if let Some((mean, std)) = self.predict(arch)
            && std <= self.config.max_std
        {
            self.lock().stats.answered += 1;
            let mut metrics = Metrics::new();
            metrics.insert(self.config.metric.clone(), mean);
            metrics.insert(SURROGATE_STD.into(), std);
            metrics.insert(SURROGATE_FLAG.into(), 1.0);
            return Outcome::Complete(Evaluation {
                metrics,
                cost_seconds: 0.0,
            });
        }
        self.lock().stats.deferred += 1;
        let out = self.inner.evaluate(arch, budget, reporter);
        if let Outcome::Complete(e) = &out
            && let Some(&v) = e.metrics.get(&self.config.metric)
        {
            self.observe(arch, v);
        }
        out
    }
}
