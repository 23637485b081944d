//! Overhead of the study runner and its storages: trials per second of a study whose
//! evaluator costs nothing (5 intermediate values per trial, so each trial is a creation,
//! 5 writes of values, a finish and the history sync), with 1 and 4 workers, in memory and in
//! SQLite.
//!
//! `cargo bench -p nascent-study --bench runner [-- TRIALS]` (default 300 trials).
//!
//! With `NASCENT_BENCH_PYTHON` set to a Python that has Optuna (`pip install optuna`), the same
//! run also times Optuna on the same kind of study (`benches/optuna_overhead.py`: random
//! sampler, 5 intermediate values per trial, in memory and in SQLite, `n_jobs` 1 and 4) and
//! prints nascent's speed as a multiple of Optuna's. Note the storages' defaults differ: nascent
//! opens SQLite in WAL mode with `synchronous = NORMAL` (safe against crashes of the process,
//! may lose the last commits on power loss), Optuna keeps SQLite's defaults (a rollback journal
//! synced at every commit).

use nascent_core::{Objective, StudySpec};
use nascent_space::Nb201Space;
use nascent_store::open;
use nascent_study::testing::{SyntheticEvaluator, TournamentMutation, nb201_structural_accuracy};
use nascent_study::{RunConfig, Runner, StudyBudget, open_or_create_study};
use std::time::Instant;

fn main() {
    let trials: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir().expect("temp dir");
    println!("nascent:\nbackend  workers  trials  seconds  trials/s");
    let mut ours = Vec::new();
    for backend in ["memory", "sqlite"] {
        for workers in [1usize, 4] {
            let url = match backend {
                "memory" => "memory:".to_string(),
                _ => format!(
                    "sqlite://{}",
                    dir.path().join(format!("bench-{workers}.db")).display()
                ),
            };
            let storage = open(&url).expect("open");
            let spec = StudySpec {
                name: "bench".into(),
                space: "nb201".into(),
                objectives: vec![Objective::maximize("val_accuracy")],
                constraints: vec![],
                config: serde_json::json!({}),
                seed: 1,
            };
            let study = open_or_create_study(&*storage, &spec).expect("study");
            let space = Nb201Space::new();
            let ev = SyntheticEvaluator::new(nb201_structural_accuracy).with_epochs(5);
            let config = RunConfig {
                workers,
                budget: StudyBudget::trials(trials),
                ..RunConfig::default()
            };
            let t0 = Instant::now();
            let s = Runner::new(&*storage, study, &space, &ev, config)
                .run(&mut TournamentMutation::default())
                .expect("run");
            let secs = t0.elapsed().as_secs_f64();
            assert_eq!(s.counts.complete, trials);
            println!(
                "{backend:<8} {workers:>7} {trials:>7} {secs:>8.2} {:>9.0}",
                trials as f64 / secs
            );
            ours.push((format!("{backend} {workers}"), trials as f64 / secs));
        }
    }
    let Ok(python) = std::env::var("NASCENT_BENCH_PYTHON") else {
        eprintln!("(set NASCENT_BENCH_PYTHON to a Python with Optuna to compare)");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/optuna_overhead.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(trials.to_string())
        .arg(dir.path())
        .output()
        .expect("run the Optuna benchmark");
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        panic!("the Optuna benchmark failed");
    }
    println!("optuna:\nbackend  workers  trials  seconds  trials/s");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!("nascent / optuna (trials per second):");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let key = format!("{} {}", f[0], f[1]);
        let secs: f64 = f[3].parse().expect("seconds");
        let theirs = trials as f64 / secs;
        if let Some((_, mine)) = ours.iter().find(|(k, _)| *k == key) {
            println!("{key:<10} {:>8.1}x", mine / theirs);
        }
    }
}
