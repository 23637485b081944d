//! The trainer: fits a [`Model`] to [`DataSplits`] and measures its accuracy.
//!
//! SGD (momentum, Nesterov, weight decay) or Adam/AdamW, with a cosine, step or constant
//! learning-rate schedule (optionally after a linear warm-up), computed per step; label
//! smoothing; gradient clipping by global norm; mixed precision: float16 autocast with dynamic
//! loss scaling on CUDA (the CPU then trains in float32), or bfloat16 autocast on CUDA and on
//! the CPU ([`AmpDtype`]); the auxiliary-head loss and the drop-path schedule of DARTS networks.
//!
//! The optimizer step, the gradient clipping and the gradient reset are multi-tensor
//! operations (libtorch's `_foreach_*` kernels): one call for all the parameters, as PyTorch's
//! `foreach` optimizers. Batches are made on a loader thread; on CUDA they come in pinned
//! host memory and are copied without blocking.
//!
//! After every epoch the validation accuracy goes to a [`Reporter`]; [`Control::Stop`] ends the
//! run as [`TrainEnd::Stopped`] (a pruned trial). A loss that turns NaN or infinite ends the run
//! with [`TrainError::Diverged`] naming the epoch and batch. Checkpoints (weights, optimizer
//! state, epoch) are safetensors files written after every epoch; a run resumes from one.
//!
//! Runs are deterministic given the seed: the torch generator is seeded per epoch, batches are
//! shuffled and augmented from the seed, and the number of torch threads is fixed.

use crate::data::{Augment, DataSplits, Dataset, Loader, LoaderConfig, Normalization};
use crate::error::{TrainError, TrainResult};
use crate::model::Model;
use crate::native;
use nascent_core::{Control, Error, Reporter, derive_seed};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Instant;
use tch::{Device, Kind, Reduction, Tensor};

/// The optimizer and its hyper-parameters (the learning rate is [`TrainConfig::lr`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Optimizer {
    /// Stochastic gradient descent.
    Sgd {
        /// Momentum (0 turns it off).
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 weight decay added to the gradient.
        weight_decay: f64,
    },
    /// Adam (Kingma and Ba), or AdamW when the weight decay is decoupled.
    Adam {
        /// Decay of the first moment.
        beta1: f64,
        /// Decay of the second moment.
        beta2: f64,
        /// Added to the denominator.
        eps: f64,
        /// Weight decay.
        weight_decay: f64,
        /// AdamW: decay the weights directly rather than through the gradient.
        decoupled: bool,
    },
}

impl Optimizer {
    /// SGD with Nesterov momentum 0.9 and weight decay 5e-4 (the NB201 recipe).
    pub fn sgd_nesterov() -> Self {
        Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
        }
    }

    /// Adam with the usual betas and no weight decay.
    pub fn adam() -> Self {
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
}

/// The reduced-precision dtype of mixed precision ([`TrainConfig::mixed_precision`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AmpDtype {
    /// float16 autocast with dynamic loss scaling, on CUDA only (the CPU trains in float32).
    #[default]
    Float16,
    /// bfloat16 autocast on CUDA and on the CPU, without loss scaling (bfloat16 has float32's
    /// range). On a CPU without bfloat16 instructions it is slower than float32.
    BFloat16,
    /// What is fast where the model is: float16 on CUDA, bfloat16 on a CPU with bfloat16
    /// instructions ([`cpu_has_bf16`]), float32 on any other CPU.
    Auto,
}

/// Whether this CPU computes in bfloat16 natively (x86-64's AVX512-BF16), where bfloat16
/// autocast trains faster than float32; elsewhere it is emulated and slower.
pub fn cpu_has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl AmpDtype {
    /// Names accepted by [`AmpDtype::from_str`](std::str::FromStr).
    pub const NAMES: [&'static str; 3] = ["float16", "bfloat16", "auto"];

    /// The dtype mixed precision uses on `device`, or `None` where it trains in float32.
    pub fn on(self, device: Device) -> Option<AmpDtype> {
        match self {
            AmpDtype::Float16 => device.is_cuda().then_some(AmpDtype::Float16),
            AmpDtype::BFloat16 => {
                matches!(device, Device::Cpu | Device::Cuda(_)).then_some(AmpDtype::BFloat16)
            }
            AmpDtype::Auto => match device {
                Device::Cuda(_) => Some(AmpDtype::Float16),
                Device::Cpu if cpu_has_bf16() => Some(AmpDtype::BFloat16),
                _ => None,
            },
        }
    }

    /// Whether mixed precision with this dtype runs on `device` (else it trains in float32).
    pub fn runs_on(self, device: Device) -> bool {
        self.on(device).is_some()
    }

    /// The tch kind of a concrete dtype (`Auto` resolves with [`AmpDtype::on`] first; alone it
    /// is bfloat16's).
    pub fn kind(self) -> Kind {
        match self {
            AmpDtype::Float16 => Kind::Half,
            AmpDtype::BFloat16 | AmpDtype::Auto => Kind::BFloat16,
        }
    }
}

impl std::str::FromStr for AmpDtype {
    type Err = Error;

    /// `float16` (`fp16`, `half`), `bfloat16` (`bf16`) or `auto`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "float16" | "fp16" | "half" => Ok(AmpDtype::Float16),
            "bfloat16" | "bf16" => Ok(AmpDtype::BFloat16),
            "auto" => Ok(AmpDtype::Auto),
            _ => Err(Error::unknown("mixed-precision dtype", s, &AmpDtype::NAMES)),
        }
    }
}

impl std::fmt::Display for AmpDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AmpDtype::Float16 => "float16",
            AmpDtype::BFloat16 => "bfloat16",
            AmpDtype::Auto => "auto",
        })
    }
}

/// How the learning rate changes over training (after the warm-up).
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// Constant.
    Constant,
    /// Cosine annealing from the learning rate to `min_lr`, per step.
    Cosine {
        /// The final learning rate.
        min_lr: f64,
    },
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: u32,
        /// Factor of each decay.
        gamma: f64,
    },
}

/// Everything a training run needs besides the model and the data.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Epochs.
    pub epochs: u32,
    /// Training batch size.
    pub batch_size: usize,
    /// Evaluation batch size.
    pub eval_batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// The schedule.
    pub schedule: Schedule,
    /// Epochs of linear warm-up from 0 to `lr` (0: none).
    pub warmup_epochs: u32,
    /// Label smoothing in `[0, 1)`.
    pub label_smoothing: f64,
    /// Clip the global gradient norm to this value.
    pub grad_clip: Option<f64>,
    /// Mixed precision where the device has it: autocast to [`TrainConfig::amp_dtype`].
    pub mixed_precision: bool,
    /// The dtype of mixed precision: float16 (CUDA only, with loss scaling; the default) or
    /// bfloat16 (CUDA and CPU).
    pub amp_dtype: AmpDtype,
    /// Weight of the auxiliary head's loss (DARTS networks that have one).
    pub aux_weight: f64,
    /// Final drop-path probability, reached linearly over the epochs (DARTS networks).
    pub drop_path_prob: f64,
    /// Training augmentation.
    pub augment: Augment,
    /// Seed of the weights, the order of the batches and the augmentation.
    pub seed: u64,
    /// Torch threads; `None`: one per core.
    pub threads: Option<usize>,
    /// Batches prepared ahead on the loader thread (0: in line).
    pub prefetch: usize,
    /// Resize inputs to this side (low-fidelity runs); `None`: the data's own.
    pub resolution: Option<i64>,
    /// Measure the test set at the end (when the data has one).
    pub evaluate_test: bool,
    /// Write a checkpoint here after every epoch.
    pub checkpoint: Option<PathBuf>,
    /// Resume from `checkpoint` when it exists.
    pub resume: bool,
    /// Keep weights and batches in channels-last memory (NHWC order; see
    /// [`Model::to_channels_last`]): on a CPU, oneDNN's convolutions run faster on it
    /// (measured on this project's 2-core CPU: about 1.2x to 1.4x a training step); on a GPU
    /// it applies with mixed precision only (tensor cores take NHWC; float32 convolutions keep
    /// NCHW).
    pub channels_last: bool,
    /// The time the epochs fill ([`TimeLimit`]); `None`: the epochs asked for, however long
    /// they take.
    pub time_limit: Option<TimeLimit>,
    /// Stop with [`TrainError::TooSlow`] when the first batches train below this many images a
    /// second (a study's search trial whose network could not retrain its required epochs in
    /// time: [`nascent_study::min_trial_speed`]); measured over batches 3 to 10, after the
    /// warm-up, and only clearly below (under [`SPEED_FLOOR_TOLERANCE`] of it).
    pub min_images_per_second: Option<f64>,
    /// Data-parallel copies of the network on the CPU (1: none). With `R`, each batch is split
    /// into `R` shares, each trained on its own thread with `threads / R` torch threads by its
    /// own copy of the network, and the shares' gradients are averaged (weighted by their
    /// images) into one optimizer step, after which the copies take the new weights. On a
    /// small network that uses its threads poorly, `R` one-thread copies pass more images a
    /// second than one network on `R` threads (this project's 2-core CPU, the 16-channel NB201
    /// network on Fashion-MNIST: 984 against 865, `bench/results/replicas/`). Batch
    /// normalization then normalizes over each share (as PyTorch's `DistributedDataParallel`
    /// without synchronized batch norm); the running statistics the model keeps are those of
    /// the first share. Callers build the copies ([`Trainer::fit_replicated`]); a GPU ignores
    /// this.
    pub replicas: usize,
}

/// The most data-parallel copies of a network ([`TrainConfig::replicas`]).
pub const MAX_REPLICAS: usize = 64;

/// Epochs that fill a time: after every epoch the run re-plans its schedule's length from its
/// recent pace, to the epochs that fit in [`TimeLimit::seconds`] (at least the one just run,
/// at most [`TimeLimit::max_epochs`]). The cosine decay then ends where the time does, whether
/// the speed the epochs were first sized from was measured too high (the schedule shortens) or
/// too low (it lengthens), or another process slows the machine for a while.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeLimit {
    /// Seconds the epochs may take, counted from the start of [`Trainer::fit`] (training and
    /// validation; the test pass comes after).
    pub seconds: f64,
    /// The most epochs the schedule may lengthen to (below [`TrainConfig::epochs`]: it never
    /// lengthens).
    pub max_epochs: u32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 5,
            batch_size: 128,
            eval_batch_size: 512,
            lr: 0.1,
            optimizer: Optimizer::sgd_nesterov(),
            schedule: Schedule::Cosine { min_lr: 0.0 },
            warmup_epochs: 0,
            label_smoothing: 0.0,
            grad_clip: Some(5.0),
            mixed_precision: true,
            amp_dtype: AmpDtype::Float16,
            aux_weight: 0.4,
            drop_path_prob: 0.0,
            augment: Augment::none(),
            seed: 0,
            threads: None,
            prefetch: 2,
            resolution: None,
            evaluate_test: true,
            checkpoint: None,
            resume: false,
            channels_last: true,
            time_limit: None,
            min_images_per_second: None,
            replicas: 1,
        }
    }
}

impl TrainConfig {
    /// Checks every value, naming the field that is wrong.
    pub fn check(&self) -> nascent_core::Result<()> {
        let bad = |f: &str, r: String| Err(Error::config(format!("train.{f}"), r));
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if self.eval_batch_size == 0 {
            return bad("eval_batch_size", "must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", format!("must be positive, got {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(
                "label_smoothing",
                format!("must be in [0, 1), got {}", self.label_smoothing),
            );
        }
        if let Some(c) = self.grad_clip
            && !(c.is_finite() && c > 0.0)
        {
            return bad("grad_clip", format!("must be positive, got {c}"));
        }
        if !(0.0..1.0).contains(&self.drop_path_prob) {
            return bad(
                "drop_path_prob",
                format!("must be in [0, 1), got {}", self.drop_path_prob),
            );
        }
        if !(self.aux_weight.is_finite() && self.aux_weight >= 0.0) {
            return bad(
                "aux_weight",
                format!("must be non-negative, got {}", self.aux_weight),
            );
        }
        if self.warmup_epochs >= self.epochs && self.warmup_epochs > 0 {
            return bad(
                "warmup_epochs",
                format!(
                    "{} warm-up epochs leave nothing of {} epochs",
                    self.warmup_epochs, self.epochs
                ),
            );
        }
        if self.threads == Some(0) {
            return bad("threads", "must be at least 1".into());
        }
        if !(1..=MAX_REPLICAS).contains(&self.replicas) {
            return bad(
                "replicas",
                format!("must be 1 to {MAX_REPLICAS}, not {}", self.replicas),
            );
        }
        if let Some(r) = self.resolution
            && r < 1
        {
            return bad("resolution", format!("must be positive, got {r}"));
        }
        match &self.optimizer {
            Optimizer::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                if !(0.0..1.0).contains(momentum) {
                    return bad(
                        "optimizer.momentum",
                        format!("must be in [0, 1), got {momentum}"),
                    );
                }
                if *nesterov && *momentum == 0.0 {
                    return bad("optimizer.nesterov", "needs a momentum above 0".into());
                }
                if !(*weight_decay >= 0.0 && weight_decay.is_finite()) {
                    return bad(
                        "optimizer.weight_decay",
                        format!("must be non-negative, got {weight_decay}"),
                    );
                }
            }
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                if !(0.0..1.0).contains(beta1) || !(0.0..1.0).contains(beta2) {
                    return bad(
                        "optimizer.betas",
                        format!("must be in [0, 1), got ({beta1}, {beta2})"),
                    );
                }
                if eps.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                    return bad("optimizer.eps", format!("must be positive, got {eps}"));
                }
                if !(*weight_decay >= 0.0 && weight_decay.is_finite()) {
                    return bad(
                        "optimizer.weight_decay",
                        format!("must be non-negative, got {weight_decay}"),
                    );
                }
            }
        }
        match &self.schedule {
            Schedule::Constant => {}
            Schedule::Cosine { min_lr } => {
                if !(*min_lr >= 0.0 && *min_lr <= self.lr) {
                    return bad(
                        "schedule.min_lr",
                        format!("must be in [0, lr = {}], got {min_lr}", self.lr),
                    );
                }
            }
            Schedule::Step { every, gamma } => {
                if *every == 0 {
                    return bad("schedule.every", "must be at least 1".into());
                }
                if !(*gamma > 0.0 && *gamma <= 1.0) {
                    return bad("schedule.gamma", format!("must be in (0, 1], got {gamma}"));
                }
            }
        }
        if let Some(t) = self.time_limit
            && !(t.seconds.is_finite() && t.seconds > 0.0)
        {
            return bad(
                "time_limit.seconds",
                format!("must be a positive number of seconds, got {}", t.seconds),
            );
        }
        if self.resume && self.checkpoint.is_none() {
            return bad("resume", "needs a checkpoint path".into());
        }
        Ok(())
    }

    /// The learning rate at step `step` of `steps_per_epoch * epochs`.
    pub fn lr_at(&self, step: usize, steps_per_epoch: usize) -> f64 {
        self.lr_over(step, steps_per_epoch, self.epochs)
    }

    /// The learning rate at step `step` of a schedule over `epochs` epochs (what a run whose
    /// time limit re-planned its length follows).
    fn lr_over(&self, step: usize, steps_per_epoch: usize, epochs: u32) -> f64 {
        let spe = steps_per_epoch.max(1);
        let total = epochs as usize * spe;
        let warm = self.warmup_epochs as usize * spe;
        if step < warm {
            return self.lr * (step + 1) as f64 / warm as f64;
        }
        match &self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Cosine { min_lr } => {
                let t = (step - warm) as f64 / (total - warm).max(1) as f64;
                min_lr + (self.lr - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            Schedule::Step { every, gamma } => {
                let epoch = step / spe;
                self.lr * gamma.powi((epoch / *every as usize) as i32)
            }
        }
    }
}

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: u32,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Accuracy (%) on the (augmented) training batches, as they were trained.
    pub train_accuracy: f64,
    /// Accuracy (%) on the validation set, if it is not empty.
    pub val_accuracy: Option<f64>,
    /// Seconds of training (not counting validation).
    pub train_seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainEnd {
    /// All epochs ran.
    Completed,
    /// The reporter stopped it (pruned).
    Stopped,
}

/// The result of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// Every epoch run (resumed epochs are not listed).
    pub epochs: Vec<EpochStats>,
    /// How it ended.
    pub end: TrainEnd,
    /// Training accuracy (%) of the last epoch.
    pub train_accuracy: f64,
    /// Validation accuracy (%) after the last epoch (`None` with no validation set).
    pub val_accuracy: Option<f64>,
    /// Test accuracy (%) at the end (`None` when stopped, not asked for, or no test set).
    pub test_accuracy: Option<f64>,
    /// Seconds spent training and validating.
    pub seconds: f64,
    /// Epochs done, counting those of a checkpoint resumed from.
    pub epochs_done: u32,
    /// Epochs the run was asked for; they differ from [`TrainReport::epochs_done`] when the
    /// time limit ([`TrainConfig::time_limit`]) shortened or lengthened the schedule.
    pub epochs_planned: u32,
}

/// Hears about progress (a progress bar, logs). Every method has an empty default.
pub trait TrainObserver {
    /// Training starts: `epochs` epochs (from `first_epoch`, 1-based) of `batches` batches.
    fn on_start(&mut self, _first_epoch: u32, _epochs: u32, _batches: usize) {}
    /// A training batch is done, with its loss where it was read (`None` on devices where
    /// reading it would stall the pipeline).
    fn on_batch(&mut self, _epoch: u32, _batch: usize, _loss: Option<f64>) {}
    /// An epoch is done.
    fn on_epoch(&mut self, _stats: &EpochStats) {}
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl TrainObserver for NoObserver {}

/// Trains models with one configuration on one device.
#[derive(Clone, Debug)]
pub struct Trainer {
    cfg: TrainConfig,
}

impl Trainer {
    /// A trainer; the configuration is checked.
    pub fn new(cfg: TrainConfig) -> TrainResult<Self> {
        cfg.check()?;
        keep_freed_memory();
        Ok(Trainer { cfg })
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// Sets the torch thread count and seeds torch's generator from the seed: call before
    /// building the model so that its initial weights follow the seed.
    pub fn seed_torch(&self) {
        let threads = self.threads();
        tch::set_num_threads(threads as i32);
        tch::manual_seed(derive_seed(self.cfg.seed, 0x70_72_63_68) as i64);
        if tch::Cuda::is_available() {
            tch::Cuda::manual_seed_all(derive_seed(self.cfg.seed, 0x70_72_63_68));
            tch::Cuda::cudnn_set_benchmark(false);
        }
    }

    /// Trains `model` on `data.train`, validating on `data.val` after every epoch and
    /// reporting the validation accuracy (the training accuracy when there is no validation
    /// set) to `reporter`; measures the test set at the end.
    pub fn fit(
        &self,
        model: &mut Model,
        data: &DataSplits,
        reporter: &mut dyn Reporter,
        observer: &mut dyn TrainObserver,
    ) -> TrainResult<TrainReport> {
        self.fit_replicated(model, &mut [], data, reporter, observer)
    }

    /// [`Trainer::fit`] with data-parallel copies of `model` ([`TrainConfig::replicas`]):
    /// `replicas` are networks of the same architecture (any weights: they start from
    /// `model`'s), each trained on its own thread on its share of every batch. Without
    /// copies, or on a GPU, this is [`Trainer::fit`].
    pub fn fit_replicated(
        &self,
        model: &mut Model,
        replicas: &mut [Model],
        data: &DataSplits,
        reporter: &mut dyn Reporter,
        observer: &mut dyn TrainObserver,
    ) -> TrainResult<TrainReport> {
        if replicas.is_empty() || model.device().is_cuda() {
            return self.fit_with(model, None, data, reporter, observer);
        }
        let amp = self.amp_kind(model.device());
        let threads = self.threads();
        let per = (threads / (replicas.len() + 1)).max(1);
        log::info!(
            "training {} data-parallel copies of the network, {per} thread{} each",
            replicas.len() + 1,
            if per == 1 { "" } else { "s" }
        );
        std::thread::scope(|scope| {
            let pool = ReplicaPool::start(scope, model, replicas, &self.cfg, amp, per)?;
            self.fit_with(model, Some(&pool), data, reporter, observer)
        })
    }

    /// The torch threads of a run: [`TrainConfig::threads`], or one per core.
    pub fn threads(&self) -> usize {
        self.cfg
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// The autocast dtype of a run on `device` (`None`: float32).
    fn amp_kind(&self, device: Device) -> Option<Kind> {
        let cfg = &self.cfg;
        cfg.mixed_precision
            .then(|| cfg.amp_dtype.on(device))
            .flatten()
            .map(AmpDtype::kind)
    }

    fn fit_with(
        &self,
        model: &mut Model,
        pool: Option<&ReplicaPool>,
        data: &DataSplits,
        reporter: &mut dyn Reporter,
        observer: &mut dyn TrainObserver,
    ) -> TrainResult<TrainReport> {
        let cfg = &self.cfg;
        let device = model.device();
        let amp_dtype = cfg
            .mixed_precision
            .then(|| cfg.amp_dtype.on(device))
            .flatten();
        let amp = amp_dtype.is_some();
        match amp_dtype {
            Some(d) => log::debug!("mixed precision: {d} autocast on {device:?}"),
            None if cfg.mixed_precision => log::debug!(
                "{} mixed precision is off on {device:?}: training in float32",
                cfg.amp_dtype
            ),
            None => {}
        }
        let amp_dtype = amp_dtype.unwrap_or(AmpDtype::Float16);
        let amp_kind = amp.then(|| amp_dtype.kind());
        // With data-parallel copies, each share of a batch trains on `pool.per` threads; the
        // validation and test passes take them all.
        let threads = |training: bool| {
            if let Some(p) = pool {
                tch::set_num_threads(if training { p.per } else { self.threads() } as i32);
            }
        };
        let train = Arc::new(data.train.clone());
        let loader = Loader::new(
            train,
            data.norm.clone(),
            LoaderConfig {
                batch_size: cfg.batch_size,
                shuffle: true,
                drop_last: data.train.len() > cfg.batch_size,
                augment: cfg.augment.clone(),
                seed: cfg.seed,
                prefetch: cfg.prefetch,
                low_priority: !device.is_cuda(),
            },
        )
        .pin_memory(device);
        let spe = loader.len();
        let channels_last = cfg.channels_last && (!device.is_cuda() || amp);
        if channels_last {
            model.to_channels_last();
        }
        let mut opt = OptimizerState::new(model, cfg.optimizer.clone());
        let mut scaler = LossScaler::new(amp && amp_dtype == AmpDtype::Float16);
        let mut first_epoch = 0u32;
        if cfg.resume
            && let Some(ck) = &cfg.checkpoint
            && ck.exists()
        {
            first_epoch = load_checkpoint(ck, model, &mut opt)?;
            log::info!("resumed from {} after epoch {first_epoch}", ck.display());
        }
        observer.on_start(first_epoch + 1, cfg.epochs, spe);
        let started = Instant::now();
        let val = (!data.val.is_empty()).then(|| Arc::new(data.val.clone()));
        let mut report = TrainReport {
            epochs: Vec::new(),
            end: TrainEnd::Completed,
            train_accuracy: f64::NAN,
            val_accuracy: None,
            test_accuracy: None,
            seconds: 0.0,
            epochs_done: first_epoch,
            epochs_planned: cfg.epochs,
        };
        // The schedule's length: the epochs asked for, until the time limit re-plans it.
        let mut total = cfg.epochs;
        // Read the loss every step on the CPU (free), every few steps on a GPU (a sync).
        let check_every = if device.is_cuda() { 20 } else { 1 };
        // Seconds of each epoch of this run (training and validation), for the time limit.
        let mut paces: Vec<f64> = Vec::new();
        let mut epoch = first_epoch;
        while epoch < total {
            let epoch_started = Instant::now();
            tch::manual_seed(derive_seed(cfg.seed, 1000 + epoch as u64) as i64);
            let drop_path = (cfg.drop_path_prob > 0.0)
                .then(|| cfg.drop_path_prob * epoch as f64 / total as f64);
            if let Some(p) = drop_path {
                model.net.set_drop_path_prob(p);
            }
            let t0 = Instant::now();
            let mut loss_sum = Tensor::zeros([], (Kind::Float, device));
            let mut correct = Tensor::zeros([], (Kind::Int64, device));
            let mut seen = 0usize;
            let mut lr = cfg.lr;
            let mut floor_from: Option<(Instant, usize)> = None;
            threads(true);
            for (b, batch) in loader.epoch(epoch as u64).enumerate() {
                let step = epoch as usize * spe + b;
                if let Some(floor) = cfg.min_images_per_second.filter(|_| epoch == first_epoch) {
                    check_speed_floor(floor, b, seen, &mut floor_from)?;
                }
                lr = cfg.lr_over(step, spe, total);
                let xs = prepare(&batch.images, device, cfg.resolution, channels_last);
                let ys = to_device(&batch.labels, device);
                opt.zero_grad()?;
                let (l, batch_correct) = match pool {
                    None => {
                        let (loss, logits) = batch_loss(model, &xs, &ys, cfg, amp_kind)?;
                        scaler.backward(&loss);
                        (loss.detach(), count_correct(&logits, &ys))
                    }
                    Some(pool) => pool.backward(model, &opt.params, &xs, &ys, drop_path)?,
                };
                let finite_grads = scaler.unscale_and_check(&opt.params)?;
                if finite_grads {
                    if let Some(c) = cfg.grad_clip {
                        clip_grad_norm(&opt.params, c)?;
                    }
                    opt.step(lr)?;
                }
                if let Some(pool) = pool {
                    pool.sync(&opt.params)?;
                }
                tch::no_grad(|| {
                    loss_sum += &l;
                    correct += batch_correct;
                    seen += ys.size()[0] as usize;
                    if (b + 1) % check_every == 0 || b + 1 == spe {
                        let v = l.double_value(&[]);
                        if !v.is_finite() {
                            return Err(TrainError::Diverged(format!(
                                "the loss is {v} at epoch {}, batch {} (learning rate {lr:.4}); \
                                 try a smaller learning rate or gradient clipping",
                                epoch + 1,
                                b + 1
                            )));
                        }
                        observer.on_batch(epoch + 1, b, Some(v));
                    } else {
                        observer.on_batch(epoch + 1, b, None);
                    }
                    Ok(())
                })?;
            }
            let train_seconds = t0.elapsed().as_secs_f64();
            threads(false);
            let train_loss = loss_sum.double_value(&[]) / spe.max(1) as f64;
            if !train_loss.is_finite() {
                return Err(TrainError::Diverged(format!(
                    "the mean loss of epoch {} is {train_loss}",
                    epoch + 1
                )));
            }
            let train_accuracy = 100.0 * correct.int64_value(&[]) as f64 / seen.max(1) as f64;
            let val_accuracy = val.as_ref().map(|v| {
                accuracy(
                    model,
                    v.clone(),
                    &data.norm,
                    cfg.eval_batch_size,
                    cfg.resolution,
                    cfg.prefetch,
                )
            });
            let stats = EpochStats {
                epoch: epoch + 1,
                lr,
                train_loss,
                train_accuracy,
                val_accuracy,
                train_seconds,
                images_per_second: seen as f64 / train_seconds.max(1e-9),
            };
            log::info!(
                "epoch {}: loss {:.4}, train {:.2}%, val {}, {:.0} img/s",
                stats.epoch,
                train_loss,
                train_accuracy,
                val_accuracy.map_or("-".into(), |v| format!("{v:.2}%")),
                stats.images_per_second
            );
            observer.on_epoch(&stats);
            report.train_accuracy = train_accuracy;
            report.val_accuracy = val_accuracy;
            report.epochs_done = epoch + 1;
            report.epochs.push(stats);
            if let Some(ck) = &cfg.checkpoint {
                save_checkpoint(ck, model, &opt, epoch + 1)?;
            }
            let control = reporter.report(epoch + 1, val_accuracy.unwrap_or(train_accuracy));
            if control == Control::Stop && epoch + 1 < total {
                report.end = TrainEnd::Stopped;
                break;
            }
            epoch += 1;
            if let Some(limit) = cfg.time_limit {
                paces.push(epoch_started.elapsed().as_secs_f64());
                let fits = epochs_that_fit(limit.seconds - started.elapsed().as_secs_f64(), &paces);
                // Re-planned from scratch every epoch: a slow stretch (another process on the
                // machine) shortens the schedule only while it lasts.
                let cap = limit.max_epochs.max(cfg.epochs);
                let planned = epoch.saturating_add(fits).min(cap);
                if planned != total {
                    log::info!(
                        "after epoch {epoch}: at {:.0} s an epoch, {} more fit in the \
                         {:.0} s limit; the schedule now ends after epoch {planned} \
                         (asked for {})",
                        pace(&paces),
                        planned - epoch,
                        limit.seconds,
                        cfg.epochs
                    );
                    total = planned;
                }
            }
        }
        if report.val_accuracy.is_none()
            && let Some(v) = &val
        {
            // Resumed from a checkpoint of a finished run: measure the restored model.
            report.val_accuracy = Some(accuracy(
                model,
                v.clone(),
                &data.norm,
                cfg.eval_batch_size,
                cfg.resolution,
                cfg.prefetch,
            ));
        }
        if report.end == TrainEnd::Completed
            && cfg.evaluate_test
            && let Some(t) = &data.test
        {
            report.test_accuracy = Some(accuracy(
                model,
                Arc::new(t.clone()),
                &data.norm,
                cfg.eval_batch_size,
                cfg.resolution,
                cfg.prefetch,
            ));
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }
}

/// Has glibc's allocator keep the memory libtorch frees for its next tensors (every new
/// [`Trainer`] sets it):
/// blocks up to 32 MiB come from the heap instead of their own `mmap`, and the heap is not
/// trimmed back below 1 GiB free. By default every activation of a few MiB is mapped, faulted
/// in and unmapped again each step; in a process with several training threads (data-parallel
/// copies, an ensemble) each unmapping also interrupts the other cores. Measured on this
/// project's 2-core CPU, the 16-channel NB201 network on Fashion-MNIST: 5-8 s of system time
/// in a 50-second run without, about 1 s with; with two data-parallel copies 984 images/s
/// against 899 (`bench/results/replicas/`). glibc's own tuning in the environment
/// (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`, or `GLIBC_TUNABLES` naming a
/// `glibc.malloc` tunable) is left to rule.
/// (Measuring a training step's memory, [`crate::metrics::train_step_memory`], sets the
/// opposite for its measurement and this again after it.)
pub(crate) fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tuned = |var: &str| {
            std::env::var(var)
                .is_ok_and(|v| v.contains("malloc") || !v.is_empty() && var.starts_with("MALLOC"))
        };
        if tuned("MALLOC_MMAP_THRESHOLD_")
            || tuned("MALLOC_TRIM_THRESHOLD_")
            || tuned("GLIBC_TUNABLES")
        {
            return;
        }
        // SAFETY: mallopt only sets the allocator's tunables; it is thread-safe in glibc.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        }
    }
}

/// The training loss of a batch (label smoothing; the auxiliary head's share where the network
/// has one) and its logits, under autocast to `amp` where given.
fn batch_loss(
    model: &Model,
    xs: &Tensor,
    ys: &Tensor,
    cfg: &TrainConfig,
    amp: Option<Kind>,
) -> TrainResult<(Tensor, Tensor)> {
    let out = native::autocast(
        model.device(),
        amp.unwrap_or(Kind::Half),
        amp.is_some(),
        || model.net.forward(xs, true),
    )?;
    let ce = |logits: &Tensor| {
        logits.to_kind(Kind::Float).cross_entropy_loss(
            ys,
            None::<Tensor>,
            Reduction::Mean,
            -100,
            cfg.label_smoothing,
        )
    };
    let mut loss = ce(&out.logits);
    if let Some(aux) = &out.aux_logits
        && cfg.aux_weight > 0.0
    {
        loss += ce(aux) * cfg.aux_weight;
    }
    Ok((loss, out.logits))
}

/// How many of `logits`' predictions are `ys` (a 0-d int64 tensor, not read back).
fn count_correct(logits: &Tensor, ys: &Tensor) -> Tensor {
    tch::no_grad(|| logits.argmax(-1, false).eq_tensor(ys).sum(Kind::Int64))
}

/// A model's variables sorted by name; only the trainable ones (those the optimizer steps, in
/// its order) when `trainable`.
fn sorted_variables(model: &Model, trainable: bool) -> Vec<(String, Tensor)> {
    let mut vars: Vec<(String, Tensor)> = model
        .vs
        .variables()
        .into_iter()
        .filter(|(_, t)| !trainable || t.requires_grad())
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// A share of a batch for a data-parallel copy: images, labels, and the drop-path probability
/// of the epoch (DARTS networks).
type Share = (Tensor, Tensor, Option<f64>);

/// What a copy answers for its share: its index, and the share's loss (detached) and correct
/// predictions, its gradients left on its parameters.
type ShareDone = (usize, TrainResult<(Tensor, Tensor)>);

/// Data-parallel copies of a model, each on its own thread ([`TrainConfig::replicas`]): for
/// every batch the model trains the first share on the calling thread while each copy trains
/// another on its own, the copies' gradients are averaged into the model's
/// ([`ReplicaPool::backward`]), the model takes its optimizer step, and the copies take its new
/// weights ([`ReplicaPool::sync`]). The copies' threads end when the pool is dropped.
struct ReplicaPool {
    jobs: Vec<mpsc::Sender<Share>>,
    done: mpsc::Receiver<ShareDone>,
    /// Each copy's trainable parameters in the optimizer's order (handles to the same tensors;
    /// touched only while the copy waits for its next share).
    params: Vec<Vec<Tensor>>,
    /// Torch threads of each share.
    per: usize,
    cfg: TrainConfig,
    amp: Option<Kind>,
}

impl ReplicaPool {
    /// Gives the copies `model`'s layout and every variable's value (weights and batch-norm
    /// statistics), then starts one thread per copy in `scope`.
    fn start<'scope, 'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        model: &mut Model,
        replicas: &'env mut [Model],
        cfg: &TrainConfig,
        amp: Option<Kind>,
        per: usize,
    ) -> TrainResult<Self> {
        let channels_last = cfg.channels_last;
        if channels_last {
            model.to_channels_last();
        }
        let vars = sorted_variables(model, false);
        let (done_tx, done) = mpsc::channel();
        let mut pool = ReplicaPool {
            jobs: Vec::new(),
            done,
            params: Vec::new(),
            per,
            cfg: cfg.clone(),
            amp,
        };
        for (k, replica) in replicas.iter_mut().enumerate() {
            if channels_last {
                replica.to_channels_last();
            }
            let theirs = sorted_variables(replica, false);
            let same = theirs.len() == vars.len()
                && theirs
                    .iter()
                    .zip(&vars)
                    .all(|((a, x), (b, y))| a == b && x.size() == y.size());
            if !same {
                return Err(TrainError::Torch(tch::TchError::Shape(format!(
                    "data-parallel copy {} of the network does not match it ({} variables \
                     against {})",
                    k + 1,
                    theirs.len(),
                    vars.len()
                ))));
            }
            let dst: Vec<&Tensor> = theirs.iter().map(|(_, t)| t).collect();
            let src: Vec<&Tensor> = vars.iter().map(|(_, t)| t).collect();
            native::copy_into(&dst, &src)?;
            pool.params.push(
                sorted_variables(replica, true)
                    .into_iter()
                    .map(|(_, t)| t)
                    .collect(),
            );
            let (tx, rx) = mpsc::channel::<Share>();
            pool.jobs.push(tx);
            let done = done_tx.clone();
            let cfg = pool.cfg.clone();
            scope.spawn(move || replica_worker(k, replica, rx, done, &cfg, amp, per));
        }
        Ok(pool)
    }

    /// The gradients of the batch `xs`, `ys` on `model`'s parameters (`params`, the
    /// optimizer's): the mean over the shares, each weighted by its images. Returns the
    /// batch's loss (detached) and correct predictions. A batch of fewer than two images a
    /// share trains on the model alone.
    fn backward(
        &self,
        model: &Model,
        params: &[Tensor],
        xs: &Tensor,
        ys: &Tensor,
        drop_path: Option<f64>,
    ) -> TrainResult<(Tensor, Tensor)> {
        let gone = || {
            TrainError::Torch(tch::TchError::Torch(
                "a data-parallel copy of the network stopped".into(),
            ))
        };
        let n = xs.size()[0];
        let shares = self.jobs.len() as i64 + 1;
        let (xp, yp) = if n >= 2 * shares {
            (xs.chunk(shares, 0), ys.chunk(shares, 0))
        } else {
            (vec![xs.shallow_clone()], vec![ys.shallow_clone()])
        };
        for k in 1..xp.len() {
            let share = (xp[k].shallow_clone(), yp[k].shallow_clone(), drop_path);
            self.jobs[k - 1].send(share).map_err(|_| gone())?;
        }
        let weight = |part: usize| xp[part].size()[0] as f64 / n as f64;
        let (loss, logits) = batch_loss(model, &xp[0], &yp[0], &self.cfg, self.amp)?;
        loss.backward();
        let mut loss = loss.detach() * weight(0);
        let mut correct = count_correct(&logits, &yp[0]);
        let (idx, grads): (Vec<usize>, Vec<Tensor>) = params
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.grad()))
            .filter(|(_, g)| g.defined())
            .unzip();
        for answered in 1..xp.len() {
            let (k, done) = self.done.recv().map_err(|_| gone())?;
            let (l, c) = done?;
            let w = weight(k + 1);
            loss += l * w;
            correct += c;
            let theirs: Vec<Tensor> = idx.iter().map(|&i| self.params[k][i].grad()).collect();
            if theirs.iter().any(|g| !g.defined()) {
                return Err(TrainError::Torch(tch::TchError::Torch(format!(
                    "data-parallel copy {} of the network has no gradient where the network has",
                    k + 1
                ))));
            }
            let own = if answered == 1 { weight(0) } else { 1.0 };
            native::scale_add(&grads, &theirs, own, w)?;
        }
        Ok((loss, correct))
    }

    /// Gives every copy `params` (the model's trainable parameters after its step).
    fn sync(&self, params: &[Tensor]) -> TrainResult<()> {
        for theirs in &self.params {
            native::copy_into(theirs, params)?;
        }
        Ok(())
    }
}

/// A data-parallel copy's thread: trains each share it is sent (gradients left on its
/// parameters), answering with its loss and correct predictions, until the pool is dropped.
fn replica_worker(
    k: usize,
    model: &mut Model,
    jobs: mpsc::Receiver<Share>,
    done: mpsc::Sender<ShareDone>,
    cfg: &TrainConfig,
    amp: Option<Kind>,
    threads: usize,
) {
    tch::set_num_threads(threads as i32);
    let params: Vec<Tensor> = sorted_variables(model, true)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    for (xs, ys, drop_path) in jobs {
        if let Some(p) = drop_path {
            model.net.set_drop_path_prob(p);
        }
        let model = &*model;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            native::grads_to_none(&params)?;
            let (loss, logits) = batch_loss(model, &xs, &ys, cfg, amp)?;
            loss.backward();
            Ok((loss.detach(), count_correct(&logits, &ys)))
        }))
        .unwrap_or_else(|_| {
            Err(TrainError::Torch(tch::TchError::Torch(format!(
                "data-parallel copy {} of the network panicked",
                k + 1
            ))))
        });
        if done.send((k, run)).is_err() {
            return;
        }
    }
}

/// Epochs of this run's recent pace taken to judge the next: enough to smooth one slow epoch,
/// few enough to follow a machine that slows down or recovers.
const PACE_EPOCHS: usize = 3;

/// The pace the time limit plans with: the mean of the last [`PACE_EPOCHS`] epochs (seconds per
/// epoch). Not the mean of them all: one epoch slowed fourfold by another process (measured:
/// 249 s against 65) would weigh on every later plan.
fn pace(paces: &[f64]) -> f64 {
    let recent = &paces[paces.len().saturating_sub(PACE_EPOCHS)..];
    recent.iter().sum::<f64>() / recent.len().max(1) as f64
}

/// How many more epochs fit in `seconds_left` at the pace of `paces`.
fn epochs_that_fit(seconds_left: f64, paces: &[f64]) -> u32 {
    let per = pace(paces);
    if per <= 0.0 || !per.is_finite() {
        return u32::MAX;
    }
    (seconds_left / per).floor().clamp(0.0, u32::MAX as f64) as u32
}

/// Moves `t` to `device`; to a GPU without blocking the host (the loader pins the batches, so
/// the copy overlaps with the GPU's work; the pinned block is not reused before it is done).
fn to_device(t: &Tensor, device: Device) -> Tensor {
    if device.is_cuda() {
        t.to_device_(device, t.kind(), true, false)
    } else {
        t.to_device(device)
    }
}

/// Moves a batch to `device`, resizes it to `resolution` (bilinear) when that differs, and
/// gives it channels-last strides when asked.
fn prepare(images: &Tensor, device: Device, resolution: Option<i64>, nhwc: bool) -> Tensor {
    let xs = to_device(images, device);
    let xs = match resolution {
        Some(r) if xs.size()[2] != r || xs.size()[3] != r => {
            xs.upsample_bilinear2d([r, r], false, None::<f64>, None::<f64>)
        }
        _ => xs,
    };
    if nhwc && xs.size()[1] > 1 {
        crate::model::channels_last(&xs)
    } else {
        xs
    }
}

/// Top-1 accuracy (%) of `model` on `data` (evaluation mode, no gradients).
pub fn accuracy(
    model: &Model,
    data: Arc<Dataset>,
    norm: &Normalization,
    batch_size: usize,
    resolution: Option<i64>,
    prefetch: usize,
) -> f64 {
    ensemble_accuracy(&[model], data, norm, batch_size, resolution, prefetch)
}

/// Top-1 accuracy (%) on `data` of the ensemble of `models`, which averages their softmax
/// probabilities (one model: its own accuracy); evaluation mode, no gradients. The models
/// share a device; `NaN` for no data or no models.
pub fn ensemble_accuracy(
    models: &[&Model],
    data: Arc<Dataset>,
    norm: &Normalization,
    batch_size: usize,
    resolution: Option<i64>,
    prefetch: usize,
) -> f64 {
    let Some(first) = models.first() else {
        return f64::NAN;
    };
    if data.is_empty() {
        return f64::NAN;
    }
    let n = data.len();
    let device = first.device();
    let loader = Loader::new(
        data,
        norm.clone(),
        LoaderConfig {
            prefetch,
            low_priority: !device.is_cuda(),
            ..LoaderConfig::eval(batch_size)
        },
    )
    .pin_memory(device);
    tch::no_grad(|| {
        let mut correct = Tensor::zeros([], (Kind::Int64, device));
        for batch in loader.epoch(0) {
            let ys = to_device(&batch.labels, device);
            let forward = |model: &Model| {
                let xs = prepare(&batch.images, device, resolution, model.is_channels_last());
                model.net.forward(&xs, false).logits
            };
            let scores = match models {
                [model] => forward(model),
                [first, rest @ ..] => rest
                    .iter()
                    .fold(forward(first).softmax(-1, Kind::Float), |sum, model| {
                        sum + forward(model).softmax(-1, Kind::Float)
                    }),
                [] => unreachable!("checked above"),
            };
            correct += scores.argmax(-1, false).eq_tensor(&ys).sum(Kind::Int64);
        }
        100.0 * correct.int64_value(&[]) as f64 / n as f64
    })
}

/// Scales the gradients of `params` so that their global L2 norm is at most `max_norm` (as
/// `torch.nn.utils.clip_grad_norm_`, in one multi-tensor call, without a host
/// synchronisation). Parameters without a gradient are left out.
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64) -> TrainResult<()> {
    let grads: Vec<Tensor> = params
        .iter()
        .map(|p| p.grad())
        .filter(|g| g.defined())
        .collect();
    if grads.is_empty() {
        return Ok(());
    }
    tch::no_grad(|| native::clip_grad_norm(&grads, max_norm))?;
    Ok(())
}

/// The optimizer's parameters and state.
struct OptimizerState {
    kind: Optimizer,
    /// Names of the trainable variables, sorted (checkpoint keys).
    names: Vec<String>,
    params: Vec<Tensor>,
    /// Momentum buffer (SGD) or first moment (Adam), per parameter.
    buf1: Vec<Option<Tensor>>,
    /// Second moment (Adam).
    buf2: Vec<Option<Tensor>>,
    step: i64,
}

impl OptimizerState {
    fn new(model: &Model, kind: Optimizer) -> Self {
        // The order data-parallel copies list their parameters in too.
        let vars = sorted_variables(model, true);
        let n = vars.len();
        let (names, params) = vars.into_iter().unzip();
        OptimizerState {
            kind,
            names,
            params,
            buf1: (0..n).map(|_| None).collect(),
            buf2: (0..n).map(|_| None).collect(),
            step: 0,
        }
    }

    /// Drops the gradients (PyTorch's `zero_grad()`): the next backward pass stores fresh ones
    /// instead of adding to zeros, and a parameter it does not reach has none (no step).
    fn zero_grad(&mut self) -> TrainResult<()> {
        native::grads_to_none(&self.params)?;
        Ok(())
    }

    /// The parameters that have a gradient, with their gradients, and their indices.
    fn with_grads(&self) -> (Vec<usize>, Vec<Tensor>) {
        let mut idx = Vec::with_capacity(self.params.len());
        let mut grads = Vec::with_capacity(self.params.len());
        for (i, p) in self.params.iter().enumerate() {
            let g = p.grad();
            if g.defined() {
                idx.push(i);
                grads.push(g);
            }
        }
        (idx, grads)
    }

    /// One step at learning rate `lr` for every parameter that has a gradient, as a few
    /// multi-tensor operations. State buffers start at zero (for SGD's momentum that gives
    /// PyTorch's first step, `b = d`).
    fn step(&mut self, lr: f64) -> TrainResult<()> {
        self.step += 1;
        let (idx, grads) = self.with_grads();
        if idx.is_empty() {
            return Ok(());
        }
        let zeros = |slot: &mut Option<Tensor>, p: &Tensor| {
            if slot.is_none() {
                *slot = Some(p.detach().zeros_like());
            }
        };
        let need1 = !matches!(self.kind, Optimizer::Sgd { momentum, .. } if momentum == 0.0);
        let need2 = matches!(self.kind, Optimizer::Adam { .. });
        for &i in &idx {
            if need1 {
                zeros(&mut self.buf1[i], &self.params[i]);
            }
            if need2 {
                zeros(&mut self.buf2[i], &self.params[i]);
            }
        }
        let params: Vec<&Tensor> = idx.iter().map(|&i| &self.params[i]).collect();
        fn state<'a>(bufs: &'a [Option<Tensor>], idx: &[usize], on: bool) -> Vec<&'a Tensor> {
            if on {
                idx.iter().filter_map(|&i| bufs[i].as_ref()).collect()
            } else {
                Vec::new()
            }
        }
        let b1 = state(&self.buf1, &idx, need1);
        let b2 = state(&self.buf2, &idx, need2);
        tch::no_grad(|| match self.kind {
            Optimizer::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => native::sgd_step(&params, &grads, &b1, lr, momentum, weight_decay, nesterov),
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
            } => native::adam_step(
                &params,
                &grads,
                &b1,
                &b2,
                native::AdamStep {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    decoupled,
                    step: self.step,
                },
            ),
        })?;
        Ok(())
    }
}

/// Dynamic loss scaling for float16 training (a no-op when off).
struct LossScaler {
    on: bool,
    scale: f64,
    good_steps: u32,
}

impl LossScaler {
    fn new(on: bool) -> Self {
        LossScaler {
            on,
            scale: 65536.0,
            good_steps: 0,
        }
    }

    fn backward(&self, loss: &Tensor) {
        if self.on {
            (loss * self.scale).backward();
        } else {
            loss.backward();
        }
    }

    /// Divides the gradients by the scale; `false` (skip the step, halve the scale) when a
    /// gradient overflowed.
    fn unscale_and_check(&mut self, params: &[Tensor]) -> TrainResult<bool> {
        if !self.on {
            return Ok(true);
        }
        let grads: Vec<Tensor> = params
            .iter()
            .map(|p| p.grad())
            .filter(|g| g.defined())
            .collect();
        let finite = !tch::no_grad(|| native::unscale_grads(&grads, 1.0 / self.scale))?;
        if finite {
            self.good_steps += 1;
            if self.good_steps >= 2000 {
                self.scale *= 2.0;
                self.good_steps = 0;
            }
        } else {
            self.scale /= 2.0;
            self.good_steps = 0;
            if self.scale < 1e-8 {
                return Err(TrainError::Diverged(
                    "gradients overflow at every loss scale".into(),
                ));
            }
        }
        Ok(finite)
    }
}

const META_EPOCH: &str = "meta/epoch";
const META_STEP: &str = "meta/step";

/// Writes weights, optimizer state and the number of epochs done to `path` (safetensors),
/// through a temporary file so that a crash never leaves half a checkpoint.
fn save_checkpoint(
    path: &Path,
    model: &Model,
    opt: &OptimizerState,
    epochs_done: u32,
) -> TrainResult<()> {
    let cpu = |t: &Tensor| t.detach().to_device(Device::Cpu).contiguous();
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    let mut vars: Vec<(String, Tensor)> = model.vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (n, t) in vars {
        tensors.push((format!("model/{n}"), cpu(&t)));
    }
    for (i, n) in opt.names.iter().enumerate() {
        if let Some(b) = &opt.buf1[i] {
            tensors.push((format!("optim1/{n}"), cpu(b)));
        }
        if let Some(b) = &opt.buf2[i] {
            tensors.push((format!("optim2/{n}"), cpu(b)));
        }
    }
    tensors.push((META_EPOCH.into(), Tensor::from_slice(&[epochs_done as i64])));
    tensors.push((META_STEP.into(), Tensor::from_slice(&[opt.step])));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = path.with_extension("tmp");
    Tensor::write_safetensors(&tensors, &tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// Restores a checkpoint into `model` and `opt`; returns the epochs done.
fn load_checkpoint(path: &Path, model: &mut Model, opt: &mut OptimizerState) -> TrainResult<u32> {
    let bad = |r: String| TrainError::Core(Error::data(path, None, r));
    let tensors: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| bad(format!("cannot read the checkpoint: {e}")))?
        .into_iter()
        .collect();
    let device = model.device();
    tch::no_grad(|| -> TrainResult<()> {
        for (n, mut t) in model.vs.variables() {
            let src = tensors.get(&format!("model/{n}")).ok_or_else(|| {
                bad(format!(
                    "no variable `{n}`: a checkpoint of another network?"
                ))
            })?;
            if src.size() != t.size() {
                return Err(bad(format!(
                    "variable `{n}` has shape {:?}, the network's is {:?}",
                    src.size(),
                    t.size()
                )));
            }
            t.f_copy_(src)?;
        }
        Ok(())
    })?;
    for (i, n) in opt.names.iter().enumerate() {
        opt.buf1[i] = tensors
            .get(&format!("optim1/{n}"))
            .map(|t| t.to_device(device));
        opt.buf2[i] = tensors
            .get(&format!("optim2/{n}"))
            .map(|t| t.to_device(device));
    }
    let epoch = tensors
        .get(META_EPOCH)
        .ok_or_else(|| bad("no epoch count".into()))?
        .int64_value(&[0]);
    opt.step = tensors.get(META_STEP).map_or(0, |t| t.int64_value(&[0]));
    u32::try_from(epoch).map_err(|_| bad(format!("bad epoch count {epoch}")))
}

/// A measured speed counts as below [`TrainConfig::min_images_per_second`] only under this
/// share of it: the first batches of a run are noisier than a whole epoch.
pub const SPEED_FLOOR_TOLERANCE: f64 = 0.8;

/// Batches after which the speed floor is checked (the count before it is warm-up).
const FLOOR_WARMUP_BATCHES: usize = 2;
const FLOOR_CHECK_BATCHES: usize = 10;

/// Before batch `b` of the first epoch (with `seen` images trained): starts the speed floor's
/// clock after the warm-up batches and, once enough batches have passed, fails when the pace
/// since is clearly below `floor` images a second.
fn check_speed_floor(
    floor: f64,
    b: usize,
    seen: usize,
    from: &mut Option<(Instant, usize)>,
) -> TrainResult<()> {
    if b == FLOOR_WARMUP_BATCHES {
        *from = Some((Instant::now(), seen));
    }
    if b == FLOOR_CHECK_BATCHES
        && let Some((t0, seen0)) = *from
    {
        let ips = (seen - seen0) as f64 / t0.elapsed().as_secs_f64().max(1e-9);
        if ips < floor * SPEED_FLOOR_TOLERANCE {
            return Err(TrainError::TooSlow(format!(
                "{ips:.0} images/s over its first batches, where at least {floor:.0} are needed \
                 (the retraining epochs the study requires would not fit its time)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-tensor optimizer this crate had before the multi-tensor one (reference
    /// numerics): one SGD or Adam update per parameter, tch's `zero_grad` (zeros) and a
    /// per-tensor clipping.
    struct PerTensor {
        kind: Optimizer,
        params: Vec<Tensor>,
        buf1: Vec<Option<Tensor>>,
        buf2: Vec<Option<Tensor>>,
        step: i64,
    }

    impl PerTensor {
        fn new(model: &Model, kind: Optimizer) -> Self {
            let o = OptimizerState::new(model, kind.clone());
            let n = o.params.len();
            PerTensor {
                kind,
                params: o.params,
                buf1: (0..n).map(|_| None).collect(),
                buf2: (0..n).map(|_| None).collect(),
                step: 0,
            }
        }

        fn zero_grad(&mut self) {
            for p in &mut self.params {
                p.zero_grad();
            }
        }

        fn clip(&self, max_norm: f64) {
            tch::no_grad(|| {
                let grads: Vec<Tensor> = self
                    .params
                    .iter()
                    .map(|p| p.grad())
                    .filter(|g| g.defined())
                    .collect();
                let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
                let total = Tensor::stack(&norms, 0).norm();
                let coef = ((total + 1e-6).reciprocal() * max_norm).clamp_max(1.0);
                for mut g in grads {
                    let _ = g.f_mul_(&coef);
                }
            })
        }

        fn step(&mut self, lr: f64) {
            self.step += 1;
            let t = self.step;
            tch::no_grad(|| match self.kind {
                Optimizer::Sgd {
                    momentum,
                    nesterov,
                    weight_decay,
                } => {
                    for (p, buf) in self.params.iter_mut().zip(&mut self.buf1) {
                        let g = p.grad();
                        if !g.defined() {
                            continue;
                        }
                        let d = &g + &*p * weight_decay;
                        let d = if momentum != 0.0 {
                            let b = match buf {
                                Some(b) => {
                                    let _ = b.f_mul_scalar_(momentum);
                                    let _ = b.f_add_(&d);
                                    b.shallow_clone()
                                }
                                None => {
                                    let b = d.detach().copy();
                                    *buf = Some(b.shallow_clone());
                                    b
                                }
                            };
                            if nesterov { d + b * momentum } else { b }
                        } else {
                            d
                        };
                        let _ = p.f_sub_(&(d * lr));
                    }
                }
                Optimizer::Adam {
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    decoupled,
                } => {
                    let bc1 = 1.0 - beta1.powi(t as i32);
                    let bc2 = 1.0 - beta2.powi(t as i32);
                    for ((p, m), v) in self
                        .params
                        .iter_mut()
                        .zip(&mut self.buf1)
                        .zip(&mut self.buf2)
                    {
                        let g = p.grad();
                        if !g.defined() {
                            continue;
                        }
                        if decoupled {
                            let _ = p.f_mul_scalar_(1.0 - lr * weight_decay);
                        }
                        let g = if decoupled {
                            g
                        } else {
                            &g + &*p * weight_decay
                        };
                        let m = m.get_or_insert_with(|| g.zeros_like());
                        let v = v.get_or_insert_with(|| g.zeros_like());
                        let _ = m.f_mul_scalar_(beta1);
                        let _ = m.f_add_(&(&g * (1.0 - beta1)));
                        let _ = v.f_mul_scalar_(beta2);
                        let _ = v.f_add_(&(&g * &g * (1.0 - beta2)));
                        let denom = v.sqrt() / bc2.sqrt() + eps;
                        let _ = p.f_sub_(&(&*m / denom * (lr / bc1)));
                    }
                }
            })
        }
    }

    /// An NB201 network of `arch` at 4 channels, one cell, on 8x8 inputs.
    fn tiny_nb201(arch: &str, in_channels: i64, classes: i64) -> Model {
        let arch: nascent_space::Nb201Arch = arch.parse().unwrap();
        let spec = crate::NetSpec {
            in_channels,
            resolution: 8,
            classes,
            channels: Some(4),
            cells: Some(1),
        };
        Model::new(
            &crate::nets::Nb201Builder as &dyn crate::Builder<nascent_space::Nb201Arch>,
            &arch,
            spec,
            Device::Cpu,
        )
        .unwrap()
    }

    fn small_nb201(seed: i64) -> Model {
        tch::manual_seed(seed);
        tiny_nb201(
            "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|",
            3,
            4,
        )
    }

    fn batches() -> Vec<(Tensor, Tensor)> {
        tch::manual_seed(7);
        (0..4)
            .map(|_| {
                (
                    Tensor::randn([8, 3, 8, 8], (Kind::Float, Device::Cpu)),
                    Tensor::randint(4, [8], (Kind::Int64, Device::Cpu)),
                )
            })
            .collect()
    }

    fn loss_of(m: &Model, x: &Tensor, y: &Tensor) -> Tensor {
        m.forward(x, true).cross_entropy_for_logits(y)
    }

    fn flat_params(m: &Model) -> Vec<f32> {
        let mut vars: Vec<(String, Tensor)> = m.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars.iter()
            .flat_map(|(_, t)| Vec::<f32>::try_from(t.flatten(0, -1)).unwrap())
            .collect()
    }

    fn grads(m: &Model) -> Vec<(String, Tensor)> {
        let mut vars: Vec<(String, Tensor)> = m.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars.into_iter().map(|(n, t)| (n, t.grad())).collect()
    }

    #[test]
    fn channels_last_weights_give_the_same_logits_gradients_step_and_saved_file() {
        tch::set_num_threads(1);
        let a = small_nb201(5);
        let mut b = small_nb201(5);
        b.to_channels_last();
        assert!(!a.is_channels_last());
        assert!(b.is_channels_last());
        assert_eq!(flat_params(&a), flat_params(&b), "the values do not move");
        let (x, y) = &batches()[0];
        let xb = crate::model::channels_last(x);
        assert!(crate::model::is_channels_last(&xb) && !crate::model::is_channels_last(x));
        let (la, lb) = (loss_of(&a, x, y), loss_of(&b, &xb, y));
        assert!((la.double_value(&[]) - lb.double_value(&[])).abs() < 1e-5);
        la.backward();
        lb.backward();
        for ((n, ga), (_, gb)) in grads(&a).iter().zip(&grads(&b)) {
            if !ga.defined() {
                assert!(!gb.defined(), "{n}");
                continue;
            }
            assert!(ga.allclose(gb, 1e-4, 1e-6, false), "gradient of {n}");
            if gb.dim() == 4 {
                assert!(
                    crate::model::is_channels_last(gb),
                    "{n}'s gradient keeps the layout"
                );
            }
        }
        // One step of the multi-tensor optimizer lands on the same weights.
        let mut oa = OptimizerState::new(&a, Optimizer::sgd_nesterov());
        let mut ob = OptimizerState::new(&b, Optimizer::sgd_nesterov());
        oa.step(0.1).unwrap();
        ob.step(0.1).unwrap();
        for (wa, wb) in flat_params(&a).iter().zip(flat_params(&b)) {
            assert!((wa - wb).abs() < 1e-5, "{wa} against {wb}");
        }
        // The saved file holds the values in the usual layout: a contiguous model loads them.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.safetensors");
        crate::export::save_weights(&b, &file).unwrap();
        let c = small_nb201(6);
        crate::export::load_weights(&c, &file).unwrap();
        assert!(!c.is_channels_last());
        assert_eq!(flat_params(&c), flat_params(&b));
        let (lc, lb) = tch::no_grad(|| (c.forward(x, false), b.forward(&xb, false)));
        assert!(lc.allclose(&lb, 1e-4, 1e-5, false));
    }

    #[test]
    fn multi_tensor_optimizers_follow_the_per_tensor_trajectory() {
        tch::set_num_threads(1);
        let kinds = [
            Optimizer::sgd_nesterov(),
            Optimizer::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 0.0,
            },
            Optimizer::Sgd {
                momentum: 0.0,
                nesterov: false,
                weight_decay: 1e-3,
            },
            Optimizer::adam(),
            Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.99,
                eps: 1e-8,
                weight_decay: 0.05,
                decoupled: true,
            },
            Optimizer::Adam {
                beta1: 0.8,
                beta2: 0.999,
                eps: 1e-6,
                weight_decay: 1e-3,
                decoupled: false,
            },
        ];
        let data = batches();
        for kind in kinds {
            let lr = if matches!(kind, Optimizer::Sgd { .. }) {
                0.1
            } else {
                0.01
            };
            let a = small_nb201(3);
            let b = small_nb201(3);
            assert_eq!(flat_params(&a), flat_params(&b));
            let mut fast = OptimizerState::new(&a, kind.clone());
            let mut slow = PerTensor::new(&b, kind.clone());
            let (mut la, mut lb) = (Vec::new(), Vec::new());
            for step in 0..8 {
                let (x, y) = &data[step % data.len()];
                let l = loss_of(&a, x, y);
                fast.zero_grad().unwrap();
                l.backward();
                clip_grad_norm(&fast.params, 1.0).unwrap();
                fast.step(lr).unwrap();
                la.push(l.double_value(&[]));
                let l = loss_of(&b, x, y);
                slow.zero_grad();
                l.backward();
                slow.clip(1.0);
                slow.step(lr);
                lb.push(l.double_value(&[]));
            }
            for (s, (x, y)) in la.iter().zip(&lb).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-4 * y.abs().max(1.0),
                    "{kind:?}: step {s}: loss {x} (multi-tensor) vs {y} (per-tensor)"
                );
            }
            // Training moved the weights, by the same amounts: exactly up to rounding for SGD;
            // Adam divides by the root of the second moment, which magnifies rounding
            // differences in parameters whose gradients are almost zero, so it is compared on
            // the whole change.
            let (pa, pb) = (flat_params(&a), flat_params(&b));
            let p0 = flat_params(&small_nb201(3));
            let moved: f64 = p0.iter().zip(&pa).map(|(u, v)| (u - v).abs() as f64).sum();
            let differ: f64 = pa.iter().zip(&pb).map(|(u, v)| (u - v).abs() as f64).sum();
            assert!(moved > 1e-2, "{kind:?}: the weights did not change");
            let worst = pa
                .iter()
                .zip(&pb)
                .map(|(u, v)| (u - v).abs())
                .fold(0f32, f32::max);
            if matches!(kind, Optimizer::Sgd { .. }) {
                assert!(worst < 1e-4, "{kind:?}: weights differ by {worst}");
                assert!(differ < 1e-4 * moved, "{kind:?}: {differ} of {moved}");
            } else {
                assert!(differ < 1e-2 * moved, "{kind:?}: {differ} of {moved}");
            }
            assert!(la[7] < la[0] + 0.5, "{kind:?}: {la:?}");
        }
    }

    #[test]
    fn a_parameter_without_gradient_is_not_stepped() {
        tch::set_num_threads(1);
        let m = small_nb201(1);
        let mut o = OptimizerState::new(&m, Optimizer::sgd_nesterov());
        let (_, y) = &batches()[0];
        let before = flat_params(&m);
        // Gradients for the classifier only: nothing else may move (no weight decay step).
        let feats = Tensor::randn([8, 16], (Kind::Float, Device::Cpu));
        let cls: Vec<Tensor> = o
            .names
            .iter()
            .zip(&o.params)
            .filter(|(n, _)| n.starts_with("classifier"))
            .map(|(_, p)| p.shallow_clone())
            .collect();
        assert_eq!(cls.len(), 2);
        let (bias, w) = (&cls[0], &cls[1]);
        assert_eq!(w.size(), [4, 16]);
        let l = feats.linear(w, Some(bias)).cross_entropy_for_logits(y);
        o.zero_grad().unwrap();
        l.backward();
        o.step(0.1).unwrap();
        let after = flat_params(&m);
        let changed = before.iter().zip(&after).filter(|(u, v)| u != v).count();
        let cls_size = w.numel() + bias.numel();
        assert!(
            changed > 0 && changed <= cls_size,
            "{changed} values changed"
        );
        assert_eq!(o.buf1.iter().filter(|b| b.is_some()).count(), 2);
    }

    /// Two classes a network tells apart easily: the top half of the image brighter than the
    /// bottom half, or the reverse (with noise).
    fn halves(n: usize, seed: u64) -> DataSplits {
        let mut rng = nascent_core::Rng::new(seed);
        let mut px = Vec::with_capacity(n * 64);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let label = (i % 2) as i64;
            for y in 0..8 {
                let bright = (y < 4) == (label == 0);
                for _ in 0..8 {
                    let base = if bright { 150 } else { 60 };
                    px.push((base + rng.below(80)) as u8);
                }
            }
            labels.push(label);
        }
        let train = Dataset::new(
            Path::new("halves"),
            [1, 8, 8],
            crate::data::Samples::U8(px),
            labels,
            vec!["top".into(), "bottom".into()],
        )
        .unwrap();
        DataSplits::split(
            crate::data::LoadedData {
                origin: "halves".into(),
                train,
                test: None,
            },
            0.25,
            seed,
        )
        .unwrap()
    }

    /// Trains a small NB201 network (4 channels, one cell) on `data` of [`halves`] with `cfg`.
    fn fit_halves_cell(cfg: TrainConfig, data: &DataSplits) -> TrainResult<TrainReport> {
        let t = Trainer::new(cfg).unwrap();
        t.seed_torch();
        let mut m = tiny_nb201(
            "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
            1,
            2,
        );
        t.fit(&mut m, data, &mut nascent_core::NoReporter, &mut NoObserver)
    }

    #[test]
    fn a_run_below_its_speed_floor_stops_after_its_first_batches() {
        // 192 training images in batches of 8: 24 batches, the floor checked at the 11th.
        let data = halves(256, 2);
        let fit = |floor: f64| {
            let cfg = TrainConfig {
                epochs: 3,
                batch_size: 8,
                threads: Some(1),
                evaluate_test: false,
                min_images_per_second: Some(floor),
                ..TrainConfig::default()
            };
            fit_halves_cell(cfg, &data)
        };
        // A billion images a second is out of reach: stopped, saying why.
        let e = fit(1e9).unwrap_err().to_string();
        assert!(e.contains("too slow") && e.contains("1000000000"), "{e}");
        // One image a second is not: every epoch runs.
        assert_eq!(fit(1.0).unwrap().epochs_done, 3);
    }

    #[test]
    fn bf16_autocast_trains_on_the_cpu() {
        let data = halves(128, 1);
        let run = |amp: AmpDtype| {
            let cfg = TrainConfig {
                epochs: 4,
                batch_size: 16,
                lr: 0.05,
                threads: Some(1),
                mixed_precision: true,
                amp_dtype: amp,
                evaluate_test: false,
                ..TrainConfig::default()
            };
            fit_halves_cell(cfg, &data).unwrap()
        };
        let bf = run(AmpDtype::BFloat16);
        // float16 does not run on the CPU: float32 training.
        let fp = run(AmpDtype::Float16);
        let (lb, lf) = (bf.epochs[0].train_loss, fp.epochs[0].train_loss);
        assert!(lb.is_finite() && lf.is_finite());
        assert_ne!(lb, lf, "bfloat16 autocast changed nothing: was it on?");
        assert!((lb - lf).abs() < 0.05 * lf, "bf16 {lb} vs f32 {lf}");
        let val = bf.val_accuracy.unwrap();
        assert!(
            val >= 90.0,
            "bf16 validation accuracy {val}%: {:?}",
            bf.epochs
        );
        assert!(bf.epochs[3].train_loss < bf.epochs[0].train_loss);
    }

    #[test]
    fn amp_dtype_parses_and_says_where_it_runs() {
        assert_eq!("bf16".parse::<AmpDtype>().unwrap(), AmpDtype::BFloat16);
        assert_eq!("Float16".parse::<AmpDtype>().unwrap(), AmpDtype::Float16);
        let e = "fp8".parse::<AmpDtype>().unwrap_err().to_string();
        assert!(e.contains("fp8") && e.contains("bfloat16"), "{e}");
        assert!(AmpDtype::BFloat16.runs_on(Device::Cpu));
        assert!(!AmpDtype::Float16.runs_on(Device::Cpu));
        assert_eq!(TrainConfig::default().amp_dtype, AmpDtype::Float16);
        assert_eq!("auto".parse::<AmpDtype>().unwrap(), AmpDtype::Auto);
        // Auto: float16 on CUDA; on a CPU bfloat16 exactly where it has bfloat16 instructions.
        assert_eq!(AmpDtype::Auto.on(Device::Cuda(0)), Some(AmpDtype::Float16));
        assert_eq!(
            AmpDtype::Auto.on(Device::Cpu),
            cpu_has_bf16().then_some(AmpDtype::BFloat16)
        );
        let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        if cfg!(target_arch = "x86_64") && !flags.is_empty() {
            assert_eq!(cpu_has_bf16(), flags.contains(" avx512_bf16"), "{flags:.0}");
        }
    }

    /// The gradients a share of `xs`, `ys` leaves on a fresh network of `seed`'s weights.
    fn share_grads(seed: i64, xs: &Tensor, ys: &Tensor) -> Vec<(String, Tensor)> {
        let m = small_nb201(seed);
        loss_of(&m, xs, ys).backward();
        grads(&m).into_iter().filter(|(_, g)| g.defined()).collect()
    }

    #[test]
    fn data_parallel_copies_average_their_shares_gradients_and_take_the_new_weights() {
        let cfg = TrainConfig {
            mixed_precision: false,
            channels_last: false,
            label_smoothing: 0.0,
            ..TrainConfig::default()
        };
        // Nine images over three networks: shares of 3 (the model's), 3 and 3; eight over two:
        // 4 and 4; three over two: too few for two a share, the model alone. The copies start
        // from other weights; the pool gives them the model's.
        for (n, copies) in [(9i64, 2usize), (8, 1), (3, 1)] {
            let model = small_nb201(1);
            let mut replicas: Vec<Model> =
                (0..copies).map(|k| small_nb201(10 + k as i64)).collect();
            let mut model = model;
            tch::manual_seed(3);
            let xs = Tensor::randn([n, 3, 8, 8], (Kind::Float, Device::Cpu));
            let ys = Tensor::randint(4, [n], (Kind::Int64, Device::Cpu));
            let params: Vec<Tensor> = sorted_variables(&model, true)
                .into_iter()
                .map(|(_, t)| t)
                .collect();
            let (loss, correct, replica_params) = std::thread::scope(|scope| {
                let pool =
                    ReplicaPool::start(scope, &mut model, &mut replicas, &cfg, None, 1).unwrap();
                let (loss, correct) = pool.backward(&model, &params, &xs, &ys, None).unwrap();
                // A step on the model, then the copies take its weights.
                tch::no_grad(|| {
                    for p in &params {
                        let g = p.grad();
                        if g.defined() {
                            let _ = p.shallow_clone().f_sub_(&(g * 0.1)).unwrap();
                        }
                    }
                });
                pool.sync(&params).unwrap();
                let theirs: Vec<Vec<Tensor>> = pool
                    .params
                    .iter()
                    .map(|ps| ps.iter().map(Tensor::shallow_clone).collect())
                    .collect();
                (loss, correct, theirs)
            });
            // What the shares' gradients average to, each computed alone by hand.
            let networks = copies as i64 + 1;
            let shares = if n >= 2 * networks { networks } else { 1 };
            let sizes: Vec<i64> = xs.chunk(shares, 0).iter().map(|c| c.size()[0]).collect();
            let (mut want, mut want_loss, mut at) = (Vec::<(String, Tensor)>::new(), 0.0, 0);
            for size in &sizes {
                let (x, y) = (xs.narrow(0, at, *size), ys.narrow(0, at, *size));
                at += size;
                let w = *size as f64 / n as f64;
                want_loss += w * loss_of(&small_nb201(1), &x, &y).double_value(&[]);
                let g = share_grads(1, &x, &y);
                if want.is_empty() {
                    want = g.into_iter().map(|(k, t)| (k, t * w)).collect();
                } else {
                    for ((k, acc), (k2, t)) in want.iter_mut().zip(g) {
                        assert_eq!(*k, k2);
                        *acc = &*acc + t * w;
                    }
                }
            }
            assert!((loss.double_value(&[]) - want_loss).abs() < 1e-5, "n={n}");
            assert!((0..=n).contains(&correct.int64_value(&[])));
            // The model's gradients (its step left them) are the weighted mean.
            let got: Vec<_> = grads(&model)
                .into_iter()
                .filter(|(_, g)| g.defined())
                .collect();
            assert_eq!(got.len(), want.len());
            for ((k, g), (k2, w)) in got.iter().zip(&want) {
                assert_eq!(k, k2);
                let d = (g - w).abs().max().double_value(&[]);
                assert!(d < 1e-5, "n={n}, {k}: the averaged gradient is {d} off");
            }
            // Every copy holds the model's new weights.
            for theirs in &replica_params {
                assert_eq!(theirs.len(), params.len());
                for (t, p) in theirs.iter().zip(&params) {
                    assert!(t.equal(p));
                }
            }
        }
    }

    #[test]
    fn a_run_with_data_parallel_copies_learns_and_ends_with_them_in_step() {
        let data = halves(256, 2);
        let cfg = TrainConfig {
            epochs: 4,
            batch_size: 16,
            lr: 0.05,
            threads: Some(2),
            replicas: 2,
            mixed_precision: false,
            prefetch: 0,
            ..TrainConfig::default()
        };
        let t = Trainer::new(cfg).unwrap();
        t.seed_torch();
        let arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|";
        let mut m = tiny_nb201(arch, 1, 2);
        let mut copies = vec![tiny_nb201(arch, 1, 2)];
        let r = t
            .fit_replicated(
                &mut m,
                &mut copies,
                &data,
                &mut nascent_core::NoReporter,
                &mut NoObserver,
            )
            .unwrap();
        assert_eq!(r.epochs_done, 4);
        assert!(r.val_accuracy.unwrap() > 90.0, "{r:?}");
        let trainable = |m: &Model| -> Vec<Tensor> {
            sorted_variables(m, true)
                .into_iter()
                .map(|(_, t)| t)
                .collect()
        };
        for (a, b) in trainable(&m).iter().zip(trainable(&copies[0])) {
            assert!(
                a.equal(&b),
                "the copy's weights are the model's after the last step"
            );
        }
        // The same run without copies trains too (the shares change batch norm's statistics,
        // so the trajectories differ).
        let one = fit_halves_cell(
            TrainConfig {
                replicas: 1,
                ..t.config().clone()
            },
            &data,
        )
        .unwrap();
        assert!(one.val_accuracy.unwrap() > 90.0);
    }

    #[test]
    fn config_checks_name_the_field() {
        let mut c = TrainConfig::default();
        assert!(c.check().is_ok());
        c.lr = -1.0;
        assert!(c.check().unwrap_err().to_string().contains("train.lr"));
        let c = TrainConfig {
            optimizer: Optimizer::Sgd {
                momentum: 0.0,
                nesterov: true,
                weight_decay: 0.0,
            },
            ..TrainConfig::default()
        };
        assert!(c.check().unwrap_err().to_string().contains("nesterov"));
        let c = TrainConfig {
            resume: true,
            ..TrainConfig::default()
        };
        assert!(c.check().unwrap_err().to_string().contains("resume"));
        let c = TrainConfig {
            replicas: 0,
            ..TrainConfig::default()
        };
        assert!(
            c.check()
                .unwrap_err()
                .to_string()
                .contains("train.replicas")
        );
    }

    #[test]
    fn the_time_limit_plans_with_the_recent_pace() {
        // Steady: 10 s an epoch, 95 s left -> 9 more.
        assert_eq!(epochs_that_fit(95.0, &[10.0, 10.0, 10.0]), 9);
        // Slowing down: the last three (14 s) count, not the mean of all (11.6 s).
        assert_eq!(epochs_that_fit(100.0, &[8.0, 8.0, 14.0, 14.0, 14.0]), 7);
        // Recovered from a slow stretch: it no longer weighs on the plan.
        assert_eq!(epochs_that_fit(100.0, &[60.0, 5.0, 5.0, 5.0]), 20);
        // In the middle of one: it does.
        assert_eq!(epochs_that_fit(100.0, &[60.0, 5.0, 5.0]), 4);
        // Past the limit: none.
        assert_eq!(epochs_that_fit(-3.0, &[10.0]), 0);
        // No pace yet: no limit to apply.
        assert_eq!(epochs_that_fit(10.0, &[]), u32::MAX);
    }

    #[test]
    fn a_shortened_schedule_is_the_cosine_over_fewer_epochs() {
        let c = TrainConfig {
            epochs: 100,
            lr: 1.0,
            ..TrainConfig::default()
        };
        let short = TrainConfig {
            epochs: 10,
            ..c.clone()
        };
        for step in [0, 37, 99] {
            assert_eq!(c.lr_over(step, 10, 10), short.lr_at(step, 10));
        }
        assert_eq!(c.lr_over(500, 10, 100), c.lr_at(500, 10));
    }

    #[test]
    fn schedules() {
        let c = TrainConfig {
            epochs: 10,
            lr: 1.0,
            warmup_epochs: 2,
            ..TrainConfig::default()
        };
        assert!((c.lr_at(0, 10) - 0.05).abs() < 1e-12);
        assert!((c.lr_at(19, 10) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(20, 10) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(60, 10) - 0.5).abs() < 1e-12);
        assert!(c.lr_at(99, 10) < 0.001);
        let s = TrainConfig {
            epochs: 10,
            lr: 1.0,
            schedule: Schedule::Step {
                every: 3,
                gamma: 0.1,
            },
            ..TrainConfig::default()
        };
        assert_eq!(s.lr_at(29, 10), 1.0);
        assert!((s.lr_at(30, 10) - 0.1).abs() < 1e-12);
        assert!((s.lr_at(95, 10) - 0.001).abs() < 1e-12);
    }

    #[test]
    fn an_ensemble_averages_its_members_probabilities() {
        let data = halves(120, 5);
        let val = Arc::new(data.val.clone());
        let arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|";
        let members: Vec<Model> = (0..3)
            .map(|seed| {
                tch::manual_seed(seed);
                tiny_nb201(arch, 1, 2)
            })
            .collect();
        let acc = |models: &[&Model], batch: usize| {
            ensemble_accuracy(models, val.clone(), &data.norm, batch, None, 1)
        };
        let [a, b, c] = [&members[0], &members[1], &members[2]];
        // One member is that network's own accuracy; a network twice is itself.
        let alone = accuracy(a, val.clone(), &data.norm, 7, None, 1);
        assert_eq!(acc(&[a], 7), alone);
        assert_eq!(acc(&[a, a], 5), alone);
        // Three networks: the argmax of their mean softmax over the whole split in one batch,
        // worked out here, whatever the batch size the ensemble reads it in.
        let batch = Loader::new(
            val.clone(),
            data.norm.clone(),
            LoaderConfig::eval(val.len()),
        )
        .epoch(0)
        .next()
        .unwrap();
        let mean = tch::no_grad(|| {
            [a, b, c]
                .iter()
                .map(|m| {
                    m.net
                        .forward(&batch.images, false)
                        .logits
                        .softmax(-1, Kind::Float)
                })
                .reduce(|x, y| x + y)
                .unwrap()
                / 3.0
        });
        let right = mean
            .argmax(-1, false)
            .eq_tensor(&batch.labels)
            .sum(Kind::Int64)
            .int64_value(&[]);
        let by_hand = 100.0 * right as f64 / val.len() as f64;
        for batch in [4, 9, 64] {
            assert!(
                (acc(&[a, b, c], batch) - by_hand).abs() < 1e-9,
                "batch {batch}"
            );
        }
        // The networks differ (their mean is not the first one's probabilities).
        let first = tch::no_grad(|| {
            a.net
                .forward(&batch.images, false)
                .logits
                .softmax(-1, Kind::Float)
        });
        assert!(!mean.allclose(&first, 1e-4, 1e-6, false));
        assert!(ensemble_accuracy(&[], val, &data.norm, 8, None, 1).is_nan());
    }
}
