//! The PostgreSQL back end against a real server that the test starts (a throwaway cluster
//! on a free port, stopped afterwards): the conformance suite, schema versioning, URLs,
//! reconnection after a restart, and giving up with a clear error.
//!
//! Without PostgreSQL installed these tests print that they skipped (and fail with `CI=true`).

use nascent_core::storage::{NewTrial, Storage, StorageError, TrialResult};
use nascent_core::{Budget, Metrics, TrialState};
use nascent_store::conformance;
use nascent_store::pg_server::PgServer;
use nascent_store::{PG_SCHEMA_VERSION, PgOptions, PostgresStorage, open};
use std::time::{Duration, Instant};

#[test]
fn conformance_suite() {
    let Some(server) = PgServer::for_test("conformance_suite") else {
        return;
    };
    conformance::run_all(|| {
        let url = server.new_database().expect("create database");
        (PostgresStorage::open(&url).expect("open"), ())
    });
    // And through `open` and a boxed trait object.
    conformance::run_all(|| {
        let url = server.new_database().expect("create database");
        (open(&url).expect("open"), ())
    });
}

#[test]
fn schema_is_versioned_and_migrated() {
    let Some(server) = PgServer::for_test("schema_is_versioned_and_migrated") else {
        return;
    };
    let url = server.new_database().unwrap();
    let s = PostgresStorage::open(&url).unwrap();
    assert_eq!(s.schema_version().unwrap(), PG_SCHEMA_VERSION);
    let st = s.create_study(&conformance::spec("a")).unwrap();
    drop(s);
    // Opening again keeps everything; several openers at once migrate once.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStorage::open(&url).map(|s| s.schema_version()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap().unwrap(), PG_SCHEMA_VERSION);
    }
    let s = PostgresStorage::open(&url).unwrap();
    assert_eq!(s.study("a").unwrap().id, st.id);
    // A database from a newer nascent is refused, naming both versions.
    let db = url.rsplit('/').next().unwrap();
    let psql = |sql: &str| {
        let out = std::process::Command::new(
            nascent_store::pg_server::find_bindir()
                .unwrap()
                .join("psql"),
        )
        .args(["-X", "-q", "-d", &server.url(db), "-c", sql])
        .output()
        .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    psql("UPDATE nascent_schema_version SET version = 99");
    match PostgresStorage::open(&url) {
        Err(StorageError::NewerSchema {
            found, supported, ..
        }) => {
            assert_eq!((found, supported), (99, PG_SCHEMA_VERSION));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    // A database with other applications' tables is fine (tables are prefixed).
    let other = server.new_database().unwrap();
    let odb = other.rsplit('/').next().unwrap().to_string();
    let out = std::process::Command::new(
        nascent_store::pg_server::find_bindir()
            .unwrap()
            .join("psql"),
    )
    .args([
        "-X",
        "-q",
        "-d",
        &server.url(&odb),
        "-c",
        "CREATE TABLE studies (x int); CREATE TABLE trials (y int)",
    ])
    .output()
    .unwrap();
    assert!(out.status.success());
    let s = PostgresStorage::open(&other).unwrap();
    s.create_study(&conformance::spec("b")).unwrap();
}

#[test]
fn bad_urls_and_unreachable_servers_are_clear_errors() {
    let Some(server) = PgServer::for_test("bad_urls_and_unreachable_servers_are_clear_errors")
    else {
        return;
    };
    // A database that does not exist.
    let url = server.url("no_such_db");
    let e = PostgresStorage::open(&url).unwrap_err().to_string();
    assert!(e.contains(&url) && e.contains("no_such_db"), "{e}");
    // A port nobody listens on: fails at opening (no retries for a wrong URL).
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgresql://postgres@127.0.0.1:{free}/x");
    let t0 = Instant::now();
    let e = open(&url).err().expect("an error").to_string();
    assert!(e.contains(&url), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(30));
}

fn trial(arch: &str, worker: &str) -> NewTrial {
    NewTrial {
        arch: arch.into(),
        params: serde_json::json!({}),
        budget: Budget::default(),
        seed: 1,
        worker: worker.into(),
    }
}

fn complete(v: f64) -> TrialResult {
    let mut metrics = Metrics::new();
    metrics.insert("val_accuracy".into(), v);
    metrics.insert("latency_ms".into(), 1.0);
    TrialResult {
        state: TrialState::Complete,
        reason: None,
        metrics,
        values: vec![v, 1.0],
        cost_seconds: 0.1,
    }
}

/// A restart of the server cuts every connection: operations reconnect and go through, and
/// connections killed server-side are replaced.
#[test]
fn survives_restart_and_terminated_connections() {
    let Some(server) = PgServer::for_test("survives_restart_and_terminated_connections") else {
        return;
    };
    let url = format!("{}?application_name=victim", server.new_database().unwrap());
    let s = PostgresStorage::open(&url).unwrap();
    let st = s.create_study(&conformance::spec("a")).unwrap();
    s.create_trial(st.id, &trial("x", "w"), None).unwrap();
    server.restart().unwrap();
    s.report(st.id, 0, "w", 1, 5.0).unwrap();
    assert!(server.terminate("victim").unwrap() >= 1);
    assert!(s.heartbeat(st.id, 0, "w").unwrap());
    // The server is down for a while; the write waits for it and goes through.
    server.stop("fast").unwrap();
    let restarter = std::thread::spawn({
        let t0 = Instant::now();
        move || {
            std::thread::sleep(Duration::from_secs(2));
            t0
        }
    });
    let t0 = restarter.join().unwrap();
    let waiter = std::thread::scope(|scope| {
        let h = scope.spawn(|| s.finish(st.id, 0, "w", &complete(70.0)));
        std::thread::sleep(Duration::from_millis(500));
        server.start_again().unwrap();
        h.join().unwrap()
    });
    waiter.unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(2));
    let t = s.trial(st.id, 0).unwrap();
    assert_eq!(t.state, TrialState::Complete);
    assert_eq!(t.intermediate, vec![(1, 5.0)]);
    assert_eq!(t.values[0], 70.0);
}

/// With the server gone for longer than the retry limit, an operation fails with an error
/// that says it gave up and why; the trial stays running for another worker to re-queue.
#[test]
fn gives_up_after_the_retry_limit() {
    let Some(server) = PgServer::for_test("gives_up_after_the_retry_limit") else {
        return;
    };
    let url = server.new_database().unwrap();
    let options = PgOptions {
        retry_for: Duration::from_secs(2),
        ..PgOptions::default()
    };
    let s = PostgresStorage::open_with(&url, &options).unwrap();
    let st = s.create_study(&conformance::spec("a")).unwrap();
    s.create_trial(st.id, &trial("x", "w"), None).unwrap();
    server.stop("fast").unwrap();
    let t0 = Instant::now();
    let e = s.finish(st.id, 0, "w", &complete(1.0)).unwrap_err();
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(20),
        "{waited:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("gave up on finish") && msg.contains(&url),
        "{msg}"
    );
    assert!(msg.contains("NASCENT_STORAGE_RETRY_SECONDS"), "{msg}");
    server.start_again().unwrap();
    let t = s.trial(st.id, 0).unwrap();
    assert_eq!(t.state, TrialState::Running);
    assert_eq!(t.worker.as_deref(), Some("w"));
}
