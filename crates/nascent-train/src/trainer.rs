//! The trainer: fits a [`Model`] to [`DataSplits`] and measures its accuracy.
//!
//! SGD (momentum, Nesterov, weight decay) or Adam/AdamW, with a cosine, step or constant
//! learning-rate schedule (optionally after a linear warm-up), computed per step; label
//! smoothing; gradient clipping by global norm; mixed precision with dynamic loss scaling on
//! CUDA (the CPU trains in float32: autocast is off there); the auxiliary-head loss and the
//! drop-path schedule of DARTS networks.
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
use nascent_core::{Control, Error, Reporter, derive_seed};
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// Mixed precision (float16 autocast with loss scaling) where the device has it (CUDA).
    pub mixed_precision: bool,
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
        if self.resume && self.checkpoint.is_none() {
            return bad("resume", "needs a checkpoint path".into());
        }
        Ok(())
    }

    /// The learning rate at step `step` of `steps_per_epoch * epochs`.
    pub fn lr_at(&self, step: usize, steps_per_epoch: usize) -> f64 {
        let spe = steps_per_epoch.max(1);
        let total = self.epochs as usize * spe;
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
        Ok(Trainer { cfg })
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// Sets the torch thread count and seeds torch's generator from the seed: call before
    /// building the model so that its initial weights follow the seed.
    pub fn seed_torch(&self) {
        let threads = self
            .cfg
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
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
        let cfg = &self.cfg;
        let device = model.device();
        let amp = cfg.mixed_precision && device.is_cuda();
        if cfg.mixed_precision && !device.is_cuda() {
            log::debug!("mixed precision is off on {device:?}: training in float32");
        }
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
        );
        let spe = loader.len();
        let mut opt = OptimizerState::new(model, cfg.optimizer.clone());
        let mut scaler = LossScaler::new(amp);
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
        };
        // Read the loss every step on the CPU (free), every few steps on a GPU (a sync).
        let check_every = if device.is_cuda() { 20 } else { 1 };
        for epoch in first_epoch..cfg.epochs {
            tch::manual_seed(derive_seed(cfg.seed, 1000 + epoch as u64) as i64);
            if cfg.drop_path_prob > 0.0 {
                model
                    .net
                    .set_drop_path_prob(cfg.drop_path_prob * epoch as f64 / cfg.epochs as f64);
            }
            let t0 = Instant::now();
            let mut loss_sum = Tensor::zeros([], (Kind::Float, device));
            let mut correct = Tensor::zeros([], (Kind::Int64, device));
            let mut seen = 0usize;
            let mut lr = cfg.lr;
            for (b, batch) in loader.epoch(epoch as u64).enumerate() {
                let step = epoch as usize * spe + b;
                lr = cfg.lr_at(step, spe);
                let xs = prepare(&batch.images, device, cfg.resolution);
                let ys = batch.labels.to_device(device);
                let out = tch::autocast(amp, || model.net.forward(&xs, true));
                let mut loss = out.logits.to_kind(Kind::Float).cross_entropy_loss(
                    &ys,
                    None::<Tensor>,
                    Reduction::Mean,
                    -100,
                    cfg.label_smoothing,
                );
                if let Some(aux) = &out.aux_logits
                    && cfg.aux_weight > 0.0
                {
                    let aux_loss = aux.to_kind(Kind::Float).cross_entropy_loss(
                        &ys,
                        None::<Tensor>,
                        Reduction::Mean,
                        -100,
                        cfg.label_smoothing,
                    );
                    loss += aux_loss * cfg.aux_weight;
                }
                opt.zero_grad();
                scaler.backward(&loss);
                let finite_grads = scaler.unscale_and_check(&opt.params)?;
                if finite_grads {
                    if let Some(c) = cfg.grad_clip {
                        clip_grad_norm(&opt.params, c);
                    }
                    opt.step(lr);
                }
                tch::no_grad(|| {
                    let l = loss.detach();
                    loss_sum += &l;
                    correct += out.logits.argmax(-1, false).eq_tensor(&ys).sum(Kind::Int64);
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
            if control == Control::Stop && epoch + 1 < cfg.epochs {
                report.end = TrainEnd::Stopped;
                break;
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

/// Moves a batch to `device` and resizes it to `resolution` (bilinear) when that differs.
fn prepare(images: &Tensor, device: Device, resolution: Option<i64>) -> Tensor {
    let xs = images.to_device(device);
    match resolution {
        Some(r) if xs.size()[2] != r || xs.size()[3] != r => {
            xs.upsample_bilinear2d([r, r], false, None::<f64>, None::<f64>)
        }
        _ => xs,
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
    if data.is_empty() {
        return f64::NAN;
    }
    let n = data.len();
    let loader = Loader::new(
        data,
        norm.clone(),
        LoaderConfig {
            prefetch,
            low_priority: !model.device().is_cuda(),
            ..LoaderConfig::eval(batch_size)
        },
    );
    let device = model.device();
    tch::no_grad(|| {
        let mut correct = Tensor::zeros([], (Kind::Int64, device));
        for batch in loader.epoch(0) {
            let xs = prepare(&batch.images, device, resolution);
            let ys = batch.labels.to_device(device);
            let logits = model.net.forward(&xs, false).logits;
            correct += logits.argmax(-1, false).eq_tensor(&ys).sum(Kind::Int64);
        }
        100.0 * correct.int64_value(&[]) as f64 / n as f64
    })
}

/// Scales the gradients so that their global L2 norm is at most `max_norm` (as
/// `torch.nn.utils.clip_grad_norm_`, without a host synchronisation).
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64) {
    tch::no_grad(|| {
        let grads: Vec<Tensor> = params
            .iter()
            .map(|p| p.grad())
            .filter(|g| g.defined())
            .collect();
        if grads.is_empty() {
            return;
        }
        let norms: Vec<Tensor> = grads
            .iter()
            .map(|g| g.norm().to_kind(Kind::Float))
            .collect();
        let total = Tensor::stack(&norms, 0).norm();
        let coef = (total + 1e-6).reciprocal() * max_norm;
        let coef = coef.clamp_max(1.0);
        for mut g in grads {
            let _ = g.f_mul_(&coef);
        }
    })
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
        let mut vars: Vec<(String, Tensor)> = model
            .vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
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

    fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
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
                    let d = if weight_decay != 0.0 {
                        &g + &*p * weight_decay
                    } else {
                        g
                    };
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
                    if decoupled && weight_decay != 0.0 {
                        let _ = p.f_mul_scalar_(1.0 - lr * weight_decay);
                    }
                    let g = if !decoupled && weight_decay != 0.0 {
                        &g + &*p * weight_decay
                    } else {
                        g
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
        let finite = tch::no_grad(|| {
            let mut all = Vec::new();
            for p in params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.f_mul_scalar_(1.0 / self.scale);
                    all.push(g.isfinite().all());
                }
            }
            all.is_empty() || Tensor::stack(&all, 0).all().int64_value(&[]) != 0
        });
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
