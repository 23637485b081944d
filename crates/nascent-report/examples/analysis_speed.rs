//! How long the analysis of what matters takes as a study grows.
//!
//! ```sh
//! cargo run --release -p nascent-report --example analysis_speed > bench/results/analysis_speed.txt
//! ```
//!
//! Synthetic NB201 studies (uniformly sampled cells, an additive objective plus noise) of 200,
//! 2,000 and 20,000 completed trials, analysed with the default settings (128 members, each
//! fitted to a resample of at most 1,000 trials); best of 3 runs, wall seconds.

use nascent_core::{Objective, Rng, SearchSpace};
use nascent_report::analysis::{AnalysisConfig, Observations, analyze, fragment};
use nascent_space::Nb201Space;
use std::time::Instant;

fn main() {
    let space = Nb201Space::new();
    println!("trials\tanalysis_s\tfragment_s\tfragment_bytes");
    for n in [200usize, 2_000, 20_000] {
        let mut rng = Rng::new(1);
        let items: Vec<(u64, String, Vec<usize>, f64)> = (0..n)
            .map(|i| {
                let a = space.sample(&mut rng);
                let c = space.to_decisions(&a);
                let y = c.iter().map(|&o| (o == 3) as u8 as f64).sum::<f64>() + rng.normal();
                (i as u64, space.format(&a), c, y)
            })
            .collect();
        let obs = Observations::from_choices(space.decisions(), Objective::maximize("acc"), items)
            .expect("valid cells");
        let (mut best_a, mut best_f, mut bytes) = (f64::INFINITY, f64::INFINITY, 0);
        for _ in 0..3 {
            let t = Instant::now();
            let a = analyze(&obs, &AnalysisConfig::default()).expect("enough trials");
            best_a = best_a.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            bytes = fragment(&a).len();
            best_f = best_f.min(t.elapsed().as_secs_f64());
        }
        println!("{n}\t{best_a:.3}\t{best_f:.4}\t{bytes}");
        eprintln!("{n} trials: analysis {best_a:.3} s, HTML fragment {best_f:.4} s");
    }
}
