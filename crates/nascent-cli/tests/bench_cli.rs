//! `nascent bench nb201` through the binary: bad input exits 1 with a message that names the
//! problem (never a panic), and a small real run prints the table, the JSON lines and the plot.

use std::path::PathBuf;
use std::process::{Command, Output};

/// `<shared data>/<rel>` as text, or `None` with a message when absent (a failure under CI).
fn shared(rel: &str) -> Option<String> {
    nascent_core::testing::shared_data(rel).map(|p| p.display().to_string())
}

fn nascent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nascent"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs with `args` and checks exit code 1 and that stderr mentions every `needle`.
fn fails_with(args: &[&str], needles: &[&str]) {
    let out = nascent(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: `{n}` not in: {err}");
    }
    assert!(out.stdout.is_empty(), "nothing on stdout on error");
}

/// A scratch file unique to this test process.
fn scratch(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nascent-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn bench(data: &str, extra: &[&str]) -> Vec<String> {
    // Small defaults for --runs and --queries, unless the test gives its own (clap refuses an
    // option given twice).
    let mut v: Vec<String> = ["bench", "nb201", "--data", data]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (flag, value) in [("--runs", "3"), ("--queries", "10")] {
        if !extra.iter().any(|e| e.split('=').next() == Some(flag)) {
            v.push(flag.to_string());
            v.push(value.to_string());
        }
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn bad_files_exit_1_naming_file_and_line() {
    fails_with(
        &refs(&bench("/nonexistent/nb201.csv", &[])),
        &["/nonexistent/nb201.csv", "No such file"],
    );
    let header = "index,arch_str,cifar10_test_200ep,cifar100_test_200ep,imagenet16_test_200ep,\
cifar10_test_12ep,cifar10valid_val_12ep,cifar100_test_12ep,cifar100_val_12ep,imagenet16_test_12ep,\
imagenet16_val_12ep\n";
    let row0 = "0,|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|";
    let malformed = scratch("malformed.csv", &format!("{header}{row0},1,2,3\n"));
    fails_with(
        &refs(&bench(malformed.to_str().unwrap(), &[])),
        &["malformed.csv:2:", "malformed row"],
    );
    let unknown_op = scratch(
        "unknown_op.csv",
        &format!(
            "{header}{},1,2,3,4,5,6,7,8,9\n",
            row0.replace("nor_conv_1x1~0|skip", "nor_conv_5x5~0|skip")
        ),
    );
    fails_with(
        &refs(&bench(unknown_op.to_str().unwrap(), &[])),
        &["unknown_op.csv:2:", "unknown op `nor_conv_5x5`"],
    );
    let short = scratch("short.csv", &format!("{header}{row0},1,2,3,4,5,6,7,8,9\n"));
    fails_with(
        &refs(&bench(short.to_str().unwrap(), &[])),
        &["short.csv", "wrong row count: 1 data rows"],
    );
    let bad_number = scratch(
        "bad_number.csv",
        &format!("{header}{row0},1,2,x,4,5,6,7,8,9\n"),
    );
    fails_with(
        &refs(&bench(bad_number.to_str().unwrap(), &[])),
        &["bad_number.csv:2:", "`imagenet16_test_200ep` is `x`"],
    );
}

#[test]
fn bad_arguments_exit_1_naming_the_problem() {
    // These fail before the table is read, so they need no data.
    let data = "/nonexistent/nb201.csv";
    fails_with(
        &refs(&bench(data, &["--strategy", "random,annealing"])),
        &[
            "unknown strategy `annealing`",
            "random, evolution, local, reinforce, gp, bananas, nsga2",
        ],
    );
    fails_with(
        &refs(&bench(data, &["--queries", "many"])),
        &["--queries", "many"],
    );
    fails_with(&refs(&bench(data, &["--runs=-3"])), &["--runs"]);
    fails_with(
        &refs(&bench(data, &["--dataset", "mnist"])),
        &["unknown dataset `mnist`"],
    );
    fails_with(
        &refs(&bench(
            data,
            &["--strategy", "evolution", "--set", "evolution.population=0"],
        )),
        &["evolution.population"],
    );
    fails_with(&["bench", "nb201"], &["--data"]);
}

#[test]
fn bad_numbers_with_real_data_exit_1() {
    let Some(data) = shared("nb201/nb201.csv") else {
        return;
    };
    fails_with(&refs(&bench(&data, &["--queries", "0"])), &["`queries`"]);
    fails_with(&refs(&bench(&data, &["--runs", "0"])), &["`runs`"]);
    fails_with(
        &refs(&bench(&data, &["--objectives", "accuracy,latency:pixel3"])),
        &["--latency"],
    );
    let Some(latency) = shared("nb201/nb201_latency_ms.csv") else {
        return;
    };
    fails_with(
        &refs(&bench(
            &data,
            &[
                "--latency",
                &latency,
                "--objectives",
                "accuracy,latency:tpu",
            ],
        )),
        &["unknown device `tpu`", "pixel3"],
    );
}

#[test]
fn a_small_run_prints_table_json_and_plot() {
    let Some(data) = shared("nb201/nb201.csv") else {
        return;
    };
    let out = nascent(&refs(&bench(&data, &["--strategy", "random,evolution"])));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("NAS-Bench-201 CIFAR-10: 10 queries, 3 runs"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("random ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("evolution ")), "{text}");

    let plot = std::env::temp_dir().join(format!("nascent-bench-cli-{}.svg", std::process::id()));
    let out = nascent(&refs(&bench(
        &data,
        &[
            "--strategy",
            "local,gp",
            "--dataset",
            "cifar100",
            "--json",
            "--plot",
            plot.to_str().unwrap(),
            "--seed",
            "7",
        ],
    )));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (v, name) in lines.iter().zip(["local", "gp"]) {
        assert_eq!(v["strategy"], name);
        assert_eq!(v["dataset"], "cifar100");
        assert_eq!(v["queries"], 10);
        assert_eq!(v["runs"], 3);
        assert_eq!(v["seed"], 7);
        assert!(v["test_accuracy"]["mean"].as_f64().unwrap() > 50.0);
        assert!(v["test_accuracy"]["std"].as_f64().unwrap() >= 0.0);
        assert!(v["seconds"].as_f64().unwrap() >= 0.0);
        assert_eq!(v["best_so_far"]["mean"].as_array().unwrap().len(), 10);
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("local") && svg.contains("gp"));
    std::fs::remove_file(plot).ok();
}
