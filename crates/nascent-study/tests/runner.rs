//! The study runner in one process: budgets, workers, failures, pruning, interruption,
//! recovery of dead workers' trials, determinism.

use nascent_core::storage::{CreateOutcome, NewTrial, Storage, StudyRecord, StudySpec};
use nascent_core::{
    Budget, Decision, Evaluation, Evaluator, History, Metrics, Objective, Outcome, Reporter,
    Result, Rng, SearchSpace, Strategy, TrialState,
};
use nascent_core::{PruneContext, Pruner, Verdict};
use nascent_space::{Nb201Arch, Nb201Space};
use nascent_store::MemoryStorage;
use nascent_study::testing::{SyntheticEvaluator, TournamentMutation, nb201_structural_accuracy};
use nascent_study::{
    Event, RequeueReason, RunConfig, Runner, StopReason, StopSignal, StudyBudget, load_history,
    open_or_create_study,
};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn spec(name: &str, seed: u64) -> StudySpec {
    StudySpec {
        name: name.into(),
        space: "nb201".into(),
        objectives: vec![Objective::maximize("val_accuracy")],
        constraints: vec![],
        config: serde_json::json!({}),
        seed,
    }
}

fn quick(trials: u64, workers: usize) -> RunConfig {
    RunConfig {
        workers,
        budget: StudyBudget::trials(trials),
        heartbeat_interval: Duration::from_millis(50),
        stale_after: Duration::from_millis(1000),
        poll_interval: Duration::from_millis(10),
        ..RunConfig::default()
    }
}

type Log = Arc<Mutex<Vec<String>>>;

fn logged(epochs: u32, sleep_ms: u64) -> (SyntheticEvaluator<Nb201Arch>, Log) {
    let log: Log = Arc::default();
    let ev = SyntheticEvaluator::new(nb201_structural_accuracy)
        .with_epochs(epochs)
        .with_sleep(Duration::from_millis(sleep_ms))
        .with_log(log.clone(), |a: &Nb201Arch| a.to_string());
    (ev, log)
}

fn multiplicity(log: &Log) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for a in log.lock().unwrap().iter() {
        *m.entry(a.clone()).or_insert(0) += 1;
    }
    m
}

/// Checks the invariants of a study that has finished `n` trials: numbers 0..n, distinct
/// architectures, none running, and each finished trial told to the strategy exactly once.
fn check_finished(storage: &dyn Storage, study: &StudyRecord, n: usize) {
    let trials = storage.trials(study.id, 0).unwrap();
    assert_eq!(trials.len(), n);
    let archs: HashSet<&str> = trials.iter().map(|t| t.arch.as_str()).collect();
    assert_eq!(archs.len(), n, "an architecture was created twice");
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t.number, i as u64);
        assert!(t.state.is_finished(), "trial {i} is {}", t.state_label());
    }
}

#[test]
fn a_study_runs_its_trial_budget_once_each() {
    let storage = MemoryStorage::new();
    let study = open_or_create_study(&storage, &spec("s", 1)).unwrap();
    let space = Nb201Space::new();
    let (ev, log) = logged(4, 0);
    let events = Mutex::new(Vec::new());
    let observer = |e: &Event<'_>| {
        let tag = match e {
            Event::RunStarted { .. } => "run".to_string(),
            Event::TrialStarted { trial, .. } => format!("start {}", trial.number),
            Event::Intermediate { .. } => return,
            Event::TrialFinished { trial } => format!("finish {}", trial.number),
            Event::TrialRequeued { .. } => "requeue".into(),
            Event::RunFinished { .. } => "end".into(),
        };
        events.lock().unwrap().push(tag);
    };
    let mut strategy = TournamentMutation::default();
    let summary = Runner::new(&storage, study.clone(), &space, &ev, quick(30, 1))
        .with_observer(&observer)
        .run(&mut strategy)
        .unwrap();
    assert_eq!(summary.stop, StopReason::TrialBudget);
    assert_eq!(summary.counts.complete, 30);
    assert_eq!(summary.evaluated, 30);
    check_finished(&storage, &study, 30);
    assert!(multiplicity(&log).values().all(|&c| c == 1));
    assert_eq!(log.lock().unwrap().len(), 30);
    // Told each trial once, in order (one worker).
    assert_eq!(strategy.told, (0..30).collect::<Vec<_>>());
    let ev = events.lock().unwrap();
    assert_eq!(ev.first().unwrap(), "run");
    assert_eq!(ev.last().unwrap(), "end");
    assert_eq!(ev.iter().filter(|e| e.starts_with("start")).count(), 30);
    assert_eq!(ev.iter().filter(|e| e.starts_with("finish")).count(), 30);
    // Values, intermediate values and epochs are stored.
    let t = storage.trial(study.id, 7).unwrap();
    assert_eq!(t.intermediate.len(), 4);
    assert_eq!(t.values, vec![t.metrics["val_accuracy"]]);
    assert_eq!(t.epochs, 4);
    // The history rebuilt from storage has every trial, parsed.
    let h = load_history(&storage, &study, &space).unwrap();
    assert_eq!(h.len(), 30);
    assert!(h.best().is_some());
    // Running again with the same budget does nothing more.
    let again = Runner::new(&storage, study.clone(), &space, &ev_again(), quick(30, 1))
        .run(&mut TournamentMutation::default())
        .unwrap();
    assert_eq!(again.evaluated, 0);
    assert_eq!(again.counts.total, 30);
}

fn ev_again() -> SyntheticEvaluator<Nb201Arch> {
    SyntheticEvaluator::new(nb201_structural_accuracy)
}

#[test]
fn the_same_seed_gives_the_same_search() {
    let space = Nb201Space::new();
    let archs = |seed: u64| {
        let storage = MemoryStorage::new();
        let study = open_or_create_study(&storage, &spec("s", seed)).unwrap();
        let ev = SyntheticEvaluator::new(nb201_structural_accuracy).with_epochs(2);
        Runner::new(&storage, study.clone(), &space, &ev, quick(25, 1))
            .run(&mut TournamentMutation::default())
            .unwrap();
        storage
            .trials(study.id, 0)
            .unwrap()
            .into_iter()
            .map(|t| (t.arch, t.seed))
            .collect::<Vec<_>>()
    };
    assert_eq!(archs(3), archs(3));
    assert_ne!(archs(3), archs(4));
}

#[test]
fn four_workers_on_one_sqlite_study_never_run_a_trial_twice_and_lose_none() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("four.db").display());
    let storage = nascent_store::open(&url).unwrap();
    let study = open_or_create_study(&*storage, &spec("four", 11)).unwrap();
    let space = Nb201Space::new();
    let (ev, log) = logged(3, 0);
    let mut strategy = TournamentMutation::default();
    let summary = Runner::new(&*storage, study.clone(), &space, &ev, quick(240, 4))
        .run(&mut strategy)
        .unwrap();
    assert_eq!(summary.counts.total, 240);
    assert_eq!(summary.counts.complete, 240);
    assert_eq!(summary.evaluated, 240);
    check_finished(&*storage, &study, 240);
    let m = multiplicity(&log);
    assert_eq!(m.len(), 240, "every trial was evaluated");
    assert!(m.values().all(|&c| c == 1), "a trial was evaluated twice");
    // Each trial ran in one of the four workers, and all four worked.
    let workers: HashSet<String> = storage
        .trials(study.id, 0)
        .unwrap()
        .into_iter()
        .map(|t| t.worker.unwrap())
        .collect();
    assert_eq!(workers.len(), 4, "{workers:?}");
    let mut told = strategy.told.clone();
    told.sort_unstable();
    assert_eq!(told, (0..240).collect::<Vec<_>>(), "each trial told once");
}

#[test]
fn two_runners_on_two_connections_share_one_study() {
    // Two connections to one file stand for two processes, each with its own strategy.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("two.db").display());
    let space = Nb201Space::new();
    let (ev, log) = logged(2, 0);
    let first = nascent_store::open(&url).unwrap();
    let study = open_or_create_study(&*first, &spec("two", 5)).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let (url, space, ev, study) = (&url, &space, &ev, &study);
            scope.spawn(move || {
                let storage = nascent_store::open(url).unwrap();
                Runner::new(&*storage, study.clone(), space, ev, quick(200, 2))
                    .run(&mut TournamentMutation::default())
                    .unwrap();
            });
        }
    });
    check_finished(&*first, &study, 200);
    let m = multiplicity(&log);
    assert_eq!(m.len(), 200);
    assert!(m.values().all(|&c| c == 1));
}

/// Fails some architectures, panics on others, completes the rest.
struct Flaky;

impl Evaluator<Nb201Arch> for Flaky {
    fn metrics(&self) -> Vec<String> {
        vec!["val_accuracy".into()]
    }
    fn evaluate(&self, arch: &Nb201Arch, _b: &Budget, _r: &mut dyn Reporter) -> Outcome {
        match arch.0[0] as usize % 3 {
            0 => Outcome::Failed {
                reason: "loss is NaN at epoch 2".into(),
                cost_seconds: 0.1,
            },
            1 => panic!("out of memory in layer 3"),
            _ => {
                let mut m = Metrics::new();
                m.insert("val_accuracy".into(), 50.0);
                Outcome::Complete(Evaluation {
                    metrics: m,
                    cost_seconds: 0.2,
                })
            }
        }
    }
}

#[test]
fn failures_and_panics_end_as_failed_trials() {
    let storage = MemoryStorage::new();
    let study = open_or_create_study(&storage, &spec("flaky", 2)).unwrap();
    let space = Nb201Space::new();
    // Two thirds fail: the first ten could all fail by chance, so the stop for a study whose
    // trials all fail is off here (it has its own test).
    let config = RunConfig {
        stop_after_failures: None,
        ..quick(30, 2)
    };
    let summary = Runner::new(&storage, study.clone(), &space, &Flaky, config)
        .run(&mut TournamentMutation::default())
        .unwrap();
    assert_eq!(summary.counts.total, 30);
    assert!(summary.counts.failed > 0 && summary.counts.complete > 0);
    for t in storage.trials(study.id, 0).unwrap() {
        match t.arch.parse::<Nb201Arch>().unwrap().0[0] as usize % 3 {
            0 => {
                assert_eq!(t.state, TrialState::Fail);
                assert_eq!(t.reason.as_deref(), Some("loss is NaN at epoch 2"));
            }
            1 => {
                assert_eq!(t.state, TrialState::Fail);
                assert!(t.reason.as_deref().unwrap().contains("out of memory"));
            }
            _ => assert_eq!(t.state, TrialState::Complete),
        }
    }
}

/// Fails every trial, as a setting that breaks every network would.
struct Broken;

impl Evaluator<Nb201Arch> for Broken {
    fn metrics(&self) -> Vec<String> {
        vec!["val_accuracy".into()]
    }
    fn evaluate(&self, _arch: &Nb201Arch, _b: &Budget, _r: &mut dyn Reporter) -> Outcome {
        Outcome::Failed {
            reason: "a 2x2 pooling window does not fit a 1x1 input".into(),
            cost_seconds: 0.01,
        }
    }
}

/// Issue 9: a study whose trials all fail stops after `stop_after_failures` of them instead
/// of spending its budget; one success among them keeps it going.
#[test]
fn r9_a_study_whose_trials_all_fail_stops() {
    let storage = MemoryStorage::new();
    let study = open_or_create_study(&storage, &spec("broken", 2)).unwrap();
    let space = Nb201Space::new();
    let config = RunConfig {
        stop_after_failures: Some(6),
        ..quick(100, 2)
    };
    let summary = Runner::new(&storage, study.clone(), &space, &Broken, config)
        .run(&mut TournamentMutation::default())
        .unwrap();
    assert_eq!(summary.stop, StopReason::AllFailed);
    // The two workers may each finish one more trial while the stop spreads.
    assert!(
        (6..=8).contains(&summary.counts.failed),
        "{:?}",
        summary.counts
    );
    assert_eq!(summary.counts.complete, 0);

    let storage = MemoryStorage::new();
    let study = open_or_create_study(&storage, &spec("flaky", 2)).unwrap();
    let config = RunConfig {
        stop_after_failures: Some(1),
        ..quick(30, 1)
    };
    // Flaky completes a third of the trials: whether the first one fails decides the stop.
    let summary = Runner::new(&storage, study, &space, &Flaky, config)
        .run(&mut TournamentMutation::default())
        .unwrap();
    let first_failed = summary.counts.total < 30;
    assert_eq!(first_failed, summary.stop == StopReason::AllFailed);
    assert!(summary.counts.complete > 0 || summary.stop == StopReason::AllFailed);
}

/// Prunes a trial whose value is below `threshold` at step 3 or later.
struct Threshold(f64);

impl Pruner for Threshold {
    fn name(&self) -> String {
        "threshold".into()
    }
    fn decide(
        &self,
        ctx: &PruneContext<'_>,
    ) -> std::result::Result<Verdict, nascent_core::StorageError> {
        // The value is already in storage when the pruner is asked.
        let stored = ctx.storage.trial(ctx.study.id, ctx.number)?;
        assert_eq!(stored.intermediate.last(), ctx.curve.last());
        if ctx.step >= 3 && ctx.value < self.0 {
            Ok(Verdict::Prune(format!("{:.1} < {}", ctx.value, self.0)))
        } else {
            Ok(Verdict::Continue)
        }
    }
}

#[test]
fn a_pruner_stops_trials_from_their_intermediate_values() {
    let storage = MemoryStorage::new();
    let study = open_or_create_study(&storage, &spec("pruned", 3)).unwrap();
    let space = Nb201Space::new();
    let ev = SyntheticEvaluator::new(nb201_structural_accuracy).with_epochs(8);
    let pruner = Threshold(55.0);
    let summary = Runner::new(&storage, study.clone(), &space, &ev, quick(40, 2))
        .with_pruner(&pruner)
        .run(&mut TournamentMutation::default())
        .unwrap();
    assert!(summary.counts.pruned > 0, "{:?}", summary.counts);
    assert!(summary.counts.complete > 0, "{:?}", summary.counts);
    for t in storage.trials(study.id, 0).unwrap() {
        match t.state {
            TrialState::Pruned => {
                let reason = t.reason.unwrap();
                assert!(reason.starts_with("threshold at step"), "{reason}");
                let last = *t.intermediate.last().unwrap();
                assert!(last.0 >= 3 && last.1 < 55.0);
                assert_eq!(t.epochs, last.0);
                assert!(t.epochs < 8);
            }
            TrialState::Complete => assert_eq!(t.intermediate.len(), 8),
            s => panic!("unexpected {s:?}"),
        }
    }
}

#[test]
fn a_stop_signal_requeues_trials_in_flight_and_a_resume_finishes_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("stop.db").display());
    let storage = nascent_store::open(&url).unwrap();
    let study = open_or_create_study(&*storage, &spec("stop", 9)).unwrap();
    let space = Nb201Space::new();
    let (ev, log) = logged(6, 3);
    let stop = StopSignal::new();
    // Ctrl-C in the middle of trial 5 (or later, with two workers).
    let raised = AtomicUsize::new(0);
    let observer = |e: &Event<'_>| {
        if let Event::Intermediate { number, step, .. } = e
            && *number >= 5
            && *step == 3
            && raised.fetch_add(1, Ordering::SeqCst) == 0
        {
            stop.stop();
        }
    };
    let first = Runner::new(&*storage, study.clone(), &space, &ev, quick(20, 2))
        .with_observer(&observer)
        .with_stop(stop.clone())
        .run(&mut TournamentMutation::default())
        .unwrap();
    assert_eq!(first.stop, StopReason::Interrupted);
    let before = storage.trials(study.id, 0).unwrap();
    let done: Vec<_> = before
        .iter()
        .filter(|t| t.state.is_finished())
        .cloned()
        .collect();
    assert!(done.len() >= 3, "{}", done.len());
    assert!(
        before
            .iter()
            .all(|t| t.state.is_finished() || t.is_queued()),
        "nothing is left running"
    );
    let queued: Vec<_> = before.iter().filter(|t| t.is_queued()).cloned().collect();
    assert!(!queued.is_empty(), "the trial in flight was re-queued");
    assert_eq!(first.requeued as usize, queued.len());

    let mut strategy = TournamentMutation::default();
    let second = Runner::new(&*storage, study.clone(), &space, &ev, quick(20, 2))
        .run(&mut strategy)
        .unwrap();
    assert_eq!(second.stop, StopReason::TrialBudget);
    check_finished(&*storage, &study, 20);
    let after = storage.trials(study.id, 0).unwrap();
    // Completed trials are kept as they were.
    for t in &done {
        assert_eq!(&after[t.number as usize], t);
    }
    // The re-queued ones ran again with the same architecture and seed.
    for q in &queued {
        let t = &after[q.number as usize];
        assert_eq!((t.arch.as_str(), t.seed), (q.arch.as_str(), q.seed));
        assert_eq!(t.attempts, 2);
        assert_eq!(t.state, TrialState::Complete);
    }
    // The restored strategy was told of every finished trial once.
    let mut told = strategy.told.clone();
    told.sort_unstable();
    assert_eq!(told, (0..20).collect::<Vec<_>>());
    // Only the interrupted trials were evaluated twice.
    let m = multiplicity(&log);
    for q in &queued {
        assert_eq!(m[&q.arch], 2);
    }
    assert_eq!(m.values().filter(|&&c| c > 1).count(), queued.len());
}

#[test]
fn trials_of_dead_or_silent_workers_are_requeued_and_rerun() {
    let storage = MemoryStorage::new();
    let study = open_or_create_study(&storage, &spec("dead", 4)).unwrap();
    let space = Nb201Space::new();
    let host = nascent_study::worker::hostname();
    let claim = |arch: &str, worker: &str| {
        let t = NewTrial {
            arch: arch.into(),
            params: serde_json::json!({}),
            budget: Budget::default(),
            seed: 1,
            worker: worker.into(),
        };
        match storage.create_trial(study.id, &t, None).unwrap() {
            CreateOutcome::Created(r) => r.number,
            o => panic!("{o:?}"),
        }
    };
    // A worker of this host whose process is gone: re-queued at once.
    let dead = claim(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        &format!("{host}:4294000:r0:w0"),
    );
    // A worker of another host with a fresh heartbeat: re-queued once the heartbeat is stale.
    let silent = claim(
        "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        "elsewhere:77:r0:w0",
    );
    let requeued = Mutex::new(Vec::new());
    let observer = |e: &Event<'_>| {
        if let Event::TrialRequeued { number, reason } = e {
            requeued.lock().unwrap().push((*number, *reason));
        }
    };
    let ev = SyntheticEvaluator::new(nb201_structural_accuracy).with_epochs(2);
    let config = RunConfig {
        stale_after: Duration::from_millis(400),
        heartbeat_interval: Duration::from_millis(50),
        ..quick(8, 2)
    };
    let t0 = std::time::Instant::now();
    Runner::new(&storage, study.clone(), &space, &ev, config)
        .with_observer(&observer)
        .run(&mut TournamentMutation::default())
        .unwrap();
    check_finished(&storage, &study, 8);
    let r = requeued.lock().unwrap().clone();
    assert!(r.contains(&(dead, RequeueReason::DeadWorker)), "{r:?}");
    assert!(
        r.contains(&(silent, RequeueReason::StaleHeartbeat)),
        "{r:?}"
    );
    assert!(t0.elapsed() >= Duration::from_millis(300));
    for n in [dead, silent] {
        let t = storage.trial(study.id, n).unwrap();
        assert_eq!(t.attempts, 2);
        assert_eq!(t.state, TrialState::Complete);
    }
}

#[test]
fn time_and_epoch_budgets() {
    let space = Nb201Space::new();
    // Time: 0.3 s of 20 ms trials.
    let storage = MemoryStorage::new();
    let study = open_or_create_study(&storage, &spec("time", 1)).unwrap();
    let ev = SyntheticEvaluator::new(nb201_structural_accuracy)
        .with_epochs(4)
        .with_sleep(Duration::from_millis(5));
    let config = RunConfig {
        budget: StudyBudget::seconds(0.3),
        ..quick(1, 1)
    };
    let s = Runner::new(&storage, study.clone(), &space, &ev, config.clone())
        .run(&mut TournamentMutation::default())
        .unwrap();
    assert_eq!(s.stop, StopReason::TimeBudget);
    assert!(s.counts.complete >= 3, "{:?}", s.counts);
    assert!(s.elapsed_seconds < 2.0, "{}", s.elapsed_seconds);
    let recorded = storage.study("time").unwrap().elapsed_seconds;
    assert!(recorded >= 0.3, "{recorded}");
    // The time is spent: a second run starts nothing.
    let s2 = Runner::new(&storage, study, &space, &ev, config)
        .run(&mut TournamentMutation::default())
        .unwrap();
    assert_eq!((s2.stop, s2.evaluated), (StopReason::TimeBudget, 0));

    // Epochs: 50 epochs of 10-epoch trials.
    let storage = MemoryStorage::new();
    let study = open_or_create_study(&storage, &spec("epochs", 1)).unwrap();
    let ev = SyntheticEvaluator::new(nb201_structural_accuracy).with_epochs(10);
    let config = RunConfig {
        budget: StudyBudget::epochs(50),
        ..quick(1, 1)
    };
    let s = Runner::new(&storage, study, &space, &ev, config)
        .run(&mut TournamentMutation::default())
        .unwrap();
    assert_eq!(s.stop, StopReason::EpochBudget);
    assert_eq!((s.counts.total, s.counts.epochs), (5, 50));
}

#[test]
fn stop_at_deadline_prunes_the_trial_in_flight() {
    let storage = MemoryStorage::new();
    let study = open_or_create_study(&storage, &spec("deadline", 1)).unwrap();
    let space = Nb201Space::new();
    let ev = SyntheticEvaluator::new(nb201_structural_accuracy)
        .with_epochs(400)
        .with_sleep(Duration::from_millis(5));
    let config = RunConfig {
        budget: StudyBudget::seconds(0.3),
        stop_at_deadline: true,
        ..quick(1, 1)
    };
    let s = Runner::new(&storage, study.clone(), &space, &ev, config)
        .run(&mut TournamentMutation::default())
        .unwrap();
    assert_eq!(s.stop, StopReason::TimeBudget);
    let t = storage.trial(study.id, 0).unwrap();
    assert_eq!(t.state, TrialState::Pruned);
    assert!(t.reason.unwrap().contains("time budget"));
    assert!(t.epochs < 400);
}

/// A space of 6 architectures (3 x 2 options).
struct Tiny {
    decisions: Vec<Decision>,
}

impl Tiny {
    fn new() -> Self {
        Tiny {
            decisions: vec![
                Decision::new("a", &["x", "y", "z"]),
                Decision::new("b", &["p", "q"]),
            ],
        }
    }
}

impl SearchSpace for Tiny {
    type Arch = (usize, usize);
    fn name(&self) -> &str {
        "tiny"
    }
    fn decisions(&self) -> &[Decision] {
        &self.decisions
    }
    fn to_decisions(&self, a: &(usize, usize)) -> Vec<usize> {
        vec![a.0, a.1]
    }
    fn from_decisions(&self, c: &[usize]) -> Result<(usize, usize)> {
        nascent_core::space::check_choices(&self.decisions, c)?;
        Ok((c[0], c[1]))
    }
    fn format(&self, a: &(usize, usize)) -> String {
        format!("{}-{}", a.0, a.1)
    }
    fn parse(&self, s: &str) -> Result<(usize, usize)> {
        let bad = || nascent_core::Error::parse("tiny arch", s, "expected A-B");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
    }
    fn size(&self) -> Option<u64> {
        Some(6)
    }
    fn from_index(&self, i: u64) -> Option<(usize, usize)> {
        (i < 6).then_some(((i / 2) as usize, (i % 2) as usize))
    }
}

#[test]
fn a_finite_space_ends_the_study_when_exhausted() {
    let storage = MemoryStorage::new();
    let mut sp = spec("tiny", 1);
    sp.space = "tiny".into();
    let study = open_or_create_study(&storage, &sp).unwrap();
    let space = Tiny::new();
    let ev = SyntheticEvaluator::new(|a: &(usize, usize)| 50.0 + a.0 as f64 + a.1 as f64);
    let s = Runner::new(&storage, study.clone(), &space, &ev, quick(100, 3))
        .run(&mut TournamentMutation::default())
        .unwrap();
    assert_eq!(s.stop, StopReason::SpaceExhausted);
    check_finished(&storage, &study, 6);
}

#[test]
fn a_study_of_another_space_is_refused() {
    let storage = MemoryStorage::new();
    let mut sp = spec("other", 1);
    sp.space = "darts".into();
    let study = open_or_create_study(&storage, &sp).unwrap();
    let space = Nb201Space::new();
    let ev = ev_again();
    let err = Runner::new(&storage, study, &space, &ev, quick(3, 1))
        .run(&mut TournamentMutation::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("`darts`") && err.contains("`nb201`"), "{err}");
    // Re-opening a study with other objectives is refused too.
    let mut sp2 = spec("other", 1);
    sp2.space = "darts".into();
    sp2.objectives = vec![Objective::minimize("latency_ms")];
    let err = open_or_create_study(&storage, &sp2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("objectives"), "{err}");
    // Bad settings name their field.
    let bad = RunConfig {
        workers: 0,
        ..quick(3, 1)
    };
    let study = storage.study("other").unwrap();
    let err = Runner::new(&storage, study, &Tiny::new(), &ev_tiny(), bad)
        .run(&mut TournamentMutation::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("run.workers"), "{err}");
}

fn ev_tiny() -> SyntheticEvaluator<(usize, usize)> {
    SyntheticEvaluator::new(|_: &(usize, usize)| 50.0)
}

/// An evaluator whose trials take 0-12 ms depending on the architecture, so that several
/// workers finish them out of creation order.
fn uneven() -> SyntheticEvaluator<Nb201Arch> {
    SyntheticEvaluator::new(nb201_structural_accuracy)
        .with_epochs(2)
        .with_on_start(|a: &Nb201Arch| {
            let h: u64 = a.to_string().bytes().map(u64::from).sum();
            std::thread::sleep(Duration::from_millis(h % 13));
        })
}

/// Issue 9: resuming a study that ran with several workers restores the strategy's exact
/// state: its tells are replayed in the order the trials finished (recorded in storage), not
/// in the order they were created.
#[test]
fn r9_resume_after_several_workers_restores_the_strategy_state_exactly() {
    let storage = MemoryStorage::new();
    let space = Nb201Space::new();
    let ev = uneven();

    let study = open_or_create_study(&storage, &spec("tm", 5)).unwrap();
    let mut live = TournamentMutation::default();
    Runner::new(&storage, study.clone(), &space, &ev, quick(40, 4))
        .run(&mut live)
        .unwrap();
    assert_eq!(live.told.len(), 40);
    assert!(
        live.told.windows(2).any(|w| w[0] > w[1]),
        "the workers finished in creation order; the test shows nothing: {:?}",
        live.told
    );
    let mut restored = TournamentMutation::default();
    let s = Runner::new(&storage, study, &space, &ev, quick(40, 4))
        .run(&mut restored)
        .unwrap();
    assert_eq!(s.evaluated, 0, "the budget was spent: nothing runs again");
    assert_eq!(restored.told, live.told, "tells replayed in finish order");
    assert_eq!(restored.pool, live.pool);

    // Regularized evolution: its population (the youngest finished trials) is the same.
    let study = open_or_create_study(&storage, &spec("evo", 6)).unwrap();
    let config = nascent_strategy::EvolutionConfig {
        population: 6,
        sample_size: 2,
    };
    let mut live = config.init().unwrap();
    Runner::new(&storage, study.clone(), &space, &ev, quick(30, 4))
        .run(&mut live)
        .unwrap();
    let mut restored = config.init().unwrap();
    Runner::new(&storage, study, &space, &ev, quick(30, 4))
        .run(&mut restored)
        .unwrap();
    let members = |e: &nascent_strategy::RegularizedEvolution| e.population().collect::<Vec<_>>();
    assert_eq!(members(&restored), members(&live));
}

/// Issue 11: random search does not use earlier trials, so a runner joining a study reads it
/// from its first unfinished trial on (`Storage::first_unfinished`), not whole; the study still
/// finishes its budget with every trial run once, numbered without gaps, queued trials of the
/// interrupted run included, and the same architectures as a runner that read everything.
#[test]
fn r11_random_search_joins_without_reading_the_finished_trials() {
    use nascent_strategy::RandomSearch;
    let space = Nb201Space::new();
    let run_twice = |skip_past: bool| {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("join.db").display());
        let storage = nascent_store::open(&url).unwrap();
        let study = open_or_create_study(&*storage, &spec("join", 4)).unwrap();
        let (ev, log) = logged(2, 0);
        Runner::new(&*storage, study.clone(), &space, &ev, quick(30, 1))
            .run(&mut RandomSearch)
            .unwrap();
        // A trial left queued, as a dead worker's would be after re-queueing.
        let new = NewTrial {
            arch: "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|".into(),
            params: serde_json::json!({}),
            budget: Budget::epochs(2),
            seed: 0,
            worker: "dead".into(),
        };
        let CreateOutcome::Created(t) = storage.create_trial(study.id, &new, None).unwrap() else {
            panic!("created")
        };
        storage
            .requeue(study.id, t.number, &Default::default())
            .unwrap();
        assert_eq!(storage.first_unfinished(study.id).unwrap(), 30);
        let summary = if skip_past {
            Runner::new(&*storage, study.clone(), &space, &ev, quick(60, 1))
                .run(&mut RandomSearch)
                .unwrap()
        } else {
            // The same strategy, made to say it uses the past: the runner reads everything.
            Runner::new(&*storage, study.clone(), &space, &ev, quick(60, 1))
                .run(&mut UsesPast(RandomSearch))
                .unwrap()
        };
        assert_eq!(summary.counts.complete, 60);
        let trials = storage.trials(study.id, 0).unwrap();
        let numbers: Vec<u64> = trials.iter().map(|t| t.number).collect();
        assert_eq!(numbers, (0..60).collect::<Vec<_>>());
        let archs: HashSet<&str> = trials.iter().map(|t| t.arch.as_str()).collect();
        assert_eq!(archs.len(), 60, "no architecture twice");
        assert!(
            multiplicity(&log).values().all(|&k| k == 1),
            "each evaluated once"
        );
        assert_eq!(storage.first_unfinished(study.id).unwrap(), 60);
        trials.into_iter().map(|t| t.arch).collect::<Vec<_>>()
    };
    assert_eq!(run_twice(true), run_twice(false));
}

/// A strategy as given, except that it says it uses earlier trials.
struct UsesPast<St>(St);

impl<St: Strategy<Nb201Space>> Strategy<Nb201Space> for UsesPast<St> {
    fn name(&self) -> String {
        self.0.name()
    }
    fn ask(
        &mut self,
        space: &Nb201Space,
        history: &History<Nb201Arch>,
        rng: &mut Rng,
    ) -> Option<Nb201Arch> {
        self.0.ask(space, history, rng)
    }
}
