//! The storage's cost in a distributed study, on PostgreSQL (a throwaway server started here)
//! and SQLite, on the same machine:
//!
//! 1. **Load**: 16 worker processes (`nascent-study-worker`, synthetic evaluator of zero cost)
//!    share one study of 5,000 trials; trials claimed per second, and the check that no trial
//!    ran twice, none is lost and every value is intact.
//! 2. **Scaling** at 1,000 and 100,000 stored trials in one study (DARTS space, so that
//!    architectures stay unique): one ask/claim/tell cycle of a worker (random strategy: what
//!    the storage does per trial — claim, create, heartbeat, an intermediate value, finish, the
//!    history sync), `best` (the top trial, from the ranking index), and a new worker joining
//!    (open, the runner's start-up, until its first trial starts).
//!
//! `cargo bench -p nascent-study --bench distributed [-- --trials 5000 --workers 16
//! --sizes 1000,100000 --skip-load --skip-scaling]`; `bench/distributed.sh` runs it and keeps
//! the output in `bench/results/`.

use nascent_core::storage::{CreateOutcome, NewTrial, Storage, TrialResult};
use nascent_core::{Budget, Metrics, Objective, Rng, SearchSpace, StudySpec, TrialState};
use nascent_space::DartsSpace;
use nascent_store::open;
use nascent_store::pg_server::PgServer;
use nascent_strategy::RandomSearch;
use nascent_study::testing::SyntheticEvaluator;
use nascent_study::{RunConfig, Runner, StudyBudget, open_or_create_study};
use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nascent-study-worker");

struct Args {
    trials: u64,
    workers: usize,
    sizes: Vec<u64>,
    load: bool,
    scaling: bool,
    join: bool,
    backends: Vec<String>,
}

fn parse() -> Args {
    let mut a = Args {
        trials: 5000,
        workers: 16,
        sizes: vec![1000, 100_000],
        load: true,
        scaling: true,
        join: true,
        backends: vec!["postgresql".into(), "sqlite".into()],
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        match f.as_str() {
            "--trials" => a.trials = it.next().and_then(|v| v.parse().ok()).expect("--trials N"),
            "--workers" => a.workers = it.next().and_then(|v| v.parse().ok()).expect("--workers K"),
            "--sizes" => {
                a.sizes = it
                    .next()
                    .expect("--sizes A,B")
                    .split(',')
                    .map(|s| s.parse().expect("--sizes: integers"))
                    .collect()
            }
            "--skip-load" => a.load = false,
            "--skip-scaling" => a.scaling = false,
            "--skip-join" => a.join = false,
            "--backends" => {
                a.backends = it
                    .next()
                    .expect("--backends postgresql,sqlite")
                    .split(',')
                    .map(String::from)
                    .collect()
            }
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

fn main() {
    let args = parse();
    let server = PgServer::start().expect("start a PostgreSQL server (is it installed?)");
    let dir = tempfile::tempdir().unwrap();
    eprintln!(
        "PostgreSQL on port {}; SQLite in {}",
        server.port(),
        dir.path().display()
    );
    if args.load {
        println!(
            "load: {} worker processes, one study of {} trials (NB201, synthetic evaluator, 1 \
             epoch of 0 ms)",
            args.workers, args.trials
        );
        println!("backend     seconds  claims/s  evaluated  run-twice  lost  values-intact");
        for backend in args.backends.iter().map(String::as_str) {
            let url = match backend {
                "postgresql" => server.new_database().unwrap(),
                _ => format!("sqlite://{}", dir.path().join("load.db").display()),
            };
            load(&url, backend, &args, dir.path());
        }
    }
    if args.scaling {
        println!();
        println!(
            "scaling: one study with N stored trials (DARTS space); median of the repetitions \
             (in brackets); ms"
        );
        println!(
            "backend     trials   cycle(200)  best(50)  best-by-full-read(3)  join(3)  open+study(3)\
"
        );
        for backend in args.backends.iter().map(String::as_str) {
            for &n in &args.sizes {
                let url = match backend {
                    "postgresql" => server.new_database().unwrap(),
                    _ => format!("sqlite://{}", dir.path().join(format!("s{n}.db")).display()),
                };
                scaling(&url, backend, n, args.join);
            }
        }
    }
}

fn load(url: &str, backend: &str, args: &Args, dir: &std::path::Path) {
    let log = dir.join(format!("{backend}.log"));
    let t0 = Instant::now();
    // Each worker's log goes to its own file: a pipe nobody reads while waiting for another
    // worker fills up and blocks the worker writing to it (holding its trial).
    let children: Vec<_> = (0..args.workers)
        .map(|w| {
            let err = dir.join(format!("{backend}-worker{w}.err"));
            let file = std::fs::File::create(&err).expect("a worker's log file");
            let child = Command::new(BIN)
                .args(["--storage", url, "--study", "load", "--log"])
                .arg(&log)
                .args([
                    "--trials",
                    &args.trials.to_string(),
                    "--epochs",
                    "1",
                    "--seed",
                    "1",
                ])
                .stdout(Stdio::null())
                .stderr(file)
                .spawn()
                .expect("spawn a worker");
            (child, err)
        })
        .collect();
    for (mut c, err) in children {
        let status = c.wait().unwrap();
        assert!(
            status.success(),
            "a worker failed: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
    }
    let secs = t0.elapsed().as_secs_f64();
    let s = open(url).unwrap();
    let st = s.study("load").unwrap();
    let trials = s.trials(st.id, 0).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let mut per_arch: HashMap<&str, usize> = HashMap::new();
    for line in text.lines() {
        *per_arch.entry(line.split_once(' ').unwrap().1).or_default() += 1;
    }
    let twice = per_arch.values().filter(|&&c| c > 1).count();
    let complete: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    let lost = args.trials as usize - complete.len();
    let numbers: HashSet<u64> = trials.iter().map(|t| t.number).collect();
    let intact = complete.iter().all(|t| {
        t.values.len() == 1
            && t.values[0].is_finite()
            && t.values[0] == t.metrics["val_accuracy"]
            && t.intermediate.last().map(|x| x.1) == Some(t.values[0])
            && per_arch.get(t.arch.as_str()) == Some(&1)
    }) && numbers.len() == trials.len()
        && trials.len() == args.trials as usize;
    println!(
        "{backend:<10} {secs:8.2}  {:8.1}  {:9}  {twice:9}  {lost:4}  {intact}",
        args.trials as f64 / secs,
        text.lines().count(),
    );
    std::fs::remove_file(&log).ok();
}

fn spec(name: &str) -> StudySpec {
    StudySpec {
        name: name.into(),
        space: "darts".into(),
        objectives: vec![Objective::maximize("val_accuracy")],
        constraints: vec![],
        config: serde_json::json!({}),
        seed: 0,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Fills the study with `n` completed trials, fast (bulk SQL on each back end's own schema).
fn populate(url: &str, backend: &str, n: u64, archs: &[String]) {
    let budget = serde_json::to_string(&Budget::default()).unwrap();
    let s = open(url).unwrap();
    let st = open_or_create_study(&*s, &spec("scale")).unwrap();
    drop(s);
    let value = |i: u64| 0.5 + ((i * 7919) % 1000) as f64 / 4000.0;
    if backend == "postgresql" {
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        let mut tx = c.transaction().unwrap();
        {
            let mut w = tx
                .copy_in(
                    "COPY nascent_trials (study_id, number, arch, params, state, budget, seed, \
                     worker, created, started, finished, heartbeat, cost_seconds, attempts, \
                     epochs, metric_names, metric_values, objective_values, rank_value, \
                     sequence) FROM STDIN",
                )
                .unwrap();
            use std::io::Write;
            for i in 0..n {
                let v = value(i);
                writeln!(
                    w,
                    "{}\t{i}\t{}\t{{}}\tCOMPLETE\t{}\t{i}\tbench:1:r0:w0\t1\t1\t2\t1\t1\t1\t1\t\
                     {{val_accuracy}}\t{{{v}}}\t{{{v}}}\t{v}\t{i}",
                    st.id.0, archs[i as usize], budget
                )
                .unwrap();
            }
            w.finish().unwrap();
        }
        {
            let mut w = tx
                .copy_in("COPY nascent_intermediate (study_id, number, step, value) FROM STDIN")
                .unwrap();
            use std::io::Write;
            for i in 0..n {
                writeln!(w, "{}\t{i}\t1\t{}", st.id.0, value(i)).unwrap();
            }
            w.finish().unwrap();
        }
        tx.execute(
            "UPDATE nascent_studies SET n_trials = $2, n_finished = $2, n_complete = $2, \
             epochs_finished = $2 WHERE id = $1",
            &[&st.id.0, &(n as i64)],
        )
        .unwrap();
        tx.commit().unwrap();
        c.batch_execute("ANALYZE").unwrap();
    } else {
        let path = url.strip_prefix("sqlite://").unwrap();
        let mut c = rusqlite::Connection::open(path).unwrap();
        let tx = c.transaction().unwrap();
        {
            let mut t = tx
                .prepare(
                    "INSERT INTO trials (study_id, number, arch, params, state, budget, seed, \
                     worker, created, started, finished, heartbeat, cost_seconds, attempts, \
                     epochs, rank_value, sequence) \
                     VALUES (?1, ?2, ?3, '{}', 'COMPLETE', ?4, ?2, 'bench:1:r0:w0', 1, 1, 2, 1, \
                     1, 1, 1, ?5, ?2)",
                )
                .unwrap();
            let mut m = tx
                .prepare("INSERT INTO trial_metrics VALUES (?1, 'val_accuracy', ?2)")
                .unwrap();
            let mut v = tx
                .prepare("INSERT INTO trial_values VALUES (?1, 0, ?2)")
                .unwrap();
            let mut iv = tx
                .prepare("INSERT INTO trial_intermediate VALUES (?1, 1, ?2)")
                .unwrap();
            for i in 0..n {
                let val = value(i);
                t.execute(rusqlite::params![
                    st.id.0,
                    i as i64,
                    archs[i as usize],
                    budget,
                    val
                ])
                .unwrap();
                let id = tx.last_insert_rowid();
                m.execute(rusqlite::params![id, val]).unwrap();
                v.execute(rusqlite::params![id, val]).unwrap();
                iv.execute(rusqlite::params![id, val]).unwrap();
            }
        }
        tx.execute(
            "UPDATE studies SET n_complete = ?2, epochs_finished = ?2 WHERE id = ?1",
            rusqlite::params![st.id.0, n as i64],
        )
        .unwrap();
        tx.commit().unwrap();
        c.execute_batch("ANALYZE").unwrap();
    }
}

fn scaling(url: &str, backend: &str, n: u64, with_join: bool) {
    let space = DartsSpace::new();
    let mut rng = Rng::new(n);
    let mut seen = HashSet::new();
    let mut archs = Vec::new();
    while archs.len() < n as usize + 400 {
        let a = space.format(&space.sample(&mut rng));
        if seen.insert(a.clone()) {
            archs.push(a);
        }
    }
    populate(url, backend, n, &archs);
    let s = open(url).unwrap();
    let st = s.study("scale").unwrap();
    assert_eq!(s.counts(st.id).unwrap().complete, n);

    // One ask/claim/tell cycle, as a worker does it: look for a queued trial, sync the history
    // (the trials since the first unfinished one), create the asked trial, a heartbeat, one
    // intermediate value, the result.
    let mut cycle = Vec::new();
    let mut parts: Vec<Vec<f64>> = vec![Vec::new(); 6];
    let mut next = n;
    for i in 0..200 {
        let arch = archs[(n + i) as usize].clone();
        let t0 = Instant::now();
        let mut lap = t0;
        let mut mark = |k: usize| {
            let now = Instant::now();
            parts[k].push(ms(now - lap));
            lap = now;
        };
        assert!(s.claim_queued(st.id, "bench:2:r0:w0").unwrap().is_none());
        mark(0);
        let _ = s.trials(st.id, next).unwrap();
        mark(1);
        let rec = match s
            .create_trial(
                st.id,
                &NewTrial {
                    arch,
                    params: serde_json::json!({}),
                    budget: Budget::default(),
                    seed: i,
                    worker: "bench:2:r0:w0".into(),
                },
                None,
            )
            .unwrap()
        {
            CreateOutcome::Created(r) => r,
            other => panic!("{other:?}"),
        };
        mark(2);
        s.heartbeat(st.id, rec.number, "bench:2:r0:w0").unwrap();
        mark(3);
        s.report(st.id, rec.number, "bench:2:r0:w0", 1, 0.6)
            .unwrap();
        mark(4);
        let mut metrics = Metrics::new();
        metrics.insert("val_accuracy".into(), 0.6);
        s.finish(
            st.id,
            rec.number,
            "bench:2:r0:w0",
            &TrialResult {
                state: TrialState::Complete,
                reason: None,
                metrics,
                values: vec![0.6],
                cost_seconds: 0.0,
            },
        )
        .unwrap();
        mark(5);
        cycle.push(ms(t0.elapsed()));
        next = rec.number + 1;
    }
    let best: Vec<f64> = (0..50)
        .map(|_| {
            let t0 = Instant::now();
            let b = s.ranked_trials(st.id, 0, 1).unwrap();
            assert_eq!(b.len(), 1);
            ms(t0.elapsed())
        })
        .collect();
    let full: Vec<f64> = (0..3)
        .map(|_| {
            let t0 = Instant::now();
            let all = s.trials(st.id, 0).unwrap();
            let _ = all
                .iter()
                .filter(|t| t.state == TrialState::Complete)
                .max_by(|a, b| a.values[0].total_cmp(&b.values[0]));
            ms(t0.elapsed())
        })
        .collect();
    drop(s);
    // A new worker joins: opens the storage and starts the runner (random strategy) until its
    // first trial starts. Measured to the evaluator's start, and separately the part before
    // the runner (open + study).
    let mut join = Vec::new();
    let mut join_open = Vec::new();
    for k in 0..if with_join { 3 } else { 0 } {
        let started: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
        let hook = started.clone();
        let evaluator = SyntheticEvaluator::new(|_: &nascent_space::DartsGenotype| 0.5)
            .with_epochs(1)
            .with_on_start(move |_| {
                let mut g = hook.lock().unwrap();
                if g.is_none() {
                    *g = Some(Instant::now());
                }
            });
        let t0 = Instant::now();
        let s = open(url).unwrap();
        let st = s.study("scale").unwrap();
        join_open.push(ms(t0.elapsed()));
        let config = RunConfig {
            workers: 1,
            budget: StudyBudget::trials(n + 200 + k + 1),
            ..RunConfig::default()
        };
        Runner::new(&*s, st, &space, &evaluator, config)
            .run(&mut RandomSearch)
            .unwrap();
        let first = started.lock().unwrap().expect("a trial started");
        join.push(ms(first - t0));
    }
    eprintln!(
        "{backend} {n}: cycle parts, median ms: claim {:.3}, sync {:.3}, create {:.3}, \
         heartbeat {:.3}, report {:.3}, finish {:.3}",
        median(parts[0].clone()),
        median(parts[1].clone()),
        median(parts[2].clone()),
        median(parts[3].clone()),
        median(parts[4].clone()),
        median(parts[5].clone())
    );
    let join = if with_join { median(join) } else { f64::NAN };
    let join_open = if with_join {
        median(join_open)
    } else {
        f64::NAN
    };
    println!(
        "{backend:<10} {n:7}   {:9.3}  {:8.3}  {:20.1}  {join:7.1}  {join_open:12.1}",
        median(cycle),
        median(best),
        median(full),
    );
}
