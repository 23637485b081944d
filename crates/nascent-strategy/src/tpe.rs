//! Tree-structured Parzen estimator (Bergstra et al., 2011), over any space's mixed
//! dimensions ([`nascent_core::SearchSpace::dimensions`]).
//!
//! After `num_init` random queries, the finished trials are split into the best `gamma`
//! share (`l`) and the rest (`g`); trials without a fitness (failed, pruned before a value)
//! count among the rest. Each dimension gets two densities, one per group: for a categorical
//! dimension the smoothed frequencies of the options, for a real one a mixture of normals
//! truncated to the (log-)range, one at each observation plus a broad prior. `candidates`
//! points are drawn from `l` and the one with the largest `l(x) / g(x)` not yet queried is
//! proposed. The state lives in the history, so `restore` has nothing to rebuild.

use crate::util::{fresh_sample, norm_cdf, norm_pdf};
use nascent_core::{Dimension, Error, History, Result, Rng, SearchSpace, Strategy};
use serde::{Deserialize, Serialize};

/// Settings of [`Tpe`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TpeConfig {
    /// Random queries before the model is used.
    pub num_init: usize,
    /// Share of the finished trials that make up the good group.
    pub gamma: f64,
    /// Points drawn from the good density per query.
    pub candidates: usize,
    /// Weight of the prior (uniform over options; a broad normal over a real range), in
    /// observations.
    pub prior_weight: f64,
}

impl Default for TpeConfig {
    fn default() -> Self {
        TpeConfig {
            num_init: 20,
            gamma: 0.1,
            candidates: 24,
            prior_weight: 1.0,
        }
    }
}

impl TpeConfig {
    /// Validates the settings; the error names the field.
    pub fn check(&self) -> Result<()> {
        if self.num_init < 1 {
            return Err(Error::config("tpe.num_init", "must be at least 1"));
        }
        if !(self.gamma > 0.0 && self.gamma < 1.0) {
            return Err(Error::config(
                "tpe.gamma",
                format!("must be in (0, 1), got {}", self.gamma),
            ));
        }
        if self.candidates < 1 {
            return Err(Error::config("tpe.candidates", "must be at least 1"));
        }
        if !(self.prior_weight.is_finite() && self.prior_weight > 0.0) {
            return Err(Error::config(
                "tpe.prior_weight",
                format!("must be a positive number, got {}", self.prior_weight),
            ));
        }
        Ok(())
    }

    /// Builds the strategy.
    pub fn init(&self) -> Result<Tpe> {
        self.check()?;
        Ok(Tpe {
            config: self.clone(),
        })
    }
}

/// The TPE sampler.
#[derive(Clone, Debug)]
pub struct Tpe {
    config: TpeConfig,
}

/// The density of one dimension for one group.
#[derive(Clone, Debug)]
enum Density {
    /// Probabilities of the options.
    Categorical(Vec<f64>),
    /// A mixture of normals truncated to [0, 1] (unit scale): (weight, mean, sd) per component.
    Parzen(Vec<(f64, f64, f64)>),
}

impl Density {
    fn fit(dim: &Dimension, units: &[f64], prior: f64) -> Density {
        match dim {
            Dimension::Categorical { options, .. } => {
                let k = options.len().max(1);
                let mut p = vec![prior / k as f64; k];
                for &u in units {
                    // `u` is the option index here.
                    p[(u as usize).min(k - 1)] += 1.0;
                }
                let total: f64 = p.iter().sum();
                Density::Categorical(p.into_iter().map(|x| x / total).collect())
            }
            Dimension::Real { .. } => {
                let n = units.len();
                // Scott's rule on the unit scale, kept between a fiftieth and half the range.
                let sd = if n > 1 {
                    let mean = units.iter().sum::<f64>() / n as f64;
                    let var = units.iter().map(|u| (u - mean).powi(2)).sum::<f64>() / n as f64;
                    (1.06 * var.sqrt() * (n as f64).powf(-0.2)).clamp(0.02, 0.5)
                } else {
                    0.25
                };
                let mut c: Vec<(f64, f64, f64)> = units.iter().map(|&u| (1.0, u, sd)).collect();
                c.push((prior, 0.5, 1.0));
                let total: f64 = c.iter().map(|x| x.0).sum();
                Density::Parzen(c.into_iter().map(|(w, m, s)| (w / total, m, s)).collect())
            }
        }
    }

    fn log_pdf(&self, x: f64) -> f64 {
        match self {
            Density::Categorical(p) => p[(x as usize).min(p.len() - 1)].max(1e-300).ln(),
            Density::Parzen(c) => {
                let d: f64 = c
                    .iter()
                    .map(|&(w, m, s)| {
                        let mass = norm_cdf((1.0 - m) / s) - norm_cdf(-m / s);
                        w * norm_pdf((x - m) / s) / (s * mass.max(1e-12))
                    })
                    .sum();
                d.max(1e-300).ln()
            }
        }
    }

    fn sample(&self, rng: &mut Rng) -> f64 {
        match self {
            Density::Categorical(p) => rng.categorical(p) as f64,
            Density::Parzen(c) => {
                let w: Vec<f64> = c.iter().map(|x| x.0).collect();
                let (_, m, s) = c[rng.categorical(&w)];
                for _ in 0..32 {
                    let x = m + s * rng.normal();
                    if (0.0..=1.0).contains(&x) {
                        return x;
                    }
                }
                m.clamp(0.0, 1.0)
            }
        }
    }
}

impl Tpe {
    /// The settings.
    pub fn config(&self) -> &TpeConfig {
        &self.config
    }
}

impl<S: SearchSpace> Strategy<S> for Tpe {
    fn name(&self) -> String {
        "tpe".into()
    }

    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        let finished: Vec<(Vec<f64>, Option<f64>)> = history
            .trials()
            .iter()
            .filter(|t| t.state.is_finished())
            .map(|t| (space.to_point(&t.arch), history.fitness(t)))
            .collect();
        if finished.len() < self.config.num_init {
            return Some(fresh_sample(space, history, rng));
        }
        // Best first; trials without a fitness last, in history order (a stable sort).
        let mut order: Vec<usize> = (0..finished.len()).collect();
        order.sort_by(|&a, &b| match (finished[a].1, finished[b].1) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        let with_fitness = finished.iter().filter(|f| f.1.is_some()).count();
        let n_good = ((self.config.gamma * finished.len() as f64).ceil() as usize)
            .clamp(1, with_fitness.max(1));
        let dims = space.dimensions();
        let unit = |d: &Dimension, v: f64| match d {
            Dimension::Categorical { .. } => v,
            Dimension::Real { .. } => d.to_unit(v),
        };
        let fit = |idx: &[usize]| -> Vec<Density> {
            dims.iter()
                .enumerate()
                .map(|(k, d)| {
                    let units: Vec<f64> = idx.iter().map(|&i| unit(d, finished[i].0[k])).collect();
                    Density::fit(d, &units, self.config.prior_weight)
                })
                .collect()
        };
        let good = fit(&order[..n_good]);
        let bad = fit(&order[n_good..]);
        let mut best: Option<(f64, S::Arch)> = None;
        for _ in 0..self.config.candidates {
            let mut score = 0.0;
            let mut point = Vec::with_capacity(dims.len());
            for (k, d) in dims.iter().enumerate() {
                let u = good[k].sample(rng);
                score += good[k].log_pdf(u) - bad[k].log_pdf(u);
                point.push(match d {
                    Dimension::Categorical { .. } => u,
                    Dimension::Real { .. } => d.from_unit(u),
                });
            }
            let Ok(arch) = space.from_point(&point) else {
                continue;
            };
            if history.contains(&arch) || best.as_ref().is_some_and(|(b, _)| *b >= score) {
                continue;
            }
            best = Some((score, arch));
        }
        Some(match best {
            Some((_, a)) => a,
            None => fresh_sample(space, history, rng),
        })
    }

    fn repeated(&mut self, _: &S, _: &History<S::Arch>, _: usize, _: &mut Rng) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densities_are_normalised() {
        let real = Dimension::Real {
            name: "lr".into(),
            low: 1e-3,
            high: 1.0,
            log: true,
        };
        let d = Density::fit(&real, &[0.2, 0.25, 0.3, 0.9], 1.0);
        let n = 10_000;
        let integral: f64 = (0..n)
            .map(|i| d.log_pdf((i as f64 + 0.5) / n as f64).exp() / n as f64)
            .sum();
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
        // Mass near the observations.
        assert!(d.log_pdf(0.25) > d.log_pdf(0.6));
        let mut rng = Rng::new(0);
        for _ in 0..1000 {
            let x = d.sample(&mut rng);
            assert!((0.0..=1.0).contains(&x));
        }
        let cat = Dimension::Categorical {
            name: "op".into(),
            options: vec!["a".into(), "b".into(), "c".into()],
        };
        let Density::Categorical(p) = Density::fit(&cat, &[1.0, 1.0, 2.0], 1.0) else {
            panic!()
        };
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[1] > p[2] && p[2] > p[0]);
    }

    #[test]
    fn settings_are_checked_by_name() {
        let e = |c: TpeConfig| c.check().unwrap_err().to_string();
        assert!(
            e(TpeConfig {
                gamma: 1.0,
                ..TpeConfig::default()
            })
            .contains("tpe.gamma")
        );
        assert!(
            e(TpeConfig {
                num_init: 0,
                ..TpeConfig::default()
            })
            .contains("tpe.num_init")
        );
        assert!(
            e(TpeConfig {
                candidates: 0,
                ..TpeConfig::default()
            })
            .contains("tpe.candidates")
        );
        assert!(
            e(TpeConfig {
                prior_weight: 0.0,
                ..TpeConfig::default()
            })
            .contains("tpe.prior_weight")
        );
    }
}
