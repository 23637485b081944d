//! `nascent oneshot`: one-shot architecture search on a dataset (DARTS, DARTS second order,
//! GDAS, PC-DARTS, SPOS, ENAS) in the NB201 or DARTS space.
//!
//! ```text
//! nascent oneshot --method gdas --space nb201 --data ../shared/data/cifar10-jpg/cifar10-jpg.tar.gz \
//!     --epochs 20 --channels 8 --cells 1 --images-per-class 500 \
//!     [--table ../shared/data/nb201/nb201.csv] [--seed 0] [--json]
//! ```
//!
//! A progress bar, and after every epoch the distribution over ops of every edge (softmax of
//! alpha, or the controller's sampling frequencies) with the collapse diagnostics, go to
//! stderr. The architecture found goes to stdout, with its 200-epoch CIFAR-10 test accuracy
//! from the NAS-Bench-201 table when `--table` is given (one JSON object with `--json`).

use anyhow::{Context, Result, anyhow};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use nascent_bench::{Dataset as BenchDataset, Nb201Table};
use nascent_core::SearchSpace;
use nascent_oneshot::search::{EpochReport, SearchObserver};
use nascent_oneshot::{Method, SearchConfig, SearchData, SearchOutcome, Supernet, SupernetShape};
use nascent_train::data::Augment;
use nascent_train::device::DeviceChoice;
use std::path::PathBuf;

/// The space searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Space {
    /// The NAS-Bench-201 cell (6 edges, 5 ops).
    Nb201,
    /// The DARTS cells (normal and reduction, 14 edges each, 8 ops).
    Darts,
}

/// Arguments of `nascent oneshot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The method: darts, darts2 (second order), gdas, pcdarts, spos, enas.
    #[arg(long)]
    pub method: String,
    /// The space.
    #[arg(long, value_enum, default_value = "nb201")]
    pub space: Space,
    /// A dataset name (cifar10, mnist, fashion-mnist) or a path (image folder or .tar.gz,
    /// CIFAR batches, IDX folder).
    #[arg(long)]
    pub data: String,
    /// Epochs of supernet training.
    #[arg(long, default_value_t = 50)]
    pub epochs: u32,
    /// Images of each class read from the training files (default: all).
    #[arg(long)]
    pub images_per_class: Option<usize>,
    /// Fraction of those images that train the architecture (the rest train the weights).
    #[arg(long, default_value_t = 0.5)]
    pub val_fraction: f64,
    /// Initial width C (default 16 in both spaces).
    #[arg(long)]
    pub channels: Option<i64>,
    /// Cells per stage (NB201, default 5) or cells in all (DARTS, default 8).
    #[arg(long)]
    pub cells: Option<i64>,
    /// Batch size.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Initial learning rate of the weights (default 0.025).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning rate of alpha (default 3e-4; PC-DARTS 6e-4).
    #[arg(long)]
    pub arch_lr: Option<f64>,
    /// Epochs that train the weights only before alpha moves (default 0; PC-DARTS 30%).
    #[arg(long)]
    pub warmup_epochs: Option<u32>,
    /// GDAS: initial and final Gumbel-softmax temperature.
    #[arg(long, num_args = 2, value_names = ["MAX", "MIN"])]
    pub tau: Option<Vec<f64>>,
    /// Power iterations of the Hessian eigenvalue diagnostic after each epoch (0: off;
    /// default 8 for the differentiable methods).
    #[arg(long)]
    pub hessian_iters: Option<usize>,
    /// SPOS: candidates the evolution scores on the shared weights.
    #[arg(long, default_value_t = 100)]
    pub spos_queries: usize,
    /// SPOS: population of the evolution.
    #[arg(long, default_value_t = 20)]
    pub spos_population: usize,
    /// SPOS and ENAS: validation batches each candidate is scored on.
    #[arg(long, default_value_t = 8)]
    pub eval_batches: usize,
    /// ENAS: controller updates per epoch.
    #[arg(long, default_value_t = 20)]
    pub controller_steps: usize,
    /// No augmentation of the search batches (default: crops and flips for colour images).
    #[arg(long)]
    pub no_augment: bool,
    /// The NAS-Bench-201 table (nb201.csv): prints the architecture's 200-epoch test
    /// accuracy (NB201 space only).
    #[arg(long, value_name = "PATH")]
    pub table: Option<PathBuf>,
    /// The data set whose accuracy `--table` reports: cifar10, cifar100, imagenet16.
    #[arg(long, default_value = "cifar10")]
    pub table_dataset: BenchDataset,
    /// Device: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Torch threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seed of everything random.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// One JSON object on stdout (with every epoch's report) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Progress bar and per-epoch distributions on stderr.
struct Progress {
    bar: ProgressBar,
    epochs: u32,
}

impl SearchObserver for Progress {
    fn phase(&mut self, name: &str, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(0);
        self.bar.set_prefix(name.to_string());
    }

    fn step(&mut self) {
        self.bar.inc(1);
    }

    fn epoch(&mut self, r: &EpochReport, edges: &[String], ops: &[String]) {
        crate::progress::say(&self.bar, render_epoch(r, self.epochs, edges, ops));
    }
}

/// The text of one epoch: losses, diagnostics, and the op distribution of every edge.
fn render_epoch(r: &EpochReport, epochs: u32, edges: &[String], ops: &[String]) -> String {
    let mut s = format!(
        "epoch {}/{epochs}  train loss {:.3} acc {:.1}%",
        r.epoch, r.train_loss, r.train_accuracy
    );
    // Methods that train no architecture parameters (SPOS) have no validation pass per epoch.
    if let (Some(loss), Some(acc)) = (r.val_loss, r.val_accuracy) {
        s += &format!("  val loss {loss:.3} acc {acc:.1}%");
    }
    s += &format!("  lr {:.4}", r.lr);
    if let Some(t) = r.tau {
        s += &format!("  tau {t:.2}");
    }
    s += &format!("  {:.1} s\n", r.seconds);
    if r.arch.is_some() {
        s += &format!(
            "  collapse: parameter-free {:.0}%  skip {:.0}%",
            100.0 * r.collapse.parameter_free_share,
            100.0 * r.collapse.skip_share
        );
        if let Some(l) = r.collapse.hessian_eigenvalue {
            s += &format!("  Hessian lambda_max {l:.4}");
        }
        if let Some(a) = &r.arch {
            s += &format!("  arch {a}");
        }
        s += "\n";
    }
    let w = edges.iter().map(|e| e.len()).max().unwrap_or(4).max(4);
    s += &format!("  {:<w$}", "edge");
    for o in ops {
        s += &format!(" {:>12}", o);
    }
    s += "\n";
    for (e, p) in edges.iter().zip(&r.probs) {
        s += &format!("  {e:<w$}");
        for x in p {
            s += &format!(" {:>12.3}", x);
        }
        s += "\n";
    }
    if let Some(a) = &r.arch {
        s += &format!("  arch {a}");
    } else {
        s.pop();
    }
    s
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let method: Method = a.method.parse()?;
    let device = a.device.parse::<DeviceChoice>()?.resolve()?;
    if a.table.is_some() && a.space != Space::Nb201 {
        return Err(anyhow!(
            "--table looks NAS-Bench-201 cells up; it needs --space nb201"
        ));
    }
    let table = a
        .table
        .as_ref()
        .map(|p| Nb201Table::load(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?;
    let mut cfg = SearchConfig::for_method(method, a.epochs);
    cfg.batch_size = a.batch;
    cfg.seed = a.seed;
    cfg.threads = a.threads;
    if let Some(lr) = a.lr {
        cfg.lr = lr;
    }
    if let Some(lr) = a.arch_lr {
        cfg.arch_lr = lr;
    }
    if let Some(w) = a.warmup_epochs {
        cfg.warmup_epochs = w;
    }
    if let Some(t) = &a.tau {
        cfg.tau_max = t[0];
        cfg.tau_min = t[1];
    }
    if let Some(h) = a.hessian_iters {
        cfg.hessian_iters = h;
    }
    cfg.spos.queries = a.spos_queries;
    cfg.spos.population = a.spos_population;
    cfg.spos.sample_size = cfg.spos.sample_size.min(a.spos_population);
    cfg.spos.eval_batches = a.eval_batches;
    cfg.enas.eval_batches = a.eval_batches;
    cfg.enas.controller_steps = a.controller_steps;
    cfg.check()?;

    let t0 = std::time::Instant::now();
    let loaded = nascent_oneshot::data::load_images(&a.data, a.images_per_class)
        .with_context(|| format!("reading {}", a.data))?;
    let augment = if a.no_augment || !loaded.train.is_image() {
        Augment::none()
    } else {
        let [c, h, _] = loaded.train.shape();
        Augment {
            crop_padding: h / 8,
            hflip: c == 3,
            cutout: 0,
            trivial: false,
        }
    };
    let data = SearchData::split(loaded, None, a.val_fraction, augment, a.seed)?;
    let [c, h, w] = data.shape();
    if h != w {
        return Err(anyhow!("one-shot search needs square images, got {h}x{w}"));
    }
    log::info!(
        "{}: {} images train the weights, {} the architecture ({:.1} s to read)",
        a.data,
        data.train.len(),
        data.val.len(),
        t0.elapsed().as_secs_f64()
    );
    let (default_c, default_n) = match a.space {
        Space::Nb201 => (16, 5),
        Space::Darts => (16, 8),
    };
    let shape = SupernetShape {
        channels: a.channels.unwrap_or(default_c),
        cells: a.cells.unwrap_or(default_n),
        in_channels: c as i64,
        resolution: h as i64,
        classes: data.classes() as i64,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {elapsed} (eta {eta})")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    let mut progress = Progress {
        bar,
        epochs: a.epochs,
    };
    let result = match a.space {
        Space::Nb201 => {
            let mut net = nascent_oneshot::nb201_supernet(&cfg, &shape, device)?;
            let out = nascent_oneshot::search(&mut net, &data, &cfg, &mut progress)?;
            let acc = table
                .as_ref()
                .map(|t| t.row(&out.arch).test(a.table_dataset));
            let index = net.space().index(&out.arch);
            report(&a, &cfg, &shape, &out, acc, index)
        }
        Space::Darts => {
            let mut net = nascent_oneshot::darts_supernet(&cfg, &shape, device)?;
            let out = nascent_oneshot::search(&mut net, &data, &cfg, &mut progress)?;
            report(&a, &cfg, &shape, &out, None, None)
        }
    };
    progress.bar.finish_and_clear();
    result
}

/// `nascent oneshot --json`: the search's result, settings and trajectory.
#[derive(serde::Serialize)]
struct OneshotOutput<'a, M, C, D, E, O, P, Q, R> {
    schema_version: u32,
    method: &'a M,
    space: String,
    arch: &'a str,
    nb201_index: Option<u64>,
    table_test_accuracy: Option<f64>,
    table_dataset: Option<&'static str>,
    collapse: &'a C,
    seed: u64,
    settings: &'a SearchConfig,
    supernet: &'a SupernetShape,
    images_per_class: D,
    device: &'a E,
    seconds: f64,
    seconds_per_epoch: f64,
    edges: &'a O,
    ops: &'a P,
    epochs: &'a Q,
    candidates: &'a R,
}

fn report<A>(
    a: &Args,
    cfg: &SearchConfig,
    shape: &SupernetShape,
    out: &SearchOutcome<A>,
    accuracy: Option<f64>,
    index: Option<u64>,
) -> Result<()> {
    if a.json {
        crate::output::print_json(&OneshotOutput {
            schema_version: nascent_study::SCHEMA_VERSION,
            method: &out.method,
            space: format!("{:?}", a.space).to_lowercase(),
            arch: &out.arch_string,
            nb201_index: index,
            table_test_accuracy: accuracy,
            table_dataset: accuracy.map(|_| a.table_dataset.name()),
            collapse: &out.collapse,
            seed: cfg.seed,
            settings: cfg,
            supernet: shape,
            images_per_class: a.images_per_class,
            device: &out.device,
            seconds: out.seconds,
            seconds_per_epoch: out.seconds_per_epoch,
            edges: &out.edges,
            ops: &out.ops,
            epochs: &out.epochs,
            candidates: &out.candidates,
        })?;
    } else {
        println!("{}", out.arch_string);
        if let Some(acc) = accuracy {
            println!(
                "NAS-Bench-201 {} test accuracy (200 epochs): {acc:.2}%{}",
                a.table_dataset.title(),
                index.map(|i| format!(" (index {i})")).unwrap_or_default()
            );
        }
        println!(
            "collapse: parameter-free ops {:.0}%, skip connections {:.0}%{}",
            100.0 * out.collapse.parameter_free_share,
            100.0 * out.collapse.skip_share,
            out.collapse
                .hessian_eigenvalue
                .map(|l| format!(", Hessian lambda_max {l:.4}"))
                .unwrap_or_default()
        );
        println!(
            "{} epochs in {:.0} s ({:.1} s per epoch on {})",
            out.epochs.len(),
            out.seconds,
            out.seconds_per_epoch,
            out.device
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(val_loss: Option<f64>) -> EpochReport {
        EpochReport {
            epoch: 2,
            train_loss: 1.5,
            train_accuracy: 40.0,
            val_loss,
            val_accuracy: val_loss.map(|_| 38.5),
            probs: vec![vec![0.7, 0.3]],
            arch: Some("|a~0|".into()),
            collapse: Default::default(),
            tau: None,
            lr: 0.01,
            seconds: 1.0,
        }
    }

    #[test]
    fn epoch_lines_show_validation_only_when_there_was_one() {
        let edges = ["1<-0".to_string()];
        let ops = ["conv".to_string(), "skip".to_string()];
        let with = render_epoch(&report(Some(1.25)), 5, &edges, &ops);
        assert!(
            with.starts_with(
                "epoch 2/5  train loss 1.500 acc 40.0%  val loss 1.250 acc 38.5%  lr 0.0100"
            ),
            "{with}"
        );
        let without = render_epoch(&report(None), 5, &edges, &ops);
        assert!(
            !without.contains("NaN") && !without.contains("val"),
            "{without}"
        );
        assert!(without.contains("arch |a~0|"), "{without}");
    }
}
