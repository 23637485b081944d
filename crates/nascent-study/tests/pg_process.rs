//! Worker processes (the `nascent-study-worker` binary) on one PostgreSQL study, under faults:
//! the server restarted mid-study, a worker SIGKILLed, a worker frozen while its connection is
//! killed server-side; and 16 processes sharing 5,000 trials. Each test starts its own
//! throwaway server (skipped without PostgreSQL outside CI, a failure in CI).

use nascent_core::TrialState;
use nascent_core::storage::{Storage, TrialRecord};
use nascent_store::pg_server::PgServer;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nascent-study-worker");

struct Study {
    server: PgServer,
    url: String,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Study {
    fn new(test: &str) -> Option<Self> {
        let server = PgServer::for_test(test)?;
        let url = server.new_database().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("evaluations.log");
        Some(Study {
            server,
            url,
            _dir: dir,
            log,
        })
    }

    /// A worker process; `app` names its connections (for `pg_terminate_backend`).
    fn command(&self, app: &str, extra: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(["--storage", &format!("{}?application_name={app}", self.url)])
            .args(["--study", "s", "--log"])
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

    /// Evaluations started: per architecture, and in all.
    fn evaluations(&self) -> (HashMap<String, usize>, usize) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut per_arch = HashMap::new();
        let mut lines = 0;
        for line in text.lines() {
            let (_pid, arch) = line.split_once(' ').expect("PID ARCH");
            *per_arch.entry(arch.to_string()).or_insert(0) += 1;
            lines += 1;
        }
        (per_arch, lines)
    }

    fn wait_for(&self, children: &mut [Child], what: &str, cond: impl Fn(&[TrialRecord]) -> bool) {
        let t0 = Instant::now();
        loop {
            if cond(&self.trials()) {
                return;
            }
            for c in children.iter_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = c.stderr.take() {
                        use std::io::Read;
                        let _ = e.read_to_string(&mut err);
                    }
                    panic!("a worker exited ({status}) before {what}: {err}");
                }
            }
            if t0.elapsed() > Duration::from_secs(120) {
                for c in children.iter_mut() {
                    let _ = c.kill();
                }
                panic!("timed out waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn finish(child: Child) -> (bool, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// All `n` trials complete, numbered 0..n, each architecture once.
fn check_done(trials: &[TrialRecord], n: usize) {
    assert_eq!(trials.len(), n);
    let archs: HashSet<&str> = trials.iter().map(|t| t.arch.as_str()).collect();
    assert_eq!(archs.len(), n, "an architecture stored twice");
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t.number, i as u64);
        assert_eq!(t.state, TrialState::Complete, "trial {i}");
        assert!(t.values[0].is_finite(), "trial {i} has no value");
        assert_eq!(t.values[0], t.metrics["val_accuracy"], "trial {i}");
    }
}

/// The value the synthetic evaluator gives an architecture (deterministic), to check that
/// every stored value is the one its architecture earns.
fn expected_value(t: &TrialRecord) -> f64 {
    t.intermediate.last().map(|&(_, v)| v).unwrap_or(f64::NAN)
}

#[test]
fn postgres_restart_mid_study_with_four_workers_loses_and_duplicates_nothing() {
    let Some(study) = Study::new("postgres_restart_mid_study") else {
        return;
    };
    // Heartbeats stale after 15 s: the restart (about a second) must not cost a re-run.
    let args = [
        "--trials",
        "60",
        "--epochs",
        "4",
        "--epoch-ms",
        "30",
        "--seed",
        "5",
        "--stale-ms",
        "15000",
        "--heartbeat-ms",
        "200",
    ];
    let mut children: Vec<Child> = (0..4)
        .map(|i| study.command(&format!("w{i}"), &args).spawn().unwrap())
        .collect();
    study.wait_for(&mut children, "10 complete trials", |t| {
        t.iter().filter(|t| t.state == TrialState::Complete).count() >= 10
    });
    let t0 = Instant::now();
    study.server.restart().unwrap();
    eprintln!(
        "restarted the server in {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    let before_restart_done = study.trials().len();
    assert!(
        before_restart_done < 60,
        "the study ended before the restart"
    );
    let mut retried = false;
    for c in children {
        let (ok, stdout, stderr) = finish(c);
        assert!(ok, "a worker failed: {stderr}");
        assert!(stdout.contains("\"requeued\":0"), "{stdout}");
        retried |= stderr.contains("reconnecting and retrying");
    }
    assert!(retried, "no worker noticed the restart");
    let trials = study.trials();
    check_done(&trials, 60);
    let (per_arch, lines) = study.evaluations();
    assert_eq!(lines, 60, "every trial evaluated once: {per_arch:?}");
    for t in &trials {
        assert_eq!(t.attempts, 1, "trial {} re-run", t.number);
        assert_eq!(t.values[0], expected_value(t), "trial {}", t.number);
    }
}

#[test]
fn sigkilled_and_cut_off_workers_have_their_trials_requeued_and_late_results_refused() {
    let Some(study) = Study::new("sigkilled_and_cut_off_workers") else {
        return;
    };
    let args = [
        "--trials",
        "40",
        "--epochs",
        "6",
        "--epoch-ms",
        "60",
        "--seed",
        "9",
        "--stale-ms",
        "1500",
        "--heartbeat-ms",
        "100",
    ];
    let mut victims: Vec<Child> = ["killed", "cutoff"]
        .iter()
        .map(|app| study.command(app, &args).spawn().unwrap())
        .collect();
    let pid_of = |c: &Child| c.id().to_string();
    let (killed_pid, cutoff_pid) = (pid_of(&victims[0]), pid_of(&victims[1]));
    let held_by = |t: &[TrialRecord], pid: &str| -> Option<TrialRecord> {
        t.iter()
            .find(|t| {
                t.state == TrialState::Running
                    && t.intermediate.len() >= 2
                    && t.worker
                        .as_deref()
                        .is_some_and(|w| w.contains(&format!(":{pid}:")))
            })
            .cloned()
    };
    study.wait_for(&mut victims, "both victims mid-trial", |t| {
        held_by(t, &killed_pid).is_some() && held_by(t, &cutoff_pid).is_some()
    });
    // Freeze one (its heartbeats stop) and kill its connection server-side; SIGKILL the other.
    let status = Command::new("kill")
        .args(["-STOP", &cutoff_pid])
        .status()
        .unwrap();
    assert!(status.success());
    let now = study.trials();
    let cut = held_by(&now, &cutoff_pid).expect("the frozen worker's trial");
    let terminated = study.server.terminate("cutoff").unwrap();
    assert!(
        terminated >= 1,
        "no connection of the cut-off worker to terminate"
    );
    victims[0].kill().unwrap();
    victims[0].wait().unwrap();
    let killed = held_by(&now, &killed_pid).expect("the killed worker's trial");
    // Two healthy workers take over.
    let helpers: Vec<Child> = (0..2)
        .map(|i| study.command(&format!("h{i}"), &args).spawn().unwrap())
        .collect();
    // Wait until the frozen worker's trial was re-queued and finished by someone else.
    let mut cutoff = victims.pop().unwrap();
    let t0 = Instant::now();
    loop {
        let t = &study.trials()[cut.number as usize];
        if t.state == TrialState::Complete {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "trial {} never re-run",
            cut.number
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let finished_by_other = study.trials()[cut.number as usize].clone();
    // Thaw it: it reconnects, and its late values and result are refused.
    let status = Command::new("kill")
        .args(["-CONT", &cutoff_pid])
        .status()
        .unwrap();
    assert!(status.success());
    for h in helpers {
        let (ok, _, stderr) = finish(h);
        assert!(ok, "{stderr}");
    }
    let (ok, _stdout, stderr) = finish(std::mem::replace(
        &mut cutoff,
        Command::new("true").spawn().unwrap(),
    ));
    let _ = cutoff.wait();
    assert!(ok, "the cut-off worker failed: {stderr}");
    assert!(
        stderr.contains(&format!(
            "trial {}: dropping this attempt's result",
            cut.number
        )),
        "the late result was not refused: {stderr}"
    );
    let trials = study.trials();
    check_done(&trials, 40);
    let after = &trials[cut.number as usize];
    assert_eq!(
        after, &finished_by_other,
        "the late worker changed the result"
    );
    assert_eq!(after.attempts, 2);
    assert!(
        !after
            .worker
            .as_deref()
            .unwrap()
            .contains(&format!(":{cutoff_pid}:"))
    );
    let k = &trials[killed.number as usize];
    assert_eq!(k.attempts, 2, "the killed worker's trial was re-run");
    assert!(
        !k.worker
            .as_deref()
            .unwrap()
            .contains(&format!(":{killed_pid}:"))
    );
    let (per_arch, lines) = study.evaluations();
    assert_eq!(
        lines, 42,
        "40 trials and the two lost attempts: {per_arch:?}"
    );
    for t in &trials {
        let expected = if t.number == k.number || t.number == after.number {
            2
        } else {
            1
        };
        assert_eq!(per_arch[&t.arch], expected, "trial {}", t.number);
        assert_eq!(t.values[0], expected_value(t), "trial {}", t.number);
    }
}

/// Load: 16 worker processes share one study of 5,000 trials (evaluator of zero cost): no
/// trial runs twice, none is lost, every value is the one its trial earned.
#[test]
fn sixteen_processes_share_five_thousand_trials() {
    let Some(study) = Study::new("sixteen_processes_share_five_thousand_trials") else {
        return;
    };
    let args = ["--trials", "5000", "--epochs", "1", "--seed", "1"];
    let t0 = Instant::now();
    let children: Vec<Child> = (0..16)
        .map(|i| study.command(&format!("w{i}"), &args).spawn().unwrap())
        .collect();
    for c in children {
        let (ok, _, stderr) = finish(c);
        assert!(ok, "a worker failed: {stderr}");
    }
    eprintln!(
        "5000 trials by 16 processes in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let trials = study.trials();
    check_done(&trials, 5000);
    let (per_arch, lines) = study.evaluations();
    assert_eq!(lines, 5000, "a trial ran twice");
    let workers: HashSet<&str> = trials.iter().filter_map(|t| t.worker.as_deref()).collect();
    assert!(
        workers.len() >= 8,
        "the processes shared the work: {workers:?}"
    );
    for t in &trials {
        assert_eq!(per_arch[&t.arch], 1, "trial {}", t.number);
        assert_eq!(t.attempts, 1);
        assert_eq!(t.values[0], expected_value(t), "trial {}", t.number);
    }
}
