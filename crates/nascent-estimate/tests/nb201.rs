//! Low fidelity and the surrogate on the real NAS-Bench-201 table (CIFAR-10).

mod common;

use common::{Nb201Fidelities, kendall_tau, table_path};
use nascent_core::{Budget, Evaluator, NoReporter, Outcome, Rng, SearchSpace};
use nascent_estimate::{Fidelity, LowFidelity, Surrogate, SurrogateConfig};
use nascent_space::{Nb201Arch, Nb201Space};
use nascent_strategy::FeatureEncoding;
use std::collections::HashSet;

fn value(o: Outcome) -> f64 {
    match o {
        Outcome::Complete(e) => e.metrics["val_accuracy"],
        other => panic!("{other:?}"),
    }
}

fn distinct_sample(n: usize, seed: u64) -> Vec<Nb201Arch> {
    let space = Nb201Space::new();
    let mut rng = Rng::new(seed);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    while out.len() < n {
        let a = space.sample(&mut rng);
        if seen.insert(a) {
            out.push(a);
        }
    }
    out
}

#[test]
fn low_fidelity_is_cheaper_and_ranks_like_full_training() {
    let Some(path) = table_path() else { return };
    let table = Nb201Fidelities::load(&path);
    let low = LowFidelity::new(
        &table,
        Fidelity {
            epochs: Some(12),
            ..Fidelity::default()
        },
    )
    .unwrap();
    let full_budget = Budget::epochs(200);
    let archs = distinct_sample(300, 1);
    let (mut lo, mut hi) = (Vec::new(), Vec::new());
    for a in &archs {
        let o = low.evaluate(a, &full_budget, &mut NoReporter);
        if let Outcome::Complete(e) = &o {
            assert_eq!(e.metrics["fidelity.epochs"], 12.0);
            assert_eq!(e.cost_seconds, 12.0, "the inner evaluator saw 12 epochs");
        }
        lo.push(value(o));
        hi.push(value(table.evaluate(a, &full_budget, &mut NoReporter)));
    }
    let tau = kendall_tau(&lo, &hi);
    eprintln!("Kendall tau between 12-epoch and 200-epoch accuracy over 300 cells: {tau:.3}");
    assert!(tau > 0.5, "tau {tau}");
    assert!(lo.iter().zip(&hi).filter(|(l, h)| l < h).count() > 250);
}

#[test]
fn the_surrogate_answers_when_confident_and_is_accurate_then() {
    let Some(path) = table_path() else { return };
    let table = Nb201Fidelities::load(&path);
    let config = SurrogateConfig {
        encoding: FeatureEncoding::Path,
        min_observations: 60,
        max_std: 1.0,
        refit_every: 10,
        ..SurrogateConfig::default()
    };
    let sur = Surrogate::new(Nb201Space::new(), &table, config).unwrap();
    let budget = Budget::epochs(200);
    let archs = distinct_sample(500, 2);
    // (prediction, truth, naive prediction) of every answer; the naive prediction is the
    // median of the accuracies evaluated so far.
    let mut answers: Vec<(f64, f64, f64)> = Vec::new();
    let mut seen = Vec::new();
    for a in &archs {
        let truth = table.get(a).1;
        match sur.evaluate(a, &budget, &mut NoReporter) {
            Outcome::Complete(e) if e.metrics.contains_key("surrogate") => {
                assert!(e.metrics["surrogate.std"] <= 1.0);
                assert_eq!(e.cost_seconds, 0.0);
                let mut sorted: Vec<f64> = seen.clone();
                sorted.sort_by(f64::total_cmp);
                answers.push((e.metrics["val_accuracy"], truth, sorted[sorted.len() / 2]));
            }
            Outcome::Complete(e) => {
                assert_eq!(e.metrics["val_accuracy"], truth);
                seen.push(truth);
            }
            o => panic!("{o:?}"),
        }
    }
    let stats = sur.stats();
    let mae = |xs: &[&(f64, f64, f64)], pick: fn(&(f64, f64, f64)) -> f64| {
        xs.iter().map(|x| (pick(x) - x.1).abs()).sum::<f64>() / xs.len().max(1) as f64
    };
    let all: Vec<_> = answers.iter().collect();
    // The cells that train well (above 80%) are the ones a search cares about.
    let good: Vec<_> = answers.iter().filter(|x| x.1 > 80.0).collect();
    let (mae_all, naive_all) = (mae(&all, |x| x.0), mae(&all, |x| x.2));
    let (mae_good, naive_good) = (mae(&good, |x| x.0), mae(&good, |x| x.2));
    eprintln!(
        "surrogate: answered {} of 500 (deferred {}, {} fits); MAE {mae_all:.3} (median of the \
         evaluated: {naive_all:.3}); on the {} answers above 80%: MAE {mae_good:.3} (median: \
         {naive_good:.3})",
        answers.len(),
        stats.deferred,
        stats.fits,
        good.len()
    );
    assert_eq!(stats.answered as usize, answers.len());
    assert_eq!(stats.answered + stats.deferred, 500);
    assert!(answers.len() >= 50, "answered {}", answers.len());
    assert!(good.len() >= 30, "answered {} good cells", good.len());
    assert!(mae_all < 1.0 && mae_good < 1.0, "MAE {mae_all}, {mae_good}");
    assert!(
        mae_good < naive_good / 2.0,
        "MAE {mae_good} vs naive {naive_good}"
    );
    // It never answers before it has its minimum of real evaluations.
    assert!(stats.deferred >= 60);
}
