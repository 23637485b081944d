//! REINFORCE (Williams, 1992) with a factorised categorical policy, as in the NAS-Bench-201
//! baselines.
//!
//! The policy holds one softmax over the options of every decision of the space. After each
//! trial the logits move along `advantage * grad log pi(arch)`, where the advantage is the
//! fitness minus a moving-average baseline, divided by a moving estimate of its scale (so the
//! learning rate does not depend on the units of the objective), plus an optional entropy
//! bonus that keeps the policy from collapsing too early. Samples already queried are drawn
//! again.

use crate::util::{FRESH_TRIES, fresh_sample, replay};
use nascent_core::{Error, History, Result, Rng, SearchSpace, Strategy};
use serde::{Deserialize, Serialize};

/// Settings of [`Reinforce`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReinforceConfig {
    /// Step size of the policy-gradient update on the logits.
    pub learning_rate: f64,
    /// Weight of the old value in the moving averages of the baseline and of the advantage
    /// scale, in [0, 1).
    pub baseline_decay: f64,
    /// Weight of the entropy bonus (0 disables it).
    pub entropy_weight: f64,
}

impl Default for ReinforceConfig {
    fn default() -> Self {
        ReinforceConfig {
            learning_rate: 0.2,
            baseline_decay: 0.9,
            entropy_weight: 0.0,
        }
    }
}

impl ReinforceConfig {
    /// Validates the settings; the error names the field.
    pub fn check(&self) -> Result<()> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::config(
                "reinforce.learning_rate",
                format!("must be a positive number, got {}", self.learning_rate),
            ));
        }
        if !(0.0..1.0).contains(&self.baseline_decay) {
            return Err(Error::config(
                "reinforce.baseline_decay",
                format!("must be in [0, 1), got {}", self.baseline_decay),
            ));
        }
        if !(self.entropy_weight.is_finite() && self.entropy_weight >= 0.0) {
            return Err(Error::config(
                "reinforce.entropy_weight",
                format!("must be zero or positive, got {}", self.entropy_weight),
            ));
        }
        Ok(())
    }

    /// Builds the strategy.
    pub fn init(&self) -> Result<Reinforce> {
        self.check()?;
        Ok(Reinforce {
            config: self.clone(),
            logits: Vec::new(),
            baseline: None,
            scale: 0.0,
        })
    }
}

/// REINFORCE; the policy is updated in `tell` only and without randomness, so `restore`
/// rebuilds it exactly.
#[derive(Clone, Debug)]
pub struct Reinforce {
    config: ReinforceConfig,
    logits: Vec<Vec<f64>>,
    baseline: Option<f64>,
    /// Moving mean of the squared advantage.
    scale: f64,
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

impl Reinforce {
    /// The policy's probabilities, one vector per decision.
    pub fn probabilities(&self) -> Vec<Vec<f64>> {
        self.logits.iter().map(|z| softmax(z)).collect()
    }

    fn ensure<S: SearchSpace>(&mut self, space: &S) {
        if self.logits.is_empty() {
            self.logits = space
                .decisions()
                .iter()
                .map(|d| vec![0.0; d.options.len()])
                .collect();
        }
    }
}

impl<S: SearchSpace> Strategy<S> for Reinforce {
    fn name(&self) -> String {
        "reinforce".into()
    }

    fn ask(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) -> Option<S::Arch> {
        self.ensure(space);
        let probs = self.probabilities();
        for _ in 0..FRESH_TRIES {
            let choices: Vec<usize> = probs.iter().map(|p| rng.categorical(p)).collect();
            if let Ok(arch) = space.from_decisions(&choices)
                && !history.contains(&arch)
            {
                return Some(arch);
            }
        }
        Some(fresh_sample(space, history, rng))
    }

    fn tell(&mut self, space: &S, history: &History<S::Arch>, index: usize, _: &mut Rng) {
        let trial = &history.trials()[index];
        let Some(reward) = history.fitness(trial) else {
            return;
        };
        self.ensure(space);
        let decay = self.config.baseline_decay;
        let Some(baseline) = self.baseline else {
            self.baseline = Some(reward);
            return;
        };
        let diff = reward - baseline;
        self.scale = if self.scale == 0.0 {
            diff * diff
        } else {
            decay * self.scale + (1.0 - decay) * diff * diff
        };
        let advantage = if self.scale > 0.0 {
            diff / self.scale.sqrt()
        } else {
            0.0
        };
        self.baseline = Some(decay * baseline + (1.0 - decay) * reward);
        let choices = space.to_decisions(&trial.arch);
        let lr = self.config.learning_rate;
        let beta = self.config.entropy_weight;
        for (z, &a) in self.logits.iter_mut().zip(&choices) {
            let p = softmax(z);
            let entropy: f64 = -p
                .iter()
                .filter(|&&q| q > 0.0)
                .map(|q| q * q.ln())
                .sum::<f64>();
            for (k, zk) in z.iter_mut().enumerate() {
                let grad_logp = if k == a { 1.0 } else { 0.0 } - p[k];
                let grad_entropy = if p[k] > 0.0 {
                    -p[k] * (p[k].ln() + entropy)
                } else {
                    0.0
                };
                *zk += lr * (advantage * grad_logp + beta * grad_entropy);
            }
        }
    }

    fn repeated(&mut self, _: &S, _: &History<S::Arch>, _: usize, _: &mut Rng) {}

    fn restore(&mut self, space: &S, history: &History<S::Arch>, rng: &mut Rng) {
        self.logits.clear();
        self.baseline = None;
        self.scale = 0.0;
        replay(self, space, history, rng);
    }
}
