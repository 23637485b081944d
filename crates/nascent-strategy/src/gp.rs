//! Bayesian optimisation with a Gaussian process on an architecture encoding.
//!
//! The surrogate is a GP with a squared-exponential kernel on the encoding (one-hot by default),
//! whose length scale, signal variance and noise are fitted by maximising the marginal
//! likelihood (a grid over length scale and noise ratio, the signal variance in closed form).
//! The acquisition (expected improvement by default) is maximised over the neighbours of the
//! best architectures, random two-step mutations of them, and uniform samples.

use crate::common::{Acquisition, FeatureEncoding};
use crate::linalg::{cholesky, solve_lower, solve_lower_transposed};
use crate::util::{argmax, candidates, features, fresh_sample, observed, surrogate_targets};
use nascent_core::{Error, History, Result, Rng, SearchSpace, Strategy};
use serde::{Deserialize, Serialize};

/// A fitted Gaussian process regression model with a squared-exponential kernel
/// `k(x, x') = s2 * exp(-|x - x'|^2 / (2 l^2))` and Gaussian noise `s2 * eta`.
#[derive(Clone, Debug)]
pub struct GaussianProcess {
    x: Vec<Point>,
    chol: Vec<f64>,
    alpha: Vec<f64>,
    length_scale: f64,
    noise_ratio: f64,
    signal_variance: f64,
    log_marginal_likelihood: f64,
}

/// A point stored by its non-zero coordinates (encodings of architectures are sparse) and its
/// squared norm, so squared distances cost a merge of two short lists.
#[derive(Clone, Debug)]
struct Point {
    nz: Vec<(usize, f64)>,
    norm2: f64,
}

impl Point {
    fn new(x: &[f64]) -> Self {
        let nz: Vec<(usize, f64)> = x
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0.0)
            .map(|(i, v)| (i, *v))
            .collect();
        let norm2 = nz.iter().map(|(_, v)| v * v).sum();
        Point { nz, norm2 }
    }

    fn sq_dist(&self, other: &Point) -> f64 {
        let (a, b) = (&self.nz, &other.nz);
        let (mut i, mut j, mut dot) = (0, 0, 0.0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += a[i].1 * b[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        (self.norm2 + other.norm2 - 2.0 * dot).max(0.0)
    }
}

/// Relative squared length scales tried (times the median squared distance).
const LENGTH_GRID: [f64; 6] = [1.0 / 16.0, 1.0 / 8.0, 0.25, 0.5, 1.0, 2.0];
/// Noise-to-signal variance ratios tried.
const NOISE_GRID: [f64; 3] = [1e-3, 1e-2, 0.1];

impl GaussianProcess {
    /// Fits the model to inputs `x` (rows of equal length) and targets `y`, choosing the
    /// hyperparameters that maximise the marginal likelihood. `None` when there are no points
    /// or no hyperparameters give a positive-definite kernel matrix.
    pub fn fit(x: &[Vec<f64>], y: &[f64]) -> Option<Self> {
        let n = x.len();
        if n == 0 || y.len() != n {
            return None;
        }
        let x: Vec<Point> = x.iter().map(|v| Point::new(v)).collect();
        let mut d = vec![0.0; n * n];
        let mut nonzero = Vec::new();
        for i in 0..n {
            for j in 0..i {
                let v = x[i].sq_dist(&x[j]);
                d[i * n + j] = v;
                d[j * n + i] = v;
                if v > 0.0 {
                    nonzero.push(v);
                }
            }
        }
        nonzero.sort_by(f64::total_cmp);
        let median = nonzero.get(nonzero.len() / 2).copied().unwrap_or(1.0);
        let mut best: Option<GaussianProcess> = None;
        let mut r = vec![0.0; n * n];
        let mut k = vec![0.0; n * n];
        for &rel in &LENGTH_GRID {
            let l2 = rel * median;
            for (rv, dv) in r.iter_mut().zip(&d) {
                *rv = (-dv / (2.0 * l2)).exp();
            }
            for &eta in &NOISE_GRID {
                k.copy_from_slice(&r);
                for i in 0..n {
                    k[i * n + i] = 1.0 + eta;
                }
                if !cholesky(&mut k, n) {
                    continue;
                }
                let mut alpha = y.to_vec();
                solve_lower(&k, n, &mut alpha);
                let quad: f64 = alpha.iter().map(|a| a * a).sum();
                solve_lower_transposed(&k, n, &mut alpha);
                let s2 = (quad / n as f64).max(1e-12);
                let logdet: f64 = (0..n).map(|i| k[i * n + i].ln()).sum();
                let lml = -0.5 * n as f64 * s2.ln() - logdet;
                if best
                    .as_ref()
                    .is_none_or(|b| lml > b.log_marginal_likelihood)
                {
                    best = Some(GaussianProcess {
                        x: Vec::new(),
                        chol: k.clone(),
                        alpha,
                        length_scale: l2.sqrt(),
                        noise_ratio: eta,
                        signal_variance: s2,
                        log_marginal_likelihood: lml,
                    });
                }
            }
        }
        best.map(|mut b| {
            b.x = x;
            b
        })
    }

    /// The kernel's length scale.
    pub fn length_scale(&self) -> f64 {
        self.length_scale
    }

    /// The noise variance as a fraction of the signal variance.
    pub fn noise_ratio(&self) -> f64 {
        self.noise_ratio
    }

    /// The signal variance.
    pub fn signal_variance(&self) -> f64 {
        self.signal_variance
    }

    /// The predictive mean and standard deviation of the latent function at `x`.
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let n = self.x.len();
        let l2 = self.length_scale * self.length_scale;
        let x = Point::new(x);
        let mut r: Vec<f64> = self
            .x
            .iter()
            .map(|xi| (-xi.sq_dist(&x) / (2.0 * l2)).exp())
            .collect();
        let mean: f64 = r.iter().zip(&self.alpha).map(|(a, b)| a * b).sum();
        solve_lower(&self.chol, n, &mut r);
        let explained: f64 = r.iter().map(|v| v * v).sum();
        let var = self.signal_variance * (1.0 - explained).max(1e-9);
        (mean, var.sqrt())
    }
}

/// Settings of [`GpBayesOpt`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GpConfig {
    /// Random queries before the first model is fitted (at least 2).
    pub num_init: usize,
    /// The encoding the GP reads.
    pub encoding: FeatureEncoding,
    /// The acquisition function.
    pub acquisition: Acquisition,
    /// Observed values below this quantile are raised to it before fitting (0 disables).
    pub floor_quantile: f64,
    /// Best architectures whose neighbours are all candidates.
    pub top: usize,
    /// Random two-step mutations of the best architectures among the candidates.
    pub mutations: usize,
    /// Uniform samples among the candidates.
    pub random: usize,
}

impl Default for GpConfig {
    fn default() -> Self {
        GpConfig {
            num_init: 30,
            encoding: FeatureEncoding::OneHot,
            acquisition: Acquisition::Ei { xi: 0.0 },
            floor_quantile: 0.5,
            top: 10,
            mutations: 50,
            random: 100,
        }
    }
}

/// Checks a quantile-like setting in [0, 1).
pub(crate) fn check_fraction(field: &str, v: f64) -> Result<()> {
    if !(0.0..1.0).contains(&v) {
        return Err(Error::config(field, format!("must be in [0, 1), got {v}")));
    }
    Ok(())
}

impl GpConfig {
    /// Validates the settings; the error names the field.
    pub fn check(&self) -> Result<()> {
        if self.num_init < 2 {
            return Err(Error::config("gp.num_init", "must be at least 2"));
        }
        self.acquisition.check("gp.acquisition")?;
        check_fraction("gp.floor_quantile", self.floor_quantile)?;
        if self.top == 0 && self.random == 0 {
            return Err(Error::config(
                "gp.random",
                "`gp.top` and `gp.random` are both 0: there would be no candidates",
            ));
        }
        Ok(())
    }

    /// Builds the strategy.
    pub fn init(&self) -> Result<GpBayesOpt> {
        self.check()?;
        Ok(GpBayesOpt {
            config: self.clone(),
            cache: Vec::new(),
        })
    }
}

/// GP-based Bayesian optimisation; stateless apart from a cache of encodings, so `restore`
/// is exact.
#[derive(Clone, Debug)]
pub struct GpBayesOpt {
    config: GpConfig,
    /// Encodings of the history's architectures, by trial index.
    cache: Vec<Vec<f64>>,
}

impl<S: SearchSpace> Strategy<S> for GpBayesOpt {
    fn name(&self) -> String {
        "gp".into()
    }

    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        let (idx, y) = observed(history);
        if idx.len() < self.config.num_init {
            return Some(fresh_sample(space, history, rng));
        }
        let enc = self.config.encoding.into();
        while self.cache.len() < history.len() {
            let arch = &history.trials()[self.cache.len()].arch;
            self.cache.push(features(space, arch, enc));
        }
        let x: Vec<Vec<f64>> = idx.iter().map(|&i| self.cache[i].clone()).collect();
        let t = surrogate_targets(&y, self.config.floor_quantile);
        let best = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let cands = candidates(
            space,
            history,
            self.config.top,
            self.config.mutations,
            self.config.random,
            rng,
        );
        let Some(gp) = GaussianProcess::fit(&x, &t) else {
            log::debug!("gp: no positive-definite fit; sampling at random");
            return Some(fresh_sample(space, history, rng));
        };
        let scores: Vec<f64> = cands
            .iter()
            .map(|a| {
                let (m, s) = gp.predict(&features(space, a, enc));
                self.config.acquisition.score(m, s, best, rng)
            })
            .collect();
        match argmax(&scores) {
            Some(k) => Some(cands[k].clone()),
            None => Some(fresh_sample(space, history, rng)),
        }
    }

    fn repeated(&mut self, _: &S, _: &History<S::Arch>, _: usize, _: &mut Rng) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gp_interpolates_and_is_uncertain_far_away() {
        let x: Vec<Vec<f64>> = (0..8).map(|i| vec![i as f64 * 0.5]).collect();
        let y: Vec<f64> = x.iter().map(|v| (v[0]).sin()).collect();
        let gp = GaussianProcess::fit(&x, &y).unwrap();
        for (xi, yi) in x.iter().zip(&y) {
            let (m, s) = gp.predict(xi);
            assert!((m - yi).abs() < 0.05, "{m} vs {yi}");
            assert!(s < 0.2);
        }
        let (_, far) = gp.predict(&[40.0]);
        let (_, near) = gp.predict(&[1.25]);
        assert!(far > 3.0 * near, "{far} {near}");
    }
}
