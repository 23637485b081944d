//! One-shot search: DARTS (first and second order), GDAS, PC-DARTS, SPOS and ENAS on any
//! [`Supernet`].
//!
//! Every method trains the supernet's shared weights with SGD (momentum, weight decay,
//! cosine learning rate, gradient clipping) on training batches. The differentiable methods
//! also learn architecture weights `alpha` with Adam on validation batches (bi-level, as
//! DARTS); SPOS trains with uniformly sampled single paths and then searches with
//! regularized evolution, each candidate scored on the shared weights after recalibrating
//! the batch-norm statistics; ENAS alternates shared-weight training on paths sampled by an
//! LSTM controller with REINFORCE updates of the controller.
//!
//! After every epoch an [`EpochReport`] goes to the [`SearchObserver`]: losses, accuracies,
//! the distribution over ops per edge (softmax of alpha, or the controller's sampling
//! frequencies), the architecture it currently stands for, and the collapse diagnostics
//! ([`Collapse`]): the share of parameter-free and of skip ops in that architecture, and the
//! dominant eigenvalue of the Hessian of the validation loss with respect to alpha (Zela et
//! al., 2020), by power iteration on finite-difference Hessian-vector products.
//!
//! Every random choice flows from the seed: torch's generator (initial weights) is seeded
//! from it, and sampling (paths, Gumbel noise, the controller's choices, the evolution) uses
//! [`nascent_core::Rng`].

mod arch;
mod differentiable;
mod enas;
mod spos;

pub use arch::Adam;
pub use differentiable::{
    DARTS_FD_SCALE, HESSIAN_FD_STEP, darts2_alpha_gradient, fd_power_iteration, hessian_eigenvalue,
};
pub use enas::Controller;
pub use spos::SupernetEvaluator;

use crate::supernet::{
    DartsSupernet, DartsSupernetConfig, Nb201Supernet, Nb201SupernetConfig, Selection, Supernet,
};
use nascent_core::{Error, Result, Rng, SearchSpace, derive_seed};
use nascent_train::data::loader::Batches;
use nascent_train::data::{
    Augment, Batch, DataSplits, Dataset, LoadedData, Loader, LoaderConfig, Normalization,
};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;
use tch::{Device, Kind, Tensor, nn};

/// A one-shot search method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// DARTS, first order: alpha follows the validation gradient at the current weights.
    Darts,
    /// DARTS, second order: the validation gradient after one unrolled weight step, with
    /// the finite-difference Hessian-vector product.
    Darts2,
    /// GDAS: one op per edge sampled by Gumbel-softmax, temperature annealed.
    Gdas,
    /// PC-DARTS: partial channel connections and edge normalisation.
    PcDarts,
    /// SPOS: uniform single-path training, then evolution on the shared weights.
    Spos,
    /// ENAS: an LSTM controller trained with REINFORCE samples the paths.
    Enas,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 6] = [
        Method::Darts,
        Method::Darts2,
        Method::Gdas,
        Method::PcDarts,
        Method::Spos,
        Method::Enas,
    ];

    /// The name the CLI takes.
    pub fn name(self) -> &'static str {
        match self {
            Method::Darts => "darts",
            Method::Darts2 => "darts2",
            Method::Gdas => "gdas",
            Method::PcDarts => "pcdarts",
            Method::Spos => "spos",
            Method::Enas => "enas",
        }
    }

    /// Whether it learns architecture weights by gradient descent.
    pub fn is_differentiable(self) -> bool {
        matches!(
            self,
            Method::Darts | Method::Darts2 | Method::Gdas | Method::PcDarts
        )
    }

    /// Whether its supernet keeps BN running statistics (SPOS recalibrates them per
    /// candidate; the others use batch statistics throughout on NB201).
    pub fn running_stats(self) -> bool {
        self == Method::Spos
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let k = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
        let k = match k.as_str() {
            "darts1" | "dartsv1" => "darts",
            "dartsv2" => "darts2",
            "pcdarts" | "pc" => "pcdarts",
            "rsps" => "spos",
            other => other,
        }
        .to_string();
        Method::ALL
            .into_iter()
            .find(|m| m.name() == k)
            .ok_or_else(|| {
                let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
                Error::unknown("one-shot method", s, &names)
            })
    }
}

/// Settings of the SPOS evolutionary search on the trained supernet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SposConfig {
    /// Candidates evaluated on the shared weights.
    pub queries: usize,
    /// Population of the regularized evolution.
    pub population: usize,
    /// Tournament size.
    pub sample_size: usize,
    /// Training batches that recalibrate the BN statistics of each candidate.
    pub calibration_batches: usize,
    /// Validation batches each candidate is scored on.
    pub eval_batches: usize,
}

impl Default for SposConfig {
    fn default() -> Self {
        SposConfig {
            queries: 100,
            population: 20,
            sample_size: 5,
            calibration_batches: 8,
            eval_batches: 8,
        }
    }
}

/// Settings of the ENAS controller.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnasConfig {
    /// Controller updates per epoch.
    pub controller_steps: usize,
    /// Architectures sampled (and their gradients summed) per controller update.
    pub aggregate: usize,
    /// Adam learning rate of the controller.
    pub lr: f64,
    /// Weight of the entropy bonus.
    pub entropy_weight: f64,
    /// Decay of the reward baseline (an exponential moving average).
    pub baseline_decay: f64,
    /// LSTM width.
    pub hidden: i64,
    /// Logits are `tanh_constant * tanh(logits / temperature)`.
    pub tanh_constant: f64,
    /// See `tanh_constant`.
    pub temperature: f64,
    /// Architectures sampled at the end; the best on the validation batches is returned.
    pub derive_samples: usize,
    /// Validation batches the final samples are scored on.
    pub eval_batches: usize,
}

impl Default for EnasConfig {
    fn default() -> Self {
        EnasConfig {
            controller_steps: 20,
            aggregate: 5,
            lr: 1e-3,
            entropy_weight: 1e-4,
            baseline_decay: 0.95,
            hidden: 32,
            tanh_constant: 2.5,
            temperature: 5.0,
            derive_samples: 50,
            eval_batches: 4,
        }
    }
}

/// Settings of a one-shot search.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchConfig {
    /// The method.
    pub method: Method,
    /// Epochs (passes over the training split).
    pub epochs: u32,
    /// Batch size of training and validation batches.
    pub batch_size: usize,
    /// Initial learning rate of the shared weights (SGD), annealed by a cosine.
    pub lr: f64,
    /// Final learning rate of the cosine.
    pub lr_min: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// SGD weight decay.
    pub weight_decay: f64,
    /// Clip the weights' global gradient norm to this.
    pub grad_clip: f64,
    /// Adam learning rate of alpha.
    pub arch_lr: f64,
    /// Adam weight decay of alpha.
    pub arch_weight_decay: f64,
    /// Adam betas of alpha.
    pub arch_betas: (f64, f64),
    /// Epochs that train the weights only before alpha is updated (PC-DARTS warm-up).
    pub warmup_epochs: u32,
    /// GDAS: initial Gumbel-softmax temperature.
    pub tau_max: f64,
    /// GDAS: final temperature (reached linearly at the last epoch).
    pub tau_min: f64,
    /// PC-DARTS: one channel in this many goes through the mixed ops.
    pub partial_channels: i64,
    /// Power iterations of the Hessian eigenvalue diagnostic after each epoch (0: off).
    pub hessian_iters: usize,
    /// SPOS settings.
    pub spos: SposConfig,
    /// ENAS settings.
    pub enas: EnasConfig,
    /// Seed of the weights, the batches and every sample.
    pub seed: u64,
    /// Torch threads (`None`: one per core).
    pub threads: Option<usize>,
}

impl SearchConfig {
    /// The published settings of `method` (DARTS on CIFAR-10: SGD 0.025 with cosine to
    /// 0.001, momentum 0.9, weight decay 3e-4, clip 5; alpha with Adam 3e-4, betas
    /// (0.5, 0.999), weight decay 1e-3; GDAS: temperature 10 to 0.1; PC-DARTS: K = 4, alpha
    /// learning rate 6e-4, weights-only warm-up for the first 30% of the epochs).
    pub fn for_method(method: Method, epochs: u32) -> Self {
        let mut c = SearchConfig {
            method,
            epochs,
            batch_size: 64,
            lr: 0.025,
            lr_min: 0.001,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            arch_lr: 3e-4,
            arch_weight_decay: 1e-3,
            arch_betas: (0.5, 0.999),
            warmup_epochs: 0,
            tau_max: 10.0,
            tau_min: 0.1,
            partial_channels: 4,
            hessian_iters: 8,
            spos: SposConfig::default(),
            enas: EnasConfig::default(),
            seed: 0,
            threads: None,
        };
        if method == Method::PcDarts {
            c.arch_lr = 6e-4;
            c.warmup_epochs = (epochs * 3) / 10;
        }
        if method == Method::Gdas {
            c.weight_decay = 5e-4;
        }
        if !method.is_differentiable() {
            c.hessian_iters = 0;
        }
        c
    }

    /// Validates the settings; errors name the field.
    pub fn check(&self) -> Result<()> {
        let pos = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::config(field, format!("must be positive, got {v}")))
            }
        };
        let non_neg = |field: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::config(field, format!("must be at least 0, got {v}")))
            }
        };
        if self.epochs == 0 {
            return Err(Error::config("epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::config("batch_size", "must be at least 1"));
        }
        pos("lr", self.lr)?;
        non_neg("lr_min", self.lr_min)?;
        non_neg("momentum", self.momentum)?;
        non_neg("weight_decay", self.weight_decay)?;
        pos("grad_clip", self.grad_clip)?;
        pos("arch_lr", self.arch_lr)?;
        non_neg("arch_weight_decay", self.arch_weight_decay)?;
        for (k, b) in [self.arch_betas.0, self.arch_betas.1]
            .into_iter()
            .enumerate()
        {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::config(
                    format!("arch_betas.{k}"),
                    format!("must be in [0, 1), got {b}"),
                ));
            }
        }
        if self.warmup_epochs >= self.epochs && self.method.is_differentiable() {
            return Err(Error::config(
                "warmup_epochs",
                format!(
                    "{} warm-up epochs leave no epoch to learn alpha in {} epochs",
                    self.warmup_epochs, self.epochs
                ),
            ));
        }
        pos("tau_min", self.tau_min)?;
        if self.tau_max < self.tau_min {
            return Err(Error::config(
                "tau_max",
                format!(
                    "must be at least tau_min ({}), got {}",
                    self.tau_min, self.tau_max
                ),
            ));
        }
        if self.partial_channels < 1 {
            return Err(Error::config("partial_channels", "must be at least 1"));
        }
        let s = &self.spos;
        if s.queries == 0 || s.population == 0 || s.sample_size == 0 || s.eval_batches == 0 {
            return Err(Error::config(
                "spos",
                "queries, population, sample_size and eval_batches must be at least 1",
            ));
        }
        if s.sample_size > s.population {
            return Err(Error::config(
                "spos.sample_size",
                format!(
                    "must be at most the population ({}), got {}",
                    s.population, s.sample_size
                ),
            ));
        }
        let e = &self.enas;
        if e.controller_steps == 0
            || e.aggregate == 0
            || e.derive_samples == 0
            || e.eval_batches == 0
        {
            return Err(Error::config(
                "enas",
                "controller_steps, aggregate, derive_samples and eval_batches must be at least 1",
            ));
        }
        pos("enas.lr", e.lr)?;
        non_neg("enas.entropy_weight", e.entropy_weight)?;
        if !(0.0..1.0).contains(&e.baseline_decay) {
            return Err(Error::config(
                "enas.baseline_decay",
                format!("must be in [0, 1), got {}", e.baseline_decay),
            ));
        }
        if e.hidden < 1 {
            return Err(Error::config("enas.hidden", "must be at least 1"));
        }
        pos("enas.tanh_constant", e.tanh_constant)?;
        pos("enas.temperature", e.temperature)?;
        Ok(())
    }

    /// The PC-DARTS channel divisor the supernet is built with (1 for other methods).
    pub fn supernet_partial_channels(&self) -> i64 {
        if self.method == Method::PcDarts {
            self.partial_channels
        } else {
            1
        }
    }

    /// The learning rate of the weights during `epoch` (0-based): a cosine from `lr` to
    /// `lr_min`.
    pub fn lr_at(&self, epoch: u32) -> f64 {
        let t = epoch as f64 / self.epochs as f64;
        self.lr_min + 0.5 * (self.lr - self.lr_min) * (1.0 + (std::f64::consts::PI * t).cos())
    }

    /// The GDAS temperature during `epoch`: linear from `tau_max` to `tau_min`.
    pub fn tau_at(&self, epoch: u32) -> f64 {
        if self.epochs <= 1 {
            return self.tau_max;
        }
        let t = epoch as f64 / (self.epochs - 1) as f64;
        self.tau_max - (self.tau_max - self.tau_min) * t
    }

    /// Sets torch's thread count and seeds its generator (call before building the
    /// supernet, whose initial weights then follow the seed).
    pub fn seed_torch(&self) {
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        tch::set_num_threads(threads as i32);
        tch::manual_seed(derive_seed(self.seed, 0x6f6e_6573) as i64);
        if tch::Cuda::is_available() {
            tch::Cuda::manual_seed_all(derive_seed(self.seed, 0x6f6e_6573));
        }
    }
}

/// The macro shape of a supernet, whatever its space.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SupernetShape {
    /// Initial width (NB201: 16; DARTS: 16).
    pub channels: i64,
    /// NB201: cells per stage (5); DARTS: cells in all (8).
    pub cells: i64,
    /// Input channels.
    pub in_channels: i64,
    /// Input side.
    pub resolution: i64,
    /// Classes.
    pub classes: i64,
}

/// Builds the NB201 supernet for `cfg`'s method (running statistics for SPOS, partial
/// channels for PC-DARTS), its weights seeded from `cfg.seed`.
pub fn nb201_supernet(
    cfg: &SearchConfig,
    shape: &SupernetShape,
    device: Device,
) -> Result<Nb201Supernet> {
    cfg.seed_torch();
    Nb201Supernet::new(
        Nb201SupernetConfig {
            channels: shape.channels,
            cells: shape.cells,
            in_channels: shape.in_channels,
            resolution: shape.resolution,
            classes: shape.classes,
            running_stats: cfg.method.running_stats(),
            partial_channels: cfg.supernet_partial_channels(),
        },
        device,
    )
}

/// Builds the DARTS supernet for `cfg`'s method, its weights seeded from `cfg.seed`.
pub fn darts_supernet(
    cfg: &SearchConfig,
    shape: &SupernetShape,
    device: Device,
) -> Result<DartsSupernet> {
    cfg.seed_torch();
    DartsSupernet::new(
        DartsSupernetConfig {
            channels: shape.channels,
            layers: shape.cells,
            in_channels: shape.in_channels,
            resolution: shape.resolution,
            classes: shape.classes,
            running_stats: true,
            partial_channels: cfg.supernet_partial_channels(),
            ..DartsSupernetConfig::default()
        },
        device,
    )
}

/// The data of a search: the training split (weights) and the validation split
/// (architecture), normalised with the training split's statistics.
#[derive(Clone, Debug)]
pub struct SearchData {
    /// Trains the shared weights.
    pub train: Arc<Dataset>,
    /// Trains the architecture (and scores candidates).
    pub val: Arc<Dataset>,
    /// Normalisation of both.
    pub norm: Normalization,
    /// Augmentation of both (DARTS searches with crops and flips).
    pub augment: Augment,
}

impl SearchData {
    /// Takes the first `per_class` images of each class of the data's training set (all
    /// with `None`) and splits them, stratified and seeded, into `1 - val_fraction` for the
    /// weights and `val_fraction` for the architecture (DARTS: half and half).
    pub fn split(
        data: LoadedData,
        per_class: Option<usize>,
        val_fraction: f64,
        augment: Augment,
        seed: u64,
    ) -> Result<Self> {
        let train = match per_class {
            Some(n) => data.train.take_per_class(n),
            None => data.train,
        };
        let origin = data.origin.clone();
        let splits = DataSplits::split(
            LoadedData {
                origin: data.origin,
                train,
                test: None,
            },
            val_fraction,
            seed,
        )?;
        if splits.val.is_empty() {
            return Err(Error::data(
                origin,
                None,
                "the validation split is empty: a one-shot search needs validation images",
            ));
        }
        Ok(SearchData {
            train: Arc::new(splits.train),
            val: Arc::new(splits.val),
            norm: splits.norm,
            augment,
        })
    }

    /// `[c, h, w]` of a sample.
    pub fn shape(&self) -> [usize; 3] {
        self.train.shape()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.train.classes()
    }

    fn loader(&self, val: bool, cfg: &SearchConfig, stream: u64, device: Device) -> Loader {
        let data = if val { &self.val } else { &self.train };
        Loader::new(
            data.clone(),
            self.norm.clone(),
            LoaderConfig {
                batch_size: cfg.batch_size,
                shuffle: true,
                drop_last: data.len() >= cfg.batch_size,
                augment: self.augment.clone(),
                seed: derive_seed(cfg.seed, stream),
                prefetch: 2,
                low_priority: !device.is_cuda(),
            },
        )
    }
}

/// Collapse diagnostics of the architecture a search currently stands for.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Collapse {
    /// Share of its ops without weights (none, skip, pooling).
    pub parameter_free_share: f64,
    /// Share of its ops that are skip connections.
    pub skip_share: f64,
    /// Dominant eigenvalue of the Hessian of the validation loss with respect to alpha
    /// (differentiable methods, when measured).
    pub hessian_eigenvalue: Option<f64>,
}

/// What a sampling method (SPOS, ENAS) returns: the chosen architecture, the epochs' reports,
/// and the scored candidates of its final search (architecture string, score).
type SampledResult<N> = Result<(
    <<N as Supernet>::Space as SearchSpace>::Arch,
    Vec<EpochReport>,
    Vec<(String, f64)>,
)>;

/// What happened in one epoch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochReport {
    /// 1-based epoch.
    pub epoch: u32,
    /// Mean training loss of the weight steps.
    pub train_loss: f64,
    /// Training accuracy (%) of the weight steps.
    pub train_accuracy: f64,
    /// Mean validation loss of the architecture steps (or of the controller's samples);
    /// `None` for methods without a validation pass per epoch (SPOS).
    pub val_loss: Option<f64>,
    /// Validation accuracy (%) of the architecture steps; `None` as for `val_loss`.
    pub val_accuracy: Option<f64>,
    /// Per edge, the distribution over ops: softmax of alpha (differentiable methods), the
    /// controller's sampling frequencies (ENAS), uniform (SPOS).
    pub probs: Vec<Vec<f64>>,
    /// The architecture the distribution stands for now (SPOS: none until the end).
    pub arch: Option<String>,
    /// Collapse diagnostics of that architecture.
    pub collapse: Collapse,
    /// GDAS temperature.
    pub tau: Option<f64>,
    /// Learning rate of the weights.
    pub lr: f64,
    /// Seconds the epoch took.
    pub seconds: f64,
}

/// The result of a search.
#[derive(Clone, Debug, Serialize)]
pub struct SearchOutcome<A> {
    /// The architecture found.
    #[serde(skip)]
    pub arch: A,
    /// Its canonical string.
    pub arch_string: String,
    /// The method.
    pub method: Method,
    /// Edge names, in the rows of `probs`.
    pub edges: Vec<String>,
    /// Candidate op names, in the columns of `probs`.
    pub ops: Vec<String>,
    /// Every epoch.
    pub epochs: Vec<EpochReport>,
    /// Collapse diagnostics of the architecture found.
    pub collapse: Collapse,
    /// SPOS and ENAS: the candidates scored on the shared weights, `(arch, accuracy %)`, in
    /// the order they were scored.
    pub candidates: Vec<(String, f64)>,
    /// Seconds in all.
    pub seconds: f64,
    /// Seconds per epoch of supernet training (mean).
    pub seconds_per_epoch: f64,
    /// The device it ran on.
    pub device: String,
}

/// Receives progress (for a progress bar) and the epoch reports.
pub trait SearchObserver {
    /// A phase begins (`supernet`, `evolution`, `derive`) with `total` steps.
    fn phase(&mut self, _name: &str, _total: u64) {}
    /// One step of the current phase is done.
    fn step(&mut self) {}
    /// An epoch ended.
    fn epoch(&mut self, _report: &EpochReport, _edges: &[String], _ops: &[String]) {}
    /// The architecture parameters, flattened, before training (`epoch` 0) and after each
    /// epoch (1-based): alpha (then beta for PC-DARTS) of the differentiable methods, the
    /// controller's weights for ENAS; SPOS has none and never calls it.
    fn arch_params(&mut self, _epoch: u32, _values: &[f64]) {}
}

/// The values of `tensors`, flattened one after the other (for [`SearchObserver::arch_params`]).
pub(crate) fn flat_values(tensors: &[Tensor]) -> Vec<f64> {
    tch::no_grad(|| {
        let mut out = Vec::new();
        for t in tensors {
            let t = t
                .detach()
                .to_device(Device::Cpu)
                .to_kind(Kind::Double)
                .view([-1]);
            out.extend(Vec::<f64>::try_from(&t).unwrap_or_default());
        }
        out
    })
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl SearchObserver for NoObserver {}

/// Batches that never run out: the next epoch (reshuffled) starts when one ends.
pub(crate) struct Cycle {
    loader: Loader,
    epoch: u64,
    it: Batches,
}

impl Cycle {
    fn new(loader: Loader) -> Self {
        let it = loader.epoch(0);
        Cycle {
            loader,
            epoch: 0,
            it,
        }
    }

    pub(crate) fn next_batch(&mut self) -> Batch {
        loop {
            if let Some(b) = self.it.next() {
                return b;
            }
            self.epoch += 1;
            self.it = self.loader.epoch(self.epoch);
        }
    }
}

/// Accumulates losses and accuracies over steps.
#[derive(Default)]
pub(crate) struct Meter {
    loss: f64,
    correct: f64,
    n: f64,
    batches: f64,
}

impl Meter {
    pub(crate) fn add(&mut self, logits: &Tensor, labels: &Tensor, loss: &Tensor) {
        let n = labels.size()[0] as f64;
        self.loss += loss.double_value(&[]);
        self.batches += 1.0;
        self.correct += logits
            .argmax(-1, false)
            .eq_tensor(labels)
            .sum(Kind::Int64)
            .int64_value(&[]) as f64;
        self.n += n;
    }

    pub(crate) fn loss(&self) -> f64 {
        if self.batches > 0.0 {
            self.loss / self.batches
        } else {
            f64::NAN
        }
    }

    /// Whether no step was measured.
    pub(crate) fn is_empty(&self) -> bool {
        self.batches == 0.0
    }

    pub(crate) fn accuracy(&self) -> f64 {
        if self.n > 0.0 {
            100.0 * self.correct / self.n
        } else {
            f64::NAN
        }
    }
}

/// The state every method shares: the supernet, its weight optimizer, the batches, the
/// generator.
pub(crate) struct Ctx<'a, N: Supernet> {
    pub(crate) net: &'a mut N,
    pub(crate) cfg: &'a SearchConfig,
    pub(crate) device: Device,
    pub(crate) rng: Rng,
    pub(crate) opt: nn::Optimizer,
    pub(crate) train: Cycle,
    pub(crate) val: Cycle,
    pub(crate) steps_per_epoch: usize,
    pub(crate) data: &'a SearchData,
}

impl<'a, N: Supernet> Ctx<'a, N> {
    fn new(net: &'a mut N, data: &'a SearchData, cfg: &'a SearchConfig) -> Result<Self> {
        let device = net.var_store().device();
        let opt = nn::OptimizerConfig::build(
            nn::Sgd {
                momentum: cfg.momentum,
                dampening: 0.0,
                wd: cfg.weight_decay,
                nesterov: false,
            },
            net.var_store(),
            cfg.lr,
        )
        .map_err(|e| Error::Other(format!("cannot build the weight optimizer: {e}")))?;
        let train_loader = data.loader(false, cfg, 1, device);
        let steps_per_epoch = train_loader.len();
        if steps_per_epoch == 0 {
            return Err(Error::config(
                "data",
                "the training split has no batch: use more images",
            ));
        }
        Ok(Ctx {
            device,
            rng: Rng::new(derive_seed(cfg.seed, 0x7361_6d70)),
            opt,
            train: Cycle::new(train_loader),
            val: Cycle::new(data.loader(true, cfg, 2, device)),
            steps_per_epoch,
            net,
            cfg,
            data,
        })
    }

    /// The next training batch on the device.
    pub(crate) fn train_batch(&mut self) -> (Tensor, Tensor) {
        let b = self.train.next_batch();
        (
            b.images.to_device(self.device),
            b.labels.to_device(self.device),
        )
    }

    /// The next validation batch on the device.
    pub(crate) fn val_batch(&mut self) -> (Tensor, Tensor) {
        let b = self.val.next_batch();
        (
            b.images.to_device(self.device),
            b.labels.to_device(self.device),
        )
    }

    /// One SGD step of the weights on `loss` (gradients clipped).
    pub(crate) fn weight_step(&mut self, loss: &Tensor) {
        self.opt.zero_grad();
        loss.backward();
        self.opt.clip_grad_norm(self.cfg.grad_clip);
        self.opt.step();
    }

    /// The first `n` batches of a fixed, unaugmented pass over a split (for scoring
    /// candidates on the same images), on the device.
    pub(crate) fn fixed_batches(&self, val: bool, n: usize) -> Vec<(Tensor, Tensor)> {
        let data = if val {
            &self.data.val
        } else {
            &self.data.train
        };
        let loader = Loader::new(
            data.clone(),
            self.data.norm.clone(),
            LoaderConfig {
                shuffle: true,
                seed: derive_seed(self.cfg.seed, if val { 3 } else { 4 }),
                ..LoaderConfig::eval(self.cfg.batch_size)
            },
        );
        loader
            .epoch(0)
            .take(n)
            .map(|b| {
                (
                    b.images.to_device(self.device),
                    b.labels.to_device(self.device),
                )
            })
            .collect()
    }

    /// Accuracy (%) and mean loss of a single path on `batches` (no gradients).
    pub(crate) fn path_accuracy(
        &self,
        path: &[usize],
        batches: &[(Tensor, Tensor)],
        train_mode_bn: bool,
    ) -> (f64, f64) {
        tch::no_grad(|| {
            let mut m = Meter::default();
            for (x, y) in batches {
                let logits = self.net.forward(x, &Selection::Path(path), train_mode_bn);
                let loss = logits.cross_entropy_for_logits(y);
                m.add(&logits, y, &loss);
            }
            (m.accuracy(), m.loss())
        })
    }
}

/// The collapse shares of a path (op index per edge) among the edges it uses.
pub fn collapse_of<N: Supernet>(net: &N, path: &[usize]) -> Collapse {
    let cands = net.candidates();
    let used: Vec<usize> = if net.none_is_an_op() {
        path.to_vec()
    } else {
        path.iter()
            .copied()
            .filter(|&o| !cands[o].is_zero())
            .collect()
    };
    let n = used.len().max(1) as f64;
    Collapse {
        parameter_free_share: used
            .iter()
            .filter(|&&o| cands[o].is_parameter_free())
            .count() as f64
            / n,
        skip_share: used.iter().filter(|&&o| cands[o].is_skip()).count() as f64 / n,
        hessian_eigenvalue: None,
    }
}

/// Runs the search `cfg` describes on `net` with `data`.
pub fn search<N: Supernet>(
    net: &mut N,
    data: &SearchData,
    cfg: &SearchConfig,
    observer: &mut dyn SearchObserver,
) -> Result<SearchOutcome<<N::Space as SearchSpace>::Arch>> {
    cfg.check()?;
    if cfg.method.running_stats() && nascent_train_bn_stats(net) == 0 {
        return Err(Error::config(
            "method",
            "SPOS needs a supernet whose BN keeps running statistics (build it with \
             `nb201_supernet` or `darts_supernet` for this method)",
        ));
    }
    let start = Instant::now();
    let device_name = nascent_train::metrics::device_name(net.var_store().device());
    let edges = net.edge_names();
    let ops: Vec<String> = net.candidates().iter().map(|c| c.name.clone()).collect();
    let mut ctx = Ctx::new(net, data, cfg)?;
    let (arch, epochs, candidates) = match cfg.method {
        Method::Darts | Method::Darts2 | Method::Gdas | Method::PcDarts => {
            let (a, e) = differentiable::run(&mut ctx, observer, &edges, &ops)?;
            (a, e, Vec::new())
        }
        Method::Spos => spos::run(&mut ctx, observer, &edges, &ops)?,
        Method::Enas => enas::run(&mut ctx, observer, &edges, &ops)?,
    };
    let path = ctx.net.path_of(&arch)?;
    let mut collapse = collapse_of(&*ctx.net, &path);
    collapse.hessian_eigenvalue = epochs.last().and_then(|e| e.collapse.hessian_eigenvalue);
    let train_seconds: f64 = epochs.iter().map(|e| e.seconds).sum();
    Ok(SearchOutcome {
        arch_string: ctx.net.space().format(&arch),
        arch,
        method: cfg.method,
        edges,
        ops,
        seconds_per_epoch: train_seconds / epochs.len().max(1) as f64,
        epochs,
        collapse,
        candidates,
        seconds: start.elapsed().as_secs_f64(),
        device: device_name,
    })
}

fn nascent_train_bn_stats<N: Supernet>(net: &N) -> usize {
    crate::supernet::bn_statistics(net.var_store()).len()
}

/// The uniform distribution over ops on every edge (what SPOS samples from).
pub(crate) fn uniform_probs(edges: usize, ops: usize) -> Vec<Vec<f64>> {
    vec![vec![1.0 / ops as f64; ops]; edges]
}
