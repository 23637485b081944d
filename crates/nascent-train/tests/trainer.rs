//! The trainer and the training evaluator on real data (a small Fashion-MNIST subset) with a
//! small real network: learning, determinism, resumption, pruning, and failures as reasons.

mod common;

use common::{TinyArch, TinyBuilder, small_fashion, torch_lock};
use nascent_core::{Budget, Control, Evaluator, Outcome, RecordingReporter, Reporter};
use nascent_train::data::{Augment, DataSplits, Dataset, LoadedData, Samples};
use nascent_train::evaluate::TrainEvaluator;
use nascent_train::trainer::{
    NoObserver, Optimizer, TimeLimit, TrainConfig, TrainEnd, TrainReport, Trainer,
};
use nascent_train::{Model, NetSpec};
use std::sync::Arc;
use tch::Device;

fn quick(epochs: u32) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        lr: 0.1,
        threads: Some(2),
        augment: Augment::none(),
        ..TrainConfig::default()
    }
}

fn spec() -> NetSpec {
    NetSpec {
        in_channels: 1,
        resolution: 28,
        classes: 10,
        channels: None,
        cells: None,
    }
}

/// Seeds torch from `cfg`, builds the tiny network and fits it to `data`.
fn fit_tiny(cfg: TrainConfig, data: &DataSplits) -> (Model, TrainReport) {
    let t = Trainer::new(cfg).unwrap();
    t.seed_torch();
    let mut m = Model::new(&TinyBuilder::default(), &TinyArch(1), spec(), Device::Cpu).unwrap();
    let r = t
        .fit(
            &mut m,
            data,
            &mut RecordingReporter::default(),
            &mut NoObserver,
        )
        .unwrap();
    (m, r)
}

fn weights(m: &Model) -> Vec<(String, Vec<f32>)> {
    let mut v: Vec<(String, Vec<f32>)> =
        m.vs.variables()
            .into_iter()
            .map(|(n, t)| (n, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
            .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn learns_and_is_deterministic_given_the_seed() {
    let _lock = torch_lock();
    let Some(data) = small_fashion(100, 0.2, 1) else {
        return;
    };
    let run = |seed: u64| {
        let cfg = TrainConfig { seed, ..quick(2) };
        let t = Trainer::new(cfg).unwrap();
        t.seed_torch();
        let mut m = Model::new(&TinyBuilder::default(), &TinyArch(1), spec(), Device::Cpu).unwrap();
        let mut rep = RecordingReporter::default();
        let r = t.fit(&mut m, &data, &mut rep, &mut NoObserver).unwrap();
        (r, rep.values, weights(&m))
    };
    let (a, ra, wa) = run(7);
    let (b, rb, wb) = run(7);
    assert_eq!(a.end, TrainEnd::Completed);
    assert_eq!(a.epochs.len(), 2);
    // Far above chance (10%) after two short epochs of 480 images.
    let test = a.test_accuracy.unwrap();
    eprintln!("test accuracy {test}");
    assert!(test > 50.0, "test accuracy {test}");
    assert!(a.epochs[1].train_loss < a.epochs[0].train_loss);
    assert_eq!(ra.len(), 2);
    assert_eq!(ra[1].1, a.val_accuracy.unwrap());
    // Same seed, same everything.
    assert_eq!(wa, wb);
    assert_eq!(ra, rb);
    assert_eq!(
        (a.train_accuracy, a.val_accuracy, a.test_accuracy),
        (b.train_accuracy, b.val_accuracy, b.test_accuracy)
    );
    assert_eq!(a.epochs[1].train_loss, b.epochs[1].train_loss);
    // Another seed draws other initial weights.
    let init = |seed: u64| {
        Trainer::new(TrainConfig { seed, ..quick(1) })
            .unwrap()
            .seed_torch();
        weights(&Model::new(&TinyBuilder::default(), &TinyArch(1), spec(), Device::Cpu).unwrap())
    };
    assert_eq!(init(7), init(7));
    assert_ne!(init(7), init(8));
}

#[test]
fn a_time_limit_shortens_or_lengthens_the_schedule_and_the_run_still_ends_tested() {
    let _lock = torch_lock();
    let Some(data) = small_fashion(20, 0.2, 1) else {
        return;
    };
    // Far more epochs than fit: without the limit this would run for hours. (Room for several
    // epochs even when other tests load the machine: an epoch of this run can take a second.)
    let limit = 6.0;
    let cfg = TrainConfig {
        time_limit: Some(TimeLimit {
            seconds: limit,
            max_epochs: 0,
        }),
        ..quick(100_000)
    };
    let (_, r) = fit_tiny(cfg, &data);
    assert_eq!(r.end, TrainEnd::Completed);
    assert_eq!(r.epochs_planned, 100_000);
    assert!(
        r.epochs_done >= 1 && r.epochs_done < 100_000,
        "{}",
        r.epochs_done
    );
    assert_eq!(r.epochs.len() as u32, r.epochs_done);
    // The test pass runs after a shortened schedule as after a full one.
    assert!(r.test_accuracy.is_some());
    // The epochs end within the limit, give or take the one that found no room after it.
    assert!(
        r.seconds < limit * 2.0,
        "{} s for a {limit} s limit",
        r.seconds
    );
    // The cosine was re-planned to end: the last epoch's learning rate is far below the peak
    // (over 100,000 epochs it would still be at it).
    let last = r.epochs.last().unwrap().lr;
    assert!(last < 0.5 * 0.1, "the last epoch's learning rate is {last}");
    let shortened = r.epochs_done;

    // Too few epochs asked for: the schedule lengthens to fill the time, up to the cap.
    let cfg = TrainConfig {
        time_limit: Some(TimeLimit {
            seconds: limit,
            max_epochs: 100_000,
        }),
        ..quick(1)
    };
    let (_, r) = fit_tiny(cfg, &data);
    assert_eq!(r.epochs_planned, 1);
    assert!(
        r.epochs_done >= 2,
        "{} epochs in {} s (the shortened run: {shortened})",
        r.epochs_done,
        r.seconds
    );
    assert!(
        r.seconds < limit * 2.0,
        "{} s for a {limit} s limit",
        r.seconds
    );
    assert!(r.test_accuracy.is_some());
    // And never past the cap (a limit that leaves room for many more).
    let cfg = TrainConfig {
        time_limit: Some(TimeLimit {
            seconds: 600.0,
            max_epochs: 3,
        }),
        ..quick(1)
    };
    assert_eq!(fit_tiny(cfg, &data).1.epochs_done, 3);

    // A limit must be a positive number of seconds.
    for bad in [0.0, -1.0, f64::NAN] {
        let e = Trainer::new(TrainConfig {
            time_limit: Some(TimeLimit {
                seconds: bad,
                max_epochs: 1,
            }),
            ..quick(1)
        })
        .unwrap_err();
        assert!(e.to_string().contains("train.time_limit.seconds"), "{e}");
    }
}

#[test]
fn training_keeps_channels_last_weights_by_default_and_can_keep_the_usual_layout() {
    let _lock = torch_lock();
    let Some(data) = small_fashion(100, 0.2, 1) else {
        return;
    };
    let run = |channels_last: bool| {
        let cfg = TrainConfig {
            seed: 3,
            channels_last,
            ..quick(2)
        };
        let (m, r) = fit_tiny(cfg, &data);
        (m.is_channels_last(), r.test_accuracy.unwrap())
    };
    assert!(TrainConfig::default().channels_last);
    let (nhwc, acc_nhwc) = run(true);
    let (nchw, acc_nchw) = run(false);
    assert!(nhwc && !nchw);
    // Same seed, same data: the layouts differ in the order of floating-point sums only.
    assert!(acc_nhwc > 50.0 && acc_nchw > 50.0, "{acc_nhwc} {acc_nchw}");
    assert!((acc_nhwc - acc_nchw).abs() < 5.0, "{acc_nhwc} {acc_nchw}");
}

#[test]
fn every_optimizer_and_schedule_trains() {
    let _lock = torch_lock();
    let Some(data) = small_fashion(30, 0.0, 2) else {
        return;
    };
    use nascent_train::trainer::Schedule;
    for (opt, sched, lr) in [
        (
            Optimizer::sgd_nesterov(),
            Schedule::Step {
                every: 1,
                gamma: 0.5,
            },
            0.05,
        ),
        (
            Optimizer::Sgd {
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.0,
            },
            Schedule::Constant,
            0.1,
        ),
        (Optimizer::adam(), Schedule::Cosine { min_lr: 0.0 }, 3e-3),
        (
            Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.99,
                eps: 1e-8,
                weight_decay: 0.01,
                decoupled: true,
            },
            Schedule::Constant,
            3e-3,
        ),
    ] {
        let cfg = TrainConfig {
            optimizer: opt.clone(),
            schedule: sched,
            lr,
            label_smoothing: 0.1,
            warmup_epochs: 1,
            ..quick(2)
        };
        let (_, r) = fit_tiny(cfg, &data);
        // No validation set: the training accuracy is what gets reported.
        assert!(r.val_accuracy.is_none());
        eprintln!("{opt:?}: {:?}", r.test_accuracy);
        assert!(r.test_accuracy.unwrap() > 25.0, "{opt:?}: {r:?}");
    }
}

#[test]
fn resuming_from_a_checkpoint_gives_the_same_model() {
    let _lock = torch_lock();
    let Some(data) = small_fashion(20, 0.1, 3) else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let ck = t.path().join("run").join("ck.safetensors");
    let straight = {
        let tr = Trainer::new(quick(2)).unwrap();
        tr.seed_torch();
        let mut m = Model::new(&TinyBuilder::default(), &TinyArch(1), spec(), Device::Cpu).unwrap();
        tr.fit(
            &mut m,
            &data,
            &mut RecordingReporter::default(),
            &mut NoObserver,
        )
        .unwrap();
        weights(&m)
    };
    // One epoch, checkpointed.
    let first = TrainConfig {
        checkpoint: Some(ck.clone()),
        ..quick(2)
    };
    {
        struct StopAfterOne;
        impl Reporter for StopAfterOne {
            fn report(&mut self, _: u32, _: f64) -> Control {
                Control::Stop
            }
        }
        let tr = Trainer::new(first.clone()).unwrap();
        tr.seed_torch();
        let mut m = Model::new(&TinyBuilder::default(), &TinyArch(1), spec(), Device::Cpu).unwrap();
        let r = tr
            .fit(&mut m, &data, &mut StopAfterOne, &mut NoObserver)
            .unwrap();
        assert_eq!(r.end, TrainEnd::Stopped);
        assert_eq!(r.epochs_done, 1);
        assert!(
            r.test_accuracy.is_none(),
            "a stopped run measures no test accuracy"
        );
    }
    assert!(ck.exists());
    // A fresh process would build a fresh model (other initial weights) and resume.
    let tr = Trainer::new(TrainConfig {
        resume: true,
        seed: 0,
        ..first
    })
    .unwrap();
    tch::manual_seed(12345);
    let mut m = Model::new(&TinyBuilder::default(), &TinyArch(1), spec(), Device::Cpu).unwrap();
    let r = tr
        .fit(
            &mut m,
            &data,
            &mut RecordingReporter::default(),
            &mut NoObserver,
        )
        .unwrap();
    assert_eq!(r.epochs.len(), 1, "only the second epoch ran");
    assert_eq!(r.epochs[0].epoch, 2);
    assert_eq!(weights(&m), straight);

    // A checkpoint of another network is refused with a clear error.
    let mut other = Model::new(&TinyBuilder::default(), &TinyArch(2), spec(), Device::Cpu).unwrap();
    let e = tr
        .fit(
            &mut other,
            &data,
            &mut RecordingReporter::default(),
            &mut NoObserver,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("ck.safetensors") && e.contains("shape"), "{e}");
}

fn evaluator(builder: TinyBuilder, cfg: TrainConfig) -> Option<TrainEvaluator<TinyArch>> {
    let data = small_fashion(20, 0.2, 4)?;
    Some(
        TrainEvaluator::new(Box::new(builder), Arc::new(data), cfg, Device::Cpu)
            .unwrap()
            .with_test(true),
    )
}

#[test]
fn evaluator_reports_metrics_and_honours_the_budget() {
    let _lock = torch_lock();
    let Some(ev) = evaluator(TinyBuilder::default(), quick(3)) else {
        return;
    };
    let mut rep = RecordingReporter::default();
    let budget = Budget {
        epochs: Some(2),
        data_fraction: Some(0.5),
        resolution: Some(20),
        cells: None,
        channels: Some(4),
    };
    let Outcome::Complete(e) = ev.evaluate(&TinyArch(1), &budget, &mut rep) else {
        panic!("expected a complete trial");
    };
    for m in ev.metrics() {
        // The test network is no graph, so it has no FLOP count.
        if m != "flops" {
            assert!(e.metrics.contains_key(&m), "missing {m}: {:?}", e.metrics);
        }
    }
    assert_eq!(rep.values.len(), 2, "two epochs reported");
    assert_eq!(e.metrics["epochs"], 2.0);
    // Width 4: conv 1->4 (36), BN 4 (8), conv 4->8 (288), BN 8 (16), linear 8x4x4->10 (1290).
    assert_eq!(e.metrics["params"], 1638.0);
    assert!(e.metrics["val_accuracy"] > 0.0 && e.metrics["val_accuracy"] <= 100.0);
    assert!(e.cost_seconds > 0.0);
    assert_eq!(ev.spec_for(&budget).resolution, 20);
    let bad = Budget {
        data_fraction: Some(1.5),
        ..Budget::default()
    };
    let Outcome::Failed { reason, .. } = ev.evaluate(&TinyArch(1), &bad, &mut rep) else {
        panic!()
    };
    assert!(reason.contains("data_fraction"), "{reason}");
}

#[test]
fn reporter_stop_prunes_the_trial() {
    let _lock = torch_lock();
    let Some(ev) = evaluator(TinyBuilder::default(), quick(3)) else {
        return;
    };
    struct StopAt(u32);
    impl Reporter for StopAt {
        fn report(&mut self, step: u32, _: f64) -> Control {
            if step >= self.0 {
                Control::Stop
            } else {
                Control::Continue
            }
        }
    }
    let Outcome::Pruned(e) = ev.evaluate(&TinyArch(1), &Budget::default(), &mut StopAt(1)) else {
        panic!("expected a pruned trial");
    };
    assert_eq!(e.metrics["epochs"], 1.0);
    assert!(!e.metrics.contains_key("test_accuracy"));
}

#[test]
fn a_nan_loss_and_an_unbuildable_genotype_fail_the_trial_with_a_reason() {
    let _lock = torch_lock();
    let Some(ev) = evaluator(TinyBuilder { poison: f64::NAN }, quick(1)) else {
        return;
    };
    let Outcome::Failed { reason, .. } = ev.evaluate(
        &TinyArch(1),
        &Budget::default(),
        &mut RecordingReporter::default(),
    ) else {
        panic!("expected a failed trial");
    };
    assert!(
        reason.contains("diverged") && reason.contains("NaN"),
        "{reason}"
    );
    assert!(reason.contains("epoch 1, batch 1"), "{reason}");

    // Data with a NaN in it (a table of 3 features as 3x1x1 samples) makes the loss NaN.
    let mut values: Vec<f32> = (0..120).map(|i| (i % 7) as f32).collect();
    values[40] = f32::NAN;
    let labels = (0..40).map(|i| i % 2).collect();
    let bad = Dataset::new(
        std::path::Path::new("table.csv"),
        [3, 1, 1],
        Samples::F32(values),
        labels,
        vec!["no".into(), "yes".into()],
    )
    .unwrap();
    let splits = DataSplits::split(
        LoadedData {
            origin: "table.csv".into(),
            train: bad,
            test: None,
        },
        0.25,
        0,
    )
    .unwrap();
    let ev = TrainEvaluator::new(
        Box::new(TinyBuilder::default()),
        Arc::new(splits),
        TrainConfig {
            batch_size: 8,
            ..quick(1)
        },
        Device::Cpu,
    )
    .unwrap();
    let Outcome::Failed { reason, .. } = ev.evaluate(
        &TinyArch(1),
        &Budget::default(),
        &mut RecordingReporter::default(),
    ) else {
        panic!("expected a failed trial");
    };
    assert!(
        reason.contains("diverged") && reason.contains("NaN"),
        "{reason}"
    );

    let Some(ev) = evaluator(TinyBuilder::default(), quick(1)) else {
        return;
    };
    let Outcome::Failed { reason, .. } = ev.evaluate(
        &TinyArch(0),
        &Budget::default(),
        &mut RecordingReporter::default(),
    ) else {
        panic!("expected a failed trial");
    };
    assert!(
        reason.contains("cannot build") && reason.contains("TinyArch(0)"),
        "{reason}"
    );
}

#[test]
fn nb201_network_trains_through_the_evaluator_with_flops_and_latency() {
    let _lock = torch_lock();
    let Some(data) = small_fashion(20, 0.2, 5) else {
        return;
    };
    let arch: nascent_space::Nb201Arch =
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|"
            .parse()
            .unwrap();
    let ev = TrainEvaluator::new(
        Box::new(nascent_train::Nb201Builder),
        Arc::new(data),
        quick(1),
        Device::Cpu,
    )
    .unwrap()
    .with_scale(Some(8), Some(1))
    .with_latency(true);
    let mut rep = RecordingReporter::default();
    let Outcome::Complete(e) = ev.evaluate(&arch, &Budget::default(), &mut rep) else {
        panic!("expected a complete trial");
    };
    for m in ev.metrics() {
        assert!(e.metrics.contains_key(&m), "missing {m}: {:?}", e.metrics);
    }
    let spec = NetSpec {
        channels: Some(8),
        cells: Some(1),
        ..spec()
    };
    let builder: &dyn nascent_train::Builder<nascent_space::Nb201Arch> =
        &nascent_train::Nb201Builder;
    let m = Model::new(builder, &arch, spec, Device::Cpu).unwrap();
    let c = nascent_train::metrics::complexity(&m).unwrap();
    assert_eq!(e.metrics["flops"], c.flops as f64);
    assert_eq!(e.metrics["params"], m.num_params() as f64);
    assert!(e.metrics["latency_ms"] > 0.0);
    assert!(
        (0.0..=100.0).contains(&e.metrics["val_accuracy"]),
        "{:?}",
        e.metrics
    );
}
