//! Overhead of the study runner and its storages: trials per second of a study whose
//! evaluator costs nothing (5 intermediate values per trial, so each trial is a creation,
//! 5 writes of values, a finish and the history sync), with 1 and 4 workers, in memory and in
//! SQLite.
//!
//! `cargo bench -p nascent-store --bench runner [-- TRIALS]` (default 1000 trials).

use nascent_core::{Objective, StudySpec};
use nascent_space::Nb201Space;
use nascent_store::testing::{SyntheticEvaluator, TournamentMutation, nb201_structural_accuracy};
use nascent_store::{RunConfig, Runner, StudyBudget, open, open_or_create_study};
use std::time::Instant;

fn main() {
    let trials: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("temp dir");
    println!("backend  workers  trials  seconds  trials/s");
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
        }
    }
}
