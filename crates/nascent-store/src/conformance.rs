//! The conformance suite every storage back end passes.
//!
//! Each check is a public function taking a fresh, empty storage; it panics (like a test) when
//! the back end breaks the [`Storage`] contract. [`storage_conformance!`](crate::storage_conformance)
//! turns the whole suite into one `#[test]` per check for a back end:
//!
//! ```ignore
//! nascent_store::storage_conformance!(|| (MyStorage::connect(...), guard));
//! ```
//!
//! where the closure returns a fresh storage and anything that must live as long as it (a
//! temporary directory, a database schema to drop).

use nascent_core::storage::{
    Artefact, ArtefactKind, CreateOutcome, NewTrial, RequeueIf, Storage, StorageError, StudyId,
    StudyRecord, StudySpec, TrialRecord, TrialResult, now,
};
use nascent_core::{Budget, Constraint, Metrics, Objective, TrialState};
use std::collections::HashSet;
use std::path::PathBuf;

/// Generates one `#[test]` per conformance check for the storage `$make` returns: a closure
/// giving `(storage, guard)`, a fresh storage and whatever must outlive it.
#[macro_export]
macro_rules! storage_conformance {
    ($make:expr) => {
        $crate::storage_conformance!(@each $make;
            study_round_trip, study_names_unique, unknown_study_id, trial_numbers_and_round_trip,
            duplicate_arch_is_refused, trial_limit, intermediate_values, report_requires_holder,
            finish_round_trip, requeue_and_claim, heartbeat_updates, counts_by_state,
            elapsed_never_decreases, artefacts_round_trip, concurrent_creation,
            concurrent_claims, late_results_refused, ranked_trials_best_first,
            finish_sequence_follows_the_finishes, first_unfinished_skips_the_finished);
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (storage, _guard) = ($make)();
                $crate::conformance::$name(&storage);
            }
        )*
    };
}

/// One conformance check.
pub type Check = fn(&dyn Storage);

/// Every check, by name, for back ends that run the suite in one test (a database server
/// started once): see [`run_all`].
pub const ALL: &[(&str, Check)] = &[
    ("study_round_trip", study_round_trip),
    ("study_names_unique", study_names_unique),
    ("unknown_study_id", unknown_study_id),
    ("trial_numbers_and_round_trip", trial_numbers_and_round_trip),
    ("duplicate_arch_is_refused", duplicate_arch_is_refused),
    ("trial_limit", trial_limit),
    ("intermediate_values", intermediate_values),
    ("report_requires_holder", report_requires_holder),
    ("finish_round_trip", finish_round_trip),
    ("requeue_and_claim", requeue_and_claim),
    ("heartbeat_updates", heartbeat_updates),
    ("counts_by_state", counts_by_state),
    ("elapsed_never_decreases", elapsed_never_decreases),
    ("artefacts_round_trip", artefacts_round_trip),
    ("concurrent_creation", concurrent_creation),
    ("concurrent_claims", concurrent_claims),
    ("late_results_refused", late_results_refused),
    ("ranked_trials_best_first", ranked_trials_best_first),
];

/// Runs every check of [`ALL`], each on a fresh storage from `make`, and panics naming the
/// checks that failed (after running them all).
pub fn run_all<S: Storage, G>(mut make: impl FnMut() -> (S, G)) {
    let mut failed = Vec::new();
    for (name, check) in ALL {
        let (storage, guard) = make();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&storage)));
        drop(storage);
        drop(guard);
        match r {
            Ok(()) => eprintln!("conformance: {name} ok"),
            Err(_) => {
                eprintln!("conformance: {name} FAILED");
                failed.push(*name);
            }
        }
    }
    assert!(failed.is_empty(), "conformance checks failed: {failed:?}");
}

/// A study spec named `name` with two objectives, a constraint, a config and a large seed.
pub fn spec(name: &str) -> StudySpec {
    StudySpec {
        name: name.to_string(),
        space: "nb201".to_string(),
        objectives: vec![
            Objective::maximize("val_accuracy"),
            Objective::minimize("latency_ms"),
        ],
        constraints: vec![Constraint {
            metric: "params".into(),
            max: Some(1.5e6),
            min: None,
        }],
        config: serde_json::json!({"strategy": {"kind": "evolution", "population": 50},
                                   "fidelity": {"epochs": 12, "data_fraction": 0.25}}),
        seed: u64::MAX - 7,
    }
}

/// A new trial of `arch` claimed by `worker`.
pub fn new_trial(arch: &str, worker: &str) -> NewTrial {
    NewTrial {
        arch: arch.to_string(),
        params: serde_json::json!({"lr": 0.025, "batch_size": 96}),
        budget: Budget {
            epochs: Some(12),
            data_fraction: Some(0.5),
            ..Budget::default()
        },
        seed: 0xDEAD_BEEF_0000_0001,
        worker: worker.to_string(),
    }
}

fn created(o: CreateOutcome) -> TrialRecord {
    match o {
        CreateOutcome::Created(t) => *t,
        other => panic!("expected a created trial, got {other:?}"),
    }
}

fn study(s: &dyn Storage, name: &str) -> StudyRecord {
    s.create_study(&spec(name)).expect("create study")
}

fn complete(acc: f64) -> TrialResult {
    let mut metrics = Metrics::new();
    metrics.insert("val_accuracy".into(), acc);
    metrics.insert("latency_ms".into(), 3.5);
    TrialResult {
        state: TrialState::Complete,
        reason: None,
        metrics,
        values: vec![acc, 3.5],
        cost_seconds: 1.25,
    }
}

/// A study reads back as it was written, by name and in the list.
pub fn study_round_trip(s: &dyn Storage) {
    let before = now();
    let a = study(s, "alpha");
    let b = study(s, "beta");
    assert_ne!(a.id, b.id);
    let got = s.study("alpha").unwrap();
    assert_eq!(got, a);
    let sp = spec("alpha");
    assert_eq!(got.space, sp.space);
    assert_eq!(got.objectives, sp.objectives);
    assert_eq!(got.constraints, sp.constraints);
    assert_eq!(got.config, sp.config);
    assert_eq!(got.seed, sp.seed);
    assert!(got.created >= before - 1.0 && got.created <= now() + 1.0);
    assert_eq!(got.elapsed_seconds, 0.0);
    let all = s.studies().unwrap();
    assert_eq!(
        all.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
}

/// A second study of the same name is refused; an unknown name is a clear error.
pub fn study_names_unique(s: &dyn Storage) {
    study(s, "alpha");
    match s.create_study(&spec("alpha")) {
        Err(StorageError::StudyExists { name, url }) => {
            assert_eq!(name, "alpha");
            assert_eq!(url, s.url());
        }
        other => panic!("expected StudyExists, got {other:?}"),
    }
    match s.study("nope") {
        Err(e @ StorageError::NoStudy { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("`nope`") && msg.contains(s.url()), "{msg}");
        }
        other => panic!("expected NoStudy, got {other:?}"),
    }
}

/// Operations on a study id that does not exist fail instead of inventing data.
pub fn unknown_study_id(s: &dyn Storage) {
    let bogus = StudyId(987_654);
    assert!(s.trials(bogus, 0).is_err());
    assert!(s.counts(bogus).is_err());
    assert!(s.create_trial(bogus, &new_trial("x", "w"), None).is_err());
    assert!(s.claim_queued(bogus, "w").is_err());
    assert!(s.record_elapsed(bogus, 1.0).is_err());
}

/// Trials are numbered 0, 1, 2, ... in each study and read back as written.
pub fn trial_numbers_and_round_trip(s: &dyn Storage) {
    let a = study(s, "alpha");
    let b = study(s, "beta");
    let before = now();
    let t0 = created(
        s.create_trial(a.id, &new_trial("arch-0", "w0"), None)
            .unwrap(),
    );
    let t1 = created(
        s.create_trial(a.id, &new_trial("arch-1", "w1"), None)
            .unwrap(),
    );
    let u0 = created(
        s.create_trial(b.id, &new_trial("arch-1", "w1"), None)
            .unwrap(),
    );
    assert_eq!((t0.number, t1.number, u0.number), (0, 1, 0));
    let nt = new_trial("arch-1", "w1");
    assert_eq!(t1.study, a.id);
    assert_eq!(t1.arch, nt.arch);
    assert_eq!(t1.params, nt.params);
    assert_eq!(t1.budget, nt.budget);
    assert_eq!(t1.seed, nt.seed);
    assert_eq!(t1.state, TrialState::Running);
    assert_eq!(t1.worker.as_deref(), Some("w1"));
    assert_eq!(t1.attempts, 1);
    assert_eq!(t1.epochs, 0);
    assert!(t1.started.is_some() && t1.heartbeat.is_some() && t1.finished.is_none());
    assert!(t1.created >= before - 1.0);
    assert!(!t1.is_queued());
    assert_eq!(s.trial(a.id, 1).unwrap(), t1);
    let all = s.trials(a.id, 0).unwrap();
    assert_eq!(all, vec![t0.clone(), t1.clone()]);
    assert_eq!(s.trials(a.id, 1).unwrap(), vec![t1]);
    assert!(s.trials(a.id, 5).unwrap().is_empty());
    match s.trial(a.id, 7) {
        Err(StorageError::NoTrial { number: 7, .. }) => {}
        other => panic!("expected NoTrial, got {other:?}"),
    }
}

/// An architecture already in the study is not created again; other studies are separate.
pub fn duplicate_arch_is_refused(s: &dyn Storage) {
    let a = study(s, "alpha");
    let b = study(s, "beta");
    created(s.create_trial(a.id, &new_trial("x", "w0"), None).unwrap());
    created(s.create_trial(a.id, &new_trial("y", "w0"), None).unwrap());
    assert_eq!(
        s.create_trial(a.id, &new_trial("y", "w1"), None).unwrap(),
        CreateOutcome::Exists(1)
    );
    assert_eq!(s.trials(a.id, 0).unwrap().len(), 2);
    created(s.create_trial(b.id, &new_trial("y", "w1"), None).unwrap());
}

/// No trial is created past the limit.
pub fn trial_limit(s: &dyn Storage) {
    let a = study(s, "alpha");
    created(s.create_trial(a.id, &new_trial("x", "w"), Some(2)).unwrap());
    created(s.create_trial(a.id, &new_trial("y", "w"), Some(2)).unwrap());
    assert_eq!(
        s.create_trial(a.id, &new_trial("z", "w"), Some(2)).unwrap(),
        CreateOutcome::LimitReached
    );
    assert_eq!(s.counts(a.id).unwrap().total, 2);
    // A larger limit (a resumed study with more budget) lets it go on.
    created(s.create_trial(a.id, &new_trial("z", "w"), Some(3)).unwrap());
}

/// Intermediate values are kept by step (a repeated step replaces the value), the epochs
/// follow the largest step, and `step_values` gathers one step over trials.
pub fn intermediate_values(s: &dyn Storage) {
    let a = study(s, "alpha");
    created(s.create_trial(a.id, &new_trial("x", "w0"), None).unwrap());
    created(s.create_trial(a.id, &new_trial("y", "w1"), None).unwrap());
    created(s.create_trial(a.id, &new_trial("z", "w2"), None).unwrap());
    s.report(a.id, 0, "w0", 1, 10.0).unwrap();
    s.report(a.id, 0, "w0", 2, 20.0).unwrap();
    s.report(a.id, 0, "w0", 2, 25.0).unwrap();
    s.report(a.id, 0, "w0", 5, 50.0).unwrap();
    s.report(a.id, 0, "w0", 4, 40.0).unwrap();
    s.report(a.id, 1, "w1", 2, f64::NAN).unwrap();
    s.report(a.id, 2, "w2", 1, 11.0).unwrap();
    let t = s.trial(a.id, 0).unwrap();
    assert_eq!(
        t.intermediate,
        vec![(1, 10.0), (2, 25.0), (4, 40.0), (5, 50.0)]
    );
    assert_eq!(t.epochs, 5);
    s.finish(a.id, 2, "w2", &complete(70.0)).unwrap();
    let at2 = s.step_values(a.id, 2).unwrap();
    assert_eq!(at2.len(), 2);
    assert_eq!((at2[0].number, at2[0].value), (0, 25.0));
    assert_eq!(at2[1].number, 1);
    assert!(at2[1].value.is_nan());
    let at1 = s.step_values(a.id, 1).unwrap();
    assert_eq!(at1.len(), 2);
    assert_eq!(at1[1].number, 2);
    assert_eq!(at1[1].state, TrialState::Complete);
    assert!(s.step_values(a.id, 3).unwrap().is_empty());
}

/// Only the worker holding a running trial may report to it.
pub fn report_requires_holder(s: &dyn Storage) {
    let a = study(s, "alpha");
    created(s.create_trial(a.id, &new_trial("x", "w0"), None).unwrap());
    match s.report(a.id, 0, "intruder", 1, 1.0) {
        Err(StorageError::Conflict {
            number: 0, reason, ..
        }) => {
            assert!(reason.contains("intruder"), "{reason}")
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    s.finish(a.id, 0, "w0", &complete(1.0)).unwrap();
    assert!(matches!(
        s.report(a.id, 0, "w0", 1, 1.0),
        Err(StorageError::Conflict { .. })
    ));
    assert!(matches!(
        s.report(a.id, 9, "w0", 1, 1.0),
        Err(StorageError::NoTrial { .. })
    ));
    assert!(s.trial(a.id, 0).unwrap().intermediate.is_empty());
}

/// A finished trial reads back with its state, reason, metrics (NaN and infinities kept),
/// values, cost and finish time; it cannot finish twice or "finish" as running.
pub fn finish_round_trip(s: &dyn Storage) {
    let a = study(s, "alpha");
    created(s.create_trial(a.id, &new_trial("x", "w0"), None).unwrap());
    created(s.create_trial(a.id, &new_trial("y", "w0"), None).unwrap());
    created(s.create_trial(a.id, &new_trial("z", "w0"), None).unwrap());
    let mut r = complete(91.5);
    r.metrics.insert("params".into(), 1.2e6);
    r.metrics.insert("weird".into(), f64::NAN);
    r.metrics.insert("huge".into(), f64::INFINITY);
    r.values = vec![91.5, f64::NAN];
    let running = TrialResult {
        state: TrialState::Running,
        ..r.clone()
    };
    assert!(matches!(
        s.finish(a.id, 0, "w0", &running),
        Err(StorageError::Conflict { .. })
    ));
    s.finish(a.id, 0, "w0", &r).unwrap();
    let t = s.trial(a.id, 0).unwrap();
    assert_eq!(t.state, TrialState::Complete);
    assert_eq!(t.reason, None);
    assert_eq!(t.metrics.len(), 5);
    assert_eq!(t.metrics["params"], 1.2e6);
    assert!(t.metrics["weird"].is_nan());
    assert_eq!(t.metrics["huge"], f64::INFINITY);
    assert_eq!(t.values.len(), 2);
    assert_eq!(t.values[0], 91.5);
    assert!(t.values[1].is_nan());
    assert_eq!(t.cost_seconds, 1.25);
    assert!(t.finished.is_some());
    // Completed without reporting: the budget's epochs count as trained.
    assert_eq!(t.epochs, 12);
    assert!(matches!(
        s.finish(a.id, 0, "w0", &r),
        Err(StorageError::Conflict { .. })
    ));
    s.report(a.id, 1, "w0", 3, 30.0).unwrap();
    let pruned = TrialResult {
        state: TrialState::Pruned,
        reason: Some("median rule at step 3".into()),
        metrics: Metrics::new(),
        values: vec![f64::NAN, f64::NAN],
        cost_seconds: 0.5,
    };
    s.finish(a.id, 1, "w0", &pruned).unwrap();
    let t = s.trial(a.id, 1).unwrap();
    assert_eq!(t.state, TrialState::Pruned);
    assert_eq!(t.reason.as_deref(), Some("median rule at step 3"));
    assert_eq!(t.epochs, 3);
    assert_eq!(t.intermediate, vec![(3, 30.0)]);
    let failed = TrialResult {
        state: TrialState::Fail,
        reason: Some("loss is NaN".into()),
        metrics: Metrics::new(),
        values: vec![],
        cost_seconds: 0.0,
    };
    assert!(matches!(
        s.finish(a.id, 2, "other", &failed),
        Err(StorageError::Conflict { .. })
    ));
    s.finish(a.id, 2, "w0", &failed).unwrap();
    let t = s.trial(a.id, 2).unwrap();
    assert_eq!(t.state, TrialState::Fail);
    assert_eq!(t.reason.as_deref(), Some("loss is NaN"));
    assert!(t.values.is_empty());
}

/// Trials get their place in the finish order (0, 1, 2, ... per study) when they finish, in
/// the order they finish, whatever their numbers; running ones have none.
pub fn finish_sequence_follows_the_finishes(s: &dyn Storage) {
    let a = study(s, "alpha");
    let b = study(s, "beta");
    for arch in ["x", "y", "z", "w"] {
        created(s.create_trial(a.id, &new_trial(arch, "w0"), None).unwrap());
    }
    created(s.create_trial(b.id, &new_trial("x", "w0"), None).unwrap());
    let failed = TrialResult {
        state: TrialState::Fail,
        reason: Some("cannot build".into()),
        metrics: Metrics::new(),
        values: vec![],
        cost_seconds: 0.0,
    };
    s.finish(a.id, 2, "w0", &complete(1.0)).unwrap();
    s.finish(b.id, 0, "w0", &complete(1.0)).unwrap();
    s.finish(a.id, 0, "w0", &failed).unwrap();
    s.finish(a.id, 3, "w0", &complete(2.0)).unwrap();
    let seq: Vec<Option<u64>> = s
        .trials(a.id, 0)
        .unwrap()
        .iter()
        .map(|t| t.sequence)
        .collect();
    assert_eq!(seq, vec![Some(1), None, Some(0), Some(2)]);
    assert_eq!(s.trial(b.id, 0).unwrap().sequence, Some(0));
    assert_eq!(s.trial(a.id, 1).unwrap().sequence, None);
}

/// `first_unfinished`: every trial below it has finished; the number of trials when all have.
pub fn first_unfinished_skips_the_finished(s: &dyn Storage) {
    let a = study(s, "alpha");
    assert_eq!(s.first_unfinished(a.id).unwrap(), 0);
    for arch in ["x", "y", "z"] {
        created(s.create_trial(a.id, &new_trial(arch, "w0"), None).unwrap());
    }
    assert_eq!(s.first_unfinished(a.id).unwrap(), 0);
    s.finish(a.id, 0, "w0", &complete(1.0)).unwrap();
    s.finish(a.id, 2, "w0", &complete(2.0)).unwrap();
    assert_eq!(s.first_unfinished(a.id).unwrap(), 1);
    s.finish(a.id, 1, "w0", &complete(3.0)).unwrap();
    assert_eq!(s.first_unfinished(a.id).unwrap(), 3);
    // A re-queued trial is unfinished again.
    created(s.create_trial(a.id, &new_trial("w", "w0"), None).unwrap());
    s.requeue(
        a.id,
        3,
        &RequeueIf {
            worker: Some("w0"),
            heartbeat_before: None,
        },
    )
    .unwrap();
    assert_eq!(s.first_unfinished(a.id).unwrap(), 3);
}

/// A re-queued trial loses its worker and intermediate values, keeps its architecture,
/// budget and seed, and is claimed exactly once, with one more attempt.
pub fn requeue_and_claim(s: &dyn Storage) {
    let a = study(s, "alpha");
    let t0 = created(s.create_trial(a.id, &new_trial("x", "w0"), None).unwrap());
    created(s.create_trial(a.id, &new_trial("y", "w0"), None).unwrap());
    s.report(a.id, 0, "w0", 1, 5.0).unwrap();
    assert_eq!(s.claim_queued(a.id, "w9").unwrap(), None);
    let other = RequeueIf {
        worker: Some("w1"),
        heartbeat_before: None,
    };
    assert!(!s.requeue(a.id, 0, &other).unwrap());
    let fresh = RequeueIf {
        worker: None,
        heartbeat_before: Some(now() - 100.0),
    };
    assert!(!s.requeue(a.id, 0, &fresh).unwrap(), "heartbeat is fresh");
    let mine = RequeueIf {
        worker: Some("w0"),
        heartbeat_before: Some(now() + 10.0),
    };
    assert!(s.requeue(a.id, 0, &mine).unwrap());
    let q = s.trial(a.id, 0).unwrap();
    assert!(q.is_queued());
    assert_eq!(q.state_label(), "QUEUED");
    assert_eq!(q.worker, None);
    assert_eq!(q.started, None);
    assert_eq!(q.heartbeat, None);
    assert!(q.intermediate.is_empty());
    assert_eq!(q.epochs, 0);
    assert!(s.step_values(a.id, 1).unwrap().is_empty());
    assert_eq!(s.counts(a.id).unwrap().queued, 1);
    // Already queued: nothing to do.
    assert!(!s.requeue(a.id, 0, &RequeueIf::default()).unwrap());
    let c = s.claim_queued(a.id, "w5").unwrap().expect("a queued trial");
    assert_eq!(c.number, 0);
    assert_eq!(c.arch, t0.arch);
    assert_eq!(c.budget, t0.budget);
    assert_eq!(c.seed, t0.seed);
    assert_eq!(c.params, t0.params);
    assert_eq!(c.created, t0.created);
    assert_eq!(c.worker.as_deref(), Some("w5"));
    assert_eq!(c.attempts, 2);
    assert!(c.started.is_some() && c.heartbeat.is_some());
    assert_eq!(s.claim_queued(a.id, "w6").unwrap(), None);
    // The old worker lost it.
    assert!(matches!(
        s.report(a.id, 0, "w0", 2, 1.0),
        Err(StorageError::Conflict { .. })
    ));
    s.finish(a.id, 0, "w5", &complete(80.0)).unwrap();
    assert!(!s.requeue(a.id, 0, &RequeueIf::default()).unwrap());
    assert!(matches!(
        s.requeue(a.id, 42, &RequeueIf::default()),
        Err(StorageError::NoTrial { .. })
    ));
}

/// Heartbeats refresh the trial's time for its holder only.
pub fn heartbeat_updates(s: &dyn Storage) {
    let a = study(s, "alpha");
    let t = created(s.create_trial(a.id, &new_trial("x", "w0"), None).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(s.heartbeat(a.id, 0, "w0").unwrap());
    let h = s.trial(a.id, 0).unwrap().heartbeat.unwrap();
    assert!(h > t.heartbeat.unwrap());
    assert!(!s.heartbeat(a.id, 0, "w1").unwrap());
    s.requeue(a.id, 0, &RequeueIf::default()).unwrap();
    assert!(!s.heartbeat(a.id, 0, "w0").unwrap());
    assert!(matches!(
        s.heartbeat(a.id, 3, "w0"),
        Err(StorageError::NoTrial { .. })
    ));
}

/// Counts follow the states, and the epochs sum over trials.
pub fn counts_by_state(s: &dyn Storage) {
    let a = study(s, "alpha");
    for (i, arch) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        created(
            s.create_trial(a.id, &new_trial(arch, &format!("w{i}")), None)
                .unwrap(),
        );
    }
    s.report(a.id, 0, "w0", 3, 1.0).unwrap();
    s.report(a.id, 1, "w1", 2, 1.0).unwrap();
    s.finish(a.id, 1, "w1", &complete(1.0)).unwrap(); // 2 epochs reported
    s.finish(a.id, 2, "w2", &complete(1.0)).unwrap(); // 12 from its budget
    let pruned = TrialResult {
        state: TrialState::Pruned,
        reason: Some("r".into()),
        metrics: Metrics::new(),
        values: vec![],
        cost_seconds: 0.0,
    };
    s.report(a.id, 3, "w3", 4, 1.0).unwrap();
    s.finish(a.id, 3, "w3", &pruned).unwrap();
    let failed = TrialResult {
        state: TrialState::Fail,
        ..pruned.clone()
    };
    s.finish(a.id, 4, "w4", &failed).unwrap();
    s.requeue(a.id, 5, &RequeueIf::default()).unwrap();
    let c = s.counts(a.id).unwrap();
    assert_eq!(
        (c.total, c.queued, c.running, c.complete, c.pruned, c.failed),
        (6, 1, 1, 2, 1, 1)
    );
    assert_eq!(c.finished(), 4);
    assert_eq!(c.epochs, 3 + 2 + 12 + 4);
}

/// The study's recorded time only grows.
pub fn elapsed_never_decreases(s: &dyn Storage) {
    let a = study(s, "alpha");
    s.record_elapsed(a.id, 10.0).unwrap();
    s.record_elapsed(a.id, 4.0).unwrap();
    assert_eq!(s.study("alpha").unwrap().elapsed_seconds, 10.0);
    s.record_elapsed(a.id, 12.5).unwrap();
    assert_eq!(s.study("alpha").unwrap().elapsed_seconds, 12.5);
}

/// Artefacts of a study and of its trials read back in order.
pub fn artefacts_round_trip(s: &dyn Storage) {
    let a = study(s, "alpha");
    let b = study(s, "beta");
    created(s.create_trial(a.id, &new_trial("x", "w0"), None).unwrap());
    let ck = Artefact {
        study: a.id,
        trial: Some(0),
        kind: ArtefactKind::Checkpoint,
        path: PathBuf::from("runs/alpha/trial-0/weights.safetensors"),
        created: 1.0e9,
    };
    let rep = Artefact {
        study: a.id,
        trial: None,
        kind: ArtefactKind::Report,
        path: PathBuf::from("runs/alpha/report.html"),
        created: 1.0e9 + 5.0,
    };
    s.add_artefact(&ck).unwrap();
    s.add_artefact(&rep).unwrap();
    assert_eq!(s.artefacts(a.id).unwrap(), vec![ck, rep]);
    assert!(s.artefacts(b.id).unwrap().is_empty());
    let bad = Artefact {
        study: a.id,
        trial: Some(3),
        kind: ArtefactKind::Export,
        path: PathBuf::from("x.onnx"),
        created: 0.0,
    };
    assert!(matches!(
        s.add_artefact(&bad),
        Err(StorageError::NoTrial { number: 3, .. })
    ));
}

/// Threads racing to create the same architectures under a limit: each architecture is
/// created once, numbers are contiguous, and the limit holds exactly.
pub fn concurrent_creation(s: &dyn Storage) {
    let a = study(s, "alpha");
    let archs: Vec<String> = (0..60).map(|i| format!("arch-{i}")).collect();
    let won: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let archs = &archs;
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for k in 0..archs.len() {
                        let arch = &archs[(k * 7 + t * 13) % archs.len()];
                        let worker = format!("w{t}");
                        if let CreateOutcome::Created(r) = s
                            .create_trial(a.id, &new_trial(arch, &worker), Some(40))
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
    let mut numbers: Vec<u64> = won.into_iter().flatten().collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..40).collect::<Vec<_>>());
    let trials = s.trials(a.id, 0).unwrap();
    assert_eq!(trials.len(), 40);
    let distinct: HashSet<&str> = trials.iter().map(|t| t.arch.as_str()).collect();
    assert_eq!(distinct.len(), 40);
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t.number, i as u64);
    }
}

/// Threads racing to claim queued trials: each is claimed exactly once.
pub fn concurrent_claims(s: &dyn Storage) {
    let a = study(s, "alpha");
    for i in 0..30 {
        created(
            s.create_trial(a.id, &new_trial(&format!("a{i}"), "dead"), None)
                .unwrap(),
        );
        assert!(s.requeue(a.id, i, &RequeueIf::default()).unwrap());
    }
    let claimed: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    let w = format!("w{t}");
                    while let Some(r) = s.claim_queued(a.id, &w).unwrap() {
                        assert_eq!(r.worker.as_deref(), Some(w.as_str()));
                        mine.push(r.number);
                        assert!(mine.len() <= 30, "claimed more trials than were queued");
                    }
                    mine
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<u64> = claimed.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(all, (0..30).collect::<Vec<_>>());
    assert_eq!(s.counts(a.id).unwrap().queued, 0);
}

/// Fencing: a worker whose trial was re-queued (its heartbeat went stale) cannot write to it
/// any more, whether the trial waits in the queue, another worker holds it, or the other
/// worker finished it; the new owner's values and result stand.
pub fn late_results_refused(s: &dyn Storage) {
    let a = study(s, "alpha");
    created(s.create_trial(a.id, &new_trial("x", "old"), None).unwrap());
    s.report(a.id, 0, "old", 1, 10.0).unwrap();
    let stale = RequeueIf {
        worker: Some("old"),
        heartbeat_before: Some(now() + 1.0),
    };
    assert!(s.requeue(a.id, 0, &stale).unwrap());
    let refused = |what: &str, r: Result<(), StorageError>| match r {
        Err(StorageError::Conflict { number: 0, .. }) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    };
    // Queued.
    assert!(!s.heartbeat(a.id, 0, "old").unwrap());
    refused("report while queued", s.report(a.id, 0, "old", 2, 11.0));
    refused(
        "finish while queued",
        s.finish(a.id, 0, "old", &complete(1.0)),
    );
    // Held by the new owner.
    let c = s.claim_queued(a.id, "new").unwrap().expect("queued");
    assert_eq!((c.number, c.attempts), (0, 2));
    assert!(!s.heartbeat(a.id, 0, "old").unwrap());
    refused("report while re-claimed", s.report(a.id, 0, "old", 1, 12.0));
    refused(
        "finish while re-claimed",
        s.finish(a.id, 0, "old", &complete(2.0)),
    );
    s.report(a.id, 0, "new", 1, 50.0).unwrap();
    s.finish(a.id, 0, "new", &complete(80.0)).unwrap();
    // Finished by the new owner.
    refused("finish after", s.finish(a.id, 0, "old", &complete(3.0)));
    refused("report after", s.report(a.id, 0, "old", 3, 13.0));
    let t = s.trial(a.id, 0).unwrap();
    assert_eq!(t.state, TrialState::Complete);
    assert_eq!(t.values[0], 80.0);
    assert_eq!(t.metrics["val_accuracy"], 80.0);
    assert_eq!(t.intermediate, vec![(1, 50.0)]);
    assert_eq!(t.worker.as_deref(), Some("new"));
    assert_eq!(t.attempts, 2);
}

/// `ranked_trials` lists completed trials with a finite first value, best first by the
/// first objective's direction (ties by number), in pages.
pub fn ranked_trials_best_first(s: &dyn Storage) {
    let max = study(s, "max");
    let mut min_spec = spec("min");
    min_spec.objectives = vec![Objective::minimize("latency_ms")];
    let min = s.create_study(&min_spec).unwrap();
    let finish = |st: StudyId, n: u64, r: TrialResult| s.finish(st, n, "w0", &r).unwrap();
    for (i, v) in [3.0, 9.0, f64::NAN, 5.0, 9.0, 1.0, 7.0]
        .into_iter()
        .enumerate()
    {
        let arch = format!("a{i}");
        created(
            s.create_trial(max.id, &new_trial(&arch, "w0"), None)
                .unwrap(),
        );
        created(
            s.create_trial(min.id, &new_trial(&arch, "w0"), None)
                .unwrap(),
        );
        let n = i as u64;
        if i == 5 {
            // Failed and pruned trials are not ranked.
            let mut r = complete(v);
            r.state = TrialState::Fail;
            r.reason = Some("boom".into());
            finish(max.id, n, r.clone());
            finish(min.id, n, r);
        } else if i == 6 {
            // Still running: not ranked.
        } else {
            finish(max.id, n, complete(v));
            let mut r = complete(0.0);
            r.values = vec![v];
            r.metrics.insert("latency_ms".into(), v);
            finish(min.id, n, r);
        }
    }
    let numbers = |v: Vec<TrialRecord>| v.into_iter().map(|t| t.number).collect::<Vec<_>>();
    assert_eq!(
        numbers(s.ranked_trials(max.id, 0, 10).unwrap()),
        vec![1, 4, 3, 0]
    );
    assert_eq!(numbers(s.ranked_trials(max.id, 1, 2).unwrap()), vec![4, 3]);
    assert_eq!(
        numbers(s.ranked_trials(max.id, 4, 2).unwrap()),
        Vec::<u64>::new()
    );
    assert_eq!(
        numbers(s.ranked_trials(min.id, 0, 10).unwrap()),
        vec![0, 3, 1, 4]
    );
    let best = s.ranked_trials(max.id, 0, 1).unwrap();
    assert_eq!(best[0], s.trial(max.id, 1).unwrap());
    assert!(s.ranked_trials(StudyId(max.id.0 + 1000), 0, 1).is_err());
}
