//! `nascent train`: trains one architecture on a dataset and prints its accuracy and measured
//! size.
//!
//! ```text
//! nascent train --space nb201 --arch '|nor_conv_3x3~0|+|...|' --data fashion-mnist --epochs 5 \
//!     --cells 1 --channels 16 [--batch 128] [--lr 0.1] [--seed 0] [--json]
//! ```
//!
//! A progress bar and per-epoch lines go to stderr; the result goes to stdout (a table, or one
//! JSON object with `--json`).

use anyhow::{Context, Result, anyhow};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use nascent_core::SearchSpace;
use nascent_core::{Budget, NoReporter};
use nascent_study::Precision;
use nascent_train::data::{Augment, DataSpec, DataSplits};
use nascent_train::device::DeviceChoice;
use nascent_train::evaluate::TrainEvaluator;
use nascent_train::metrics::{self, LatencyConfig, device_name};
use nascent_train::study::{
    NetOptions, NetSpace, NetTask, Training, mixed_precision, with_net_space,
};
use nascent_train::trainer::{
    AmpDtype, EpochStats, Optimizer, Schedule, TrainConfig, TrainEnd, TrainObserver, TrainReport,
};
use nascent_train::{Builder, Model};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// SGD with Nesterov momentum 0.9.
    Sgd,
    /// Adam.
    Adam,
    /// AdamW (decoupled weight decay).
    Adamw,
}

/// The learning-rate schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    /// Cosine annealing to 0.
    Cosine,
    /// Divide by 10 at 50% and 75% of the epochs.
    Step,
    /// Constant.
    Constant,
}

/// The arithmetic of training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// float16 autocast on CUDA, bfloat16 on a CPU with bfloat16 instructions, else float32.
    Auto,
    /// float32 throughout.
    Float32,
    /// bfloat16 autocast (CUDA or CPU).
    Bfloat16,
    /// float16 autocast with loss scaling (CUDA; float32 on a CPU).
    Float16,
}

/// Training augmentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AugmentArg {
    /// The dataset's standard recipe.
    Auto,
    /// None.
    None,
    /// Random crops with padding.
    Crop,
    /// Random crops and horizontal flips.
    CropFlip,
}

/// Arguments of `nascent train`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The search space of the genotype.
    #[arg(long, value_parser = super::space_parser())]
    pub space: String,
    /// The genotype, in the space's notation.
    #[arg(long)]
    pub arch: String,
    /// A dataset name (fashion-mnist, mnist, cifar10) or a path (IDX folder, CIFAR batches,
    /// image folder or .tar.gz, CSV table).
    #[arg(long, default_value = "fashion-mnist")]
    pub data: String,
    /// Where a named dataset is (otherwise $NASCENT_DATA, the user cache, Debian's package,
    /// then the download).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Training epochs.
    #[arg(long, default_value_t = 5)]
    pub epochs: u32,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Peak learning rate (default 0.1 for SGD, 0.003 for Adam).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Optimizer.
    #[arg(long, value_enum, default_value = "sgd")]
    pub optimizer: OptimizerArg,
    /// Weight decay.
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f64,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value = "cosine")]
    pub schedule: ScheduleArg,
    /// Epochs of linear warm-up.
    #[arg(long, default_value_t = 0)]
    pub warmup: u32,
    /// Label smoothing.
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
    /// Clip the global gradient norm (0 turns clipping off).
    #[arg(long, default_value_t = 5.0)]
    pub grad_clip: f64,
    /// Training augmentation.
    #[arg(long, value_enum, default_value = "auto")]
    pub augment: AugmentArg,
    /// Cutout square side (0: off).
    #[arg(long, default_value_t = 0)]
    pub cutout: usize,
    /// Seed of everything random.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Base channel width C (default: the space's).
    #[arg(long)]
    pub channels: Option<u32>,
    /// Cells per stage N for NB201, cells in all for DARTS (default: the space's).
    #[arg(long)]
    pub cells: Option<u32>,
    /// Input resolution (inputs are resized; default: the data's own).
    #[arg(long)]
    pub resolution: Option<u32>,
    /// Fraction of the training files held out for validation.
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Use only this fraction of the training split.
    #[arg(long)]
    pub data_fraction: Option<f64>,
    /// DARTS: auxiliary head (weight 0.4).
    #[arg(long)]
    pub auxiliary: bool,
    /// DARTS: final drop-path probability.
    #[arg(long, default_value_t = 0.0)]
    pub drop_path: f64,
    /// The arithmetic: auto (float16 autocast on CUDA, bfloat16 on a CPU with bfloat16
    /// instructions, else float32), float32, bfloat16 or float16 (CUDA; float32 on a CPU).
    #[arg(long, value_enum, default_value = "auto")]
    pub precision: PrecisionArg,
    /// Device: auto (a CUDA GPU if present), cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Torch threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,

    /// Data-parallel copies of the network on the CPU (1: none): each batch is split among
    /// them, one a thread, and their gradients averaged into one step
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Write a checkpoint here after every epoch.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Resume from --checkpoint when it exists.
    #[arg(long, requires = "checkpoint")]
    pub resume: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    struct TrainTask<'a>(&'a Args);
    impl NetTask for TrainTask<'_> {
        type Output = Result<()>;
        fn run<S: SearchSpace + Clone + 'static>(self, net: NetSpace<S>) -> Result<()> {
            let arch = net.space.parse(&self.0.arch)?;
            train(self.0, Box::new(net.builder), arch, net.training)
        }
    }
    let options = NetOptions {
        auxiliary: args.auxiliary,
        ..NetOptions::default()
    };
    with_net_space(&args.space, &options, TrainTask(&args))?
}

fn config(args: &Args, augment: Augment) -> TrainConfig {
    let amp = mixed_precision(match args.precision {
        PrecisionArg::Auto => Precision::Auto,
        PrecisionArg::Float32 => Precision::Float32,
        PrecisionArg::Bfloat16 => Precision::Bfloat16,
        PrecisionArg::Float16 => Precision::Float16,
    });
    let lr = args.lr.unwrap_or(match args.optimizer {
        OptimizerArg::Sgd => 0.1,
        OptimizerArg::Adam | OptimizerArg::Adamw => 3e-3,
    });
    let optimizer = match args.optimizer {
        OptimizerArg::Sgd => Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: args.weight_decay,
        },
        OptimizerArg::Adam | OptimizerArg::Adamw => Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: args.weight_decay,
            decoupled: args.optimizer == OptimizerArg::Adamw,
        },
    };
    let schedule = match args.schedule {
        ScheduleArg::Cosine => Schedule::Cosine { min_lr: 0.0 },
        ScheduleArg::Constant => Schedule::Constant,
        ScheduleArg::Step => Schedule::Step {
            every: (args.epochs / 4).max(1),
            gamma: 0.1,
        },
    };
    TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch,
        eval_batch_size: args.batch.max(256),
        lr,
        optimizer,
        schedule,
        warmup_epochs: args.warmup,
        label_smoothing: args.label_smoothing,
        grad_clip: (args.grad_clip > 0.0).then_some(args.grad_clip),
        mixed_precision: amp.is_some(),
        amp_dtype: amp.unwrap_or(AmpDtype::Auto),
        aux_weight: if args.auxiliary { 0.4 } else { 0.0 },
        drop_path_prob: args.drop_path,
        augment,
        seed: args.seed,
        threads: args.threads,
        replicas: args.replicas,
        prefetch: 2,
        resolution: args.resolution.map(i64::from),
        evaluate_test: true,
        checkpoint: args.checkpoint.clone(),
        resume: args.resume,
        ..TrainConfig::default()
    }
}

/// Trains `arch`; `training`, for a space whose architectures carry their own recipe, width and
/// depth (the joint space), applies them over the flags.
fn train<A>(
    args: &Args,
    builder: Box<dyn Builder<A>>,
    arch: A,
    training: Option<Training<A>>,
) -> Result<()> {
    let t0 = Instant::now();
    let device = args
        .device
        .parse::<DeviceChoice>()?
        .resolve()
        .context("choosing the device")?;
    let spec = match (&args.data_dir, DataSpec::parse(&args.data)) {
        (Some(dir), DataSpec::Known(k, _)) => DataSpec::Known(k, Some(dir.clone())),
        (Some(_), DataSpec::Path(_)) => {
            return Err(anyhow!(
                "--data-dir is for a named dataset (fashion-mnist, mnist, cifar10); --data {} is a path",
                args.data
            ));
        }
        (None, s) => s,
    };
    let loaded = spec.load()?;
    let crop_flip = spec.default_augment(&loaded);
    let mut augment = match args.augment {
        AugmentArg::Auto => spec.default_augment(&loaded),
        AugmentArg::None => Augment::none(),
        AugmentArg::Crop | AugmentArg::CropFlip => Augment {
            crop_padding: (loaded.train.shape()[1] / 8).max(1),
            hflip: args.augment == AugmentArg::CropFlip,
            cutout: 0,
            trivial: false,
        },
    };
    augment.cutout = args.cutout;
    let origin = loaded.origin.clone();
    let data = DataSplits::split(loaded, args.val_fraction, args.seed)?;
    log::info!(
        "data {}: {} train, {} validation, {} test samples of shape {:?}, {} classes; device {}",
        origin.display(),
        data.train.len(),
        data.val.len(),
        data.test.as_ref().map_or(0, |t| t.len()),
        data.shape(),
        data.classes(),
        device_name(device)
    );
    let cfg = config(args, augment);
    let mut evaluator = TrainEvaluator::new(builder, Arc::new(data), cfg.clone(), device)?
        .with_test(true)
        .with_scale(args.channels.map(i64::from), args.cells.map(i64::from));
    if let Some(training) = training {
        evaluator = evaluator.with_setup(training.setup(crop_flip));
    }
    let budget = Budget {
        epochs: Some(args.epochs),
        data_fraction: args.data_fraction,
        resolution: args.resolution,
        cells: args.cells,
        channels: args.channels,
    };
    let mut progress = Progress::new();
    let (model, report) = evaluator
        .train(&arch, &budget, &mut NoReporter, &mut progress)
        .map_err(anyhow::Error::new)?;
    progress.finish();
    let seconds = t0.elapsed().as_secs_f64();
    print_result(args, &model, &report, &origin, device, seconds)
}

fn print_result(
    args: &Args,
    model: &Model,
    report: &TrainReport,
    origin: &std::path::Path,
    device: tch::Device,
    seconds: f64,
) -> Result<()> {
    let params = model.num_params();
    // Measured after training: the memory probe changes the allocator's settings.
    let complexity = metrics::complexity(model).ok();
    let latency = metrics::measure_latency(model, LatencyConfig::default());
    let memory = metrics::train_step_memory(model, args.batch as i64);
    if let Err(e) = &latency {
        log::warn!("latency not measured: {e}");
    }
    if let Err(e) = &memory {
        log::warn!("memory not measured: {e}");
    }
    let (latency, memory) = (latency.ok(), memory.ok());
    if args.json {
        use crate::output::{TrainEpoch, TrainLatency, TrainMemory, TrainOutput};
        return crate::output::print_json(&TrainOutput {
            schema_version: nascent_study::SCHEMA_VERSION,
            space: args.space.clone(),
            arch: args.arch.clone(),
            data: origin.display().to_string(),
            device: device_name(device),
            seed: args.seed,
            epochs: report.epochs_done,
            completed: report.end == TrainEnd::Completed,
            train_accuracy: report.train_accuracy,
            val_accuracy: report.val_accuracy,
            test_accuracy: report.test_accuracy,
            params,
            flops: complexity.map(|c| c.flops),
            latency_ms: latency.as_ref().map(|l| TrainLatency {
                device: l.device.clone(),
                batch1: l.batch1.median_ms,
                batch: l.batch_n.batch,
                batch_n: l.batch_n.median_ms,
            }),
            train_step_memory_bytes: memory.as_ref().map(|m| TrainMemory {
                batch: m.batch,
                peak: m.peak_bytes,
                model: m.model_bytes,
                step: m.step_bytes,
                method: m.method.name().to_string(),
            }),
            train_seconds: report.seconds,
            wall_seconds: seconds,
            history: report
                .epochs
                .iter()
                .map(|e| TrainEpoch {
                    epoch: e.epoch,
                    lr: e.lr,
                    train_loss: e.train_loss,
                    train_accuracy: e.train_accuracy,
                    val_accuracy: e.val_accuracy,
                    train_seconds: e.train_seconds,
                    images_per_second: e.images_per_second,
                })
                .collect(),
        });
    }
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2} %"));
    println!("space            {}", args.space);
    println!("arch             {}", args.arch);
    println!("data             {}", origin.display());
    println!("device           {}", device_name(device));
    println!("epochs           {}", report.epochs_done);
    println!("train accuracy   {}", pct(Some(report.train_accuracy)));
    println!("val accuracy     {}", pct(report.val_accuracy));
    println!("test accuracy    {}", pct(report.test_accuracy));
    println!("parameters       {params}");
    if let Some(c) = complexity {
        println!("FLOPs (MACs)     {}", c.flops);
    }
    if let Some(l) = &latency {
        println!(
            "latency          {:.3} ms at batch 1, {:.3} ms at batch {} ({})",
            l.batch1.median_ms, l.batch_n.median_ms, l.batch_n.batch, l.device
        );
    }
    if let Some(m) = &memory {
        println!(
            "train memory     {:.1} MiB peak at batch {} ({})",
            m.peak_bytes as f64 / (1024.0 * 1024.0),
            m.batch,
            m.method.name()
        );
    }
    println!("train seconds    {:.1}", report.seconds);
    println!("wall seconds     {seconds:.1}");
    Ok(())
}

/// The progress bar on stderr, and a line per epoch.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new() -> Self {
        Progress { bar: None }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl TrainObserver for Progress {
    fn on_start(&mut self, first_epoch: u32, epochs: u32, batches: usize) {
        let total = (epochs + 1).saturating_sub(first_epoch) as u64 * batches as u64;
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} batches, eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!("epoch {first_epoch}/{epochs}"));
        self.bar = Some(bar);
    }

    fn on_batch(&mut self, epoch: u32, _batch: usize, loss: Option<f64>) {
        if let Some(b) = &self.bar {
            b.inc(1);
            if let Some(l) = loss {
                b.set_message(format!("loss {l:.3}"));
            }
            b.set_prefix(format!("epoch {epoch}"));
        }
    }

    fn on_epoch(&mut self, s: &EpochStats) {
        let line = format!(
            "epoch {:>3}: loss {:.4}  train {:.2}%  val {}  lr {:.4}  {:.0} img/s  {:.1}s",
            s.epoch,
            s.train_loss,
            s.train_accuracy,
            s.val_accuracy.map_or("-".into(), |v| format!("{v:.2}%")),
            s.lr,
            s.images_per_second,
            s.train_seconds
        );
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}
