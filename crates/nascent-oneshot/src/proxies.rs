//! Zero-cost proxies: scores of an architecture computed at initialisation from one minibatch,
//! without training, that rank architectures roughly as their trained accuracy does.
//!
//! The definitions follow the papers and their reference code:
//!
//! * `synflow` (Tanaka et al. 2020, as a proxy in Abdelfattah et al. 2021): every weight and
//!   buffer made positive (`|θ|`), the network in double precision with batch normalisation
//!   turned off (a fresh network in evaluation mode: running mean 0, variance 1, so each BN is
//!   the identity up to `1/sqrt(1 + eps)`), one all-ones input; the score is
//!   `Σ |θ ⊙ ∂R/∂θ|` over convolution and linear weights, `R` the sum of the outputs.
//! * `naswot` (Mellor et al. 2021, v2, as their code and NASLib's compute it): the binary
//!   code `c` of the units of every ReLU module applied in the forward pass (one code per
//!   application: every edge's own ReLU inside its ReLU-Conv-BN counts, even where the graph
//!   computes one ReLU for several edges reading the same node, and so do the ReLUs of layers
//!   whose result cannot reach the output, which PyTorch computes), the kernel
//!   `K = Σ_relus c cᵀ + (1 - c)(1 - c)ᵀ` (`N_A - d_H`: units minus the Hamming distance
//!   between two images' codes), the score `log |det K|`. See [`relu_modules`].
//! * `zico` (Li et al., ICLR 2023, as their code computes it): the minibatch split in
//!   [`ZICO_SPLITS`] parts, the cross-entropy gradient `g` of every convolution and linear
//!   weight on each part; the score is `Σ_layers log Σ_θ mean_parts|g_θ| / std_parts(g_θ)`
//!   over the weights whose gradient varies between parts (population standard deviation;
//!   a layer whose sum is 0 is left out).
//! * `meco` (Jiang et al., NeurIPS 2023, as their code computes it): one image (the batch's
//!   first) through the network in training mode; for every layer's feature map `[C, H, W]`
//!   (convolution, batch normalisation, ReLU, pooling; a ReLU once per module applying it, as
//!   NASWOT), the Pearson correlation matrix of its `C` channels over the `H W` positions (NaN
//!   entries, from constant channels, set to 0) and its smallest eigenvalue; the score is their
//!   sum. The reference hooks every PyTorch module, containers included, so it also counts
//!   some maps twice (an `nn.Sequential` and its last layer); here each layer counts once.
//! * `jacob_cov` (Mellor et al. v1): the Jacobian of the summed outputs w.r.t. each input
//!   image, its correlation matrix over the batch with eigenvalues `λ`, the score
//!   `-Σ log(λ + k) + 1/(λ + k)`, `k = 1e-5`.
//! * `snip` (Lee et al. 2019): `Σ |θ ⊙ ∂L/∂θ|`, `L` the cross-entropy of the minibatch,
//!   batch normalisation in training mode (as in every proxy below).
//! * `grad_norm`: the sum over layers of `‖∂L/∂θ‖₂`.
//! * `fisher` (Turner et al. 2020): for every convolution and linear output `a` with gradient
//!   `g`, per channel `½ mean_batch (Σ_space a g)²`, summed.
//! * `grasp` (Wang et al. 2020): `-Σ θ ⊙ (H g)`, `g = ∂L/∂θ` and `H g` the Hessian-gradient
//!   product (double back-propagation).
//! * `params` and `flops`: trainable parameters and multiply-accumulates per image.
//!
//! The sums above run over the weights of convolution and linear layers (4-D and 2-D weights),
//! as in the reference code. `snip`, `grad_norm` and `fisher` share one forward and backward
//! pass; every other proxy has its own, on a freshly built network initialised from the seed,
//! so every score is deterministic and independent of which others are computed.
//!
//! An architecture whose cell is disconnected (all `none`) gets degenerate scores: zeros for
//! the gradient proxies, `-inf` for `naswot` (a singular kernel) and `NaN` for `jacob_cov`.
//! [`spearman`] ranks non-finite scores lowest.

pub use nascent_core::stats::{ranks, spearman};
use nascent_core::{Budget, Error, Evaluation, Evaluator, Metrics, Outcome, Reporter, Result};
use nascent_train::data::Dataset;
use nascent_train::graph::{Graph, NodeOp};
use nascent_train::{Builder, Model, NetSpec};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// A zero-cost proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proxy {
    /// Synaptic flow with absolute weights and an all-ones input.
    Synflow,
    /// NASWOT: log-determinant of the binary activation-code kernel.
    Naswot,
    /// Jacobian covariance score.
    JacobCov,
    /// SNIP saliency `|θ g|`.
    Snip,
    /// Sum of per-layer gradient norms.
    GradNorm,
    /// Fisher information of the activations.
    Fisher,
    /// GraSP: `-θ H g`.
    Grasp,
    /// Trainable parameters.
    Params,
    /// Multiply-accumulates per image.
    Flops,
    /// ZiCo: inverse coefficient of variation of the gradients.
    Zico,
    /// MeCo: smallest eigenvalues of the feature maps' channel correlations.
    Meco,
}

impl Proxy {
    /// Every proxy, in the order they are reported.
    pub const ALL: [Proxy; 11] = [
        Proxy::Synflow,
        Proxy::Naswot,
        Proxy::Zico,
        Proxy::Meco,
        Proxy::JacobCov,
        Proxy::Snip,
        Proxy::GradNorm,
        Proxy::Fisher,
        Proxy::Grasp,
        Proxy::Params,
        Proxy::Flops,
    ];

    /// The name (also the metric's name).
    pub fn name(self) -> &'static str {
        match self {
            Proxy::Synflow => "synflow",
            Proxy::Naswot => "naswot",
            Proxy::JacobCov => "jacob_cov",
            Proxy::Snip => "snip",
            Proxy::GradNorm => "grad_norm",
            Proxy::Fisher => "fisher",
            Proxy::Grasp => "grasp",
            Proxy::Params => "params",
            Proxy::Flops => "flops",
            Proxy::Zico => "zico",
            Proxy::Meco => "meco",
        }
    }

    /// Parses a comma-separated list (`all` for every proxy); duplicates are dropped.
    pub fn parse_list(s: &str) -> Result<Vec<Proxy>> {
        let mut out = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item.eq_ignore_ascii_case("all") {
                for p in Proxy::ALL {
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
                continue;
            }
            let p: Proxy = item.parse()?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.is_empty() {
            return Err(Error::config("proxies", "no proxy named"));
        }
        Ok(out)
    }

    /// The pass that computes it (proxies of one pass share it).
    fn pass(self) -> Pass {
        match self {
            Proxy::Synflow => Pass::Synflow,
            Proxy::Naswot => Pass::Naswot,
            Proxy::JacobCov => Pass::Jacobian,
            Proxy::Snip | Proxy::GradNorm | Proxy::Fisher => Pass::LossGradient,
            Proxy::Grasp => Pass::Grasp,
            Proxy::Params | Proxy::Flops => Pass::Counts,
            Proxy::Zico => Pass::Zico,
            Proxy::Meco => Pass::Meco,
        }
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Proxy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        let key = match key.as_str() {
            "nwot" | "nas_wot" => "naswot",
            "jacov" | "jacobcov" => "jacob_cov",
            "gradnorm" => "grad_norm",
            "macs" => "flops",
            other => other,
        };
        Proxy::ALL
            .into_iter()
            .find(|p| p.name() == key)
            .ok_or_else(|| {
                let names: Vec<&str> = Proxy::ALL.iter().map(|p| p.name()).collect();
                Error::unknown("proxy", s, &names)
            })
    }
}

/// The passes over the network, each computing one or more proxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pass {
    Counts,
    Synflow,
    Naswot,
    Jacobian,
    LossGradient,
    Grasp,
    Zico,
    Meco,
}

/// The minibatch the proxies see: normalised images and their labels, kept as plain vectors
/// (the evaluator is shared between threads).
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyBatch {
    /// `[n, c, h, w]` values, normalised per channel.
    pub images: Vec<f32>,
    /// `[c, h, w]`.
    pub shape: [usize; 3],
    /// Class labels.
    pub labels: Vec<i64>,
    /// Number of classes of the data.
    pub classes: usize,
}

impl ProxyBatch {
    /// `batch` images drawn from `data` with `seed` (all of them when it holds fewer), each
    /// channel normalised with the mean and standard deviation of `data`.
    pub fn sample(data: &Dataset, batch: usize, seed: u64) -> Result<Self> {
        if batch < 2 {
            return Err(Error::config("batch", "must be at least 2"));
        }
        if data.is_empty() {
            return Err(Error::config("data", "holds no images"));
        }
        let mut rng = nascent_core::Rng::new(seed);
        let idx = rng.sample_indices(data.len(), batch);
        let norm = data.channel_stats();
        let shape = data.shape();
        let per = data.sample_len();
        let plane = shape[1] * shape[2];
        let mut images = vec![0f32; idx.len() * per];
        for (k, &i) in idx.iter().enumerate() {
            let out = &mut images[k * per..(k + 1) * per];
            data.write_sample(i, out);
            for (c, chunk) in out.chunks_mut(plane).enumerate() {
                let (m, s) = (norm.mean[c], norm.std[c]);
                for v in chunk {
                    *v = (*v - m) / s;
                }
            }
        }
        Ok(ProxyBatch {
            images,
            shape,
            labels: idx.iter().map(|&i| data.labels()[i]).collect(),
            classes: data.classes(),
        })
    }

    /// Images in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn tensors(&self, device: Device) -> (Tensor, Tensor) {
        let [c, h, w] = self.shape;
        let x = Tensor::from_slice(&self.images)
            .view([self.len() as i64, c as i64, h as i64, w as i64])
            .to_device(device);
        let y = Tensor::from_slice(&self.labels).to_device(device);
        (x, y)
    }
}

/// The scores of one architecture, with the seconds each took.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyScores {
    /// Score of each proxy computed.
    pub scores: BTreeMap<Proxy, f64>,
    /// Seconds each proxy took: the building of its network and its pass (proxies that share
    /// a pass are each charged the whole pass, what computing them alone would cost).
    pub seconds: BTreeMap<Proxy, f64>,
}

/// Held while a network is seeded and initialised.
static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Computes zero-cost proxies of architectures of one space.
pub struct ProxyComputer<A> {
    builder: Arc<dyn Builder<A>>,
    spec: NetSpec,
    batch: ProxyBatch,
    proxies: Vec<Proxy>,
    seed: u64,
    device: Device,
}

impl<A> fmt::Debug for ProxyComputer<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyComputer")
            .field("spec", &self.spec)
            .field("batch", &self.batch.len())
            .field("proxies", &self.proxies)
            .field("seed", &self.seed)
            .finish()
    }
}

impl<A> ProxyComputer<A> {
    /// Proxies of networks built by `builder` for `spec` (its input shape and classes must be
    /// the batch's), on `batch`, initialised from `seed`, on the CPU.
    pub fn new(
        builder: Arc<dyn Builder<A>>,
        spec: NetSpec,
        batch: ProxyBatch,
        proxies: Vec<Proxy>,
        seed: u64,
    ) -> Result<Self> {
        let [c, h, w] = batch.shape;
        if spec.in_channels != c as i64 || spec.resolution != h as i64 || h != w {
            return Err(Error::config(
                "batch",
                format!(
                    "images of shape {c}x{h}x{w} do not fit a network for {}x{}x{} inputs",
                    spec.in_channels, spec.resolution, spec.resolution
                ),
            ));
        }
        if batch.labels.iter().any(|&l| l < 0 || l >= spec.classes) {
            return Err(Error::config(
                "batch",
                format!("a label is outside 0..{}", spec.classes),
            ));
        }
        if proxies.is_empty() {
            return Err(Error::config("proxies", "no proxy named"));
        }
        Ok(ProxyComputer {
            builder,
            spec,
            batch,
            proxies,
            seed,
            device: Device::Cpu,
        })
    }

    /// Runs on `device` instead of the CPU.
    pub fn on(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// The proxies it computes.
    pub fn proxies(&self) -> &[Proxy] {
        &self.proxies
    }

    /// The network it builds.
    pub fn spec(&self) -> &NetSpec {
        &self.spec
    }

    fn model(&self, arch: &A) -> Result<Model> {
        // tch's generator is global: seeding and initialising under one lock keeps the
        // weights a function of the seed when several threads build networks here.
        let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        tch::manual_seed(self.seed as i64);
        Model::new(self.builder.as_ref(), arch, self.spec.clone(), self.device)
            .map_err(|e| Error::Other(e.to_string()))
    }

    /// Computes the proxies of `arch`.
    pub fn compute(&self, arch: &A) -> Result<ProxyScores> {
        let mut passes: Vec<Pass> = self.proxies.iter().map(|p| p.pass()).collect();
        passes.sort();
        passes.dedup();
        let mut out = ProxyScores::default();
        for pass in passes {
            let start = Instant::now();
            let model = self.model(arch)?;
            let graph = model
                .net
                .graph()
                .ok_or_else(|| Error::Other("the network does not describe itself".into()))?;
            let scores: Vec<(Proxy, f64)> = match pass {
                Pass::Counts => vec![
                    (Proxy::Params, graph.param_count() as f64),
                    (Proxy::Flops, graph.macs() as f64),
                ],
                Pass::Synflow => vec![(Proxy::Synflow, synflow(graph, &self.batch, self.device)?)],
                Pass::Naswot => vec![(Proxy::Naswot, naswot(graph, &self.batch, self.device)?)],
                Pass::Jacobian => {
                    vec![(Proxy::JacobCov, jacob_cov(graph, &self.batch, self.device)?)]
                }
                Pass::LossGradient => {
                    let fisher = self.proxies.contains(&Proxy::Fisher);
                    let s = loss_gradient(graph, &self.batch, self.device, fisher)?;
                    let mut v = vec![(Proxy::Snip, s.snip), (Proxy::GradNorm, s.grad_norm)];
                    if let Some(f) = s.fisher {
                        v.push((Proxy::Fisher, f));
                    }
                    v
                }
                Pass::Grasp => vec![(Proxy::Grasp, grasp(graph, &self.batch, self.device)?)],
                Pass::Zico => vec![(Proxy::Zico, zico(graph, &self.batch, self.device)?)],
                Pass::Meco => vec![(Proxy::Meco, meco(graph, &self.batch, self.device)?)],
            };
            let secs = start.elapsed().as_secs_f64();
            for (p, v) in scores {
                if self.proxies.contains(&p) {
                    out.scores.insert(p, v);
                    out.seconds.insert(p, secs);
                }
            }
        }
        Ok(out)
    }
}

/// Convolution and linear weights (4-D and 2-D trainable tensors) of a graph.
fn layer_weights(graph: &Graph) -> Vec<Tensor> {
    graph
        .params()
        .iter()
        .filter(|p| p.trainable && matches!(p.tensor.dim(), 2 | 4))
        .map(|p| p.tensor.shallow_clone())
        .collect()
}

fn tch_err(what: &str, e: tch::TchError) -> Error {
    Error::Other(format!("{what}: {e}"))
}

/// Gradients of the scalar `loss` w.r.t. `inputs` (undefined for inputs it does not reach).
fn grads(loss: &Tensor, inputs: &[Tensor], create_graph: bool, what: &str) -> Result<Vec<Tensor>> {
    Tensor::f_run_backward(&[loss], inputs, create_graph, create_graph)
        .map_err(|e| tch_err(what, e))
}

fn scalar(t: &Tensor) -> f64 {
    t.to_kind(Kind::Double).double_value(&[])
}

/// Synflow: see the module docs.
fn synflow(graph: &Graph, batch: &ProxyBatch, device: Device) -> Result<f64> {
    tch::no_grad(|| {
        for p in graph.params() {
            let mut t = p.tensor.shallow_clone();
            t.set_data(&p.tensor.abs().to_kind(Kind::Double));
        }
    });
    let [c, h, w] = batch.shape;
    let x = Tensor::ones([1, c as i64, h as i64, w as i64], (Kind::Double, device));
    let out = graph.forward(&x, false).0;
    let r = out.sum(Kind::Double);
    let ws = layer_weights(graph);
    let gs = grads(&r, &ws, false, "synflow")?;
    Ok(tch::no_grad(|| {
        ws.iter()
            .zip(&gs)
            .filter(|(_, g)| g.defined())
            .map(|(w, g)| scalar(&(w * g).abs().sum(Kind::Double)))
            .sum()
    }))
}

/// How many ReLU modules of the PyTorch network each node of `graph` stands for: 0 for a node
/// that is no ReLU; for a ReLU, the number of nodes reading it, not counting the shifted
/// branch (`Crop`) of a factorized reduce, which reads the ReLU its first convolution reads
/// (one module). The graph computes the ReLU of a value once for every edge reading that
/// value (`GraphBuilder::relu`); PyTorch code applies each edge's own ReLU module, so NASWOT
/// and MeCo count a ReLU once per module.
pub fn relu_modules(graph: &Graph) -> Vec<usize> {
    let nodes = graph.nodes();
    let mut count = vec![0usize; nodes.len()];
    for node in nodes {
        if matches!(node.op, NodeOp::Crop { .. }) {
            continue;
        }
        for v in &node.inputs {
            if nodes[v.index()].op == NodeOp::Relu {
                count[v.index()] += 1;
            }
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        if node.op == NodeOp::Relu {
            count[i] = count[i].max(1);
        }
    }
    count
}

/// NASWOT's kernel on binary codes `c` (`[n, units]`, 0 or 1): `c cᵀ + (1 - c)(1 - c)ᵀ`,
/// the number of units where two images agree (`units` minus their Hamming distance).
pub fn naswot_kernel(c: &Tensor) -> Tensor {
    let c = c.to_kind(Kind::Float);
    let units = c.size()[1] as f64;
    // c cᵀ + (1 - c)(1 - c)ᵀ = 2 c cᵀ - r 1ᵀ - 1 rᵀ + units, r the row sums.
    let cc = c.mm(&c.tr()).to_kind(Kind::Double);
    let r = c.sum_dim_intlist(1, false, Kind::Double);
    cc * 2.0 - r.unsqueeze(1) - r.unsqueeze(0) + units
}

/// NASWOT: see the module docs.
pub fn naswot(graph: &Graph, batch: &ProxyBatch, device: Device) -> Result<f64> {
    let (x, _) = batch.tensors(device);
    let n = batch.len() as i64;
    let modules = relu_modules(graph);
    tch::no_grad(|| {
        let mut k = Tensor::zeros([n, n], (Kind::Double, device));
        let _ = graph.forward_observed_all(&x, true, &mut |i, node, t| {
            if node.op == NodeOp::Relu {
                let c = t.view([n, -1]).gt(0.0);
                k += naswot_kernel(&c) * modules[i] as f64;
            }
        });
        let (_, logabsdet) = Tensor::linalg_slogdet(&k);
        Ok(scalar(&logabsdet))
    })
}

/// The minibatch parts ZiCo compares the gradients of (its code's default: 2).
pub const ZICO_SPLITS: usize = 2;

/// ZiCo from per-part gradients: `parts[p][l]` is the flattened gradient of layer `l` on part
/// `p` (`None` where the layer got none). See the module docs.
pub fn zico_from_gradients(parts: &[Vec<Option<Tensor>>]) -> f64 {
    let layers = parts.first().map_or(0, |p| p.len());
    let mut score = 0.0;
    for l in 0..layers {
        let gs: Vec<Tensor> = parts
            .iter()
            .filter_map(|p| p[l].as_ref().map(|g| g.to_kind(Kind::Double).view([-1])))
            .collect();
        if gs.len() < 2 || gs.len() != parts.len() {
            continue;
        }
        let g = Tensor::stack(&gs, 0);
        let std = g.std_correction(&[0i64][..], 0, false);
        let mean_abs = g.abs().mean_dim(&[0i64][..], false, Kind::Double);
        let nonzero = std.ne(0.0);
        let ratio = mean_abs.masked_select(&nonzero) / std.masked_select(&nonzero);
        let sum = scalar(&ratio.sum(Kind::Double));
        if sum != 0.0 && sum.is_finite() {
            score += sum.ln();
        }
    }
    score
}

/// ZiCo: see the module docs.
pub fn zico(graph: &Graph, batch: &ProxyBatch, device: Device) -> Result<f64> {
    let (x, y) = batch.tensors(device);
    let n = batch.len() as i64;
    let splits = ZICO_SPLITS as i64;
    if n < splits {
        return Err(Error::config(
            "batch",
            format!("zico needs at least {splits} images"),
        ));
    }
    let ws = layer_weights(graph);
    let mut parts = Vec::with_capacity(ZICO_SPLITS);
    for p in 0..splits {
        let (st, en) = (p * n / splits, (p + 1) * n / splits);
        let logits = graph.forward(&x.narrow(0, st, en - st), true).0;
        let loss = logits.cross_entropy_for_logits(&y.narrow(0, st, en - st));
        let gs = grads(&loss, &ws, false, "zico")?;
        parts.push(
            gs.into_iter()
                .map(|g| g.defined().then_some(g))
                .collect::<Vec<_>>(),
        );
    }
    Ok(tch::no_grad(|| zico_from_gradients(&parts)))
}

/// The smallest eigenvalue of the Pearson correlation matrix of the rows of `f` (`[C, P]`:
/// channels over positions), NaN entries (constant channels) set to 0, as MeCo computes it.
pub fn min_correlation_eigenvalue(f: &Tensor) -> Result<f64> {
    let f = f.to_kind(Kind::Double);
    if f.size()[0] < 2 {
        return Ok(0.0);
    }
    let corr = f.corrcoef().nan_to_num(0.0, 0.0, 0.0);
    let v = corr
        .f_linalg_eigvalsh("L")
        .map_err(|e| tch_err("meco eigenvalues", e))?;
    Ok(scalar(&v.min()))
}

/// MeCo: see the module docs.
pub fn meco(graph: &Graph, batch: &ProxyBatch, device: Device) -> Result<f64> {
    let (x, _) = batch.tensors(device);
    let x = x.narrow(0, 0, 1);
    let modules = relu_modules(graph);
    tch::no_grad(|| {
        let mut score = 0.0;
        let mut err = None;
        let _ = graph.forward_observed_all(&x, true, &mut |i, node, t| {
            let times = match node.op {
                NodeOp::Relu => modules[i],
                NodeOp::Conv2d { .. }
                | NodeOp::BatchNorm { .. }
                | NodeOp::MaxPool { .. }
                | NodeOp::AvgPool { .. } => 1,
                _ => 0,
            };
            if times == 0 || t.dim() != 4 || err.is_some() {
                return;
            }
            let c = t.size()[1];
            match min_correlation_eigenvalue(&t.view([c, -1])) {
                Ok(v) if v.is_finite() => score += v * times as f64,
                Ok(_) => {}
                Err(e) => err = Some(e),
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(score),
        }
    })
}

/// Jacobian covariance: see the module docs.
fn jacob_cov(graph: &Graph, batch: &ProxyBatch, device: Device) -> Result<f64> {
    let (x, _) = batch.tensors(device);
    let x = x.set_requires_grad(true);
    let out = graph.forward(&x, true).0;
    let r = out.sum(Kind::Float);
    let g = grads(&r, std::slice::from_ref(&x), false, "jacob_cov")?;
    tch::no_grad(|| {
        if !g[0].defined() {
            return Ok(f64::NAN);
        }
        let j = g[0].view([batch.len() as i64, -1]).to_kind(Kind::Double);
        let corr = j.corrcoef();
        if scalar(&corr.isnan().any().to_kind(Kind::Double)) > 0.0 {
            return Ok(f64::NAN);
        }
        let v = corr
            .f_linalg_eigvalsh("L")
            .map_err(|e| tch_err("jacob_cov eigenvalues", e))?;
        let k = 1e-5;
        let v = v + k;
        Ok(-scalar(&(v.log() + v.reciprocal()).sum(Kind::Double)))
    })
}

struct LossGradient {
    snip: f64,
    grad_norm: f64,
    fisher: Option<f64>,
}

/// snip, grad_norm and (optionally) fisher from one cross-entropy forward and backward pass.
fn loss_gradient(
    graph: &Graph,
    batch: &ProxyBatch,
    device: Device,
    with_fisher: bool,
) -> Result<LossGradient> {
    let (x, y) = batch.tensors(device);
    let mut acts: Vec<Tensor> = Vec::new();
    let logits = graph.forward_observed(&x, true, &mut |_, node, t| {
        if with_fisher && matches!(node.op, NodeOp::Conv2d { .. } | NodeOp::Linear { .. }) {
            acts.push(t.shallow_clone());
        }
    });
    let loss = logits.cross_entropy_for_logits(&y);
    let ws = layer_weights(graph);
    let nw = ws.len();
    let mut inputs = ws;
    // Outputs of convolutions on constant-zero inputs (a cell of `none` edges) do not require
    // gradients; they carry no Fisher information.
    inputs.extend(
        acts.iter()
            .filter(|a| a.requires_grad())
            .map(|a| a.shallow_clone()),
    );
    let gs = grads(&loss, &inputs, false, "snip/grad_norm/fisher")?;
    tch::no_grad(|| {
        let mut snip = 0.0;
        let mut grad_norm = 0.0;
        for (w, g) in inputs[..nw].iter().zip(&gs[..nw]) {
            if g.defined() {
                snip += scalar(&(w * g).abs().sum(Kind::Double));
                grad_norm += scalar(&g.to_kind(Kind::Double).norm());
            }
        }
        let fisher = with_fisher.then(|| {
            inputs[nw..]
                .iter()
                .zip(&gs[nw..])
                .filter(|(_, g)| g.defined())
                .map(|(a, g)| {
                    let ag = (a * g).to_kind(Kind::Double);
                    let per = if ag.dim() > 2 {
                        ag.sum_dim_intlist(&[2i64, 3][..], false, Kind::Double)
                    } else {
                        ag
                    };
                    scalar(&(per.square().mean_dim(0, false, Kind::Double) * 0.5).sum(Kind::Double))
                })
                .sum()
        });
        Ok(LossGradient {
            snip,
            grad_norm,
            fisher,
        })
    })
}

/// GraSP: see the module docs. The gradient `g` and the graph of `∂L/∂θ` come from the same
/// pass (the reference runs the identical forward pass twice).
fn grasp(graph: &Graph, batch: &ProxyBatch, device: Device) -> Result<f64> {
    let (x, y) = batch.tensors(device);
    let logits = graph.forward(&x, true).0;
    let loss = logits.cross_entropy_for_logits(&y);
    let ws = layer_weights(graph);
    let gf = grads(&loss, &ws, true, "grasp")?;
    let mut z: Option<Tensor> = None;
    let mut used = Vec::new();
    for (w, g) in ws.iter().zip(&gf) {
        if g.defined() && g.requires_grad() {
            let term = (g * g.detach()).sum(Kind::Float);
            z = Some(match z {
                None => term,
                Some(acc) => acc + term,
            });
            used.push(w.shallow_clone());
        }
    }
    let Some(z) = z else {
        return Ok(0.0);
    };
    let hg = grads(&z, &used, false, "grasp (Hessian-gradient product)")?;
    Ok(tch::no_grad(|| {
        used.iter()
            .zip(&hg)
            .filter(|(_, h)| h.defined())
            .map(|(w, h)| -scalar(&(w * h).sum(Kind::Double)))
            .sum()
    }))
}

/// An [`Evaluator`] that returns the zero-cost proxies of an architecture as metrics (named
/// as [`Proxy::name`]), at no training cost: the cost is the seconds the proxies took.
///
/// Evaluations are serialised by a lock (each already uses the threads libtorch is given).
pub struct ProxyEvaluator<A> {
    computer: ProxyComputer<A>,
    lock: std::sync::Mutex<()>,
}

impl<A> fmt::Debug for ProxyEvaluator<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyEvaluator")
            .field("computer", &self.computer)
            .finish()
    }
}

impl<A> ProxyEvaluator<A> {
    /// An evaluator computing what `computer` computes.
    pub fn new(computer: ProxyComputer<A>) -> Self {
        ProxyEvaluator {
            computer,
            lock: std::sync::Mutex::new(()),
        }
    }
}

impl<A: Send + Sync> Evaluator<A> for ProxyEvaluator<A> {
    fn metrics(&self) -> Vec<String> {
        self.computer
            .proxies
            .iter()
            .map(|p| p.name().to_string())
            .collect()
    }

    fn evaluate(&self, arch: &A, _budget: &Budget, _reporter: &mut dyn Reporter) -> Outcome {
        let start = Instant::now();
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        match self.computer.compute(arch) {
            Ok(s) => {
                let mut metrics = Metrics::new();
                for (p, v) in s.scores {
                    metrics.insert(p.name().to_string(), v);
                }
                Outcome::Complete(Evaluation {
                    metrics,
                    cost_seconds: start.elapsed().as_secs_f64(),
                })
            }
            Err(e) => Outcome::Failed {
                reason: e.to_string(),
                cost_seconds: start.elapsed().as_secs_f64(),
            },
        }
    }
}

// `ProxyComputer` holds a `dyn Builder`, which is `Send + Sync`, and plain data.
#[allow(dead_code)]
fn _assert_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<ProxyEvaluator<nascent_space::Nb201Arch>>();
}
