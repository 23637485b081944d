//! Studies run by separate processes (the `nascent-study-worker` binary, a thin shell over the
//! runner): killed with SIGKILL mid-trial and resumed, stopped by its stop signal and resumed,
//! and several processes sharing one SQLite study.

use nascent_core::TrialState;
use nascent_core::storage::{Storage, TrialRecord};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nascent-study-worker");

struct Study {
    _dir: tempfile::TempDir,
    url: String,
    log: PathBuf,
}

impl Study {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("study.db").display());
        let log = dir.path().join("evaluations.log");
        Study {
            _dir: dir,
            url,
            log,
        }
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(["--storage", &self.url, "--study", "s", "--log"])
            .arg(&self.log)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn trials(&self) -> Vec<TrialRecord> {
        let s = nascent_store::open(&self.url).unwrap();
        match s.study("s") {
            Ok(st) => s.trials(st.id, 0).unwrap(),
            Err(_) => Vec::new(),
        }
    }

    /// Evaluations started, per architecture, from the log.
    fn evaluations(&self) -> (HashMap<String, usize>, HashSet<String>, usize) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut per_arch = HashMap::new();
        let mut pids = HashSet::new();
        let mut lines = 0;
        for line in text.lines() {
            let (pid, arch) = line.split_once(' ').expect("PID ARCH");
            pids.insert(pid.to_string());
            *per_arch.entry(arch.to_string()).or_insert(0) += 1;
            lines += 1;
        }
        (per_arch, pids, lines)
    }
}

/// Waits until `cond` holds on the study's trials (or panics after 60 s, killing `child`).
fn wait_for(study: &Study, child: &mut Child, what: &str, cond: impl Fn(&[TrialRecord]) -> bool) {
    let t0 = Instant::now();
    loop {
        let trials = study.trials();
        if cond(&trials) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the worker exited ({status}) before {what}");
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn mid_trial(trials: &[TrialRecord], complete_at_least: usize) -> bool {
    let complete = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .count();
    complete >= complete_at_least
        && trials
            .iter()
            .any(|t| t.state == TrialState::Running && t.intermediate.len() >= 2)
}

fn finish(child: Child) -> (bool, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_done(trials: &[TrialRecord], n: usize) {
    assert_eq!(trials.len(), n);
    let archs: HashSet<&str> = trials.iter().map(|t| t.arch.as_str()).collect();
    assert_eq!(archs.len(), n);
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t.number, i as u64);
        assert_eq!(t.state, TrialState::Complete, "trial {i}");
    }
}

#[test]
fn sigkill_mid_trial_then_resume_loses_no_completed_trial_and_finishes_the_budget() {
    let study = Study::new();
    let args = [
        "--trials",
        "12",
        "--workers",
        "1",
        "--epochs",
        "8",
        "--epoch-ms",
        "25",
        "--seed",
        "3",
    ];
    let mut child = study.command(&args).spawn().unwrap();
    wait_for(
        &study,
        &mut child,
        "a trial in flight after 3 complete",
        |t| mid_trial(t, 3),
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let before = study.trials();
    let completed: Vec<TrialRecord> = before
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .cloned()
        .collect();
    let killed: Vec<TrialRecord> = before
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .cloned()
        .collect();
    assert!(completed.len() >= 3);
    assert_eq!(killed.len(), 1, "one trial was in flight");
    assert!(killed[0].worker.is_some(), "the dead worker still holds it");

    let resumed = study.command(&args).spawn().unwrap();
    let (ok, stdout, stderr) = finish(resumed);
    assert!(ok, "resume failed: {stderr}");
    assert!(stdout.contains("\"requeued\":1"), "{stdout}");
    assert!(stdout.contains("\"stop\":\"TrialBudget\""), "{stdout}");

    let after = study.trials();
    check_done(&after, 12);
    for t in &completed {
        assert_eq!(
            &after[t.number as usize], t,
            "completed trial {} changed",
            t.number
        );
    }
    let k = &after[killed[0].number as usize];
    assert_eq!(k.arch, killed[0].arch);
    assert_eq!(k.seed, killed[0].seed);
    assert_eq!(k.attempts, 2);
    assert_eq!(k.intermediate.len(), 8, "re-run from its first epoch");
    let (per_arch, pids, lines) = study.evaluations();
    assert_eq!(lines, 13, "12 trials and the killed attempt");
    assert_eq!(pids.len(), 2);
    for t in &after {
        let expected = if t.number == k.number { 2 } else { 1 };
        assert_eq!(per_arch[&t.arch], expected, "trial {}", t.number);
    }
}

#[test]
fn a_stop_signal_requeues_the_trial_in_flight_and_exits_cleanly() {
    let study = Study::new();
    let stop = study.log.with_file_name("stop");
    let stop_arg = stop.display().to_string();
    let args = [
        "--trials",
        "10",
        "--workers",
        "1",
        "--epochs",
        "10",
        "--epoch-ms",
        "20",
        "--stop-file",
        &stop_arg,
    ];
    let mut child = study.command(&args).spawn().unwrap();
    wait_for(
        &study,
        &mut child,
        "a trial in flight after 2 complete",
        |t| mid_trial(t, 2),
    );
    std::fs::write(&stop, "").unwrap();
    let (ok, stdout, stderr) = finish(child);
    assert!(ok, "the stopped run did not exit cleanly: {stderr}");
    assert!(stdout.contains("\"stop\":\"Interrupted\""), "{stdout}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let before = study.trials();
    let queued: Vec<&TrialRecord> = before.iter().filter(|t| t.is_queued()).collect();
    assert_eq!(queued.len(), 1, "the trial in flight is queued");
    assert!(
        before
            .iter()
            .all(|t| t.state == TrialState::Complete || t.is_queued())
    );

    std::fs::remove_file(&stop).unwrap();
    let (ok, stdout, stderr) = finish(study.command(&args).spawn().unwrap());
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"stop\":\"TrialBudget\""), "{stdout}");
    let after = study.trials();
    check_done(&after, 10);
    assert_eq!(after[queued[0].number as usize].arch, queued[0].arch);
    assert_eq!(after[queued[0].number as usize].attempts, 2);
}

#[test]
fn three_processes_of_two_workers_share_one_sqlite_study() {
    let study = Study::new();
    let args = [
        "--trials",
        "210",
        "--workers",
        "2",
        "--epochs",
        "2",
        "--seed",
        "8",
    ];
    let children: Vec<Child> = (0..3)
        .map(|_| study.command(&args).spawn().unwrap())
        .collect();
    for c in children {
        let (ok, _, stderr) = finish(c);
        assert!(ok, "{stderr}");
    }
    let trials = study.trials();
    check_done(&trials, 210);
    let (per_arch, pids, lines) = study.evaluations();
    assert_eq!(lines, 210, "no trial evaluated twice");
    assert_eq!(per_arch.len(), 210);
    assert!(per_arch.values().all(|&c| c == 1));
    assert!(pids.len() >= 2, "the processes shared the work: {pids:?}");
    let workers: HashSet<&str> = trials
        .iter()
        .map(|t| t.worker.as_deref().unwrap())
        .collect();
    assert!(workers.len() >= 4, "{workers:?}");
}

#[test]
fn an_unreachable_storage_url_is_named_in_the_error() {
    let out = Command::new(BIN)
        .args([
            "--storage",
            "sqlite:///no/such/dir/study.db",
            "--trials",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sqlite:///no/such/dir/study.db"), "{err}");
    assert!(err.contains("does not exist"), "{err}");
}
