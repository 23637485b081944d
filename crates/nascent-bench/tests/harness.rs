//! The evaluator and the harness on the real table (skipped where the shared data is absent,
//! failing under CI).

use nascent_bench::{
    BenchObjective, BenchSpec, Dataset, FLOPS, LatencyTable, Nb201Bench, Nb201Evaluator,
    Nb201Table, PARAMS, TEST_ACCURACY, VAL_ACCURACY,
};
use nascent_core::testing::shared_data;
use nascent_core::{Budget, Evaluator, NoReporter, Outcome};
use nascent_space::{Nb201Arch, Nb201Op};
use nascent_strategy::{StrategyConfig, StrategyKind};
use std::sync::Arc;

/// The real table, or `None` with a message when absent (a failure under CI).
fn table() -> Option<Arc<Nb201Table>> {
    Some(Arc::new(
        Nb201Table::load(shared_data("nb201/nb201.csv")?).unwrap(),
    ))
}

#[test]
fn evaluator_reports_signal_test_params_and_flops() {
    let Some(t) = table() else { return };
    let eval = Nb201Evaluator::new(t.clone(), Dataset::Cifar10);
    let arch = t.rows()[1].arch;
    let Outcome::Complete(e) = eval.evaluate(&arch, &Budget::default(), &mut NoReporter) else {
        panic!("look-ups complete")
    };
    assert!((e.metrics[VAL_ACCURACY] - 82.83399999389648).abs() < 1e-9);
    assert!((e.metrics[TEST_ACCURACY] - 93.66000000000001).abs() < 1e-9);
    // The all-conv3x3 cell: 1.53 M parameters and 220 M multiply-accumulates on CIFAR-10 as
    // NAS-Bench-201 reports; ImageNet16-120 has a quarter of the pixels and 120 classes.
    let conv = Nb201Arch::uniform(Nb201Op::Conv3x3);
    let m = eval.measure(&conv);
    assert_eq!(m[PARAMS], 1_531_546.0);
    assert!((m[FLOPS] / 1e6 - 220.1).abs() < 1.0, "{}", m[FLOPS]);
    let im = Nb201Evaluator::new(t, Dataset::ImageNet16).measure(&conv);
    assert_eq!(im[PARAMS], 1_531_546.0 + 64.0 * 110.0 + 110.0);
    assert!((im[FLOPS] / m[FLOPS] - 0.25).abs() < 0.01);
}

#[test]
fn the_harness_is_deterministic_and_random_search_matches_the_paper() {
    let Some(t) = table() else { return };
    let bench = Nb201Bench::new(t, None);
    let spec = BenchSpec::new(Dataset::Cifar10, 100, 200, 0);
    let random = StrategyConfig::default_for(StrategyKind::Random);
    let a = bench.run(&spec, &random, &|| {}).unwrap();
    let b = bench.run(&spec, &random, &|| {}).unwrap();
    assert_eq!(a.records, b.records);
    // Published: 93.70 ± 0.36 (a loose band here, 200 runs).
    assert!(
        (a.test_accuracy.mean - 93.70).abs() < 0.15,
        "{:?}",
        a.test_accuracy
    );
    assert_eq!(a.curve.len(), 100);
    for r in &a.records {
        assert_eq!(r.curve.len(), 100);
        assert_eq!(*r.curve.last().unwrap(), r.test_accuracy);
        assert!((1..=100).contains(&r.found_at));
    }
    let other = bench
        .run(
            &BenchSpec {
                seed: 1,
                ..spec.clone()
            },
            &random,
            &|| {},
        )
        .unwrap();
    assert_ne!(a.records, other.records);
    // Same seeds in a pool of one thread: the same result.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let c = one.install(|| bench.run(&spec, &random, &|| {}).unwrap());
    assert_eq!(a.records, c.records);
    // Evolution beats random on the same seeds.
    let evo = bench
        .run(
            &spec,
            &StrategyConfig::default_for(StrategyKind::Evolution),
            &|| {},
        )
        .unwrap();
    assert!(
        evo.test_accuracy.mean > a.test_accuracy.mean + 0.2,
        "{:?}",
        evo.test_accuracy
    );
}

#[test]
fn multi_objective_runs_report_a_hypervolume_fraction() {
    let Some(t) = table() else { return };
    let Some(latency) = shared_data("nb201/nb201_latency_ms.csv") else {
        return;
    };
    let lat = LatencyTable::load(latency).unwrap();
    let objectives = BenchObjective::parse_list("accuracy,latency:pixel3", Some(&lat)).unwrap();
    let bench = Nb201Bench::new(t, Some(Arc::new(lat)));
    let spec = BenchSpec {
        objectives,
        ..BenchSpec::new(Dataset::Cifar100, 100, 40, 3)
    };
    let s = bench
        .run(
            &spec,
            &StrategyConfig::default_for(StrategyKind::Nsga2),
            &|| {},
        )
        .unwrap();
    let hv = s.hypervolume.unwrap();
    assert!(hv.mean > 0.5 && hv.mean < 1.0, "{hv:?}");
    assert_eq!(s.objectives, vec!["accuracy", "latency:pixel3"]);
    // More queries never lose hypervolume: the whole space reaches the true front exactly.
    let all = bench
        .run(
            &BenchSpec {
                queries: 15_625,
                runs: 1,
                ..spec.clone()
            },
            &StrategyConfig::default_for(StrategyKind::Random),
            &|| {},
        )
        .unwrap();
    assert!((all.hypervolume.unwrap().mean - 1.0).abs() < 1e-9);
}

#[test]
fn objectives_parse_with_clear_errors() {
    let e = BenchObjective::parse_list("accuracy,latency:pixel3", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--latency"), "{e}");
    let e = BenchObjective::parse_list("accuracy,speed", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown objective `speed`"), "{e}");
    let e = BenchObjective::parse_list("params,params", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("twice"), "{e}");
    assert_eq!(
        BenchObjective::parse_list("accuracy, flops", None).unwrap(),
        vec![BenchObjective::Accuracy, BenchObjective::Flops]
    );
    let e = BenchSpec::new(Dataset::Cifar10, 0, 5, 0)
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("`queries`"), "{e}");
    let e = "mnist".parse::<Dataset>().unwrap_err().to_string();
    assert!(e.contains("unknown dataset `mnist`") && e.contains("cifar10, cifar100, imagenet16"));
}
