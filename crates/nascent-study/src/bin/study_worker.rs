//! `nascent-study-worker`: runs (or resumes) one study over the NB201 space with the
//! synthetic evaluator, through the study runner. The crash, stop and multi-process tests
//! of nascent-study drive it; it is also a quick way to try a storage by hand.
//!
//! ```text
//! nascent-study-worker --storage URL --study NAME [--trials N] [--seconds S] [--epoch-budget E]
//!     [--workers K] [--epochs E] [--epoch-ms MS] [--seed S] [--log FILE] [--stop-file FILE]
//!     [--heartbeat-ms MS] [--stale-ms MS]
//! ```
//!
//! Prints the run's summary as JSON on stdout; with `--log FILE` appends `PID ARCH` to FILE for
//! every evaluation it starts; with `--stop-file FILE` raises the run's stop signal when FILE
//! appears (as the `nascent` binary's Ctrl-C handler does; the library installs none).

use nascent_core::{Objective, StudySpec};
use nascent_space::{Nb201Arch, Nb201Space};
use nascent_store::open;
use nascent_study::testing::{SyntheticEvaluator, TournamentMutation, nb201_structural_accuracy};
use nascent_study::{
    LogObserver, RunConfig, Runner, StopSignal, StudyBudget, open_or_create_study,
};
use std::io::Write;
use std::time::Duration;

struct Args {
    storage: String,
    study: String,
    budget: StudyBudget,
    workers: usize,
    epochs: u32,
    epoch_ms: u64,
    seed: u64,
    log: Option<String>,
    stop_file: Option<String>,
    heartbeat_ms: u64,
    stale_ms: u64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        storage: String::new(),
        study: "study".into(),
        budget: StudyBudget::default(),
        workers: 1,
        epochs: 10,
        epoch_ms: 0,
        seed: 0,
        log: None,
        stop_file: None,
        heartbeat_ms: 100,
        stale_ms: 2000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        let num = |v: &str| -> Result<u64, String> {
            v.parse()
                .map_err(|e| format!("`{flag} {v}`: not a non-negative integer ({e})"))
        };
        match flag.as_str() {
            "--storage" => a.storage = v,
            "--study" => a.study = v,
            "--trials" => a.budget.trials = Some(num(&v)?),
            "--seconds" => {
                a.budget.seconds = Some(
                    v.parse()
                        .map_err(|e| format!("`--seconds {v}`: not a number ({e})"))?,
                )
            }
            "--epoch-budget" => a.budget.epochs = Some(num(&v)?),
            "--workers" => a.workers = num(&v)? as usize,
            "--epochs" => a.epochs = num(&v)? as u32,
            "--epoch-ms" => a.epoch_ms = num(&v)?,
            "--seed" => a.seed = num(&v)?,
            "--log" => a.log = Some(v),
            "--stop-file" => a.stop_file = Some(v),
            "--heartbeat-ms" => a.heartbeat_ms = num(&v)?,
            "--stale-ms" => a.stale_ms = num(&v)?,
            _ => return Err(format!("unknown flag `{flag}`")),
        }
    }
    if a.storage.is_empty() {
        return Err("`--storage URL` is required".into());
    }
    Ok(a)
}

fn main() {
    env_logger_lite();
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    match run(&args) {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

fn run(args: &Args) -> Result<String, Box<dyn std::error::Error>> {
    let storage = open(&args.storage)?;
    let spec = StudySpec {
        name: args.study.clone(),
        space: "nb201".into(),
        objectives: vec![Objective::maximize("val_accuracy")],
        constraints: vec![],
        config: serde_json::json!({"evaluator": "synthetic", "epochs": args.epochs}),
        seed: args.seed,
    };
    let study = open_or_create_study(&*storage, &spec)?;
    let space = Nb201Space::new();
    let mut evaluator = SyntheticEvaluator::new(nb201_structural_accuracy)
        .with_epochs(args.epochs)
        .with_sleep(Duration::from_millis(args.epoch_ms));
    if let Some(path) = &args.log {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{path}: {e}"))?;
        let file = std::sync::Mutex::new(file);
        let pid = std::process::id();
        evaluator = evaluator.with_on_start(move |a: &Nb201Arch| {
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            // One write per line: appends of whole lines do not interleave between processes.
            let _ = f.write_all(format!("{pid} {a}\n").as_bytes());
        });
    }
    let config = RunConfig {
        workers: args.workers,
        budget: args.budget.clone(),
        heartbeat_interval: Duration::from_millis(args.heartbeat_ms),
        stale_after: Duration::from_millis(args.stale_ms),
        poll_interval: Duration::from_millis(20),
        ..RunConfig::default()
    };
    let stop = StopSignal::new();
    if let Some(path) = args.stop_file.clone() {
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !std::path::Path::new(&path).exists() {
                std::thread::sleep(Duration::from_millis(10));
            }
            eprintln!("interrupted: {path} appeared; re-queueing the trials in flight");
            flag.stop();
        });
    }
    let observer = LogObserver;
    let summary = Runner::new(&*storage, study, &space, &evaluator, config)
        .with_observer(&observer)
        .with_stop(stop)
        .run(&mut TournamentMutation::default())?;
    Ok(format!(
        "{{\"stop\":\"{:?}\",\"total\":{},\"complete\":{},\"evaluated\":{},\"requeued\":{}}}",
        summary.stop,
        summary.counts.total,
        summary.counts.complete,
        summary.evaluated,
        summary.requeued
    ))
}

/// Logs warnings and errors to stderr (every trial's start and end too with
/// `NASCENT_WORKER_LOG=info`), without pulling a logger crate into the library's dependencies.
/// Warnings only by default: sixteen workers logging two lines a trial fill the stderr pipes
/// of a caller that reads them one after the other, and a worker blocked on a full pipe holds
/// its trial.
fn env_logger_lite() {
    static LEVEL: std::sync::OnceLock<log::Level> = std::sync::OnceLock::new();
    let level = *LEVEL.get_or_init(|| match std::env::var("NASCENT_WORKER_LOG").as_deref() {
        Ok("info") => log::Level::Info,
        Ok("debug") => log::Level::Debug,
        _ => log::Level::Warn,
    });
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            m.level() <= *LEVEL.get().unwrap_or(&log::Level::Warn)
        }
        fn log(&self, r: &log::Record<'_>) {
            if self.enabled(r.metadata()) {
                eprintln!("[{} {}] {}", std::process::id(), r.level(), r.args());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level.to_level_filter());
    }
}
