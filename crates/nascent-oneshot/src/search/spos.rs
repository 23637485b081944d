//! SPOS (Guo et al., 2020): the supernet is trained one uniformly sampled path at a time;
//! then regularized evolution searches the space with the shared weights as its evaluator,
//! each candidate's BN statistics recalibrated on training batches before it is scored.

use super::{Ctx, EpochReport, Meter, SampledResult, SearchObserver, uniform_probs};
use crate::supernet::{Selection, Supernet, recalibrate_bn};
use nascent_core::{
    Budget, Evaluation, Evaluator, History, Metrics, Objective, Outcome, Reporter, Result,
    SearchSpace, run_queries,
};
use nascent_strategy::EvolutionConfig;
use std::sync::Mutex;
use std::time::Instant;
use tch::Tensor;

/// Metric of [`SupernetEvaluator`]: top-1 accuracy (%) on the validation batches.
pub const SUPERNET_ACCURACY: &str = "supernet_accuracy";
/// Metric of [`SupernetEvaluator`]: mean cross-entropy on the validation batches.
pub const SUPERNET_LOSS: &str = "supernet_loss";

struct Inner<'a, N: Supernet> {
    net: &'a mut N,
    calibration: Vec<(Tensor, Tensor)>,
    eval: Vec<(Tensor, Tensor)>,
}

/// Scores architectures on a trained supernet's shared weights: the architecture's path
/// runs on fixed validation batches; when the supernet keeps BN running statistics they are
/// first recalibrated for that path on fixed training batches (and evaluation uses them),
/// otherwise BN uses each batch's statistics.
pub struct SupernetEvaluator<'a, N: Supernet> {
    inner: Mutex<Inner<'a, N>>,
    recalibrate: bool,
}

impl<'a, N: Supernet> SupernetEvaluator<'a, N> {
    /// An evaluator of `net` with these batches (on the supernet's device).
    pub fn new(
        net: &'a mut N,
        calibration: Vec<(Tensor, Tensor)>,
        eval: Vec<(Tensor, Tensor)>,
    ) -> Self {
        let recalibrate =
            !calibration.is_empty() && !crate::supernet::bn_statistics(net.var_store()).is_empty();
        SupernetEvaluator {
            inner: Mutex::new(Inner {
                net,
                calibration,
                eval,
            }),
            recalibrate,
        }
    }

    /// Accuracy (%) and mean loss of `arch`.
    pub fn score(&self, arch: &<N::Space as SearchSpace>::Arch) -> Result<(f64, f64)> {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let net = &*inner.net;
        let path = net.path_of(arch)?;
        if self.recalibrate {
            let cal = &inner.calibration;
            recalibrate_bn(net.var_store(), net.bn_momentum(), cal.len(), |k| {
                let _ = net.forward(&cal[k].0, &Selection::Path(&path), true);
            });
        }
        Ok(tch::no_grad(|| {
            let mut m = Meter::default();
            for (x, y) in &inner.eval {
                let logits = net.forward(x, &Selection::Path(&path), !self.recalibrate);
                let loss = logits.cross_entropy_for_logits(y);
                m.add(&logits, y, &loss);
            }
            (m.accuracy(), m.loss())
        }))
    }
}

impl<N: Supernet> Evaluator<<N::Space as SearchSpace>::Arch> for SupernetEvaluator<'_, N> {
    fn metrics(&self) -> Vec<String> {
        vec![SUPERNET_ACCURACY.into(), SUPERNET_LOSS.into()]
    }

    fn evaluate(
        &self,
        arch: &<N::Space as SearchSpace>::Arch,
        _budget: &Budget,
        reporter: &mut dyn Reporter,
    ) -> Outcome {
        let t0 = Instant::now();
        match self.score(arch) {
            Ok((acc, loss)) => {
                reporter.report(1, acc);
                let mut metrics = Metrics::new();
                metrics.insert(SUPERNET_ACCURACY.into(), acc);
                metrics.insert(SUPERNET_LOSS.into(), loss);
                Outcome::Complete(Evaluation {
                    metrics,
                    cost_seconds: t0.elapsed().as_secs_f64(),
                })
            }
            Err(e) => Outcome::Failed {
                reason: e.to_string(),
                cost_seconds: t0.elapsed().as_secs_f64(),
            },
        }
    }
}

/// Trains the supernet with uniform single paths, then runs the evolution.
pub(super) fn run<N: Supernet>(
    ctx: &mut Ctx<'_, N>,
    observer: &mut dyn SearchObserver,
    edges: &[String],
    ops: &[String],
) -> SampledResult<N> {
    let cfg = ctx.cfg;
    let space = ctx.net.space().clone();
    let steps = ctx.steps_per_epoch;
    observer.phase("supernet", cfg.epochs as u64 * steps as u64);
    let mut reports = Vec::new();
    for epoch in 0..cfg.epochs {
        let t0 = Instant::now();
        let lr = cfg.lr_at(epoch);
        ctx.opt.set_lr(lr);
        let mut tm = Meter::default();
        for _ in 0..steps {
            let (x, y) = ctx.train_batch();
            let arch = space.sample(&mut ctx.rng);
            let path = ctx.net.path_of(&arch)?;
            let logits = ctx.net.forward(&x, &Selection::Path(&path), true);
            let loss = logits.cross_entropy_for_logits(&y);
            ctx.weight_step(&loss);
            tm.add(&logits.detach(), &y, &loss.detach());
            observer.step();
        }
        let report = EpochReport {
            epoch: epoch + 1,
            train_loss: tm.loss(),
            train_accuracy: tm.accuracy(),
            val_loss: None,
            val_accuracy: None,
            probs: uniform_probs(edges.len(), ops.len()),
            arch: None,
            collapse: Default::default(),
            tau: None,
            lr,
            seconds: t0.elapsed().as_secs_f64(),
        };
        observer.epoch(&report, edges, ops);
        log::info!(
            "spos epoch {}: train {:.3}/{:.1}% ({:.1} s)",
            epoch + 1,
            report.train_loss,
            report.train_accuracy,
            report.seconds
        );
        reports.push(report);
    }
    let s = &cfg.spos;
    let calibration = ctx.fixed_batches(false, s.calibration_batches);
    let eval = ctx.fixed_batches(true, s.eval_batches);
    let mut rng = ctx.rng.fork();
    let evaluator = SupernetEvaluator::new(&mut *ctx.net, calibration, eval);
    let mut evolution = EvolutionConfig {
        population: s.population,
        sample_size: s.sample_size,
    }
    .init()?;
    let mut history = History::new(vec![Objective::maximize(SUPERNET_ACCURACY)]);
    observer.phase("evolution", s.queries as u64);
    let budget = Budget::default();
    for _ in 0..s.queries {
        let before = history.len();
        run_queries(
            &space,
            &mut evolution,
            &evaluator,
            &mut history,
            1,
            &budget,
            &mut rng,
        );
        observer.step();
        if history.len() == before {
            break;
        }
    }
    let candidates: Vec<(String, f64)> = history
        .trials()
        .iter()
        .map(|t| {
            (
                space.format(&t.arch),
                t.metrics
                    .get(SUPERNET_ACCURACY)
                    .copied()
                    .unwrap_or(f64::NAN),
            )
        })
        .collect();
    let best = history.best().ok_or_else(|| {
        let reason = history
            .trials()
            .iter()
            .find_map(|t| t.fail_reason.clone())
            .unwrap_or_else(|| "no candidate was scored".into());
        nascent_core::Error::Other(format!("the SPOS evolution found nothing: {reason}"))
    })?;
    log::info!(
        "spos: best of {} candidates {} ({:.2}% on the shared weights)",
        history.len(),
        space.format(&best.arch),
        best.metrics[SUPERNET_ACCURACY]
    );
    Ok((best.arch.clone(), reports, candidates))
}
