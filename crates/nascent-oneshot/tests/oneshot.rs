//! The one-shot methods on a tiny NAS-Bench-201 supernet (4 channels, one cell per stage, 8x8
//! inputs, 3 classes) and tiny synthetic data (real tensors: each class a fixed random pattern
//! plus noise, so that there is something to learn):
//!
//! * DARTS' second-order architecture gradient (finite-difference Hessian-vector product)
//!   against the exact unrolled gradient by autograd, and the dominant Hessian eigenvalue
//!   (collapse diagnostic, power iteration on finite-difference Hessian-vector products)
//!   against the eigenvalues of the exact Hessian built by double back-propagation, both on
//!   a smooth supernet of the same shape (`tanh` layers; see [`SmoothSupernet`] for why not
//!   the ReLU one), and the power iteration on a quadratic with a known spectrum;
//! * every method running a few steps and changing its architecture parameters (PC-DARTS
//!   without them during its warm-up, and reporting no validation there).

use nascent_core::Rng;
use nascent_oneshot::search::{
    DARTS_FD_SCALE, HESSIAN_FD_STEP, darts2_alpha_gradient, fd_power_iteration, hessian_eigenvalue,
};
use nascent_oneshot::supernet::Selection;
use nascent_oneshot::{
    EpochReport, Method, SearchConfig, SearchData, SearchObserver, Supernet, SupernetShape,
    nb201_supernet, search,
};
use nascent_train::data::{Augment, Dataset, Normalization, Samples};
use std::path::Path;
use std::sync::Arc;
use tch::{Device, Kind, Tensor};

const CLASSES: usize = 3;
const SIDE: usize = 8;

fn shape() -> SupernetShape {
    SupernetShape {
        channels: 4,
        cells: 1,
        in_channels: 3,
        resolution: SIDE as i64,
        classes: CLASSES as i64,
    }
}

/// `per_class` images of each class: the class's pattern (uniform in [-1, 1], fixed) plus
/// Gaussian noise of standard deviation 0.5.
fn synthetic(per_class: usize, seed: u64) -> Dataset {
    let per = 3 * SIDE * SIDE;
    let mut rng = Rng::new(7);
    let patterns: Vec<Vec<f32>> = (0..CLASSES)
        .map(|_| {
            (0..per)
                .map(|_| (2.0 * rng.uniform() - 1.0) as f32)
                .collect()
        })
        .collect();
    let mut rng = Rng::new(seed);
    let mut values = Vec::with_capacity(per_class * CLASSES * per);
    let mut labels = Vec::new();
    for i in 0..per_class * CLASSES {
        let c = i % CLASSES;
        values.extend(patterns[c].iter().map(|&p| p + 0.5 * rng.normal() as f32));
        labels.push(c as i64);
    }
    Dataset::new(
        Path::new("synthetic"),
        [3, SIDE, SIDE],
        Samples::F32(values),
        labels,
        (0..CLASSES).map(|c| format!("class{c}")).collect(),
    )
    .unwrap()
}

fn search_data() -> SearchData {
    SearchData {
        train: Arc::new(synthetic(16, 1)),
        val: Arc::new(synthetic(16, 2)),
        norm: Normalization::identity(3),
        augment: Augment::none(),
    }
}

/// A batch of `n` images of `data` (in order) as tensors.
fn batch(data: &Dataset, n: usize) -> (Tensor, Tensor) {
    let per = data.sample_len();
    let mut v = vec![0f32; n * per];
    for i in 0..n {
        data.write_sample(i, &mut v[i * per..(i + 1) * per]);
    }
    let x = Tensor::from_slice(&v).view([n as i64, 3, SIDE as i64, SIDE as i64]);
    let y = Tensor::from_slice(&data.labels()[..n]);
    (x, y)
}

fn tiny_config(method: Method, epochs: u32) -> SearchConfig {
    let mut cfg = SearchConfig::for_method(method, epochs);
    cfg.batch_size = 16;
    cfg.threads = Some(1);
    cfg.seed = 3;
    cfg
}

fn norm(t: &Tensor) -> f64 {
    t.to_kind(Kind::Double).norm().double_value(&[])
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.detach().to_kind(Kind::Double).view([-1])).unwrap()
}

/// Alpha with clearly unequal rows (not the near-uniform start), so that the second
/// derivatives are those of a search under way.
fn some_alpha(edges: usize, ops: usize) -> Tensor {
    let mut rng = Rng::new(11);
    let v: Vec<f32> = (0..edges * ops).map(|_| rng.normal() as f32).collect();
    Tensor::from_slice(&v).view([edges as i64, ops as i64])
}

fn mixed_loss<N: Supernet>(net: &N, alpha: &Tensor, x: &Tensor, y: &Tensor) -> Tensor {
    let w = alpha.softmax(-1, alpha.kind());
    net.forward(
        x,
        &Selection::Mixed {
            weights: &w,
            edge_weights: None,
        },
        true,
    )
    .cross_entropy_for_logits(y)
}

/// A smooth supernet of the NB201 space's shape (6 edges in a chain, its 5 candidates): the
/// flattened image through 6 mixed edges of width 12, each candidate `tanh(h W + b)` (the
/// `none` candidate: nothing), then a linear classifier. Every function of alpha and of the
/// weights here has continuous second derivatives, which a ReLU network has not: finite
/// differences of its gradients converge to the exact Hessian-vector products, so the
/// finite-difference code can be checked against autograd (on the ReLU supernet, gradients
/// jump where units switch sign, and the difference quotients follow those jumps instead).
struct SmoothSupernet {
    space: nascent_space::Nb201Space,
    candidates: Vec<nascent_oneshot::supernet::Candidate>,
    vs: tch::nn::VarStore,
    layers: Vec<Vec<(Tensor, Tensor)>>,
    out: (Tensor, Tensor),
}

impl SmoothSupernet {
    fn new() -> Self {
        tch::manual_seed(9);
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let width = 12;
        let input = (3 * SIDE * SIDE) as i64;
        let init = |n_in: i64| tch::nn::Init::Uniform {
            lo: -1.5 / (n_in as f64).sqrt(),
            up: 1.5 / (n_in as f64).sqrt(),
        };
        let layers = (0..6)
            .map(|e| {
                let n_in = if e == 0 { input } else { width };
                (0..5)
                    .map(|o| {
                        let p = &root / format!("e{e}") / format!("o{o}");
                        (
                            p.var("w", &[n_in, width], init(n_in)),
                            p.var("b", &[width], init(n_in)),
                        )
                    })
                    .collect()
            })
            .collect();
        let out = (
            root.var("out_w", &[width, CLASSES as i64], init(width)),
            root.var("out_b", &[CLASSES as i64], init(width)),
        );
        let candidates = nascent_space::nb201::Nb201Op::ALL
            .iter()
            .map(|&op| {
                nascent_oneshot::supernet::Candidate::new(op.name(), nascent_train::Op::from(op))
            })
            .collect();
        SmoothSupernet {
            space: nascent_space::Nb201Space::new(),
            candidates,
            vs,
            layers,
            out,
        }
    }
}

impl Supernet for SmoothSupernet {
    type Space = nascent_space::Nb201Space;

    fn space(&self) -> &Self::Space {
        &self.space
    }

    fn candidates(&self) -> &[nascent_oneshot::supernet::Candidate] {
        &self.candidates
    }

    fn edge_names(&self) -> Vec<String> {
        (0..6).map(|e| format!("edge {e}")).collect()
    }

    fn node_edges(&self) -> Vec<Vec<usize>> {
        (0..6).map(|e| vec![e]).collect()
    }

    fn var_store(&self) -> &tch::nn::VarStore {
        &self.vs
    }

    fn forward(&self, xs: &Tensor, selection: &Selection<'_>, _train: bool) -> Tensor {
        let Selection::Mixed { weights, .. } = selection else {
            panic!("the smooth supernet runs mixed selections only");
        };
        let mut h = xs.flatten(1, -1).to_kind(weights.kind());
        for (e, ops) in self.layers.iter().enumerate() {
            let mut acc: Option<Tensor> = None;
            for (o, (w, b)) in ops.iter().enumerate() {
                if self.candidates[o].is_zero() {
                    continue;
                }
                let y = (h.matmul(w) + b).tanh() * weights.get(e as i64).get(o as i64);
                acc = Some(match acc {
                    None => y,
                    Some(a) => a + y,
                });
            }
            h = acc.expect("non-zero candidates");
        }
        h.matmul(&self.out.0) + &self.out.1
    }

    fn derive(&self, probs: &[Vec<f64>]) -> nascent_core::Result<nascent_space::Nb201Arch> {
        use nascent_core::SearchSpace;
        let choices: Vec<usize> = probs
            .iter()
            .map(|r| nascent_oneshot::supernet::argmax(r))
            .collect();
        self.space.from_decisions(&choices)
    }

    fn path_of(&self, arch: &nascent_space::Nb201Arch) -> nascent_core::Result<Vec<usize>> {
        use nascent_core::SearchSpace;
        Ok(self.space.to_decisions(arch))
    }
}

/// The second-order DARTS gradient with its finite-difference Hessian-vector product against
/// the exact unrolled gradient.
///
/// After one virtual SGD step `w'(α) = w - lr (∇_w L_train(w, α) + wd w)`, the unrolled
/// gradient is, by the chain rule through that step,
/// `d/dα L_val(w'(α), α) = ∂_α L_val(w', α) - lr ∇²_{α,w} L_train(w, α) ∇_{w'} L_val(w', α)`.
/// The exact value takes the mixed second derivative by autograd (`create_graph` through
/// `∇_w L_train`, then the gradient of its inner product with `v = ∇_{w'} L_val` w.r.t. α).
/// DARTS replaces that product by the central difference
/// `(∇_α L_train(w + εv, α) - ∇_α L_train(w - εv, α)) / 2ε`, `ε = 0.01 / |v|` (a weight
/// perturbation of norm 0.01, [`nascent_oneshot::search::DARTS_FD_SCALE`], the setting the
/// search uses), computed here by the library's code on the smooth supernet in float32.
///
/// Tolerance: the difference between the two is compared with the size of the second-order
/// term `lr ∇²_{α,w} L_train v` itself (not with the whole gradient, where a wrong or missing
/// term could hide behind the first-order part): at most 0.1 % of it. The central
/// difference's truncation error is `|εv|² / 6 = 1.7e-5` times a third derivative (of order
/// one for `tanh` layers of these widths); the float32 rounding of the two gradients
/// (relative `~1e-6`) divided by `2 |εv| = 0.02` is about `5e-5 |∇_α L_train|`, and
/// `|∇_α L_train|` is within a factor of a few of the Hessian-vector product here: both stay
/// below 1e-4 of the term, ten times under the tolerance (measured: 1.3e-5). A missing term
/// misses by 100 %, a wrong sign by 200 %, a factor-2 error in `lr` or `ε` by 50 % or more.
/// The test also checks that the term is not negligible (at least 5 % of the gradient; it
/// is 24 %), so that the comparison can fail.
///
/// On the tiny ReLU supernet (NB201, C=4) the same comparison is off by 8.6 times the term
/// (`|fd - exact| = 1.11`, term `0.13`): the weight perturbation of norm 0.01 switches ReLUs,
/// and the gradient jumps there; autograd's Hessian is that of the local linear piece.
#[test]
fn darts_second_order_gradient_matches_the_exact_unrolled_gradient() {
    let net = SmoothSupernet::new();
    let data = search_data();
    let (xt, yt) = batch(&data.train, 24);
    let (xv, yv) = batch(&data.val, 24);
    let alpha = some_alpha(net.num_edges(), net.candidates().len());
    // A large learning rate makes the second-order term a sizeable part of the gradient.
    let (lr, wd) = (0.5, 3e-4);
    let fd = darts2_alpha_gradient(&net, &alpha, (&xt, &yt), (&xv, &yv), lr, wd, DARTS_FD_SCALE);

    // The exact unrolled gradient.
    let ws = net.var_store().trainable_variables();
    let w0: Vec<Tensor> = tch::no_grad(|| ws.iter().map(|w| w.copy()).collect());
    let a = alpha.detach();
    let loss = mixed_loss(&net, &a, &xt, &yt);
    let g = Tensor::run_backward(&[&loss], &ws, false, false);
    tch::no_grad(|| {
        for (w, g) in ws.iter().zip(&g) {
            // The `none` candidate's weights are never read: no gradient, no step.
            if g.defined() {
                let mut w = w.shallow_clone();
                let _ = w.g_sub_(&((g + &w * wd) * lr));
            }
        }
    });
    let a = alpha.detach().set_requires_grad(true);
    let vloss = mixed_loss(&net, &a, &xv, &yv);
    let mut inputs = vec![a.shallow_clone()];
    inputs.extend(ws.iter().map(|w| w.shallow_clone()));
    let gv = Tensor::run_backward(&[&vloss], &inputs, false, false);
    let first_order = gv[0].shallow_clone();
    let v: Vec<Tensor> = gv[1..].iter().map(|t| t.shallow_clone()).collect();
    tch::no_grad(|| {
        for (w, w0) in ws.iter().zip(&w0) {
            w.shallow_clone().copy_(w0);
        }
    });
    let a = alpha.detach().set_requires_grad(true);
    let loss = mixed_loss(&net, &a, &xt, &yt);
    let gw = Tensor::run_backward(&[&loss], &ws, true, true);
    let mut dot: Option<Tensor> = None;
    for (g, v) in gw.iter().zip(&v) {
        if g.defined() && v.defined() {
            let term = (g * v).sum(Kind::Float);
            dot = Some(match dot {
                None => term,
                Some(d) => d + term,
            });
        }
    }
    let hvp = Tensor::run_backward(&[&dot.unwrap()], &[&a], false, false).remove(0);
    let second_order = &hvp * lr;
    let exact = &first_order - &second_order;

    // The weights are back where they were.
    for (w, w0) in ws.iter().zip(&w0) {
        assert_eq!(norm(&(w - w0)), 0.0);
    }
    let err = norm(&(&fd - &exact));
    let term = norm(&second_order);
    let whole = norm(&exact);
    eprintln!(
        "|fd - exact| = {err:.3e}, |second-order term| = {term:.3e}, |gradient| = {whole:.3e}"
    );
    assert!(
        term >= 0.05 * whole,
        "the second-order term is too small to test: {term} vs {whole}"
    );
    assert!(
        err <= 1e-3 * term,
        "finite-difference gradient off by {err} (second-order term {term})"
    );
}

/// The exact Hessian of the validation loss in alpha (`[E*O, E*O]`), by double
/// back-propagation, one row per entry of alpha.
fn exact_hessian<N: Supernet>(net: &N, alpha: &Tensor, x: &Tensor, y: &Tensor) -> Tensor {
    let a = alpha.detach().set_requires_grad(true);
    let loss = mixed_loss(net, &a, x, y);
    let g = Tensor::run_backward(&[&loss], &[&a], true, true)
        .remove(0)
        .view([-1]);
    let n = g.size()[0];
    let rows: Vec<Tensor> = (0..n)
        .map(|i| {
            Tensor::run_backward(&[&g.get(i)], &[&a], true, false)
                .remove(0)
                .view([-1])
                .to_kind(Kind::Double)
        })
        .collect();
    let h = Tensor::stack(&rows, 0);
    (&h + h.tr()) / 2.0
}

/// The dominant eigenvalue (largest magnitude) and the runner-up of a symmetric matrix.
fn top_two(h: &Tensor) -> (f64, f64, Vec<f64>) {
    let eig = values(&h.linalg_eigvalsh("L"));
    let mut by_size = eig.clone();
    by_size.sort_by(|a, b| b.abs().total_cmp(&a.abs()));
    (by_size[0], by_size[1], eig)
}

/// The collapse diagnostic's power iteration on finite-difference Hessian-vector products,
/// on a quadratic with a known spectrum: `L(a) = ½ aᵀ A a + bᵀ a`, `A = Q diag(λ) Qᵀ` with
/// `λ = 2, -1.2, 0.9, ...` (30 values, the size of NB201's alpha) and `Q` a random rotation.
/// The central difference of a quadratic's gradient is exact up to float32 rounding
/// (`~1e-6 |∇L| / 2r`, `r = 0.01`, about 1e-4 here); 60 iterations shrink the runner-up's
/// share by `0.6^60 < 1e-13`. Tolerance: 0.1 % of `λ₁`.
#[test]
fn power_iteration_finds_the_dominant_eigenvalue_of_a_known_spectrum() {
    let n = 30;
    let mut rng = Rng::new(21);
    let m: Vec<f64> = (0..n * n).map(|_| rng.normal()).collect();
    let (q, _) = Tensor::linalg_qr(
        &Tensor::from_slice(&m).view([n as i64, n as i64]),
        "reduced",
    );
    let lambdas: Vec<f64> = (0..n)
        .map(|i| match i {
            0 => 2.0,
            1 => -1.2,
            _ => 0.9 * (-1f64).powi(i) / (i as f64 - 1.0),
        })
        .collect();
    let a_mat = q
        .matmul(&Tensor::from_slice(&lambdas).diag(0))
        .matmul(&q.tr());
    let a_mat = a_mat.to_kind(Kind::Float);
    let b: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    let b = Tensor::from_slice(&b).view([6, 5]);
    let grad_at = |a: &Tensor| a_mat.mv(&a.view([-1])).view([6, 5]) + &b;
    let a0 = some_alpha(6, 5);
    let lambda = fd_power_iteration(&grad_at, &a0, 60, HESSIAN_FD_STEP, &mut Rng::new(5));
    eprintln!("known dominant 2, power iteration {lambda:.6}");
    assert!((lambda - 2.0).abs() <= 2e-3, "{lambda}");
}

/// The Hessian eigenvalue of the validation loss in alpha, as the search measures it (the
/// library's function, `r = 0.01`, float32), against the eigenvalues of the exact Hessian
/// built by double back-propagation, on the smooth supernet. The finite difference errs by
/// `r²/6` times a third derivative (`~2e-5` relative) plus float32 rounding of the gradients
/// divided by `2r` (`~1e-6 |∇L| / 0.02`, below 1e-4 of `λ₁` here); 100 iterations shrink the
/// runner-up's share by `(λ₂/λ₁)^100` (`0.95^100 = 0.006` here). Tolerance: 1 % of `|λ₁|`,
/// checked to be smaller than the gap to the runner-up eigenvalue so that converging to the
/// wrong one fails (measured: equal to 6 digits). On the tiny ReLU supernet the estimate with
/// `r = 0.01` is `-1.16` against an exact dominant `0.129`, for the reason given at
/// [`SmoothSupernet`]: the collapse diagnostic measures the curvature seen at that scale.
#[test]
fn hessian_eigenvalue_matches_the_exact_hessian() {
    let net = SmoothSupernet::new();
    let data = search_data();
    let (x, y) = batch(&data.val, 24);
    let alpha = some_alpha(net.num_edges(), net.candidates().len());
    let (l1, l2, eig) = top_two(&exact_hessian(&net, &alpha, &x, &y));
    let lambda = hessian_eigenvalue(&net, &alpha, &x, &y, 100, HESSIAN_FD_STEP, &mut Rng::new(5));
    eprintln!("exact dominant {l1:.6}, runner-up {l2:.6}, power iteration {lambda:.6}");
    let tol = 0.01 * l1.abs();
    assert!(
        (l1.abs() - l2.abs()) > 2.0 * tol,
        "eigenvalues too close to tell apart: {l1} {l2}"
    );
    assert!(
        (lambda - l1).abs() <= tol,
        "power iteration {lambda}, exact dominant eigenvalue {l1} (all: {eig:?})"
    );
}

/// Records what a search reports.
#[derive(Default)]
struct Recorder {
    params: Vec<(u32, Vec<f64>)>,
    epochs: Vec<EpochReport>,
}

impl SearchObserver for Recorder {
    fn epoch(&mut self, report: &EpochReport, _edges: &[String], _ops: &[String]) {
        self.epochs.push(report.clone());
    }

    fn arch_params(&mut self, epoch: u32, values: &[f64]) {
        self.params.push((epoch, values.to_vec()));
    }
}

fn max_change(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Runs `cfg` on the tiny supernet; returns the recorder, the outcome's arch string and the
/// largest change of any shared weight.
fn run(cfg: &SearchConfig) -> (Recorder, String, f64) {
    let mut net = nb201_supernet(cfg, &shape(), Device::Cpu).unwrap();
    let before: Vec<Vec<f64>> = net
        .var_store()
        .trainable_variables()
        .iter()
        .map(values)
        .collect();
    let mut rec = Recorder::default();
    let out = search(&mut net, &search_data(), cfg, &mut rec).unwrap();
    let after: Vec<Vec<f64>> = net
        .var_store()
        .trainable_variables()
        .iter()
        .map(values)
        .collect();
    let change = before
        .iter()
        .zip(&after)
        .map(|(a, b)| max_change(a, b))
        .fold(0.0, f64::max);
    assert!(after.iter().flatten().all(|v| v.is_finite()));
    assert_eq!(out.epochs.len(), cfg.epochs as usize);
    for e in &out.epochs {
        assert!(e.train_loss.is_finite() && e.train_accuracy.is_finite());
        for row in &e.probs {
            let s: f64 = row.iter().sum();
            assert!(row.iter().all(|p| p.is_finite() && *p >= 0.0));
            assert!((s - 1.0).abs() < 1e-3, "{row:?}");
        }
    }
    (rec, out.arch_string, change)
}

/// The architecture parameters were recorded before training and after each epoch, are
/// finite, and changed from the first to the last.
fn assert_params_changed(rec: &Recorder, epochs: u32) {
    let seen: Vec<u32> = rec.params.iter().map(|p| p.0).collect();
    assert_eq!(seen, (0..=epochs).collect::<Vec<_>>());
    for (e, v) in &rec.params {
        assert!(
            !v.is_empty() && v.iter().all(|x| x.is_finite()),
            "epoch {e}"
        );
    }
    let change = max_change(&rec.params[0].1, &rec.params.last().unwrap().1);
    assert!(
        change > 1e-5,
        "the architecture parameters did not move ({change})"
    );
}

fn assert_validation_reported(rec: &Recorder, from_epoch: u32) {
    for e in &rec.epochs {
        if e.epoch >= from_epoch {
            let (l, a) = (e.val_loss.unwrap(), e.val_accuracy.unwrap());
            assert!(l.is_finite() && (0.0..=100.0).contains(&a), "{e:?}");
        }
    }
}

#[test]
fn darts_first_order_learns_alpha() {
    let mut cfg = tiny_config(Method::Darts, 2);
    cfg.hessian_iters = 2;
    let (rec, arch, change) = run(&cfg);
    assert_params_changed(&rec, 2);
    assert_validation_reported(&rec, 1);
    assert!(change > 0.0);
    assert!(
        rec.epochs
            .iter()
            .all(|e| e.collapse.hessian_eigenvalue.is_some_and(f64::is_finite))
    );
    assert!(arch.starts_with('|'), "{arch}");
}

#[test]
fn darts_second_order_learns_alpha() {
    let mut cfg = tiny_config(Method::Darts2, 2);
    cfg.hessian_iters = 0;
    let (rec, _, change) = run(&cfg);
    assert_params_changed(&rec, 2);
    assert_validation_reported(&rec, 1);
    assert!(change > 0.0);
}

#[test]
fn gdas_learns_alpha() {
    let mut cfg = tiny_config(Method::Gdas, 2);
    cfg.hessian_iters = 0;
    let (rec, _, change) = run(&cfg);
    assert_params_changed(&rec, 2);
    assert_validation_reported(&rec, 1);
    assert!(change > 0.0);
    assert!(rec.epochs.iter().all(|e| e.tau.is_some()));
}

/// PC-DARTS learns alpha and beta after its warm-up; during the warm-up they stay as they
/// were and the epoch reports no validation (it had none), instead of a NaN.
#[test]
fn pc_darts_warms_up_then_learns_alpha_and_beta_without_nan_validation() {
    let mut cfg = tiny_config(Method::PcDarts, 3);
    cfg.warmup_epochs = 1;
    cfg.partial_channels = 2;
    cfg.hessian_iters = 0;
    let (rec, _, change) = run(&cfg);
    assert_params_changed(&rec, 3);
    assert!(change > 0.0);
    // alpha (6 edges x 5 ops) and beta (6 edges).
    assert_eq!(rec.params[0].1.len(), 6 * 5 + 6);
    assert_eq!(
        max_change(&rec.params[0].1, &rec.params[1].1),
        0.0,
        "alpha moved during the warm-up"
    );
    let warm = &rec.epochs[0];
    assert_eq!((warm.val_loss, warm.val_accuracy), (None, None), "{warm:?}");
    assert_validation_reported(&rec, 2);
    // The JSON of a warm-up epoch has null, not NaN (which serde_json would also write as
    // null, but the value in memory was a NaN before).
    let json = serde_json::to_value(warm).unwrap();
    assert!(json["val_loss"].is_null());
}

#[test]
fn spos_trains_the_shared_weights_and_evolves_candidates() {
    let mut cfg = tiny_config(Method::Spos, 2);
    cfg.spos.queries = 6;
    cfg.spos.population = 4;
    cfg.spos.sample_size = 2;
    cfg.spos.calibration_batches = 1;
    cfg.spos.eval_batches = 1;
    let mut net = nb201_supernet(&cfg, &shape(), Device::Cpu).unwrap();
    let before = values(&net.var_store().trainable_variables()[0]);
    let mut rec = Recorder::default();
    let out = search(&mut net, &search_data(), &cfg, &mut rec).unwrap();
    let after = values(&net.var_store().trainable_variables()[0]);
    assert!(max_change(&before, &after) > 0.0);
    // SPOS samples uniformly: no architecture parameters, no validation pass per epoch.
    assert!(rec.params.is_empty());
    assert!(rec.epochs.iter().all(|e| e.val_loss.is_none()));
    assert_eq!(out.candidates.len(), 6);
    assert!(
        out.candidates
            .iter()
            .all(|(_, acc)| (0.0..=100.0).contains(acc))
    );
    let distinct: std::collections::HashSet<&String> =
        out.candidates.iter().map(|c| &c.0).collect();
    assert!(distinct.len() > 1, "{:?}", out.candidates);
    assert!(out.candidates.iter().any(|c| c.0 == out.arch_string));
}

#[test]
fn enas_trains_its_controller() {
    let mut cfg = tiny_config(Method::Enas, 2);
    cfg.enas.controller_steps = 3;
    cfg.enas.aggregate = 2;
    cfg.enas.derive_samples = 4;
    cfg.enas.eval_batches = 1;
    let (rec, arch, change) = run(&cfg);
    assert_params_changed(&rec, 2);
    assert_validation_reported(&rec, 1);
    assert!(change > 0.0);
    assert!(arch.starts_with('|'), "{arch}");
}
