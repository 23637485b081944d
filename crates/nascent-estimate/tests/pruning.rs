//! The pruners inside the study runner, on learning curves towards the real NAS-Bench-201
//! accuracies (CIFAR-10, 200 epochs; a structural score when the table is absent): each
//! saves training and keeps the best architectures.

mod common;

use common::{Nb201Fidelities, table_path};
use nascent_core::Pruner;
use nascent_core::{Budget, Objective, Storage, StudySpec, TrialState};
use nascent_estimate::{
    CurvePruner, HyperbandPruner, MedianPruner, PrunerConfig, SuccessiveHalvingPruner,
};
use nascent_space::{Nb201Arch, Nb201Space};
use nascent_store::MemoryStorage;
use nascent_strategy::RandomSearch;
use nascent_study::testing::{SyntheticEvaluator, nb201_structural_accuracy};
use nascent_study::{RunConfig, RunSummary, Runner, StudyBudget, open_or_create_study};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const TRIALS: u64 = 80;
const EPOCHS: u32 = 27;

fn evaluator() -> SyntheticEvaluator<Nb201Arch> {
    static TABLE: OnceLock<Option<Arc<Nb201Fidelities>>> = OnceLock::new();
    let table = TABLE
        .get_or_init(|| table_path().map(|p| Arc::new(Nb201Fidelities::load(&p))))
        .clone();
    match table {
        Some(t) => SyntheticEvaluator::new(move |a: &Nb201Arch| t.get(a).1),
        None => SyntheticEvaluator::new(nb201_structural_accuracy),
    }
    .with_epochs(EPOCHS)
}

/// Runs 80 random trials of 27 epochs with `pruner`; the summary and the best final value.
fn run(pruner: Option<&dyn Pruner>, workers: usize) -> (RunSummary, f64) {
    let storage = MemoryStorage::new();
    let spec = StudySpec {
        name: "p".into(),
        space: "nb201".into(),
        objectives: vec![Objective::maximize("val_accuracy")],
        constraints: vec![],
        config: serde_json::json!({}),
        seed: 17,
    };
    let study = open_or_create_study(&storage, &spec).unwrap();
    let space = Nb201Space::new();
    let ev = evaluator();
    let config = RunConfig {
        workers,
        budget: StudyBudget::trials(TRIALS),
        trial_budget: Budget::epochs(EPOCHS),
        poll_interval: Duration::from_millis(5),
        ..RunConfig::default()
    };
    let mut runner = Runner::new(&storage, study.clone(), &space, &ev, config);
    if let Some(p) = pruner {
        runner = runner.with_pruner(p);
    }
    let summary = runner.run(&mut RandomSearch).unwrap();
    let trials = storage.trials(study.id, 0).unwrap();
    assert_eq!(trials.len() as u64, TRIALS);
    for t in &trials {
        assert!(t.state.is_finished());
        if t.state == TrialState::Pruned {
            assert!(t.epochs < EPOCHS);
            assert_eq!(t.intermediate.len() as u32, t.epochs);
        }
    }
    let best = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .map(|t| t.values[0])
        .fold(f64::NEG_INFINITY, f64::max);
    (summary, best)
}

fn baseline() -> &'static (RunSummary, f64) {
    static B: OnceLock<(RunSummary, f64)> = OnceLock::new();
    B.get_or_init(|| run(None, 1))
}

/// Runs with `pruner` and checks it saves at least `saving` of the epochs while keeping the
/// best final accuracy within `tolerance` points of the run without pruning.
fn check(name: &str, pruner: &dyn Pruner, saving: f64, tolerance: f64) {
    let (base, base_best) = baseline();
    let (s, best) = run(Some(pruner), 1);
    let ratio = s.counts.epochs as f64 / base.counts.epochs as f64;
    eprintln!(
        "{name}: {} pruned of {TRIALS}, {} epochs ({:.0}% of {}), best {best:.2} (without \
         pruning {base_best:.2})",
        s.counts.pruned,
        s.counts.epochs,
        100.0 * ratio,
        base.counts.epochs
    );
    assert_eq!(base.counts.pruned, 0);
    assert_eq!(base.counts.epochs, TRIALS * EPOCHS as u64);
    assert!(s.counts.pruned > 0);
    assert!(
        ratio <= 1.0 - saving,
        "{name} trained {:.0}%",
        100.0 * ratio
    );
    assert!(
        best >= base_best - tolerance,
        "{name} lost the best: {best} < {base_best}"
    );
}

#[test]
fn median_rule() {
    check("median", &MedianPruner::default(), 0.5, 0.5);
}

#[test]
fn successive_halving() {
    check("asha", &SuccessiveHalvingPruner::default(), 0.6, 0.5);
}

#[test]
fn hyperband() {
    let hb = HyperbandPruner {
        min_resource: 1,
        max_resource: EPOCHS,
        reduction_factor: 3,
    };
    check("hyperband", &hb, 0.5, 0.5);
}

#[test]
fn learning_curve_extrapolation() {
    let c = CurvePruner {
        min_steps: 5,
        margin: 1.0,
        cap: Some(100.0),
        ..CurvePruner::default()
    };
    check("curve", &c, 0.5, 0.5);
}

#[test]
fn asha_with_four_workers_from_a_config() {
    let config: PrunerConfig = serde_json::from_str(
        r#"{"kind": "successive_halving", "min_resource": 1, "reduction_factor": 3}"#,
    )
    .unwrap();
    config.check("pruner").unwrap();
    let pruner = config.build().unwrap();
    let (s, _) = run(Some(&*pruner), 4);
    assert!(s.counts.pruned > 0);
    assert_eq!(s.counts.total, TRIALS);
}
