//! What only the SQLite storage does: schema versions and migrations, WAL mode, clear errors
//! for paths that cannot hold a storage, and several connections (processes) on one file.

use nascent_core::storage::{CreateOutcome, Storage, StorageError};
use nascent_store::conformance::{new_trial, spec};
use nascent_store::{SCHEMA_VERSION, SqliteOptions, SqliteStorage, open};
use std::collections::HashSet;

fn url_of(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

#[test]
fn new_files_use_wal_and_the_newest_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let s = SqliteStorage::open(&path, &url_of(&path)).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    // Opening again keeps the data.
    s.create_study(&spec("kept")).unwrap();
    drop(s);
    let s = open(&url_of(&path)).unwrap();
    assert_eq!(s.study("kept").unwrap().name, "kept");
}

#[test]
fn an_older_file_is_migrated_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let url = url_of(&path);
    let v1 = SqliteOptions {
        schema_version: Some(1),
        ..SqliteOptions::default()
    };
    let old = SqliteStorage::open_with(&path, &url, &v1).unwrap();
    assert_eq!(old.schema_version().unwrap(), 1);
    drop(old);
    // Write what a version-1 nascent wrote: a study, a complete trial, a running one with
    // three intermediate values.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            r#"
            INSERT INTO studies (id, name, space, objectives, constraints, config, seed, created)
            VALUES (1, 'legacy', 'nb201', '[{"metric":"val_accuracy","direction":"maximize"}]',
                    '[]', '{"budget":{"trials":10}}', 42, 1000.0);
            INSERT INTO trials (id, study_id, number, arch, params, state, budget, seed, worker,
                                created, started, finished, heartbeat, cost_seconds)
            VALUES (1, 1, 0, 'arch-a', '{}', 'COMPLETE', '{"epochs":12}', 7, 'w', 1001.0,
                    1001.0, 1002.0, 1002.0, 1.0),
                   (2, 1, 1, 'arch-b', '{}', 'RUNNING', '{"epochs":12}', 8, 'w', 1003.0,
                    1003.0, NULL, 1004.0, 0.0);
            INSERT INTO trial_metrics VALUES (1, 'val_accuracy', 88.5);
            INSERT INTO trial_values VALUES (1, 0, 88.5);
            INSERT INTO trial_intermediate VALUES (2, 1, 30.0), (2, 2, 40.0), (2, 3, 45.0);
            "#,
        )
        .unwrap();
    }
    let s = SqliteStorage::open(&path, &url).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let study = s.study("legacy").unwrap();
    assert_eq!(study.seed, 42);
    assert_eq!(study.elapsed_seconds, 0.0);
    let trials = s.trials(study.id, 0).unwrap();
    assert_eq!(trials.len(), 2);
    assert_eq!(trials[0].values, vec![88.5]);
    assert_eq!(trials[0].attempts, 1);
    assert_eq!(
        trials[1].intermediate,
        vec![(1, 30.0), (2, 40.0), (3, 45.0)]
    );
    // The migration filled the new epochs column from the intermediate values.
    assert_eq!(trials[1].epochs, 3);
    assert_eq!(s.counts(study.id).unwrap().epochs, 3);
    // What version 2 added works on the migrated file.
    s.record_elapsed(study.id, 5.0).unwrap();
    s.add_artefact(&nascent_core::Artefact {
        study: study.id,
        trial: Some(0),
        kind: nascent_core::ArtefactKind::Export,
        path: "best.onnx".into(),
        created: 1.0,
    })
    .unwrap();
    assert_eq!(s.artefacts(study.id).unwrap().len(), 1);
    // Version 3 ranked the completed trial by its first value (the running one is not).
    let ranked = s.ranked_trials(study.id, 0, 10).unwrap();
    assert_eq!(ranked.len(), 1);
    assert_eq!(ranked[0], trials[0]);
    // And ranks trials that finish after the migration, by the stored direction.
    s.finish(
        study.id,
        1,
        "w",
        &nascent_core::TrialResult {
            state: nascent_core::TrialState::Complete,
            reason: None,
            metrics: [("val_accuracy".to_string(), 90.0)].into_iter().collect(),
            values: vec![90.0],
            cost_seconds: 1.0,
        },
    )
    .unwrap();
    let ranked: Vec<u64> = s
        .ranked_trials(study.id, 0, 10)
        .unwrap()
        .iter()
        .map(|t| t.number)
        .collect();
    assert_eq!(ranked, vec![1, 0]);
}

#[test]
fn a_newer_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    let url = url_of(&path);
    SqliteStorage::open(&path, &url).unwrap();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
    }
    match SqliteStorage::open(&path, &url) {
        Err(e @ StorageError::NewerSchema { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&url), "{msg}");
            assert!(msg.contains("99"), "{msg}");
            assert!(msg.contains(&SCHEMA_VERSION.to_string()), "{msg}");
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

fn open_error(url: &str) -> String {
    match open(url) {
        Ok(_) => panic!("`{url}` opened"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unreachable_storage_urls_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist.
    let url = "sqlite:///nonexistent-nascent-dir/deeper/study.db";
    let msg = open_error(url);
    assert!(msg.contains(url), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
    // A plain path, same.
    let msg = open_error("no/such/dir/x.db");
    assert!(msg.contains("`no/such/dir/x.db`"), "{msg}");
    // A parent that is a file.
    let file = dir.path().join("plain.txt");
    std::fs::write(&file, "hello").unwrap();
    let url = url_of(&file.join("x.db"));
    let msg = open_error(&url);
    assert!(
        msg.contains(&url) && msg.contains("not a directory"),
        "{msg}"
    );
    // A directory where the file should be.
    let url = url_of(dir.path());
    let msg = open_error(&url);
    assert!(
        msg.contains(&url) && msg.contains("is a directory"),
        "{msg}"
    );
    // A file that is not a database.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let url = url_of(&junk);
    let msg = open_error(&url);
    assert!(
        msg.contains(&url) && msg.contains("not a database"),
        "{msg}"
    );
    // An SQLite database of something else.
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id INTEGER);")
        .unwrap();
    let url = url_of(&other);
    let msg = open_error(&url);
    assert!(
        msg.contains(&url) && msg.contains("not a nascent storage"),
        "{msg}"
    );
    // Unknown schemes.
    let msg = open_error("mysql://db.example/nas");
    assert!(msg.contains("`mysql://db.example/nas`"), "{msg}");
}

#[test]
fn an_unwritable_place_gives_a_clear_error() {
    // /proc refuses new files even to root.
    if !std::path::Path::new("/proc/self").exists() {
        eprintln!("skipped: no /proc on this system");
        return;
    }
    let url = "sqlite:///proc/nascent-study.db";
    let msg = open_error(url);
    assert!(msg.contains(url), "{msg}");
    // A read-only directory, where permissions apply (not to root).
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    if std::fs::write(ro.join("probe"), "x").is_ok() {
        eprintln!("skipped the read-only directory case: permissions do not apply (root)");
    } else {
        let url = url_of(&ro.join("x.db"));
        let msg = open_error(&url);
        assert!(msg.contains(&url), "{msg}");
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn several_connections_share_one_file() {
    // Each connection stands for a process: they race to create the same architectures.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let url = url_of(&path);
    let first = SqliteStorage::open(&path, &url).unwrap();
    let study = first.create_study(&spec("shared")).unwrap();
    drop(first);
    let conns: Vec<SqliteStorage> = (0..4)
        .map(|_| SqliteStorage::open(&path, &url).unwrap())
        .collect();
    let archs: Vec<String> = (0..50).map(|i| format!("arch-{i}")).collect();
    let won: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let hs: Vec<_> = conns
            .iter()
            .enumerate()
            .map(|(c, conn)| {
                let archs = &archs;
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for k in 0..archs.len() {
                        let arch = &archs[(k * 3 + c * 11) % archs.len()];
                        if let CreateOutcome::Created(r) = conn
                            .create_trial(study.id, &new_trial(arch, &format!("c{c}")), Some(45))
                            .unwrap()
                        {
                            mine.push(r.number);
                        }
                    }
                    mine
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<u64> = won.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(all, (0..45).collect::<Vec<_>>());
    let trials = conns[0].trials(study.id, 0).unwrap();
    let archs: HashSet<&str> = trials.iter().map(|t| t.arch.as_str()).collect();
    assert_eq!(archs.len(), 45);
}
