//! The model-based cheap signals of `bench/fmnist_signals` (issue 10, item 2): reads the
//! measured cells (`cells.jsonl`, one JSON object a line, written by `bench/fmnist_signals/run.py`)
//! and writes, one JSON object a line on stdout, per cell:
//!
//! - `curve_extrapolated`: nascent's learning-curve extrapolation (every [`CurveModel`], the
//!   curve pruner's method) of the 3-epoch low-fidelity curve to epoch `--target` (12);
//! - `surrogate_loo`: the surrogate's prediction of the cell's final test accuracy when it is
//!   fitted to every other cell of the sample (nascent-strategy's Gaussian process on the
//!   NAS-Bench-201 path encoding, the study surrogate's model; leave-one-out).
//!
//! ```sh
//! cargo run --release -p nascent-estimate --example signals_fit -- bench/results/fmnist_signals/cells.jsonl
//! ```

use nascent_core::{Encoding, SearchSpace};
use nascent_estimate::curve::{CurveModel, extrapolate};
use nascent_space::Nb201Space;
use nascent_strategy::GaussianProcess;
use serde_json::{Value, json};

fn main() {
    if let Err(e) = run() {
        eprintln!("signals_fit: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: signals_fit CELLS.jsonl [--target EPOCH]")?;
    let mut target = 12u32;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--target" => {
                target = args
                    .next()
                    .ok_or("--target needs a value")?
                    .parse()
                    .map_err(|e| format!("--target: {e}"))?
            }
            other => return Err(format!("unknown argument `{other}` (known: --target)")),
        }
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let cells: Vec<Value> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("{path}:{}: {e}", i + 1)))
        .collect::<Result<_, _>>()?;
    let space = Nb201Space::new();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        let arch = c["arch"]
            .as_str()
            .ok_or(format!("{path}: cell {} has no `arch`", i + 1))?;
        let a = space
            .parse(arch)
            .map_err(|e| format!("{path}: cell {}: {e}", i + 1))?;
        x.push(
            space
                .encode(&a, Encoding::Path)
                .ok_or("the NB201 space has no path encoding")?,
        );
        y.push(c["final"]["test_accuracy"].as_f64().ok_or(format!(
            "{path}: cell {} has no `final.test_accuracy`",
            i + 1
        ))?);
    }
    for (i, c) in cells.iter().enumerate() {
        let curve: Vec<(u32, f64)> = c["curve_8c_q"]
            .as_array()
            .map(|pts| {
                pts.iter()
                    .filter_map(|p| Some((p[0].as_u64()? as u32, p[1].as_f64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let extrapolated =
            extrapolate(&curve, target, &CurveModel::ALL, Some(100.0)).map(|e| e.mean);
        let (xs, ys): (Vec<Vec<f64>>, Vec<f64>) = x
            .iter()
            .zip(&y)
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, (a, b))| (a.clone(), *b))
            .unzip();
        let mean = ys.iter().sum::<f64>() / ys.len().max(1) as f64;
        let sd = (ys.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / ys.len().max(1) as f64)
            .sqrt()
            .max(1e-9);
        let z: Vec<f64> = ys.iter().map(|v| (v - mean) / sd).collect();
        let loo = GaussianProcess::fit(&xs, &z).map(|gp| mean + sd * gp.predict(&x[i]).0);
        println!(
            "{}",
            json!({"arch": c["arch"], "curve_extrapolated": extrapolated, "surrogate_loo": loo, "target": target})
        );
    }
    Ok(())
}
