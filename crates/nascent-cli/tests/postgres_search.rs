//! A real search on Fashion-MNIST (tiny budget) by two `nascent worker` processes joining one
//! study in PostgreSQL (a throwaway server started here) that `nascent search --no-run`
//! created, then its report, set against the same study run on SQLite: the same kind of
//! report (the same files, the same sections).
//!
//! Needs `../shared/data/fashion-mnist` and PostgreSQL: without them the test prints that it
//! skipped; with `CI=true` it fails.

use nascent_core::TrialState;
use nascent_core::storage::Storage;
use nascent_store::pg_server::PgServer;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/fashion-mnist"
);

fn study_file(dir: &Path, storage: &str) -> std::path::PathBuf {
    let file = dir.join("study.toml");
    let toml = format!(
        r#"name = "fmnist-pg"
storage = "{storage}"
out = "{out}"
seed = 2
workers = 1

[space]
kind = "nb201"

[strategy]
kind = "random"

[data]
name = "{DATA}"

[train]
batch_size = 64
augment = false
threads = 1

[fidelity]
epochs = 1
data_fraction = 0.02
cells = 1
channels = 4

[budget]
trials = 4

[retrain]
enabled = false
"#,
        out = dir.join("out").display(),
    );
    std::fs::write(&file, toml).unwrap();
    file
}

fn nascent(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nascent"));
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The files of a report folder and the section headings of its page.
fn report_kind(out: &Path) -> (BTreeSet<String>, Vec<String>) {
    let files = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let headings = html
        .split("<h2")
        .skip(1)
        .filter_map(|s| s.split_once('>').and_then(|(_, r)| r.split_once("</h2>")))
        .map(|(h, _)| h.to_string())
        .collect();
    (files, headings)
}

#[test]
fn two_processes_search_fashion_mnist_in_postgres_and_report_like_sqlite() {
    let name = "two_processes_search_fashion_mnist_in_postgres_and_report_like_sqlite";
    if !Path::new(DATA).join("train-images-idx3-ubyte.gz").exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{name}: {DATA} is missing, and CI=true requires it");
        }
        eprintln!("{name}: skipped: {DATA} is missing");
        return;
    }
    let Some(server) = PgServer::for_test(name) else {
        return;
    };
    let url = server.new_database().unwrap();
    let pg_dir = tempfile::tempdir().unwrap();
    let file = study_file(pg_dir.path(), &url);
    let file = file.to_str().unwrap();
    // As on a cluster: the study is created with its settings and no trial, then two workers
    // join it by name alone (no study file; `--data` says where the data is on "their"
    // machine).
    let created = ok(
        nascent(&["search", file, "--no-run"]).output().unwrap(),
        "nascent search --no-run",
    );
    assert!(created.contains("nascent worker --storage"), "{created}");
    let workers: Vec<_> = (0..2)
        .map(|_| {
            nascent(&[
                "worker",
                "--storage",
                &url,
                "--study",
                "fmnist-pg",
                "--data",
                DATA,
                "--until-done",
                "--json",
            ])
            .spawn()
            .unwrap()
        })
        .collect();
    let mut evaluated = 0;
    for w in workers {
        let out = ok(w.wait_with_output().unwrap(), "a worker");
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("worker JSON");
        evaluated += v["evaluated"].as_u64().unwrap();
    }
    assert_eq!(evaluated, 4, "the two workers evaluated the budget once");
    let s = nascent_store::open(&url).unwrap();
    let st = s.study("fmnist-pg").unwrap();
    let trials = s.trials(st.id, 0).unwrap();
    assert_eq!(trials.len(), 4);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    assert!(
        trials
            .iter()
            .all(|t| t.values[0].is_finite() && (0.0..=100.0).contains(&t.values[0])),
        "accuracies in percent: {:?}",
        trials.iter().map(|t| t.values[0]).collect::<Vec<_>>()
    );
    let archs: HashSet<&str> = trials.iter().map(|t| t.arch.as_str()).collect();
    assert_eq!(archs.len(), 4);
    let pids: HashSet<&str> = trials
        .iter()
        .filter_map(|t| t.worker.as_deref()?.split(':').nth(1))
        .collect();
    eprintln!("{name}: trials by {} processes", pids.len());
    let best = ok(
        nascent(&["best", "--storage", &url, "--study", "fmnist-pg"])
            .output()
            .unwrap(),
        "nascent best",
    );
    assert!(best.contains("val_accuracy="), "{best}");
    let pg_out = pg_dir.path().join("report");
    ok(
        nascent(&["report", "--storage", &url, "--study", "fmnist-pg", "--out"])
            .arg(&pg_out)
            .output()
            .unwrap(),
        "nascent report (PostgreSQL)",
    );

    // The same study on SQLite, one process.
    let lite_dir = tempfile::tempdir().unwrap();
    let lite_url = format!("sqlite://{}", lite_dir.path().join("s.db").display());
    let lite_file = study_file(lite_dir.path(), &lite_url);
    ok(
        nascent(&["search", lite_file.to_str().unwrap(), "--search-only"])
            .output()
            .unwrap(),
        "the SQLite search",
    );
    let lite_out = lite_dir.path().join("report");
    ok(
        nascent(&[
            "report",
            "--storage",
            &lite_url,
            "--study",
            "fmnist-pg",
            "--out",
        ])
        .arg(&lite_out)
        .output()
        .unwrap(),
        "nascent report (SQLite)",
    );
    let (pg_files, pg_sections) = report_kind(&pg_out);
    let (lite_files, lite_sections) = report_kind(&lite_out);
    assert!(pg_files.contains("report.html"), "{pg_files:?}");
    assert_eq!(pg_files, lite_files);
    assert!(!pg_sections.is_empty());
    assert_eq!(pg_sections, lite_sections);
}
