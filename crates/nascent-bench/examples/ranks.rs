//! Where the architectures a strategy returns rank in the table's own order of the search
//! signal: how often a run ends with the cell of best signal, one of the best 2, 5, 10, 50.
//!
//! `cargo run --release -p nascent-bench --example ranks -- DATASET STRATEGY RUNS [KEY=VALUE...]`

use nascent_bench::{BenchSpec, Dataset, Nb201Bench, Nb201Table};
use nascent_strategy::{StrategyConfig, StrategyKind};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: ranks DATASET STRATEGY RUNS [KEY=VALUE...]".into());
    }
    let dataset: Dataset = args[0].parse()?;
    let kind: StrategyKind = args[1].parse()?;
    let runs: usize = args[2].parse()?;
    let mut config = StrategyConfig::default_for(kind);
    for kv in &args[3..] {
        let (k, v) = kv.split_once('=').ok_or("settings are KEY=VALUE")?;
        config = config.with_setting(k, v)?;
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/nb201/nb201.csv"
    );
    let table = Arc::new(Nb201Table::load(path)?);
    let mut order: Vec<usize> = (0..table.rows().len()).collect();
    order.sort_by(|&a, &b| {
        table.rows()[b]
            .signal(dataset)
            .total_cmp(&table.rows()[a].signal(dataset))
    });
    let mut rank = vec![0usize; order.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let bench = Nb201Bench::new(table, None);
    let s = bench.run(&BenchSpec::new(dataset, 100, runs, 0), &config, &|| {})?;
    let ranks: Vec<usize> = s.records.iter().map(|r| rank[r.best_index]).collect();
    print!(
        "{} {}: test {:.3} ± {:.3}, {:.1} s; best signal within top",
        kind, dataset, s.test_accuracy.mean, s.test_accuracy.std, s.seconds
    );
    for k in [1, 2, 5, 10, 50] {
        let share = ranks.iter().filter(|&&r| r < k).count() as f64 / runs as f64;
        print!(" {k}: {:.0}%", 100.0 * share);
    }
    println!();
    Ok(())
}
