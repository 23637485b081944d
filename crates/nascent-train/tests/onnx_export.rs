//! ONNX export checked with a real runtime: the model nascent writes is loaded by
//! onnxruntime (after onnx's full checker) and gives nascent's outputs within 1e-4.
//!
//! onnxruntime and onnx come from the PyTorch virtual environment that `scripts/env.sh`
//! sets up (`$NASCENT_TORCH_VENV`, default `~/.cache/nascent/torch-venv`).

use nascent_core::SearchSpace;
use nascent_space::{ChainArch, DartsGenotype, Nb201Space};
use nascent_train::export::{export_model, load_weights, write_onnx};
use nascent_train::{
    Builder, ChainBuilder, DartsBuilder, Model, Nb201Builder, NetSpec, TrainError,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::{Device, Kind, Tensor};

/// The Python of the PyTorch virtual environment, or `None` (with a message; a failure under
/// CI) when onnxruntime or onnx is not importable by it.
fn onnx_python() -> Option<PathBuf> {
    let venv = std::env::var_os("NASCENT_TORCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/nascent/torch-venv")
        });
    let py = venv.join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import onnxruntime, onnx"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        nascent_core::testing::skip(format_args!(
            "onnxruntime and onnx are not importable by {}: run `source scripts/env.sh` (it \
             installs them)",
            py.display()
        ));
        return None;
    }
    Some(py)
}

fn write_f32(path: &Path, t: &Tensor) {
    let v = Vec::<f32>::try_from(&t.detach().contiguous().flatten(0, -1)).unwrap();
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// Runs training-mode passes so the running statistics are those of real activations
/// (fresh statistics, mean 0 and variance 1, let activations grow without bound).
fn calibrate(m: &Model) {
    let s = &m.spec;
    tch::no_grad(|| {
        for _ in 0..12 {
            let x = Tensor::randn(
                [4, s.in_channels, s.resolution, s.resolution],
                (Kind::Float, Device::Cpu),
            );
            let _ = m.net.forward(&x, true);
        }
    });
}

/// Exports `m`, runs it in onnxruntime and returns the largest absolute difference.
fn check(py: &Path, m: &Model, label: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let s = &m.spec;
    let shape = [3, s.in_channels, s.resolution, s.resolution];
    let x = Tensor::randn(shape, (Kind::Float, Device::Cpu));
    let y = tch::no_grad(|| m.forward(&x, false));
    let onnx = dir.path().join("model.onnx");
    write_onnx(m, &onnx, label).unwrap();
    write_f32(&dir.path().join("x.f32"), &x);
    write_f32(&dir.path().join("y.f32"), &y);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/onnx_check.py");
    let out = Command::new(py)
        .arg(script)
        .arg(&onnx)
        .arg(dir.path().join("x.f32"))
        .arg(dir.path().join("y.f32"))
        .arg(
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(","),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{label}: onnxruntime failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{label}: {report}");
    assert_eq!(report["shape"], serde_json::json!([3, s.classes]));
    let diff = report["max_abs_diff"].as_f64().unwrap();
    assert!(
        report["max_abs"].as_f64().unwrap() > 1e-3,
        "{label}: outputs are all ~0"
    );
    assert!(diff <= 1e-4, "{label}: ONNX differs from nascent by {diff}");
    diff
}

fn model<A>(b: &dyn Builder<A>, arch: &A, spec: NetSpec) -> Model {
    tch::manual_seed(7);
    let m = Model::new(b, arch, spec, Device::Cpu).unwrap();
    calibrate(&m);
    m
}

fn spec(in_c: i64, res: i64, classes: i64, c: Option<i64>, n: Option<i64>) -> NetSpec {
    NetSpec {
        in_channels: in_c,
        resolution: res,
        classes,
        channels: c,
        cells: n,
    }
}

#[test]
fn nb201_networks_run_in_onnxruntime() {
    let Some(py) = onnx_python() else {
        return;
    };
    let s = Nb201Space::new();
    for (arch, sp) in [
        // All five ops, CIFAR shape, benchmark width, N = 1.
        (
            "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|",
            spec(3, 32, 10, None, Some(1)),
        ),
        // The benchmark's best CIFAR-10 cell, Fashion-MNIST shape.
        (
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
            spec(1, 28, 10, Some(8), Some(2)),
        ),
        // An odd side (30 -> 15 -> 8: the shortcut pools with ceil mode).
        (
            "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|",
            spec(3, 30, 7, Some(8), Some(1)),
        ),
        // An output node of zeros (exported as zeros).
        (
            "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|none~0|none~1|none~2|",
            spec(3, 16, 10, Some(8), Some(1)),
        ),
    ] {
        let arch = s.parse(arch).unwrap();
        let m = model(&Nb201Builder, &arch, sp);
        check(&py, &m, &format!("nb201 {arch}"));
    }
}

#[test]
fn darts_networks_run_in_onnxruntime() {
    let Some(py) = onnx_python() else {
        return;
    };
    let v2 = DartsGenotype::darts_v2();
    // With the auxiliary head (not exported) and drop-path (identity in inference).
    let m = model(
        &DartsBuilder::new(true),
        &v2,
        spec(3, 32, 10, Some(8), Some(5)),
    );
    check(&py, &m, "darts DARTS_V2 C=8 5 cells");
    // Every DARTS op, including none and 5x5 kernels, on an odd side after reductions.
    let all: DartsGenotype = "Genotype(normal=[('sep_conv_5x5', 0), ('dil_conv_5x5', 1), ('avg_pool_3x3', 0), ('none', 2), ('sep_conv_3x3', 3), ('max_pool_3x3', 1), ('dil_conv_3x3', 2), ('skip_connect', 4)], normal_concat=range(2, 6), reduce=[('sep_conv_5x5', 0), ('avg_pool_3x3', 1), ('dil_conv_5x5', 0), ('none', 1), ('skip_connect', 1), ('conv_7x1_1x7', 2), ('sep_conv_7x7', 3), ('max_pool_3x3', 0)], reduce_concat=[2, 4, 5])".parse().unwrap();
    let m = model(
        &DartsBuilder::new(false),
        &all,
        spec(1, 28, 10, Some(6), Some(4)),
    );
    check(&py, &m, "darts all ops, 1x28x28");
}

#[test]
fn chain_networks_with_attention_run_in_onnxruntime() {
    let Some(py) = onnx_python() else {
        return;
    };
    let arch: ChainArch = "conv_3x3-16-s2,sep_conv_5x5-32-s1,dil_conv_3x3-32-s2,res_block_3x3-32-s1,res_block_5x5-64-s2,attention_3x3-64-s1"
        .parse()
        .unwrap();
    let m = model(&ChainBuilder, &arch, spec(3, 32, 10, None, None));
    check(&py, &m, "chain with attention");
}

#[test]
fn export_writes_every_file_and_weights_round_trip() {
    let s = Nb201Space::new();
    let arch = s.from_index(6111).unwrap();
    let sp = spec(1, 28, 10, Some(8), Some(1));
    let m = model(&Nb201Builder, &arch, sp.clone());
    let dir = tempfile::tempdir().unwrap();
    let files = export_model(&m, "nb201", &arch.to_string(), dir.path()).unwrap();
    let txt = std::fs::read_to_string(&files.genotype_txt).unwrap();
    assert_eq!(txt.trim(), arch.to_string());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files.genotype_json).unwrap()).unwrap();
    assert_eq!(json["space"], "nb201");
    assert_eq!(json["params"].as_u64().unwrap() as i64, m.num_params());
    assert!(files.onnx.metadata().unwrap().len() > 4 * m.num_params() as u64);
    // Fresh weights differ; loading the saved ones gives the same outputs.
    tch::manual_seed(99);
    let fresh = Model::new(&Nb201Builder, &arch, sp.clone(), Device::Cpu).unwrap();
    let x = Tensor::randn([2, 1, 28, 28], (Kind::Float, Device::Cpu));
    let y = tch::no_grad(|| m.forward(&x, false));
    assert!(!tch::no_grad(|| fresh.forward(&x, false)).allclose(&y, 1e-5, 1e-5, false));
    load_weights(&fresh, &files.weights).unwrap();
    assert!(tch::no_grad(|| fresh.forward(&x, false)).allclose(&y, 1e-6, 1e-6, false));
    // Weights of another architecture give a clear error naming the file.
    let other = s
        .parse("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|")
        .unwrap();
    let wrong = Model::new(&Nb201Builder, &other, sp, Device::Cpu).unwrap();
    let e = load_weights(&wrong, &files.weights).unwrap_err();
    assert!(matches!(e, TrainError::Core(_)));
    let e = e.to_string();
    assert!(
        e.contains("model.safetensors") && e.contains("do not fit this architecture"),
        "{e}"
    );
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not safetensors").unwrap();
    let e = load_weights(&m, &junk).unwrap_err().to_string();
    assert!(
        e.contains("junk.safetensors") && e.contains("not a safetensors file"),
        "{e}"
    );
}
