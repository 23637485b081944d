//! `nascent search` and `nascent resume` end to end, with real training on a small generated
//! IDX dataset: SIGKILL in the middle of a trial, then `nascent resume` finishes the budget
//! and loses no completed trial; and the study errors that exit 1 naming the problem.

use nascent_core::TrialState;
use nascent_core::storage::TrialRecord;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nascent");

/// Writes an IDX file of unsigned bytes.
fn write_idx(path: &Path, dims: &[u32], data: &[u8]) {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

/// A three-class image set: class k has a bright band in the k-th third of the rows, under
/// noise, so that a network learns it but not at once.
fn write_dataset(dir: &Path, side: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 140) as u8
    };
    for (split, n) in [("train", 900usize), ("t10k", 150)] {
        let mut images = Vec::with_capacity(n * side * side);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let class = i % 3;
            for r in 0..side {
                for _ in 0..side {
                    let band = r * 3 / side == class;
                    images.push(noise().saturating_add(if band { 100 } else { 0 }));
                }
            }
            labels.push(class as u8);
        }
        let s = side as u32;
        write_idx(
            &dir.join(format!("{split}-images-idx3-ubyte")),
            &[n as u32, s, s],
            &images,
        );
        write_idx(
            &dir.join(format!("{split}-labels-idx1-ubyte")),
            &[n as u32],
            &labels,
        );
    }
}

struct Study {
    dir: tempfile::TempDir,
    file: PathBuf,
    url: String,
}

impl Study {
    fn new(trials: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        write_dataset(&data, 12);
        let url = format!("sqlite://{}", dir.path().join("study.db").display());
        let file = dir.path().join("study.toml");
        let toml = format!(
            r#"name = "kill"
storage = "{url}"
out = "{out}"
seed = 3

[space]
kind = "nb201"

[strategy]
kind = "random"

[data]
name = "{data}"

[train]
batch_size = 32
augment = false
threads = 1

[fidelity]
epochs = 6
cells = 1
channels = 4

[budget]
trials = {trials}

[retrain]
enabled = false
"#,
            out = dir.path().join("out").display(),
            data = data.display(),
        );
        std::fs::write(&file, toml).unwrap();
        Study { dir, file, url }
    }

    fn trials(&self) -> Vec<TrialRecord> {
        let Ok(s) = nascent_store::open(&self.url) else {
            return Vec::new();
        };
        match s.study("kill") {
            Ok(st) => s.trials(st.id, 0).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }
}

fn spawn(args: &[&str], cwd: &Path) -> Child {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs nascent")
}

fn run(args: &[&str], cwd: &Path) -> Output {
    spawn(args, cwd).wait_with_output().unwrap()
}

/// Waits until `study` has two completed trials and one in flight (with a value reported).
fn wait_mid_trial(study: &Study, child: &mut Child) {
    let t0 = Instant::now();
    loop {
        let t = study.trials();
        let complete = t.iter().filter(|t| t.state == TrialState::Complete).count();
        let running = t
            .iter()
            .any(|t| t.state == TrialState::Running && !t.intermediate.is_empty());
        if complete >= 2 && running {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!(
                "nascent search exited ({status}) before a trial was in flight after two: {err}"
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "timed out waiting for a trial in flight"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigkill_mid_trial_then_nascent_resume_loses_no_completed_trial_and_finishes_the_budget() {
    let study = Study::new(6);
    let file = study.file.to_str().unwrap();
    let mut child = spawn(&["search", file, "--json"], study.dir.path());
    wait_mid_trial(&study, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let before = study.trials();
    let completed: Vec<&TrialRecord> = before
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    let killed: Vec<&TrialRecord> = before
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .collect();
    assert!(completed.len() >= 2);
    assert_eq!(killed.len(), 1, "one trial was in flight: {before:?}");

    let out = run(
        &[
            "resume",
            "--storage",
            &study.url,
            "--study",
            "kill",
            "--json",
        ],
        study.dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "resume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = study.trials();
    assert_eq!(after.len(), 6, "the budget of 6 trials is finished");
    for (i, t) in after.iter().enumerate() {
        assert_eq!(t.number, i as u64);
        assert_eq!(t.state, TrialState::Complete, "trial {i}: {t:?}");
        assert!(t.values.first().is_some_and(|v| v.is_finite() && *v > 0.0));
    }
    for t in &completed {
        assert_eq!(
            &after[t.number as usize], *t,
            "completed trial {} changed",
            t.number
        );
    }
    let k = &after[killed[0].number as usize];
    assert_eq!(
        k.arch, killed[0].arch,
        "the killed trial is re-run, not replaced"
    );
    assert_eq!(k.attempts, 2);
}

#[test]
fn ctrl_c_mid_trial_requeues_it_exits_0_and_resume_finishes() {
    let study = Study::new(4);
    let file = study.file.to_str().unwrap();
    let mut child = spawn(&["search", file, "--json"], study.dir.path());
    wait_mid_trial(&study, &mut child);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("interrupted") && err.contains("nascent resume"),
        "{err}"
    );
    let before = study.trials();
    let queued: Vec<&TrialRecord> = before.iter().filter(|t| t.is_queued()).collect();
    assert_eq!(queued.len(), 1, "the trial in flight is queued: {before:?}");
    let out = run(
        &["resume", "--storage", &study.url, "--study", "kill"],
        study.dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = study.trials();
    assert_eq!(after.len(), 4);
    assert!(after.iter().all(|t| t.state == TrialState::Complete));
    assert_eq!(after[queued[0].number as usize].arch, queued[0].arch);
}

fn fails_with(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// `nascent search FILE --set SET` exits 1 with every needle in its error, for each case.
fn refuses_sets(file: &str, dir: &Path, cases: &[(&str, &[&str])]) {
    for (set, needles) in cases {
        fails_with(&run(&["search", file, "--set", set], dir), needles);
    }
}

/// Runs `args` (a `--dry-run`) in `dir`: it exits 0 and prints every one of `lines`.
fn dry_run_shows(args: &[&str], dir: &Path, lines: &[&str]) {
    let out = run(args, dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in lines {
        assert!(text.contains(line), "--dry-run lacks `{line}`:\n{text}");
    }
}

#[test]
fn study_errors_exit_1_naming_the_problem() {
    let study = Study::new(2);
    let dir = study.dir.path();
    let file = study.file.to_str().unwrap();

    let bad = dir.join("malformed.toml");
    std::fs::write(&bad, "name = \"x\"\n[space\nkind = \"nb201\"\n").unwrap();
    fails_with(
        &run(&["search", bad.to_str().unwrap()], dir),
        &["malformed.toml"],
    );

    let unknown = dir.join("unknown.toml");
    std::fs::write(
        &unknown,
        "[strategy]\nkind = \"evolution\"\npopulaton = 8\n",
    )
    .unwrap();
    fails_with(
        &run(&["search", unknown.to_str().unwrap(), "--dry-run"], dir),
        &["unknown.toml", "populaton"],
    );
    fails_with(
        &run(
            &["search", file, "--set", "fidelity.epoks=3", "--dry-run"],
            dir,
        ),
        &["epoks"],
    );

    fails_with(
        &run(
            &[
                "search",
                file,
                "--set",
                "storage=sqlite:///nonexistent-dir/deeper/study.db",
            ],
            dir,
        ),
        &["/nonexistent-dir/deeper/study.db"],
    );
    fails_with(
        &run(
            &["search", file, "--set", "storage=postgres://nowhere/db"],
            dir,
        ),
        &["postgres://nowhere/db"],
    );

    fails_with(
        &run(
            &["search", file, "--set", "data.name=/nonexistent/images"],
            dir,
        ),
        &["/nonexistent/images"],
    );
    fails_with(
        &run(&["search", "/nonexistent/study.toml"], dir),
        &["/nonexistent/study.toml"],
    );
}

/// `nascent dashboard`: serves the storage's studies on the loopback address it prints, and
/// refuses a storage that does not exist (exit 1, naming it).
#[test]
fn dashboard_serves_the_storage() {
    use std::io::{BufRead, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let storage = nascent_store::open(&db.display().to_string()).unwrap();
    storage
        .create_study(&nascent_core::StudySpec {
            name: "<b>shown</b>".into(),
            space: "nb201".into(),
            objectives: vec![nascent_core::Objective::maximize("val_accuracy")],
            constraints: vec![],
            config: serde_json::json!({}),
            seed: 1,
        })
        .unwrap();
    let missing = dir.path().join("missing.db");
    let out = Command::new(BIN)
        .args(["dashboard", "--storage", &missing.display().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.db"));

    let mut child = Command::new(BIN)
        .args([
            "dashboard",
            "--storage",
            &db.display().to_string(),
            "--port",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().strip_prefix("http://").unwrap().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("&lt;b&gt;shown&lt;/b&gt;"), "{body}");
}

/// Issue 9: a closed stdout is not a bug. `nascent trials --json | head -1` ends quietly with
/// exit 0 (the study is large enough that the output outruns the pipe's buffer).
#[test]
fn r9_a_reader_that_goes_away_ends_the_command_quietly() {
    use nascent_core::{Objective, StudySpec};
    use nascent_study::testing::{
        SyntheticEvaluator, TournamentMutation, nb201_structural_accuracy,
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("big.db").display());
    let storage = nascent_store::open(&url).unwrap();
    let spec = StudySpec {
        name: "big".into(),
        space: "nb201".into(),
        objectives: vec![Objective::maximize("val_accuracy")],
        constraints: vec![],
        config: serde_json::json!({}),
        seed: 1,
    };
    let study = nascent_study::open_or_create_study(&*storage, &spec).unwrap();
    let space = nascent_space::Nb201Space::new();
    let ev = SyntheticEvaluator::new(nb201_structural_accuracy).with_epochs(20);
    let config = nascent_study::RunConfig {
        budget: nascent_study::StudyBudget::trials(1500),
        ..nascent_study::RunConfig::default()
    };
    nascent_study::Runner::new(&*storage, study, &space, &ev, config)
        .run(&mut TournamentMutation::default())
        .unwrap();
    for args in [
        vec!["trials", "--storage", &url, "--json"],
        vec!["trials", "--storage", &url],
    ] {
        let mut child = spawn(&args, dir.path());
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

/// Writes a CSV table of `rows` rows: `features` numeric columns (a bright band per class, as
/// in [`write_dataset`], read row by row for `side x side` images) and a label column.
fn write_csv(path: &Path, rows: usize, side: usize, features: usize) {
    let mut text = (0..features)
        .map(|i| format!("f{i}"))
        .collect::<Vec<_>>()
        .join(",");
    text.push_str(",label\n");
    for i in 0..rows {
        let class = i % 3;
        for f in 0..features {
            let r = (f / side.max(1)) % side.max(1);
            let band = r * 3 / side.max(1) == class;
            let noise = ((i * 31 + f * 17) % 97) as f64 / 97.0;
            text.push_str(&format!("{:.3},", noise + if band { 1.0 } else { 0.0 }));
        }
        text.push_str(&format!("c{class}\n"));
    }
    std::fs::write(path, text).unwrap();
}

/// Issue 9: settings that cannot work are refused before any trial runs (exit 1, naming the
/// setting), and `data.shape` makes a CSV of images trainable.
#[test]
fn r9_settings_that_cannot_work_are_refused_before_any_trial() {
    let study = Study::new(2);
    let dir = study.dir.path();
    let file = study.file.to_str().unwrap();

    // A chain architecture sets its own width and depth; the study's fidelity sets both.
    fails_with(
        &run(&["search", file, "--set", "space.kind=chain"], dir),
        &["fidelity.channels", "sets its own widths and depth"],
    );
    assert!(study.trials().is_empty());

    // A table of 64 features under NB201: samples of 64x1x1, which no cell's network fits.
    let csv = dir.join("table.csv");
    write_csv(&csv, 90, 8, 64);
    let out = run(
        &[
            "search",
            file,
            "--set",
            &format!("data.name={}", csv.display()),
        ],
        dir,
    );
    fails_with(&out, &["`data`", "table.csv", "64x1x1", "data.shape"]);
    assert!(study.trials().is_empty(), "no trial ran");

    // A malformed shape names the field.
    fails_with(
        &run(
            &["search", file, "--set", "data.shape=28x28", "--dry-run"],
            dir,
        ),
        &["data.shape", "28x28"],
    );
    // A shape that does not hold the table's values names both.
    fails_with(
        &run(
            &[
                "search",
                file,
                "--set",
                &format!("data.name={}", csv.display()),
                "--set",
                "data.shape=1x9x9",
            ],
            dir,
        ),
        &["data.shape", "64 values", "1x9x9"],
    );

    // With its shape, the same kind of table (rows of 12x12 images) trains.
    let images = dir.join("images.csv");
    write_csv(&images, 120, 12, 144);
    let out = run(
        &[
            "search",
            file,
            "--set",
            &format!("data.name={}", images.display()),
            "--set",
            "data.shape=1x12x12",
            "--set",
            "fidelity.epochs=1",
            "--json",
        ],
        dir,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let trials = study.trials();
    assert_eq!(trials.len(), 2, "{err}");
    assert!(
        trials.iter().all(|t| t.state == TrialState::Complete),
        "{trials:?}"
    );
}

/// A study file of the joint space over the toy data of `Study` (`channels` to choose from,
/// retraining `reserve` minutes of which `min_epochs` epochs must fit).
fn joint_study(dir: &Path, name: &str, channels: &str, reserve: f64, min_epochs: u32) -> PathBuf {
    let data = dir.join("data");
    if !data.exists() {
        write_dataset(&data, 12);
    }
    let file = dir.join(format!("{name}.toml"));
    let toml = format!(
        r#"name = "{name}"
storage = "sqlite://{db}"
out = "{out}"
seed = 5

[space]
kind = "joint"

[space.joint]
channels = {channels}
cells = [1, 2]
batch_sizes = [32, 64]
min_retrain_epochs = {min_epochs}

[strategy]
kind = "random"

[data]
name = "{data}"

[train]
threads = 1

[fidelity]
epochs = 1

[budget]
trials = 10

[retrain]
minutes = {reserve}
max_epochs = 2
export = false
"#,
        db = dir.join(format!("{name}.db")).display(),
        out = dir.join(format!("{name}-out")).display(),
        data = data.display(),
    );
    std::fs::write(&file, toml).unwrap();
    file
}

fn joint_trials(dir: &Path, name: &str) -> Vec<TrialRecord> {
    let s = nascent_store::open(&format!(
        "sqlite://{}",
        dir.join(format!("{name}.db")).display()
    ))
    .unwrap();
    let st = s.study(name).unwrap();
    s.trials(st.id, 0).unwrap()
}

/// The value of `key=` in a joint architecture string.
fn joint_field(arch: &str, key: &str) -> String {
    arch.split_whitespace()
        .find_map(|f| f.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{arch} has no {key}"))
        .to_string()
}

/// Issue 10: the joint space (cell, width, depth and training recipe) in the study file:
/// `--dry-run` shows `[space.joint]` with every value, bad values name their field, each trial
/// carries its own recipe, and a study where no configuration's retraining can fit is refused
/// before any trial (which configurations fit is `nascent_train::recipe`'s unit test).
/// Issue 10: without a file, `nascent search` runs the default study: synflow ranks the NB201
/// cells, the best is retrained at 16 channels; `--dry-run` shows it whole and it passes the
/// study's checks.
#[test]
fn r10_the_default_study_is_shown_by_dry_run_and_ranks_by_synflow() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&["search", "--dry-run"], tmp.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "kind = \"proxy\"",
        "proxies = [\"synflow\"]",
        "metric = \"synflow\"",
        "minutes = 27.0",
        "channels = 16",
        "name = \"fashion-mnist\"",
        "ensemble = 2",
        "ensemble_min_epochs = 25",
        "replicas = 2",
    ] {
        assert!(text.contains(line), "--dry-run lacks `{line}`:\n{text}");
    }
    assert!(
        !tmp.path().join("nascent.db").exists(),
        "a dry run creates nothing"
    );
}

#[test]
fn r10_joint_space_studies_search_recipes_and_refuse_what_cannot_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let wide = joint_study(dir, "wide", "[2, 48]", 5.0, 1);
    let file = wide.to_str().unwrap();
    dry_run_shows(
        &["search", file, "--dry-run"],
        dir,
        &[
            "[space.joint]",
            "lr_max = 0.4",
            "search_trivial_augment = true",
            "min_retrain_epochs = 1",
        ],
    );
    refuses_sets(
        file,
        dir,
        &[
            ("space.joint.lr_max=20", &["space.joint.lr_max", "20"]),
            (
                "space.joint.width=3",
                &["space.joint.width", "unknown field"],
            ),
        ],
    );

    // Five minutes reserved, one epoch to fit: everything fits (the speed is measured first),
    // random search draws both widths and varied recipes, and the best is retrained.
    let out = run(&["search", file], dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trials = joint_trials(dir, "wide");
    assert_eq!(trials.len(), 10);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    let widths: Vec<String> = trials
        .iter()
        .map(|t| joint_field(&t.arch, "channels"))
        .collect();
    assert!(widths.iter().any(|w| w == "48"), "{widths:?}");
    let lrs: std::collections::BTreeSet<String> =
        trials.iter().map(|t| joint_field(&t.arch, "lr")).collect();
    assert!(lrs.len() > 5, "each trial draws its learning rate: {lrs:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("test accuracy"),
        "retrained: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Nothing fits: refused before any trial, naming the setting.
    let none = joint_study(dir, "none", "[2, 48]", 0.0001, 1000);
    fails_with(
        &run(&["search", none.to_str().unwrap()], dir),
        &["space.joint.min_retrain_epochs", "cheapest configuration"],
    );
    assert!(
        nascent_store::open(&format!("sqlite://{}", dir.join("none.db").display()))
            .ok()
            .and_then(|s| s.study("none").ok().map(|st| s.trials(st.id, 0).unwrap()))
            .unwrap_or_default()
            .is_empty()
    );
}

/// Writes `DIR/NAME.toml`: an NB201 study of the small dataset in `DIR/data` (written when
/// missing) stored in `DIR/NAME.db`, output in `DIR/NAME-out`, with `rest` (TOML) appended.
fn nb201_study(dir: &Path, name: &str, rest: &str) -> PathBuf {
    let data = dir.join("data");
    if !data.exists() {
        write_dataset(&data, 12);
    }
    let file = dir.join(format!("{name}.toml"));
    let head = format!(
        "name = \"{name}\"\nstorage = \"sqlite://{db}\"\nout = \"{out}\"\nseed = 3\n\n\
         [space]\nkind = \"nb201\"\n\n[data]\nname = \"{data}\"\n\n[train]\nthreads = 1\n\n",
        db = dir.join(format!("{name}.db")).display(),
        out = dir.join(format!("{name}-out")).display(),
        data = data.display(),
    );
    std::fs::write(&file, head + rest).unwrap();
    file
}

/// The trials of study `name` in `DIR/NAME.db`, in order.
fn study_trials(dir: &Path, name: &str) -> Vec<TrialRecord> {
    let mut t = joint_trials(dir, name);
    t.sort_by_key(|t| t.number);
    t
}

/// A 12-trial random search scored by MeCo at 4 channels (the `[retrain]` table follows).
const MECO_SEARCH: &str = r#"[strategy]
kind = "random"

[evaluator]
kind = "proxy"
proxies = ["meco"]
batch = 32

[[objectives]]
metric = "meco"
direction = "maximize"

[fidelity]
cells = 1
channels = 4

[budget]
trials = 12

"#;

/// A study of [`MECO_SEARCH`] whose retraining takes 0.2 minutes at 4 channels and one cell;
/// `retrain` adds lines to its `[retrain]` table (and tables after it).
fn meco_study(dir: &Path, name: &str, retrain: &str) -> PathBuf {
    nb201_study(
        dir,
        name,
        &format!("{MECO_SEARCH}[retrain]\nminutes = 0.2\nchannels = 4\ncells = 1\n{retrain}"),
    )
}

/// Issue 10: a study whose trials train nothing (zero-cost proxies) used to retrain for a
/// fixed 10 epochs whatever the time left (the MeCo candidate used 23.9 of its 30 minutes).
/// The final configuration's speed is now measured on this machine first, and the epochs fill
/// the reserved time: with 20 seconds for a tiny network, far more than 10.
#[test]
fn r10_a_proxy_study_times_its_final_configuration_and_fills_the_time_left() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = nb201_study(
        dir,
        "proxy",
        &format!(
            "{MECO_SEARCH}[retrain]\nminutes = 0.33\nchannels = 8\ncells = 1\nmax_epochs = 40\n\
             export = false\n"
        ),
    );
    let out = run(&["-v", "search", file.to_str().unwrap()], dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("measured for the final configuration"),
        "the retraining's speed is measured: {stderr}"
    );
    let fin: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("proxy-out").join("final.json")).unwrap(),
    )
    .unwrap();
    let epochs = fin["epochs"].as_f64().unwrap();
    assert!(
        epochs > 10.0,
        "20 s of retraining of a tiny network is more than the fallback's 10 epochs: {epochs}\n{stderr}"
    );
}

/// Issue 10, item 2: `[retrain.race]` trains the search's best few (distinct, in the search's
/// order) briefly at the retraining's width, and the best validation accuracy is retrained;
/// `final.json` and the report keep the race, and bad settings name `retrain.race.*`.
#[test]
fn r10_a_race_among_the_best_trials_chooses_what_is_retrained() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = meco_study(
        dir,
        "race",
        r#"max_epochs = 1
export = false

[retrain.race]
candidates = 3
epochs = 1
data_fraction = 0.5
"#,
    );
    let f = file.to_str().unwrap();
    dry_run_shows(
        &["search", f, "--dry-run"],
        dir,
        &["[retrain.race]", "candidates = 3", "data_fraction = 0.5"],
    );
    refuses_sets(
        f,
        dir,
        &[
            (
                "retrain.race.candidates=1",
                &["retrain.race.candidates", "must be 2 to 64, not 1"],
            ),
            (
                "retrain.race.data_fraction=0",
                &["retrain.race.data_fraction", "(0, 1]"],
            ),
            ("retrain.race.laps=2", &["retrain.race", "unknown field"]),
            (
                "retrain.enabled=false",
                &["retrain.race", "retrain.enabled = true"],
            ),
        ],
    );

    let out = run(&["search", f], dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for n in 1..=3 {
        assert!(stderr.contains(&format!("race {n}/3: #")), "{stderr}");
    }
    // The three racers are the three best trials by meco, best first.
    let mut trials = study_trials(dir, "race");
    trials.retain(|t| t.state == TrialState::Complete);
    trials.sort_by(|a, b| b.metrics["meco"].total_cmp(&a.metrics["meco"]));
    let fin: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("race-out").join("final.json")).unwrap(),
    )
    .unwrap();
    let race = fin["race"].as_array().expect("final.json keeps the race");
    assert_eq!(race.len(), 3, "{fin}");
    let raced: Vec<u64> = race.iter().map(|r| r["trial"].as_u64().unwrap()).collect();
    let best3: Vec<u64> = trials.iter().take(3).map(|t| t.number).collect();
    assert_eq!(raced, best3, "{fin}");
    // The winner, the first of the best validation accuracy, is what was retrained.
    let vals: Vec<f64> = race
        .iter()
        .map(|r| r["val_accuracy"].as_f64().expect("every run ended"))
        .collect();
    let top = vals.iter().copied().fold(f64::MIN, f64::max);
    let winner = raced[vals.iter().position(|v| *v == top).unwrap()];
    assert_eq!(fin["trial"].as_u64(), Some(winner), "{fin}");
    let report = std::fs::read_to_string(dir.join("race-out").join("report.html")).unwrap();
    assert!(
        report.contains("chosen by a race of the 3 best trials"),
        "the report says how the final model was chosen"
    );
}

/// Issue 10: the final model is an ensemble of `retrain.ensemble` networks of the chosen cell,
/// trained at once from different seeds (one a thread), whose averaged probabilities give the
/// accuracies; `final.json`, stdout and the report show each member, every member is exported,
/// and bad values name `retrain.ensemble`.
#[test]
fn r10_an_ensemble_final_model_averages_networks_trained_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = meco_study(dir, "ens", "max_epochs = 2\nensemble = 3\n");
    let f = file.to_str().unwrap();
    dry_run_shows(&["search", f, "--dry-run"], dir, &["ensemble = 3"]);
    refuses_sets(
        f,
        dir,
        &[
            (
                "retrain.ensemble=0",
                &["retrain.ensemble", "must be 1 to 16, not 0"],
            ),
            ("retrain.ensemble=17", &["retrain.ensemble", "not 17"]),
        ],
    );

    let out = run(&["search", f, "--set", "train.threads=3"], dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("an ensemble of 3 networks"), "{stderr}");
    assert!(
        stdout.contains("ensemble     3 networks averaged"),
        "{stdout}"
    );
    let outdir = dir.join("ens-out");
    let fin: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outdir.join("final.json")).unwrap()).unwrap();
    let members = fin["members"]
        .as_array()
        .expect("final.json lists the members");
    assert_eq!(members.len(), 3, "{fin}");
    let seeds: std::collections::BTreeSet<u64> = members
        .iter()
        .map(|m| m["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds.len(), 3, "each member has its own seed: {fin}");
    assert_eq!(
        members[0]["seed"].as_u64(),
        Some(3),
        "the first is the study's seed"
    );
    for m in members {
        let t = m["test_accuracy"].as_f64().expect("each member is tested");
        assert!((0.0..=100.0).contains(&t), "{fin}");
        assert!(m["epochs"].as_u64().unwrap() >= 1, "{fin}");
    }
    assert!(fin["test_accuracy"].as_f64().is_some(), "{fin}");
    // Three copies of one cell: three times its parameters.
    let params = fin["params"].as_f64().unwrap();
    assert!(params > 0.0 && params % 3.0 == 0.0, "{fin}");
    for n in 1..=3 {
        let onnx = outdir.join(format!("model/member-{n}/model.onnx"));
        assert!(onnx.is_file(), "{} exported", onnx.display());
    }
    let report = std::fs::read_to_string(outdir.join("report.html")).unwrap();
    assert!(
        report.contains("an ensemble of 3 networks"),
        "the report says the final model is an ensemble"
    );

    // Members that would get fewer epochs than `ensemble_min_epochs`: one network instead.
    let file = meco_study(
        dir,
        "one",
        "max_epochs = 2\nensemble = 3\nensemble_min_epochs = 1000\n",
    );
    let out = run(
        &["search", file.to_str().unwrap(), "--set", "train.threads=3"],
        dir,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("an ensemble of 3 networks"), "{stderr}");
    let fin: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("one-out").join("final.json")).unwrap(),
    )
    .unwrap();
    assert!(fin.get("members").is_none(), "one network: {fin}");
    assert!(dir.join("one-out/model/model.onnx").is_file());
}

/// Issue 10, item 5: the retraining trains data-parallel copies of the network
/// (`train.replicas`), one a thread, and ends with one tested, exported model; bad values name
/// `train.replicas`.
#[test]
fn r10_data_parallel_copies_train_the_final_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = meco_study(dir, "dp", "max_epochs = 8\n");
    let f = file.to_str().unwrap();
    dry_run_shows(
        &["search", f, "--dry-run", "--set", "train.replicas=2"],
        dir,
        &["replicas = 2"],
    );
    refuses_sets(
        f,
        dir,
        &[
            (
                "train.replicas=0",
                &["train.replicas", "must be 1 to 64, not 0"],
            ),
            ("train.replicas=65", &["train.replicas", "not 65"]),
        ],
    );
    let out = run(
        &[
            "search",
            f,
            "-v",
            "--set",
            "train.threads=2",
            "--set",
            "train.replicas=2",
        ],
        dir,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("training 2 data-parallel copies of the network, 1 thread each"),
        "{stderr}"
    );
    let fin: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("dp-out").join("final.json")).unwrap(),
    )
    .unwrap();
    let t = fin["test_accuracy"]
        .as_f64()
        .expect("the final model is tested");
    assert!(
        t > 90.0,
        "two copies of a network learn the three bands: {fin}"
    );
    assert!(
        fin.get("members").is_none(),
        "one model, not an ensemble: {fin}"
    );
    assert!(dir.join("dp-out/model/model.onnx").is_file());
}

/// Issue 10, item 4: a study starts from a prior: the best-scored cells of a score file (here
/// a slice of NAS-Bench-201's table, its own `arch_str` column and a CIFAR-10 accuracy) are
/// its first trials, best first; bad settings name `warm_start.*`.
#[test]
fn r10_a_warm_start_prior_gives_the_first_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cells = [
        (
            "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            10.0,
        ),
        (
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
            94.0,
        ),
        (
            "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|",
            60.0,
        ),
        (
            "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
            93.5,
        ),
    ];
    let mut csv = String::from("index,arch_str,cifar10_test_200ep\n");
    for (i, (a, v)) in cells.iter().enumerate() {
        csv.push_str(&format!("{i},{a},{v}\n"));
    }
    let scores = dir.join("table.csv");
    std::fs::write(&scores, csv).unwrap();
    let file = nb201_study(
        dir,
        "warm",
        &format!(
            r#"[strategy]
kind = "random"

[warm_start]
scores = "{}"
column = "cifar10_test_200ep"
k = 2

[fidelity]
epochs = 1
cells = 1
channels = 4

[budget]
trials = 4

[retrain]
enabled = false
"#,
            scores.display()
        ),
    );
    let f = file.to_str().unwrap();
    let dry = run(&["search", f, "--dry-run"], dir);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("[warm_start]") && text.contains("k = 2"),
        "{text}"
    );
    refuses_sets(
        f,
        dir,
        &[
            ("warm_start.k=0", &["warm_start.k"]),
            (
                "warm_start.column=cifar100",
                &["warm_start.column", "cifar100"],
            ),
        ],
    );
    fails_with(
        &run(
            &["search", f, "--set", "warm_start.scores=missing.csv"],
            dir,
        ),
        &["warm_start.scores", "missing.csv"],
    );
    let out = run(&["search", f], dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trials = study_trials(dir, "warm");
    assert_eq!(trials.len(), 4);
    assert_eq!(trials[0].arch, cells[1].0, "the best-scored cell first");
    assert_eq!(trials[1].arch, cells[3].0, "then the second best");
}

/// Issue 10: a chain-space study file: `[space.chain]` bounds the networks (`--dry-run` shows
/// it, bad values name their field), and every trained trial carries `retrain_epochs`, the
/// retraining epochs its measured speed fits in the reserved time, which a constraint can
/// bound (the default study keeps networks that fit at least 15).
#[test]
fn r10_chain_studies_bound_their_networks_and_the_retraining_epochs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    write_dataset(&data, 12);
    let file = dir.join("chain.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "chain"
storage = "sqlite://{db}"
out = "{out}"
seed = 2

[space]
kind = "chain"

[space.chain]
min_depth = 1
max_depth = 2
ops = ["conv", "res_block"]
kernels = [3]
widths = [4, 8]
max_reductions = 1

[strategy]
kind = "evolution"

[data]
name = "{data}"

[train]
threads = 1

[fidelity]
epochs = 1

[[constraints]]
metric = "retrain_epochs"
min = 1

[budget]
trials = 4

[retrain]
minutes = 2.0
max_epochs = 1
export = false
"#,
            db = dir.join("chain.db").display(),
            out = dir.join("chain-out").display(),
            data = data.display(),
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    dry_run_shows(
        &["search", f, "--dry-run"],
        dir,
        &[
            "[space.chain]",
            "max_reductions = 1",
            "metric = \"retrain_epochs\"",
        ],
    );
    refuses_sets(
        f,
        dir,
        &[
            (
                "space.chain.kernels=[4]",
                &["space.chain.kernels", "4 is not odd"],
            ),
            (
                "space.chain.depth=3",
                &["space.chain.depth", "unknown field"],
            ),
        ],
    );
    let other = dir.join("nb201.toml");
    std::fs::write(
        &other,
        "[space]\nkind = \"nb201\"\n\n[space.chain]\nmax_depth = 3\n",
    )
    .unwrap();
    fails_with(
        &run(&["search", other.to_str().unwrap(), "--dry-run"], dir),
        &["space.chain", "chain\" only"],
    );

    let out = run(&["search", f], dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let s = nascent_store::open(&format!("sqlite://{}", dir.join("chain.db").display())).unwrap();
    let st = s.study("chain").unwrap();
    let trials = s.trials(st.id, 0).unwrap();
    assert_eq!(trials.len(), 4, "{err}");
    for t in &trials {
        assert_eq!(t.state, TrialState::Complete, "{t:?}");
        let arch: Vec<&str> = t.arch.split(',').collect();
        assert!((1..=2).contains(&arch.len()), "{}", t.arch);
        let epochs = t.metrics.get("retrain_epochs").copied();
        assert!(epochs.is_some_and(|e| e >= 1.0), "{t:?}");
    }
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("test accuracy"),
        "retrained: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
