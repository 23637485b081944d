//! `nascent compare` end to end with a tiny budget on a small generated IDX dataset: every arm
//! adds its line to the results file, a later run adds more, the summary (table, JSON, SVG)
//! covers them all, the study's report shows the references, and bad arguments exit 1 naming
//! the problem.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_nascent");

fn write_idx(path: &Path, dims: &[u32], data: &[u8]) {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

/// Three classes: a bright band in the k-th third of the rows, under noise.
fn write_dataset(dir: &Path, side: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 140) as u8
    };
    for (split, n) in [("train", 600usize), ("t10k", 150)] {
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

/// Writes the small dataset and a study file over it in `dir`: NB201 cells at 4 channels, one
/// cell per stage, 3 trials or 15 seconds, one retraining epoch; `head` comes after `[space]`
/// (strategy, evaluator, objectives), the other two go into `[fidelity]` and `[retrain]`.
fn tiny_study(dir: &Path, name: &str, head: &str, fidelity: &str, retrain: &str) -> PathBuf {
    let data = dir.join("data");
    write_dataset(&data, 12);
    let file = dir.join(format!("{name}.toml"));
    let text = format!(
        r#"name = "{name}"
[space]
kind = "nb201"
{head}
[data]
name = "{}"
[train]
batch_size = 32
threads = 1
[fidelity]
cells = 1
channels = 4
{fidelity}
[budget]
minutes = 0.25
trials = 3
[retrain]
minutes = 0.1
epochs = 1
export = false
{retrain}
"#,
        data.display()
    );
    std::fs::write(&file, text).unwrap();
    file
}

fn nascent(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("runs nascent")
}

#[test]
fn compare_runs_every_arm_and_adds_to_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let file = tiny_study(
        dir.path(),
        "tiny",
        "[strategy]\nkind = \"evolution\"\npopulation = 2\nsample_size = 1",
        "epochs = 1",
        "",
    );
    let out = dir.path().join("cmp");
    let f = file.to_str().unwrap();
    let o = out.to_str().unwrap();
    let r = nascent(
        &[
            "compare",
            f,
            "--seeds",
            "0",
            "--out",
            o,
            "--reference-channels",
            "4",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{stderr}");
    let lines = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let arms: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["arm"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(arms, ["study", "random", "ref:resnet", "ref:conv3x3"]);
    let stdout = String::from_utf8_lossy(&r.stdout);
    for a in &arms {
        assert!(stdout.contains(a.as_str()), "{stdout}");
    }
    assert!(stdout.contains("study ahead by (same seeds)"), "{stdout}");
    assert!(stdout.contains("(n=1)"), "{stdout}");
    assert!(out.join("summary.svg").exists());
    let report = std::fs::read_to_string(out.join("study-seed0/report.html")).unwrap();
    assert!(
        report.contains("ref:resnet (same budget, seed 0)"),
        "the report shows the reference"
    );
    // A second run adds a seed of one arm; the summary covers both runs.
    let r = nascent(
        &[
            "compare",
            f,
            "--arm",
            "reference",
            "--seeds",
            "1",
            "--out",
            o,
            "--reference-arch",
            "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",
            "--reference-channels",
            "4",
            "--json",
        ],
        dir.path(),
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(summary["schema_version"], 1);
    let resnet = summary["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["arm"] == "ref:resnet")
        .unwrap();
    assert_eq!(resnet["runs"], 2);
    // The study's lead over it counts the one seed both ran.
    assert_eq!(resnet["study_lead"]["seeds"], serde_json::json!([0]));
    assert!(resnet["study_lead"]["mean"].is_number());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
}

/// Issue 10: the random arm of a study ranked by a zero-cost proxy is random search that
/// trains what it samples (random sampling ranked by the same proxy would be the study itself),
/// retrained as the study retrains.
#[test]
fn the_random_arm_of_a_proxy_study_trains_its_trials() {
    let dir = tempfile::tempdir().unwrap();
    let file = tiny_study(
        dir.path(),
        "proxy",
        "[strategy]\nkind = \"random\"\n[evaluator]\nkind = \"proxy\"\nproxies = [\"synflow\"]\n\
         batch = 8\n[[objectives]]\nmetric = \"synflow\"\ndirection = \"maximize\"",
        "",
        "channels = 4\ncells = 1",
    );
    let out = dir.path().join("cmp");
    let r = nascent(
        &[
            "compare",
            file.to_str().unwrap(),
            "--arm",
            "study,random",
            "--seeds",
            "0",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let runs: Vec<serde_json::Value> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let evaluator = |arm: &str| {
        let run = runs.iter().find(|r| r["arm"] == arm).unwrap();
        assert_eq!(run["notes"]["strategy"], "random", "{run}");
        run["notes"]["evaluator"].as_str().unwrap().to_string()
    };
    assert_eq!(evaluator("study"), "proxy");
    assert_eq!(evaluator("random"), "low_fidelity");
}

#[test]
fn compare_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let r = nascent(&["compare", "--arm", "grid"], dir.path());
    assert_eq!(r.status.code(), Some(1));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(e.contains("`--arm`") && e.contains("`grid`"), "{e}");
    let r = nascent(
        &[
            "compare",
            "--reference-arch",
            "|conv~0|",
            "--arm",
            "reference",
        ],
        dir.path(),
    );
    assert_eq!(r.status.code(), Some(1));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(e.contains("--reference-arch"), "{e}");
    let r = nascent(
        &["compare", "--summary-only", "--out", "nothing"],
        dir.path(),
    );
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("holds no runs"));
}
