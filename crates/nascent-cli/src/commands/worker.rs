//! `nascent worker --storage URL --study NAME`: joins an existing study from any machine and
//! runs its trials. The study's settings live in its storage (written by `nascent search`,
//! also with `--no-run`), so a worker needs no study file; `--data` says where the dataset is
//! on this machine, `--device` which accelerator to train on, `--gpus` starts one worker per
//! visible GPU. Workers only search: the retraining and the report are `nascent resume`'s (or
//! the creating `nascent search`'s) once the budget is spent.

use super::open_existing;
use anyhow::{Context, Result, anyhow, bail};
use nascent_study::{Backend, StudySettings, WorkerLimits, stored_settings};
use std::path::PathBuf;
use std::process::Command;

/// Arguments of `nascent worker`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The storage URL of the study (`postgresql://user@host:port/db`, `sqlite:///path.db`).
    #[arg(long)]
    pub storage: String,
    /// The study's name.
    #[arg(long)]
    pub study: String,
    /// Where the study's dataset is on this machine: the folder of a named dataset
    /// (fashion-mnist, mnist, cifar10), or the file or folder of a dataset given by path.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The device to train on: cpu, cuda, cuda:N (default: the first GPU, else the CPU).
    #[arg(long)]
    pub device: Option<String>,
    /// One worker process per visible GPU (`all`) or on the first N GPUs, each with its own
    /// `--device cuda:i`.
    #[arg(long, conflicts_with = "device")]
    pub gpus: Option<String>,
    /// Stop after evaluating this many trials.
    #[arg(long)]
    pub max_trials: Option<u64>,
    /// When the budget allows no new trial, wait for the trials other workers still run (and
    /// take over any whose worker dies) before exiting, so the study is finished when this
    /// worker exits. Without it a worker exits as soon as it can start no new trial.
    #[arg(long)]
    pub until_done: bool,
    /// Worker threads in this process (default: the study's `workers`).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    if let Some(gpus) = &args.gpus {
        return per_gpu(&args, gpus);
    }
    let storage = open_existing(&args.storage)?;
    let record = storage.study(&args.study).with_context(|| {
        format!(
            "cannot join study `{}` in `{}` (create it with `nascent search --no-run`)",
            args.study, args.storage
        )
    })?;
    let stored = stored_settings(&record)?;
    drop(storage);
    let mut settings: StudySettings = stored;
    settings.storage = args.storage.clone();
    settings.name = record.name.clone();
    if let Some(data) = &args.data {
        if matches!(
            nascent_train::data::DataSpec::parse(&settings.data.name),
            nascent_train::data::DataSpec::Known(..)
        ) {
            settings.data.path = Some(data.clone());
        } else {
            settings.data.name = data.display().to_string();
        }
    }
    if let Some(t) = args.threads {
        settings.workers = t;
    }
    let mut backend = crate::backend::torch();
    if let Some(d) = &args.device {
        let device = d
            .parse::<nascent_train::device::DeviceChoice>()
            .map_err(|e| anyhow!("invalid `--device {d}`: {e}"))?
            .resolve()
            .map_err(|e| anyhow!("`--device {d}`: {e}"))?;
        backend = backend.with_device(device);
    }
    let config = settings
        .check(&backend.catalog())
        .map_err(|e| anyhow!("study `{}`: {e}", record.name))?;
    let limits = WorkerLimits {
        max_trials: args.max_trials,
        until_done: args.until_done,
    };
    crate::study::run_worker(config, &backend, limits, args.json)
}

/// Starts one worker process per GPU (the same arguments, each with `--device cuda:i`) and
/// waits for them; fails when any fails.
fn per_gpu(args: &Args, gpus: &str) -> Result<()> {
    let visible = tch::Cuda::device_count().max(0) as usize;
    let n = match gpus {
        "all" => visible,
        n => n
            .parse::<usize>()
            .map_err(|_| anyhow!("invalid `--gpus {n}`: give `all` or a number of GPUs"))?,
    };
    if visible == 0 {
        bail!(
            "`--gpus {gpus}`: no CUDA device is visible to this process (none to start workers on)"
        );
    }
    if n == 0 || n > visible {
        bail!("`--gpus {gpus}`: {visible} CUDA devices are visible; ask for 1 to {visible}");
    }
    let exe = std::env::current_exe().context("finding the nascent binary")?;
    let mut children = Vec::new();
    for i in 0..n {
        let mut cmd = Command::new(&exe);
        cmd.args(["worker", "--storage", &args.storage, "--study", &args.study]);
        cmd.args(["--device", &format!("cuda:{i}")]);
        if let Some(d) = &args.data {
            cmd.arg("--data").arg(d);
        }
        if let Some(m) = args.max_trials {
            cmd.args(["--max-trials", &m.to_string()]);
        }
        if args.until_done {
            cmd.arg("--until-done");
        }
        if let Some(t) = args.threads {
            cmd.args(["--threads", &t.to_string()]);
        }
        eprintln!("worker {i}: cuda:{i}");
        children.push((i, cmd.spawn().context("starting a worker process")?));
    }
    let mut failed = Vec::new();
    for (i, mut c) in children {
        let status = c.wait().context("waiting for a worker process")?;
        if !status.success() {
            failed.push(format!("worker {i} (cuda:{i}): {status}"));
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}
