//! `nascent analyze` through the binary, on SQLite studies written through the storage API:
//! the JSON analysis finds the decision that was made to matter and its best option, the text
//! output lists the importances, `--compare` prints the stability of two studies, `--svg`
//! writes the charts, and bad input exits 1 naming the problem.

use nascent_core::storage::{CreateOutcome, NewTrial, Storage, StudySpec, TrialResult};
use nascent_core::{Budget, Metrics, Objective, Rng, SearchSpace, TrialState};
use nascent_space::Nb201Space;
use std::path::Path;
use std::process::{Command, Output};

fn nascent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nascent"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// A study of `n` NB201 trials where the operation on edge 3<-0 decides the accuracy:
/// `nor_conv_3x3` there adds 10 points.
fn write_study(storage: &dyn Storage, name: &str, seed: u64, n: usize) {
    let study = storage
        .create_study(&StudySpec {
            name: name.into(),
            space: "nb201".into(),
            objectives: vec![Objective::maximize("val_accuracy")],
            constraints: Vec::new(),
            config: serde_json::json!({}),
            seed,
        })
        .unwrap();
    let space = Nb201Space::new();
    let mut rng = Rng::new(seed);
    for _ in 0..n {
        let arch = space.sample(&mut rng);
        let c = space.to_decisions(&arch);
        let y = 60.0 + if c[3] == 3 { 10.0 } else { 0.0 } + rng.uniform();
        let created = storage
            .create_trial(
                study.id,
                &NewTrial {
                    arch: space.format(&arch),
                    params: serde_json::json!({}),
                    budget: Budget::epochs(1),
                    seed: 0,
                    worker: "w".into(),
                },
                None,
            )
            .unwrap();
        let CreateOutcome::Created(t) = created else {
            continue;
        };
        let mut metrics = Metrics::new();
        metrics.insert("val_accuracy".into(), y);
        storage
            .finish(
                study.id,
                t.number,
                "w",
                &TrialResult {
                    state: TrialState::Complete,
                    reason: None,
                    metrics,
                    values: vec![y],
                    cost_seconds: 1.0,
                },
            )
            .unwrap();
    }
}

fn fixture(dir: &Path) -> String {
    let url = format!("sqlite://{}", dir.join("studies.db").display());
    let storage = nascent_store::open(&url).unwrap();
    write_study(storage.as_ref(), "seed-1", 1, 60);
    write_study(storage.as_ref(), "seed-2", 2, 60);
    write_study(storage.as_ref(), "tiny", 3, 3);
    url
}

#[test]
fn analyze_prints_json_text_charts_and_stability() {
    let dir = tempfile::tempdir().unwrap();
    let url = fixture(dir.path());
    let out = nascent(&["analyze", "--storage", &url, "--study", "seed-1", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["study"], "seed-1");
    assert_eq!(v["trials_used"], 60);
    let top = v["importance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rank"] == 1)
        .unwrap();
    assert_eq!(top["dimension"], "edge 3<-0");
    let m = v["marginals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["dimension"] == "edge 3<-0")
        .unwrap();
    assert_eq!(m["best"], "nor_conv_3x3");

    let charts = dir.path().join("charts");
    let out = nascent(&[
        "analyze",
        "--storage",
        &url,
        "--study",
        "seed-1",
        "--svg",
        charts.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" 1. edge 3<-0"), "{text}");
    assert!(text.contains("best nor_conv_3x3"), "{text}");
    assert!(charts.join("importance.svg").exists() && charts.join("marginals.svg").exists());

    let out = nascent(&[
        "analyze",
        "--storage",
        &url,
        "--study",
        "seed-1",
        "--compare",
        "seed-2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["analyses"].as_array().unwrap().len(), 2);
    let pair = &v["stability"]["pairs"][0];
    assert_eq!(pair["a"], "seed-1");
    assert_eq!(pair["b"], "seed-2");
    assert!(pair["importance_spearman"].as_f64().is_some());
}

#[test]
fn bad_input_exits_1_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let url = fixture(dir.path());
    for (args, needle) in [
        (vec!["--study", "nope"], "nope"),
        (vec!["--study", "tiny"], "at least 8 completed trials"),
        (
            vec!["--study", "seed-1", "--objective", "loss"],
            "--objective `loss`",
        ),
        (
            vec!["--study", "seed-1", "--objective", "3"],
            "1 objective(s)",
        ),
        (vec!["--study", "seed-1", "--compare", "ghost"], "ghost"),
    ] {
        let mut all = vec!["analyze", "--storage", url.as_str()];
        all.extend(args.iter().copied());
        let out = nascent(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{all:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains(needle), "{all:?}: `{needle}` not in {err}");
    }
    let missing = dir.path().join("none.db");
    let out = nascent(&["analyze", "--storage", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}
