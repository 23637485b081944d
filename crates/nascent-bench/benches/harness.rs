//! Benchmark of the harness itself (not a timed test): wall-clock time per strategy for
//! 500 runs x 100 queries on NAS-Bench-201 CIFAR-10, and the cost of one query (`ask`, the
//! look-up and `tell`) as the history grows to 1,000 trials.
//!
//! `cargo bench -p nascent-bench --bench harness` (release build). Environment: `RUNS`
//! (default 500), `QUERIES` (default 100), `STRATEGIES` (default all), `GROWTH` (`0` skips the
//! growth measurement), `THREADS` (rayon threads, default all cores).

use nascent_bench::{BenchSpec, Dataset, Nb201Bench, Nb201Evaluator, Nb201Table};
use nascent_core::{Budget, History, Objective, Rng, run_queries};
use nascent_space::Nb201Space;
use nascent_strategy::{StrategyConfig, StrategyKind};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nb201/nb201.csv");
    if !path.exists() {
        eprintln!(
            "skipping the harness benchmark: {} is missing",
            path.display()
        );
        return;
    }
    if let Some(t) = std::env::var("THREADS").ok().and_then(|v| v.parse().ok()) {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .expect("the global thread pool is built once");
    }
    let runs = env_usize("RUNS", 500);
    let queries = env_usize("QUERIES", 100);
    let kinds = match std::env::var("STRATEGIES") {
        Ok(s) => StrategyKind::parse_list(&s).expect("STRATEGIES lists known strategies"),
        Err(_) => StrategyKind::ALL.to_vec(),
    };
    let t0 = Instant::now();
    let table = Arc::new(Nb201Table::load(&path).expect("the shared table loads"));
    println!(
        "loading nb201.csv: {:.3} s ({} threads)",
        t0.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    let bench = Nb201Bench::new(table.clone(), None);
    let spec = BenchSpec::new(Dataset::Cifar10, queries, runs, 0);
    println!("\n{runs} runs x {queries} queries, CIFAR-10");
    println!(
        "{:<10} {:>9} {:>12} {:>14}",
        "strategy", "seconds", "ms per run", "test acc"
    );
    for &kind in &kinds {
        let config = StrategyConfig::default_for(kind);
        let s = bench
            .run(&spec, &config, &|| {})
            .expect("the benchmark runs");
        println!(
            "{:<10} {:>9.3} {:>12.3} {:>8.2} ± {:.2}",
            kind.name(),
            s.seconds,
            1e3 * s.seconds / runs as f64,
            s.test_accuracy.mean,
            s.test_accuracy.std
        );
    }
    if env_usize("GROWTH", 1) == 0 {
        return;
    }
    println!("\ncost of one query (ask + look-up + tell) as the history grows, ms");
    let marks = [10usize, 100, 250, 500, 1000];
    print!("{:<10}", "strategy");
    for m in marks {
        print!(" {:>9}", format!("@{m}"));
    }
    println!();
    let space = Nb201Space::new();
    let eval = Nb201Evaluator::new(table, Dataset::Cifar10);
    let budget = Budget::epochs(12);
    for &kind in &kinds {
        let mut strategy = StrategyConfig::default_for(kind)
            .build::<Nb201Space>()
            .expect("defaults are valid");
        let mut history = History::new(vec![Objective::maximize("val_accuracy")]);
        let mut rng = Rng::new(1);
        print!("{:<10}", kind.name());
        let window = 10;
        for m in marks {
            let before = m - window;
            let todo = before.saturating_sub(history.len());
            run_queries(
                &space,
                &mut strategy,
                &eval,
                &mut history,
                todo,
                &budget,
                &mut rng,
            );
            let t = Instant::now();
            run_queries(
                &space,
                &mut strategy,
                &eval,
                &mut history,
                window,
                &budget,
                &mut rng,
            );
            print!(" {:>9.3}", 1e3 * t.elapsed().as_secs_f64() / window as f64);
            use std::io::Write;
            std::io::stdout().flush().ok();
        }
        println!();
    }
}
