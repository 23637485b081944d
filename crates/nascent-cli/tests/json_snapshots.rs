//! Snapshot tests of every `--json` output of the `nascent` binary: each command runs for real
//! on tiny inputs and its JSON's shape (every key, nesting, which values are null, numbers,
//! strings or booleans, and the `schema_version`) must match the committed snapshot in
//! `tests/snapshots/`. A change to a document's fields fails here until the snapshot is
//! reviewed (`cargo insta review`) and, when a field changes meaning or goes away, the
//! `schema_version` is raised.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_nascent");

/// The shape of a JSON document: numbers and strings become their type, arrays keep the
/// shape of their first element (and say whether they were empty), the schema version stays.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let s = if k == "schema_version" {
                        v.clone()
                    } else {
                        shape(v)
                    };
                    (k.clone(), s)
                })
                .collect(),
        ),
        Value::Array(a) => match a.first() {
            Some(x) => Value::Array(vec![shape(x)]),
            None => Value::Array(vec![]),
        },
        Value::Number(_) => Value::String("<number>".into()),
        Value::String(_) => Value::String("<string>".into()),
        other => other.clone(),
    }
}

/// Runs `nascent ARGS` in `cwd`; its stdout's first line as JSON (exit 0 required).
fn json(cwd: &Path, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("NASCENT_NO_APT", "1")
        .output()
        .expect("runs nascent");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text
        .lines()
        .next()
        .unwrap_or_else(|| panic!("{args:?}: no output; {err}"));
    let v: Value = serde_json::from_str(first).unwrap_or_else(|e| panic!("{args:?}: {e}: {first}"));
    assert_eq!(
        v["schema_version"],
        nascent_study::SCHEMA_VERSION,
        "{args:?}: {first}"
    );
    v
}

/// Writes an IDX file of unsigned bytes.
fn write_idx(path: &Path, dims: &[u32], data: &[u8]) {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

/// A three-class 12x12 image set in IDX files (a bright band per class).
fn write_dataset(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let side = 12usize;
    for (split, n) in [("train", 180usize), ("t10k", 60)] {
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let class = i % 3;
            for r in 0..side {
                for c in 0..side {
                    let band = r * 3 / side == class;
                    images.push(((i * 7 + c * 13) % 90) as u8 + if band { 120 } else { 0 });
                }
            }
            labels.push(class as u8);
        }
        write_idx(
            &dir.join(format!("{split}-images-idx3-ubyte")),
            &[n as u32, side as u32, side as u32],
            &images,
        );
        write_idx(
            &dir.join(format!("{split}-labels-idx1-ubyte")),
            &[n as u32],
            &labels,
        );
    }
}

/// A study of `n` random NB201 cells with made-up accuracies, through the storage API.
fn write_study(url: &str, n: usize) {
    use nascent_core::storage::{CreateOutcome, NewTrial, StudySpec, TrialResult};
    use nascent_core::{Budget, Metrics, Objective, Rng, SearchSpace, TrialState};
    let storage = nascent_store::open(url).unwrap();
    let study = storage
        .create_study(&StudySpec {
            name: "many".into(),
            space: "nb201".into(),
            objectives: vec![Objective::maximize("val_accuracy")],
            constraints: Vec::new(),
            config: serde_json::json!({}),
            seed: 1,
        })
        .unwrap();
    let space = nascent_space::Nb201Space::new();
    let mut rng = Rng::new(1);
    for _ in 0..n {
        let arch = space.sample(&mut rng);
        let y = 60.0 + 10.0 * rng.uniform();
        let new = NewTrial {
            arch: space.format(&arch),
            params: serde_json::json!({}),
            budget: Budget::epochs(1),
            seed: 0,
            worker: "w".into(),
        };
        let CreateOutcome::Created(t) = storage.create_trial(study.id, &new, None).unwrap() else {
            continue;
        };
        let mut metrics = Metrics::new();
        metrics.insert("val_accuracy".into(), y);
        let result = TrialResult {
            state: TrialState::Complete,
            reason: None,
            metrics,
            values: vec![y],
            cost_seconds: 1.0,
        };
        storage.finish(study.id, t.number, "w", &result).unwrap();
    }
}

const CELL: &str =
    "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|";

#[test]
fn every_json_output_keeps_its_shape() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    write_dataset(&data);
    let data_s = data.display().to_string();
    let db = format!("sqlite://{}", d.join("s.db").display());
    let study = [
        "--set",
        "name=snap",
        "--set",
        &format!("storage={db}"),
        "--set",
        &format!("data.name={data_s}"),
        "--set",
        &format!("out={}", d.join("out").display()),
        "--set",
        "budget.trials=2",
        "--set",
        "budget.minutes=30",
        "--set",
        "strategy.kind=random",
        // Trained trials (the default study ranks by a proxy): their JSON has every metric.
        "--set",
        "evaluator.kind=low_fidelity",
        "--set",
        r#"objectives=[{metric="val_accuracy", direction="maximize"}]"#,
        "--set",
        "fidelity.epochs=1",
        "--set",
        "fidelity.data_fraction=0.25",
        "--set",
        "fidelity.channels=4",
        "--set",
        "train.threads=1",
        "--set",
        "retrain.epochs=1",
        "--set",
        "retrain.channels=4",
    ];
    let with = |head: &[&str], tail: &[&str]| -> Vec<String> {
        head.iter()
            .chain(tail)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        json(d, &a)
    };

    let created = run(with(&["search", "--no-run", "--json"], &study));
    insta::assert_json_snapshot!("search_no_run", shape(&created));
    let worker = run(with(
        &[
            "worker",
            "--storage",
            &db,
            "--study",
            "snap",
            "--max-trials",
            "1",
            "--json",
        ],
        &[],
    ));
    insta::assert_json_snapshot!("worker", shape(&worker));
    let searched = run(with(&["search", "--json"], &study));
    insta::assert_json_snapshot!("search", shape(&searched));
    // The retrained model is scored on the data's test split.
    assert!(
        searched["final"]["test_accuracy"].as_f64().is_some(),
        "{searched}"
    );
    let resumed = run(with(
        &["resume", "--storage", &db, "--study", "snap", "--json"],
        &[],
    ));
    insta::assert_json_snapshot!("resume", shape(&resumed));
    let trial = run(with(&["trials", "--storage", &db, "--json"], &[]));
    insta::assert_json_snapshot!("trials", shape(&trial));
    let best = run(with(&["best", "--storage", &db, "--json"], &[]));
    insta::assert_json_snapshot!("best", shape(&best));

    let trained = run(with(
        &[
            "train",
            "--space",
            "nb201",
            "--arch",
            CELL,
            "--data",
            &data_s,
            "--epochs",
            "1",
            "--cells",
            "1",
            "--channels",
            "4",
            "--threads",
            "1",
            "--json",
        ],
        &[],
    ));
    insta::assert_json_snapshot!("train", shape(&trained));
    let inspected = run(with(
        &["inspect", "--space", "nb201", "--arch", CELL, "--json"],
        &[],
    ));
    insta::assert_json_snapshot!("inspect", shape(&inspected));
    let measured = run(with(
        &[
            "inspect",
            "--space",
            "nb201",
            "--arch",
            CELL,
            "--channels",
            "4",
            "--cells",
            "1",
            "--measure",
            "--repeats",
            "2",
            "--json",
        ],
        &[],
    ));
    insta::assert_json_snapshot!("inspect_measure", shape(&measured));
    let exported = run(with(
        &[
            "export",
            "--space",
            "nb201",
            "--arch",
            CELL,
            "--channels",
            "4",
            "--cells",
            "1",
            "--out",
            &d.join("model").display().to_string(),
            "--json",
        ],
        &[],
    ));
    insta::assert_json_snapshot!("export", shape(&exported));
    let oneshot = run(with(
        &[
            "oneshot",
            "--method",
            "darts",
            "--space",
            "nb201",
            "--data",
            &data_s,
            "--epochs",
            "1",
            "--images-per-class",
            "20",
            "--channels",
            "4",
            "--cells",
            "1",
            "--batch",
            "16",
            "--threads",
            "1",
            "--json",
        ],
        &[],
    ));
    insta::assert_json_snapshot!("oneshot", shape(&oneshot));
    let proxies = run(with(
        &[
            "proxies",
            "--data",
            &data_s,
            "--archs",
            "3",
            "--batch",
            "8",
            "--proxies",
            "synflow,naswot",
            "--channels",
            "4",
            "--cells",
            "1",
            "--threads",
            "1",
            "--json",
        ],
        &[],
    ));
    insta::assert_json_snapshot!("proxies", shape(&proxies));
    let many = format!("sqlite://{}", d.join("many.db").display());
    write_study(&many, 40);
    let analyzed = run(with(
        &["analyze", "--storage", &many, "--trees", "8", "--json"],
        &[],
    ));
    insta::assert_json_snapshot!("analyze", shape(&analyzed));

    let results = d.join("compare.jsonl");
    let run_line = |arm: &str, seed: u64, acc: f64| {
        serde_json::json!({
            "arm": arm, "seed": seed, "data": "fashion-mnist", "budget_minutes": 30.0,
            "test_accuracy": acc, "val_accuracy": null, "wall_seconds": 1800.0,
            "params": 1000.0, "latency_ms": 1.0, "arch": CELL, "notes": {}
        })
        .to_string()
    };
    std::fs::write(
        &results,
        [
            run_line("study", 0, 93.0),
            run_line("study", 1, 93.2),
            run_line("ref:resnet", 0, 92.0),
        ]
        .join("\n"),
    )
    .unwrap();
    let compared = run(with(
        &[
            "compare",
            "--summary-only",
            "--results",
            &results.display().to_string(),
            "--json",
        ],
        &[],
    ));
    insta::assert_json_snapshot!("compare", shape(&compared));
    // A baseline's summary carries the study's lead over it, paired by seed.
    insta::assert_json_snapshot!("compare_baseline", shape(&compared["arms"][1]));

    if let Some(table) = nascent_core::testing::shared_data("nb201/nb201.csv") {
        let bench = run(with(
            &[
                "bench",
                "nb201",
                "--data",
                &table.display().to_string(),
                "--queries",
                "5",
                "--runs",
                "2",
                "--strategy",
                "random",
                "--json",
            ],
            &[],
        ));
        insta::assert_json_snapshot!("bench", shape(&bench));
    }
}
