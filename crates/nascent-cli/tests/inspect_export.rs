//! `nascent inspect` and `nascent export` end to end: results on stdout, exit 1 with the
//! problem named for genotypes the space cannot build.

use std::process::{Command, Output};

const ALL_CONV3: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
const DARTS_V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

fn nascent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nascent"))
        .args(args)
        .output()
        .expect("runs nascent")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

#[test]
fn inspect_prints_the_benchmark_and_published_sizes() {
    let v = json(&nascent(&[
        "inspect", "--space", "nb201", "--arch", ALL_CONV3, "--json",
    ]));
    assert_eq!(v["params"], 1_531_546);
    assert_eq!(v["flops"], 220_119_680);
    let v = json(&nascent(&[
        "inspect",
        "--space",
        "darts",
        "--arch",
        DARTS_V2,
        "--auxiliary",
        "--json",
    ]));
    assert_eq!(v["params"], 3_825_768);
    assert_eq!(v["inference_params"], 3_349_342);
    assert!(
        v["arch"]
            .as_str()
            .unwrap()
            .contains("normal_concat=range(2, 6)")
    );
    let v = json(&nascent(&[
        "inspect",
        "--space",
        "chain",
        "--arch",
        "conv_3x3-16-s1,res_block_3x3-32-s2",
        "--input",
        "1x28x28",
        "--classes",
        "5",
        "--json",
    ]));
    assert_eq!(v["input"], serde_json::json!([1, 28, 28]));
    assert!(v["params"].as_u64().unwrap() > 0);
}

#[test]
fn inspect_measure_reports_latency_and_memory() {
    let v = json(&nascent(&[
        "inspect",
        "--space",
        "nb201",
        "--arch",
        ALL_CONV3,
        "--input",
        "1x28x28",
        "--cells",
        "1",
        "--measure",
        "--batch",
        "8",
        "--repeats",
        "2",
        "--device",
        "cpu",
        "--json",
    ]));
    assert_eq!(v["latency"]["device"], "cpu");
    assert!(v["latency"]["batch1_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(v["memory"]["batch"], 8);
    assert!(
        v["memory"]["peak_bytes"].as_u64().unwrap() > v["memory"]["model_bytes"].as_u64().unwrap()
    );
}

#[test]
fn unbuildable_genotypes_exit_1_naming_the_problem() {
    for (space, arch, input, want) in [
        (
            "nb201",
            "|nor_conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "3x32x32",
            "unknown op `nor_conv_9x9`",
        ),
        ("nb201", ALL_CONV3, "3x1x1", "does not fit a 1x1 input"),
        (
            "darts",
            "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 7)], reduce=[])",
            "3x32x32",
            "reads node 7",
        ),
        (
            "darts",
            "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=[2], reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])",
            "3x32x3",
            "square",
        ),
        (
            "chain",
            "conv_3x3-16-s1,mlp_3x3-3-s1",
            "3x32x32",
            "layer 1 (`mlp_3x3-3-s1`)",
        ),
        (
            "chain",
            "conv_4x4-16-s1",
            "3x32x32",
            "kernel 4 is not one of",
        ),
    ] {
        let out = nascent(&[
            "inspect", "--space", space, "--arch", arch, "--input", input, "--json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{space} {arch}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{space} {arch}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn export_writes_the_files_and_reloads_weights() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("inspect_export");
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("fresh");
    let a = [
        "--space", "nb201", "--arch", ALL_CONV3, "--input", "1x28x28", "--cells", "1",
    ];
    let mut args = vec!["export"];
    args.extend(a);
    args.extend(["--out", out.to_str().unwrap(), "--json"]);
    let v = json(&nascent(&args));
    assert_eq!(v["weights_from"], "fresh (seed 0)");
    for f in [
        "genotype.txt",
        "genotype.json",
        "model.safetensors",
        "model.onnx",
    ] {
        assert!(out.join(f).metadata().unwrap().len() > 0, "{f}");
    }
    // Re-exported from the saved weights: the same ONNX bytes.
    let again = dir.join("again");
    let w = out.join("model.safetensors");
    let mut args = vec!["export"];
    args.extend(a);
    args.extend([
        "--out",
        again.to_str().unwrap(),
        "--weights",
        w.to_str().unwrap(),
        "--seed",
        "5",
    ]);
    let o = nascent(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(out.join("model.onnx")).unwrap(),
        std::fs::read(again.join("model.onnx")).unwrap()
    );
    // Weights of another shape: exit 1 naming the file.
    let mut args = vec![
        "export", "--space", "nb201", "--arch", ALL_CONV3, "--input", "1x28x28", "--cells", "2",
    ];
    args.extend([
        "--out",
        again.to_str().unwrap(),
        "--weights",
        w.to_str().unwrap(),
    ]);
    let o = nascent(&args);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("model.safetensors") && err.contains("do not fit"),
        "{err}"
    );
}
