//! DARTS (first and second order), PC-DARTS and GDAS: alpha learned by gradient descent on
//! validation batches, the weights by SGD on training batches, alternating every step.

use super::arch::{Adam, gumbel, init_logits};
use super::{Ctx, EpochReport, Meter, Method, SearchObserver, collapse_of, flat_values};
use crate::supernet::{Selection, Supernet, probabilities};
use nascent_core::{Result, SearchSpace};
use std::time::Instant;
use tch::{Kind, Tensor};

/// The architecture parameters of one search: alpha `[edges, ops]` and, for PC-DARTS, the
/// edge weights beta `[edges]`.
struct ArchParams {
    alpha: Tensor,
    beta: Option<Tensor>,
    node_edges: Vec<Vec<usize>>,
}

impl ArchParams {
    fn params(&self) -> Vec<Tensor> {
        let mut v = vec![self.alpha.shallow_clone()];
        if let Some(b) = &self.beta {
            v.push(b.shallow_clone());
        }
        v
    }

    /// Beta normalised by a softmax over each node's incoming edges, in edge order.
    fn edge_weights(&self, beta: &Tensor) -> Tensor {
        let mut parts: Vec<(usize, Tensor)> = Vec::new();
        for idx in &self.node_edges {
            let ix: Vec<i64> = idx.iter().map(|&e| e as i64).collect();
            let sub = beta.index_select(0, &Tensor::from_slice(&ix).to_device(beta.device()));
            let sm = sub.softmax(0, Kind::Float);
            for (k, &e) in idx.iter().enumerate() {
                parts.push((e, sm.get(k as i64)));
            }
        }
        parts.sort_by_key(|p| p.0);
        let ts: Vec<Tensor> = parts.into_iter().map(|p| p.1).collect();
        Tensor::stack(&ts, 0)
    }

    /// Logits of `x` under the softmax relaxation; with `grad`, differentiable in alpha
    /// (and beta).
    fn mixed_forward<N: Supernet>(&self, net: &N, x: &Tensor, grad: bool) -> Tensor {
        let (a, b) = if grad {
            (
                self.alpha.shallow_clone(),
                self.beta.as_ref().map(|b| b.shallow_clone()),
            )
        } else {
            (self.alpha.detach(), self.beta.as_ref().map(|b| b.detach()))
        };
        let w = a.softmax(-1, Kind::Float);
        let ew = b.map(|b| self.edge_weights(&b));
        net.forward(
            x,
            &Selection::Mixed {
                weights: &w,
                edge_weights: ew.as_ref(),
            },
            true,
        )
    }

    /// The op probabilities per edge, each row scaled by its edge weight (PC-DARTS derives
    /// its genotype from the product).
    fn derive_probs(&self) -> Vec<Vec<f64>> {
        let mut p = probabilities(&self.alpha);
        if let Some(b) = &self.beta {
            let ew = super::arch::rows_of(&self.edge_weights(&b.detach()).unsqueeze(0));
            for (row, w) in p.iter_mut().zip(&ew[0]) {
                for x in row.iter_mut() {
                    *x *= w;
                }
            }
        }
        p
    }
}

/// Straight-through Gumbel-softmax gates (GDAS): the sampled op per edge and gates whose
/// value is the one-hot of the sample and whose gradient is that of the soft sample.
fn gumbel_gates(logits: &Tensor, tau: f64, rng: &mut nascent_core::Rng) -> (Vec<usize>, Tensor) {
    let size = logits.size();
    loop {
        let g = gumbel([size[0], size[1]], rng, logits.device());
        let probs = ((logits.log_softmax(-1, Kind::Float) + g) / tau).softmax(-1, Kind::Float);
        let finite = probs.isfinite().all().int64_value(&[]) == 1;
        if !finite {
            continue;
        }
        let index = probs.argmax(-1, true);
        let one_hot = probs.zeros_like().scatter_value(-1, &index, 1.0);
        let gates = one_hot - probs.detach() + &probs;
        let idx: Vec<i64> =
            Vec::<i64>::try_from(index.view([-1]).to_device(tch::Device::Cpu)).unwrap_or_default();
        return (idx.into_iter().map(|i| i as usize).collect(), gates);
    }
}

/// DARTS' weight perturbation for the finite-difference Hessian-vector product of the
/// second-order gradient: `eps = DARTS_FD_SCALE / |dL_val/dw'|` (DARTS: 0.01).
pub const DARTS_FD_SCALE: f64 = 0.01;

/// The step of the finite-difference Hessian-vector products of the Hessian eigenvalue
/// diagnostic (in alpha, along a unit vector).
pub const HESSIAN_FD_STEP: f64 = 0.01;

/// DARTS' second-order alpha gradient: the validation gradient at the weights after one
/// virtual SGD step `w' = w - lr * (dL_train/dw + wd * w)`, minus `lr` times the
/// finite-difference Hessian-vector product `(dL_train/dalpha(w+) - dL_train/dalpha(w-)) /
/// (2 eps)` with `w± = w ± eps * dL_val/dw'` and `eps = scale / |dL_val/dw'|` (DARTS:
/// [`DARTS_FD_SCALE`]). Returns the gradients (alpha only) and the validation logits and loss.
fn unrolled_grads<N: Supernet>(
    net: &N,
    arch: &ArchParams,
    (xt, yt): (&Tensor, &Tensor),
    (xv, yv): (&Tensor, &Tensor),
    lr: f64,
    wd: f64,
    scale: f64,
) -> (Vec<Tensor>, Tensor, Tensor) {
    let ws: Vec<Tensor> = net.var_store().trainable_variables();
    let w0: Vec<Tensor> = tch::no_grad(|| ws.iter().map(|w| w.copy()).collect());
    let loss = arch
        .mixed_forward(net, xt, false)
        .cross_entropy_for_logits(yt);
    let g = Tensor::run_backward(&[&loss], &ws, false, false);
    tch::no_grad(|| {
        for (w, g) in ws.iter().zip(&g) {
            if g.defined() {
                let mut w = w.shallow_clone();
                let _ = w.g_sub_(&((g + &w * wd) * lr));
            }
        }
    });
    let logits = arch.mixed_forward(net, xv, true);
    let vloss = logits.cross_entropy_for_logits(yv);
    let mut inputs = arch.params();
    let n_arch = inputs.len();
    inputs.extend(ws.iter().map(|w| w.shallow_clone()));
    let grads = Tensor::run_backward(&[&vloss], &inputs, false, false);
    let (d_arch, d_w) = grads.split_at(n_arch);
    let norm = tch::no_grad(|| {
        d_w.iter()
            .filter(|g| g.defined())
            .map(|g| g.square().sum(Kind::Double).double_value(&[]))
            .sum::<f64>()
            .sqrt()
    });
    let eps = scale / norm.max(1e-12);
    let train_arch_grad = |sign: f64| -> Vec<Tensor> {
        tch::no_grad(|| {
            for ((w, w0), d) in ws.iter().zip(&w0).zip(d_w) {
                let mut w = w.shallow_clone();
                if d.defined() {
                    w.copy_(&(w0 + d * (sign * eps)));
                } else {
                    w.copy_(w0);
                }
            }
        });
        let loss = arch
            .mixed_forward(net, xt, true)
            .cross_entropy_for_logits(yt);
        Tensor::run_backward(&[&loss], &arch.params(), false, false)
    };
    let gp = train_arch_grad(1.0);
    let gn = train_arch_grad(-1.0);
    tch::no_grad(|| {
        for (w, w0) in ws.iter().zip(&w0) {
            w.shallow_clone().copy_(w0);
        }
    });
    let out = d_arch
        .iter()
        .zip(gp.iter().zip(&gn))
        .map(|(d, (p, n))| {
            if p.defined() && n.defined() {
                d - (p - n) * (lr / (2.0 * eps))
            } else {
                d.shallow_clone()
            }
        })
        .collect();
    (out, logits.detach(), vloss.detach())
}

/// DARTS' second-order gradient of the validation loss with respect to `alpha` (`[edges,
/// ops]`, the softmax relaxation over every edge of `net`): what an architecture step of
/// [`Method::Darts2`] descends, on the training batch `train` and the validation batch `val`,
/// for a weight step of learning rate `lr` and weight decay `wd`, the Hessian-vector product
/// by central differences with a weight perturbation of norm `scale` (the search uses
/// [`DARTS_FD_SCALE`]). The weights of `net` are left as they were.
pub fn darts2_alpha_gradient<N: Supernet>(
    net: &N,
    alpha: &Tensor,
    train: (&Tensor, &Tensor),
    val: (&Tensor, &Tensor),
    lr: f64,
    wd: f64,
    scale: f64,
) -> Tensor {
    let arch = ArchParams {
        alpha: alpha.detach().set_requires_grad(true),
        beta: None,
        node_edges: net.node_edges(),
    };
    unrolled_grads(net, &arch, train, val, lr, wd, scale)
        .0
        .remove(0)
}

/// The dominant eigenvalue (largest in magnitude) of the Hessian of the validation loss on
/// the batch `(x, y)` with respect to `alpha` (`[edges, ops]`, softmax relaxation), as the
/// collapse diagnostic of the differentiable methods measures it after each epoch, but with
/// finite-difference step `r` (the search uses [`HESSIAN_FD_STEP`]): [`fd_power_iteration`]
/// on the gradient of the validation loss; `rng` draws the starting vector.
pub fn hessian_eigenvalue<N: Supernet>(
    net: &N,
    alpha: &Tensor,
    x: &Tensor,
    y: &Tensor,
    iters: usize,
    r: f64,
    rng: &mut nascent_core::Rng,
) -> f64 {
    let arch = ArchParams {
        alpha: alpha.detach().set_requires_grad(true),
        beta: None,
        node_edges: net.node_edges(),
    };
    hessian_eigenvalue_of(net, &arch, x, y, iters, r, rng)
}

/// The dominant eigenvalue of the Hessian of a function at `a0`, given its gradient
/// `grad_at`, by `iters` power iterations with central finite-difference Hessian-vector
/// products `(g(a0 + r v) - g(a0 - r v)) / 2r` (`|v| = 1`, the start drawn from `rng`); the
/// Rayleigh quotient of the last iterate.
pub fn fd_power_iteration(
    grad_at: &dyn Fn(&Tensor) -> Tensor,
    a0: &Tensor,
    iters: usize,
    r: f64,
    rng: &mut nascent_core::Rng,
) -> f64 {
    let size = a0.size();
    let n: i64 = size.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    let mut v = Tensor::from_slice(&v)
        .view(size.as_slice())
        .to_kind(a0.kind())
        .to_device(a0.device());
    v = &v / v.norm().double_value(&[]);
    let mut lambda = f64::NAN;
    for _ in 0..iters {
        let hv = (grad_at(&(a0 + &v * r)) - grad_at(&(a0 - &v * r))) / (2.0 * r);
        lambda = (&hv * &v).sum(Kind::Double).double_value(&[]);
        let norm = hv.norm().double_value(&[]);
        if norm.is_nan() || norm <= 1e-12 {
            break;
        }
        v = hv / norm;
    }
    lambda
}

/// The dominant eigenvalue of the Hessian of the validation loss on one batch with respect
/// to alpha, by `iters` power iterations with central finite-difference Hessian-vector
/// products `(g(a + r v) - g(a - r v)) / 2r`, `r = 0.01`; the Rayleigh quotient of the last
/// iterate.
fn hessian_eigenvalue_of<N: Supernet>(
    net: &N,
    arch: &ArchParams,
    x: &Tensor,
    y: &Tensor,
    iters: usize,
    r: f64,
    rng: &mut nascent_core::Rng,
) -> f64 {
    let a0 = arch.alpha.detach();
    let ew = arch.beta.as_ref().map(|b| arch.edge_weights(&b.detach()));
    let grad_at = |a: &Tensor| -> Tensor {
        let a = a.detach().set_requires_grad(true);
        let w = a.softmax(-1, a.kind());
        let logits = net.forward(
            x,
            &Selection::Mixed {
                weights: &w,
                edge_weights: ew.as_ref(),
            },
            true,
        );
        let loss = logits.cross_entropy_for_logits(y);
        Tensor::run_backward(&[&loss], &[&a], false, false).remove(0)
    };
    fd_power_iteration(&grad_at, &a0, iters, r, rng)
}

/// Runs a differentiable method; returns the architecture and the epoch reports.
pub(super) fn run<N: Supernet>(
    ctx: &mut Ctx<'_, N>,
    observer: &mut dyn SearchObserver,
    edges: &[String],
    ops: &[String],
) -> Result<(<N::Space as SearchSpace>::Arch, Vec<EpochReport>)> {
    let cfg = ctx.cfg;
    let method = cfg.method;
    let (e, o) = (ctx.net.num_edges(), ops.len());
    let alpha = init_logits(e, o, 1e-3, &mut ctx.rng, ctx.device);
    let beta = (method == Method::PcDarts).then(|| {
        init_logits(1, e, 1e-3, &mut ctx.rng, ctx.device)
            .detach()
            .view([e as i64])
            .set_requires_grad(true)
    });
    let arch = ArchParams {
        alpha,
        beta,
        node_edges: ctx.net.node_edges(),
    };
    let mut adam = Adam::new(cfg.arch_lr, cfg.arch_betas, cfg.arch_weight_decay);
    let steps = ctx.steps_per_epoch;
    observer.arch_params(0, &flat_values(&arch.params()));
    observer.phase("supernet", cfg.epochs as u64 * steps as u64);
    let mut reports = Vec::new();
    for epoch in 0..cfg.epochs {
        let t0 = Instant::now();
        let lr = cfg.lr_at(epoch);
        ctx.opt.set_lr(lr);
        let tau = cfg.tau_at(epoch);
        let update_arch = epoch >= cfg.warmup_epochs;
        let (mut tm, mut vm) = (Meter::default(), Meter::default());
        for _ in 0..steps {
            let (xt, yt) = ctx.train_batch();
            let (xv, yv) = ctx.val_batch();
            match method {
                Method::Darts | Method::PcDarts | Method::Darts2 => {
                    if update_arch {
                        let (grads, logits, loss) = if method == Method::Darts2 {
                            unrolled_grads(
                                &*ctx.net,
                                &arch,
                                (&xt, &yt),
                                (&xv, &yv),
                                lr,
                                cfg.weight_decay,
                                DARTS_FD_SCALE,
                            )
                        } else {
                            let logits = arch.mixed_forward(&*ctx.net, &xv, true);
                            let loss = logits.cross_entropy_for_logits(&yv);
                            let g = Tensor::run_backward(&[&loss], &arch.params(), false, false);
                            (g, logits.detach(), loss.detach())
                        };
                        adam.step(&arch.params(), &grads);
                        vm.add(&logits, &yv, &loss);
                    }
                    let logits = arch.mixed_forward(&*ctx.net, &xt, false);
                    let loss = logits.cross_entropy_for_logits(&yt);
                    ctx.weight_step(&loss);
                    tm.add(&logits.detach(), &yt, &loss.detach());
                }
                Method::Gdas => {
                    let (index, gates) = gumbel_gates(&arch.alpha.detach(), tau, &mut ctx.rng);
                    let logits = ctx.net.forward(
                        &xt,
                        &Selection::Gated {
                            index: &index,
                            gates: &gates,
                        },
                        true,
                    );
                    let loss = logits.cross_entropy_for_logits(&yt);
                    ctx.weight_step(&loss);
                    tm.add(&logits.detach(), &yt, &loss.detach());
                    if update_arch {
                        let (index, gates) = gumbel_gates(&arch.alpha, tau, &mut ctx.rng);
                        let logits = ctx.net.forward(
                            &xv,
                            &Selection::Gated {
                                index: &index,
                                gates: &gates,
                            },
                            true,
                        );
                        let loss = logits.cross_entropy_for_logits(&yv);
                        let g = Tensor::run_backward(&[&loss], &arch.params(), false, false);
                        adam.step(&arch.params(), &g);
                        vm.add(&logits.detach(), &yv, &loss.detach());
                    }
                }
                Method::Spos | Method::Enas => unreachable!("not a differentiable method"),
            }
            observer.step();
        }
        let seconds = t0.elapsed().as_secs_f64();
        let probs = probabilities(&arch.alpha);
        let derived = ctx.net.derive(&arch.derive_probs())?;
        let path = ctx.net.path_of(&derived)?;
        let mut collapse = collapse_of(&*ctx.net, &path);
        if cfg.hessian_iters > 0 {
            let (xv, yv) = ctx.val_batch();
            collapse.hessian_eigenvalue = Some(hessian_eigenvalue_of(
                &*ctx.net,
                &arch,
                &xv,
                &yv,
                cfg.hessian_iters,
                HESSIAN_FD_STEP,
                &mut ctx.rng,
            ));
        }
        let report = EpochReport {
            epoch: epoch + 1,
            train_loss: tm.loss(),
            train_accuracy: tm.accuracy(),
            // No architecture step (PC-DARTS warm-up): no validation pass to report.
            val_loss: (!vm.is_empty()).then(|| vm.loss()),
            val_accuracy: (!vm.is_empty()).then(|| vm.accuracy()),
            probs,
            arch: Some(ctx.net.space().format(&derived)),
            collapse,
            tau: (method == Method::Gdas).then_some(tau),
            lr,
            seconds,
        };
        observer.epoch(&report, edges, ops);
        observer.arch_params(epoch + 1, &flat_values(&arch.params()));
        let val = match (report.val_loss, report.val_accuracy) {
            (Some(l), Some(a)) => format!("{l:.3}/{a:.1}%"),
            _ => "- (warm-up)".to_string(),
        };
        log::info!(
            "{method} epoch {}: train {:.3}/{:.1}% val {val} {} ({:.1} s)",
            epoch + 1,
            report.train_loss,
            report.train_accuracy,
            report.arch.as_deref().unwrap_or("-"),
            seconds
        );
        reports.push(report);
    }
    let arch_found = ctx.net.derive(&arch.derive_probs())?;
    Ok((arch_found, reports))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nascent_core::Rng;

    #[test]
    fn gumbel_gates_are_one_hot_in_value_and_soft_in_gradient() {
        let logits = Tensor::from_slice(&[0.0f32, 1.0, 2.0, 0.5, 0.5, 0.5])
            .view([2, 3])
            .set_requires_grad(true);
        let (index, gates) = gumbel_gates(&logits, 1.0, &mut Rng::new(4));
        let rows = super::super::arch::rows_of(&gates);
        for (r, &i) in rows.iter().zip(&index) {
            for (k, &g) in r.iter().enumerate() {
                let want = if k == i { 1.0 } else { 0.0 };
                assert!((g - want).abs() < 1e-6, "{rows:?} {index:?}");
            }
        }
        let g = Tensor::run_backward(
            &[&gates.get(0).get(index[0] as i64)],
            &[&logits],
            false,
            false,
        );
        assert!(g[0].abs().sum(Kind::Double).double_value(&[]) > 0.0);
    }
}
