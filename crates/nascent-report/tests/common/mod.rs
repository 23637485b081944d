//! Reports built for the tests: from the real NAS-Bench-201 table when it is present, and a
//! small hand-written one that needs no data.

#![allow(dead_code)]

use nascent_core::testing::shared_data;
use nascent_core::{Objective, Rng, TrialState};
use nascent_report::report::{ExportedFile, FinalResult, Nb201View, Report, TrialRow};
use std::path::{Path, PathBuf};

/// One row of the NB201 table: arch string, CIFAR-10 test accuracy after 12 and 200 epochs,
/// validation accuracy after 12 epochs.
pub struct Nb201Row {
    pub arch: String,
    pub test12: f64,
    pub val12: f64,
    pub test200: f64,
}

/// The NB201 table (CIFAR-10 columns), or `None` with a message when the file is absent (a
/// failure under CI, see [`nascent_core::testing`]).
pub fn load_nb201() -> Option<Vec<Nb201Row>> {
    let text = std::fs::read_to_string(shared_data("nb201/nb201.csv")?).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (a, t12, v12, t200) = (
        col("arch_str"),
        col("cifar10_test_12ep"),
        col("cifar10valid_val_12ep"),
        col("cifar10_test_200ep"),
    );
    Some(
        lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                Nb201Row {
                    arch: f[a].to_string(),
                    test12: f[t12].parse().unwrap(),
                    val12: f[v12].parse().unwrap(),
                    test200: f[t200].parse().unwrap(),
                }
            })
            .collect(),
    )
}

/// Pixel 3 latency (ms) of every cell, in table order, or `None` with a message when the file
/// is absent (a failure under CI).
pub fn load_latency() -> Option<Vec<f64>> {
    let text = std::fs::read_to_string(shared_data("nb201/nb201_latency_ms.csv")?).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let c = header.iter().position(|h| *h == "pixel3")?;
    Some(
        lines
            .map(|l| l.split(',').nth(c).unwrap().parse().unwrap())
            .collect(),
    )
}

/// A random search of `n` NB201 cells replayed on the real table: objectives validation
/// accuracy after 12 epochs (maximised) and Pixel 3 latency (minimised); learning curves are
/// the test accuracies after 12 and 200 epochs. `None` when the data is absent.
pub fn nb201_report(n: usize, seed: u64) -> Option<Report> {
    let table = load_nb201()?;
    let latency = load_latency();
    let mut rng = Rng::new(seed);
    let mut objectives = vec![Objective::maximize("val_accuracy")];
    if latency.is_some() {
        objectives.push(Objective::minimize("latency_ms"));
    }
    let mut report = Report::new("nb201-random", "nb201", "random", objectives);
    report.view = Some(Box::new(Nb201View));
    report.intermediate_label = "CIFAR-10 test accuracy (%)".into();
    let t0 = 1_795_838_773.0;
    report.started = Some(t0);
    report.generated = Some(t0 + 3600.0);
    report
        .settings
        .push(("data".into(), "NAS-Bench-201, CIFAR-10".into()));
    let mut seen = std::collections::HashSet::new();
    let mut clock = t0;
    while report.trials.len() < n {
        let i = rng.below(table.len());
        if !seen.insert(i) {
            continue;
        }
        let row = &table[i];
        let number = report.trials.len() as u64;
        // A few trials fail or are pruned, as in a real study.
        let state = match number % 17 {
            5 => TrialState::Fail,
            11 => TrialState::Pruned,
            _ => TrialState::Complete,
        };
        let mut t = TrialRow::new(number, row.arch.clone(), state);
        let cost = 20.0 + rng.uniform() * 40.0;
        t.started = Some(clock);
        clock += cost;
        t.finished = Some(clock);
        t.cost_seconds = cost;
        match state {
            TrialState::Fail => t.fail_reason = Some("out of memory <simulated>".into()),
            TrialState::Pruned => {
                t.fail_reason = Some("median rule at step 12".into());
                t.metrics.insert("val_accuracy".into(), row.val12);
                t.intermediate = vec![(12, row.test12)];
            }
            _ => {
                t.metrics.insert("val_accuracy".into(), row.val12);
                t.metrics.insert("test_accuracy_200ep".into(), row.test200);
                if let Some(lat) = &latency {
                    t.metrics.insert("latency_ms".into(), lat[i]);
                }
                t.intermediate = vec![(12, row.test12), (200, row.test200)];
            }
        }
        report.trials.push(t);
    }
    Some(report)
}

/// A final result for `report`'s best trial, with export files created in `dir`.
pub fn final_result(report: &Report, dir: &Path) -> FinalResult {
    let best = report.best().expect("a best trial");
    let mut exports = Vec::new();
    for (label, name) in [
        ("genotype", "best.genotype.txt"),
        ("ONNX model", "best model.onnx"),
    ] {
        let p: PathBuf = dir.join("export").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, best.arch.as_bytes()).unwrap();
        exports.push(ExportedFile {
            label: label.into(),
            path: p,
        });
    }
    FinalResult {
        arch: best.arch.clone(),
        test_accuracy: best.metrics.get("test_accuracy_200ep").copied(),
        params: Some(1_073_466.0),
        flops: Some(1.5e8),
        latency_ms: best.metrics.get("latency_ms").copied(),
        metrics: [("epochs".to_string(), 200.0)].into_iter().collect(),
        notes: "200 epochs (the benchmark's own schedule)".into(),
        exports,
    }
}

/// A small study written by hand: two objectives, user text with markup in it.
pub fn handmade_report() -> Report {
    let mut r = Report::new(
        "study <b>&</b> \"quoted\"",
        "nb201",
        "evolution",
        vec![
            Objective::maximize("val_accuracy"),
            Objective::minimize("params"),
        ],
    );
    r.view = Some(Box::new(Nb201View));
    let archs = [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
    ];
    let values = [
        (91.0, 1.2e6),
        (85.0, 0.4e6),
        (70.0, 0.1e6),
        (92.0, 1.5e6),
        (60.0, 0.2e6),
    ];
    for (i, (a, (acc, params))) in archs.iter().zip(values).enumerate() {
        let mut t = TrialRow::new(i as u64, *a, TrialState::Complete);
        t.metrics.insert("val_accuracy".into(), acc);
        t.metrics.insert("params".into(), params);
        t.intermediate = (1..=5).map(|e| (e, acc - 10.0 / e as f64)).collect();
        t.started = Some(1000.0 + 10.0 * i as f64);
        t.finished = Some(1009.0 + 10.0 * i as f64);
        t.cost_seconds = 9.0;
        r.trials.push(t);
    }
    let mut failed = TrialRow::new(5, "<script>alert(1)</script>", TrialState::Fail);
    failed.fail_reason = Some("reason with <tags> & \"quotes\"".into());
    r.trials.push(failed);
    r
}
