//! Scratch: diagnostics of the analysis on NB201 across datasets (not committed).
#[path = "../tests/validation/mod.rs"]
mod validation;

use nascent_bench::{Dataset, Nb201Evaluator, Nb201Table, VAL_ACCURACY};
use nascent_core::{Budget, History, Objective, Rng, SearchSpace, run_queries};
use nascent_report::analysis::{AnalysisConfig, Observations, analyze, exact_main_effects};
use nascent_space::Nb201Space;
use nascent_strategy::{StrategyConfig, StrategyKind};
use std::sync::Arc;
use validation::score;

fn run(table: Arc<Nb201Table>, ds: Dataset, seed: u64) -> Observations {
    let space = Nb201Space::new();
    let eval = Nb201Evaluator::new(table, ds);
    let mut strategy = StrategyConfig::default_for(StrategyKind::Evolution)
        .build::<Nb201Space>()
        .unwrap();
    let objective = Objective::maximize(VAL_ACCURACY);
    let mut history = History::new(vec![objective.clone()]);
    let mut rng = Rng::new(seed);
    run_queries(&space, &mut strategy, &eval, &mut history, 200, &Budget::epochs(12), &mut rng);
    let items = history.trials().iter().filter(|t| t.is_complete()).map(|t| {
        (t.number, space.format(&t.arch), space.to_decisions(&t.arch), t.metrics[VAL_ACCURACY])
    });
    Observations::from_choices(space.decisions(), objective, items).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seeds: Vec<u64> = args[1]
        .split(',')
        .flat_map(|s| match s.split_once('-') {
            Some((a, b)) => (a.parse::<u64>().unwrap()..=b.parse().unwrap()).collect::<Vec<_>>(),
            None => vec![s.parse().unwrap()],
        })
        .collect();
    let verbose = args.get(2).cloned();
    let table = Arc::new(Nb201Table::load("../shared/data/nb201/nb201.csv").unwrap());
    let cfg: AnalysisConfig = match std::env::var("CFG") {
        Ok(s) => serde_json::from_str(&s).unwrap(),
        Err(_) => AnalysisConfig::default(),
    };
    let dss: Vec<(&str, Dataset)> = match std::env::var("DS").as_deref() {
        Ok("all") => vec![("c10", Dataset::Cifar10), ("c100", Dataset::Cifar100), ("in16", Dataset::ImageNet16)],
        Ok("c100") => vec![("c100", Dataset::Cifar100)],
        Ok("in16") => vec![("in16", Dataset::ImageNet16)],
        _ => vec![("c10", Dataset::Cifar10)],
    };
    let space = Nb201Space::new();
    let mut line = String::new();
    for (dn, ds) in dss {
        let items = table.rows().iter().enumerate().map(|(i, r)| {
            (i as u64, space.format(&r.arch), space.to_decisions(&r.arch), r.signal(ds))
        });
        let all = Observations::from_choices(space.decisions(), Objective::maximize(VAL_ACCURACY), items).unwrap();
        let t = exact_main_effects(&all).unwrap();
        let (mut all6, mut acc5, mut imp, mut mar, mut size, mut cov, mut r2) = (0, 0, 0.0, 0.0, 0.0, 0.0, 0.0);
        let mut missed = Vec::new();
        for &seed in &seeds {
            let obs = run(table.clone(), ds, seed);
            let a = analyze(&obs, &cfg).unwrap();
            let s = score(&a, &t);
            imp += s.importance;
            mar += s.marginals;
            size += s.best_set_size;
            cov += s.marginal_coverage;
            r2 += a.surrogate.oob_r2.unwrap_or(f64::NAN);
            if s.best_in_set == 6 {
                all6 += 1;
                if seed < 5 { acc5 += 1; }
            } else if seed < 5 {
                missed.push(seed);
            }
            if let Some(v) = &verbose {
                println!("{dn} seed {seed}: imp {:.3} marg {:.3} in_set {}/6 size {:.2} misses {:?}", s.importance, s.marginals, s.best_in_set, s.best_set_size, s.misses);
                for (e, m) in a.marginals.iter().enumerate() {
                    if v != "all" && !s.misses.iter().any(|(d, _)| *d == m.dimension) { continue; }
                    println!("  {} best_set {:?}", m.dimension, m.best_set);
                    for (c, ch) in m.choices.iter().enumerate() {
                        println!("    {:14} est {:6.2} [{:6.2},{:6.2}] truth {:6.2} n {:3} obs {:6.2} gap [{:6.2},{:6.2}]",
                            ch.label, ch.mean, ch.low, ch.high, t.marginals[e][c], ch.trials,
                            ch.observed_mean.unwrap_or(f64::NAN), ch.gap_to_best.0, ch.gap_to_best.1);
                    }
                }
            }
        }
        let n = seeds.len() as f64;
        line += &format!("{dn}: all6 {all6:2}/{} acc5 {acc5} (miss {missed:?}) imp {:.3} marg {:.3} set {:.2} cov {:.2} r2 {:.2} | ",
            seeds.len(), imp / n, mar / n, size / n, cov / n, r2 / n);
    }
    println!("{line}");
}
