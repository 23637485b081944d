//! ENAS (Pham et al., 2018): an LSTM controller samples architectures one decision at a
//! time; the shared weights are trained on its samples, and the controller by REINFORCE
//! with a moving-average baseline and an entropy bonus, the reward being a sample's
//! validation accuracy on the shared weights. The two alternate every epoch.

use super::arch::Adam;
use super::{
    Ctx, EnasConfig, EpochReport, Meter, SampledResult, SearchObserver, collapse_of, flat_values,
};
use crate::supernet::{Selection, Supernet};
use nascent_core::{Decision, Error, Result, Rng, SearchSpace};
use std::time::Instant;
use tch::nn::{Module, RNN};
use tch::{Device, Kind, Tensor, nn};

/// The ENAS controller over the categorical decisions of a space: an LSTM whose input at
/// each step is the embedding of the previous choice (a learned vector at the first), with
/// one linear head per decision; logits are `c * tanh(z / T)`.
pub struct Controller {
    vs: nn::VarStore,
    lstm: nn::LSTM,
    start: Tensor,
    embeddings: Vec<nn::Embedding>,
    heads: Vec<nn::Linear>,
    tanh_constant: f64,
    temperature: f64,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("decisions", &self.heads.len())
            .finish_non_exhaustive()
    }
}

/// One sampled architecture's choices with their log-probability and entropy (tensors that
/// carry gradients to the controller).
pub struct Sample {
    /// The option taken at each decision.
    pub choices: Vec<usize>,
    /// Sum of the log-probabilities of the choices.
    pub log_prob: Tensor,
    /// Sum of the entropies of the decisions' distributions.
    pub entropy: Tensor,
}

impl Controller {
    /// A controller for `decisions` (its weights from torch's generator).
    pub fn new(decisions: &[Decision], cfg: &EnasConfig, device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let h = cfg.hidden;
        let lstm = nn::lstm(&root / "lstm", h, h, Default::default());
        let start = root.var("start", &[1, h], nn::Init::Uniform { lo: -0.1, up: 0.1 });
        let embeddings = decisions
            .iter()
            .enumerate()
            .map(|(k, d)| {
                nn::embedding(
                    &root / "embedding" / k,
                    d.options.len() as i64,
                    h,
                    Default::default(),
                )
            })
            .collect();
        let heads = decisions
            .iter()
            .enumerate()
            .map(|(k, d)| {
                nn::linear(
                    &root / "head" / k,
                    h,
                    d.options.len() as i64,
                    Default::default(),
                )
            })
            .collect();
        Controller {
            vs,
            lstm,
            start,
            embeddings,
            heads,
            tanh_constant: cfg.tanh_constant,
            temperature: cfg.temperature,
        }
    }

    /// The controller's weights.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// Samples every decision in turn (`greedy`: the most likely option at each).
    pub fn sample(&self, rng: &mut Rng, greedy: bool) -> Sample {
        let mut state = self.lstm.zero_state(1);
        let mut input = self.start.shallow_clone();
        let mut choices = Vec::with_capacity(self.heads.len());
        let mut log_probs = Vec::new();
        let mut entropies = Vec::new();
        for (k, head) in self.heads.iter().enumerate() {
            state = self.lstm.step(&input, &state);
            let z = head.forward(&state.h()).view([-1]);
            let logits = (z / self.temperature).tanh() * self.tanh_constant;
            let logp = logits.log_softmax(-1, Kind::Float);
            let p = logp.exp();
            let pv: Vec<f64> =
                Vec::<f64>::try_from(p.detach().to_device(Device::Cpu).to_kind(Kind::Double))
                    .unwrap_or_default();
            let c = if greedy {
                crate::supernet::argmax(&pv)
            } else {
                rng.categorical(&pv)
            };
            log_probs.push(logp.get(c as i64));
            entropies.push(-(&p * &logp).sum(Kind::Float));
            choices.push(c);
            input = self.embeddings[k]
                .forward(&Tensor::from_slice(&[c as i64]).to_device(self.vs.device()));
        }
        Sample {
            choices,
            log_prob: Tensor::stack(&log_probs, 0).sum(Kind::Float),
            entropy: Tensor::stack(&entropies, 0).sum(Kind::Float),
        }
    }
}

/// A valid architecture of the space from the controller (resampling choices the space
/// refuses, such as two equal inputs of a DARTS node; `None` after 100 refusals).
fn sample_arch<S: SearchSpace>(
    space: &S,
    controller: &Controller,
    rng: &mut Rng,
    greedy: bool,
) -> Option<(S::Arch, Sample)> {
    for _ in 0..100 {
        let s = controller.sample(rng, greedy);
        if let Ok(a) = space.from_decisions(&s.choices) {
            return Some((a, s));
        }
        if greedy {
            return None;
        }
    }
    None
}

/// Trains the shared weights and the controller, then samples the final architecture.
pub(super) fn run<N: Supernet>(
    ctx: &mut Ctx<'_, N>,
    observer: &mut dyn SearchObserver,
    edges: &[String],
    ops: &[String],
) -> SampledResult<N> {
    let cfg = ctx.cfg;
    let ec = &cfg.enas;
    let space = ctx.net.space().clone();
    let controller = Controller::new(space.decisions(), ec, ctx.device);
    let params = controller.var_store().trainable_variables();
    let mut adam = Adam::new(ec.lr, (0.0, 0.999), 0.0);
    observer.arch_params(0, &flat_values(&params));
    let refused = || {
        Error::Other("the ENAS controller keeps sampling architectures the space refuses".into())
    };
    let steps = ctx.steps_per_epoch;
    observer.phase(
        "supernet",
        cfg.epochs as u64 * (steps + ec.controller_steps) as u64,
    );
    let mut baseline: Option<f64> = None;
    let mut reports = Vec::new();
    for epoch in 0..cfg.epochs {
        let t0 = Instant::now();
        let lr = cfg.lr_at(epoch);
        ctx.opt.set_lr(lr);
        let mut tm = Meter::default();
        for _ in 0..steps {
            let (x, y) = ctx.train_batch();
            let arch = tch::no_grad(|| sample_arch(&space, &controller, &mut ctx.rng, false))
                .ok_or_else(refused)?
                .0;
            let path = ctx.net.path_of(&arch)?;
            let logits = ctx.net.forward(&x, &Selection::Path(&path), true);
            let loss = logits.cross_entropy_for_logits(&y);
            ctx.weight_step(&loss);
            tm.add(&logits.detach(), &y, &loss.detach());
            observer.step();
        }
        let mut vm = Meter::default();
        for _ in 0..ec.controller_steps {
            let mut total: Option<Tensor> = None;
            for _ in 0..ec.aggregate {
                let (arch, s) =
                    sample_arch(&space, &controller, &mut ctx.rng, false).ok_or_else(refused)?;
                let path = ctx.net.path_of(&arch)?;
                let (x, y) = ctx.val_batch();
                let (logits, loss) = tch::no_grad(|| {
                    let logits = ctx.net.forward(&x, &Selection::Path(&path), true);
                    let loss = logits.cross_entropy_for_logits(&y);
                    (logits, loss)
                });
                vm.add(&logits, &y, &loss);
                let reward = logits.accuracy_for_logits(&y).double_value(&[]);
                let b = baseline.unwrap_or(reward);
                let b = ec.baseline_decay * b + (1.0 - ec.baseline_decay) * reward;
                baseline = Some(b);
                let l = -(&s.log_prob * (reward - b)) - &s.entropy * ec.entropy_weight;
                total = Some(match total {
                    None => l,
                    Some(t) => t + l,
                });
            }
            let total = total.expect("at least one sample") / ec.aggregate as f64;
            let grads = Tensor::run_backward(&[&total], &params, false, false);
            adam.step(&params, &grads);
            observer.step();
        }
        // The sampling distribution: frequencies over fresh samples, per decision.
        let (probs, greedy) = tch::no_grad(|| -> Result<_> {
            let decisions = space.decisions();
            let mut counts: Vec<Vec<f64>> = decisions
                .iter()
                .map(|d| vec![0.0; d.options.len()])
                .collect();
            let n = 200;
            for _ in 0..n {
                let s = controller.sample(&mut ctx.rng, false);
                for (k, &c) in s.choices.iter().enumerate() {
                    counts[k][c] += 1.0 / n as f64;
                }
            }
            let greedy = sample_arch(&space, &controller, &mut ctx.rng, true).map(|g| g.0);
            Ok((counts, greedy))
        })?;
        let collapse = match &greedy {
            Some(a) => collapse_of(&*ctx.net, &ctx.net.path_of(a)?),
            None => Default::default(),
        };
        let report = EpochReport {
            epoch: epoch + 1,
            train_loss: tm.loss(),
            train_accuracy: tm.accuracy(),
            val_loss: Some(vm.loss()),
            val_accuracy: Some(vm.accuracy()),
            probs: decision_probs(&space, &probs, edges.len(), ops),
            arch: greedy.as_ref().map(|a| space.format(a)),
            collapse,
            tau: None,
            lr,
            seconds: t0.elapsed().as_secs_f64(),
        };
        observer.epoch(&report, edges, ops);
        observer.arch_params(epoch + 1, &flat_values(&params));
        log::info!(
            "enas epoch {}: train {:.3}/{:.1}% samples {:.1}% baseline {:.3} greedy {} ({:.1} s)",
            epoch + 1,
            report.train_loss,
            report.train_accuracy,
            vm.accuracy(),
            baseline.unwrap_or(f64::NAN),
            report.arch.as_deref().unwrap_or("-"),
            report.seconds
        );
        reports.push(report);
    }
    // Derive: score fresh samples on fixed validation batches, keep the best.
    let eval = ctx.fixed_batches(true, ec.eval_batches);
    observer.phase("derive", ec.derive_samples as u64);
    let mut seen = std::collections::HashSet::new();
    let mut candidates = Vec::new();
    let mut best: Option<(<N::Space as SearchSpace>::Arch, f64)> = None;
    for _ in 0..ec.derive_samples {
        let arch = tch::no_grad(|| sample_arch(&space, &controller, &mut ctx.rng, false))
            .ok_or_else(refused)?
            .0;
        observer.step();
        if !seen.insert(arch.clone()) {
            continue;
        }
        let path = ctx.net.path_of(&arch)?;
        let (acc, _) = ctx.path_accuracy(&path, &eval, true);
        candidates.push((space.format(&arch), acc));
        if best.as_ref().is_none_or(|(_, b)| acc > *b) {
            best = Some((arch, acc));
        }
    }
    let (arch, acc) = best.ok_or_else(refused)?;
    log::info!(
        "enas: best of {} sampled architectures {} ({acc:.2}% on the shared weights)",
        candidates.len(),
        space.format(&arch)
    );
    Ok((arch, reports, candidates))
}

/// The controller's per-decision frequencies as per-edge op distributions when the space's
/// decisions are exactly the supernet's edges (NB201); otherwise the op decisions of the
/// space mapped onto no edge are left out and edges get uniform rows.
fn decision_probs<S: SearchSpace>(
    space: &S,
    counts: &[Vec<f64>],
    edges: usize,
    ops: &[String],
) -> Vec<Vec<f64>> {
    let d = space.decisions();
    if d.len() == edges && d.iter().all(|x| x.options.len() == ops.len()) {
        return counts.to_vec();
    }
    vec![vec![1.0 / ops.len() as f64; ops.len()]; edges]
}

#[cfg(test)]
mod tests {
    use super::*;
    use nascent_space::Nb201Space;

    #[test]
    fn controller_samples_valid_choices_and_learns_a_preference() {
        tch::manual_seed(0);
        let space = Nb201Space::new();
        let cfg = EnasConfig {
            lr: 0.05,
            ..EnasConfig::default()
        };
        let c = Controller::new(space.decisions(), &cfg, Device::Cpu);
        let params = c.var_store().trainable_variables();
        let mut adam = Adam::new(cfg.lr, (0.0, 0.999), 0.0);
        let mut rng = Rng::new(1);
        // Reward: the share of edges that choose op 3 (nor_conv_3x3).
        let mut baseline = 0.0;
        for _ in 0..60 {
            let s = c.sample(&mut rng, false);
            assert_eq!(s.choices.len(), 6);
            let reward = s.choices.iter().filter(|&&o| o == 3).count() as f64 / 6.0;
            baseline = 0.9 * baseline + 0.1 * reward;
            let loss = -(&s.log_prob * (reward - baseline));
            let g = Tensor::run_backward(&[&loss], &params, false, false);
            adam.step(&params, &g);
        }
        let greedy = c.sample(&mut rng, true).choices;
        assert!(
            greedy.iter().filter(|&&o| o == 3).count() >= 4,
            "{greedy:?}"
        );
    }
}
