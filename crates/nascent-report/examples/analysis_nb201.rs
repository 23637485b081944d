//! Validates the analysis of what matters on the full NAS-Bench-201 table.
//!
//! ```sh
//! cargo run --release -p nascent-report --example analysis_nb201 -- \
//!     --data ../shared/data/nb201/nb201.csv --out bench/results
//! ```
//!
//! The truth: the exact functional ANOVA main effects over all 15,625 cells of the CIFAR-10
//! validation accuracy after the 12-epoch schedule (the objective the search sees): the share
//! of variance of each of the 6 edges and the marginal mean of each of the 30 (edge, operation)
//! pairs. The estimate: the analysis of a 200-trial regularized-evolution run (the strategy's
//! default settings) on that objective, for seeds 0 to 4 (the acceptance seeds) and for
//! `--extra-seeds` further seeds (100, 101, ...) that show how the result varies. Every run is
//! analysed twice, by the default surrogate (an additive ridge model plus trees on its
//! residuals, per bootstrap resample) and by the baseline (plain random-forest trees), and
//! 200-trial random-search runs are analysed as the unbiased reference.
//!
//! Writes `OUT/analysis_nb201.json` (every number, per seed and as means; the truth; the full
//! analysis of seed 0), the marginal-effect and importance charts of seed 0's analysis
//! (`analysis_nb201_marginals.svg`, `analysis_nb201_importance.svg`) and the truth's
//! marginal-effect chart (`analysis_nb201_truth_marginals.svg`). Progress goes to stderr.

#[path = "../tests/validation/mod.rs"]
mod validation;

use nascent_bench::Nb201Table;
use nascent_report::analysis::{
    AnalysisConfig, ForestConfig, analyze, importance_svg, marginal_svg, marginal_svg_with_truth,
};
use nascent_strategy::StrategyKind;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use validation::{Column, Score, score, search_run, table_observations, truth, truth_analysis};

struct Args {
    data: PathBuf,
    out: PathBuf,
    seeds: u64,
    extra_seeds: u64,
    trials: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        data: "../shared/data/nb201/nb201.csv".into(),
        out: "bench/results".into(),
        seeds: 5,
        extra_seeds: 20,
        trials: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => a.data = value()?.into(),
            "--out" => a.out = value()?.into(),
            "--seeds" => a.seeds = value()?.parse().map_err(|e| format!("--seeds: {e}"))?,
            "--extra-seeds" => {
                a.extra_seeds = value()?
                    .parse()
                    .map_err(|e| format!("--extra-seeds: {e}"))?
            }
            "--trials" => a.trials = value()?.parse().map_err(|e| format!("--trials: {e}"))?,
            other => {
                return Err(format!(
                    "unknown argument `{other}` (known: --data, --out, --seeds, --extra-seeds, --trials)"
                ));
            }
        }
    }
    if a.trials < 20 {
        return Err("--trials must be at least 20".into());
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// One analysed run: the default estimator's and the baseline's scores.
struct SeedResult {
    seed: u64,
    hybrid: Score,
    hybrid_vs_test200: Score,
    baseline: Score,
    oob_r2: Option<f64>,
    seconds: f64,
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// How many runs missed the table's best op on each edge, by what they marked instead.
fn misses_by_marking(rs: &[SeedResult]) -> Value {
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for (edge, set) in rs.iter().flat_map(|r| &r.hybrid.misses) {
        *tally
            .entry(format!("{edge}: {}", set.join(", ")))
            .or_default() += 1;
    }
    json!(tally)
}

fn run(args: &Args) -> Result<(), String> {
    let table = Arc::new(Nb201Table::load(&args.data).map_err(|e| e.to_string())?);
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let cells = table_observations(&table, Column::Val12);
    let t = truth(&table, Column::Val12);
    let t200 = truth(&table, Column::Test200);
    let cfg = AnalysisConfig::default();
    let baseline = AnalysisConfig {
        forest: ForestConfig {
            additive_ridge: None,
            ..ForestConfig::default()
        },
        ..AnalysisConfig::default()
    };
    let analyse = |kind: StrategyKind, seed: u64| -> Result<SeedResult, String> {
        let start = Instant::now();
        let obs = search_run(table.clone(), kind, seed, args.trials);
        let a = analyze(&obs, &cfg).map_err(|e| e.to_string())?;
        let seconds = start.elapsed().as_secs_f64();
        let b = analyze(&obs, &baseline).map_err(|e| e.to_string())?;
        Ok(SeedResult {
            seed,
            hybrid: score(&a, &t),
            hybrid_vs_test200: score(&a, &t200),
            baseline: score(&b, &t),
            oob_r2: a.surrogate.oob_r2,
            seconds,
        })
    };
    let mut main = Vec::new();
    for seed in 0..args.seeds {
        let r = analyse(StrategyKind::Evolution, seed)?;
        eprintln!(
            "evolution seed {seed}: importance Spearman {:.3}, marginal Spearman {:.3} (baseline forest {:.3}, {:.3}); best op agrees on {}/6 edges, the table's best op in the best set on {}/6 (mean set size {:.2}); {:.2} s",
            r.hybrid.importance,
            r.hybrid.marginals,
            r.baseline.importance,
            r.baseline.marginals,
            r.hybrid.best_ops_agree,
            r.hybrid.best_in_set,
            r.hybrid.best_set_size,
            r.seconds
        );
        main.push(r);
    }
    let mut extra = Vec::new();
    for seed in 100..100 + args.extra_seeds {
        extra.push(analyse(StrategyKind::Evolution, seed)?);
    }
    let mut random = Vec::new();
    for seed in 0..args.seeds {
        random.push(analyse(StrategyKind::Random, seed)?);
    }
    let summary = |rs: &[SeedResult]| -> Value {
        json!({
            "runs": rs.len(),
            "importance_spearman": mean(rs.iter().map(|r| r.hybrid.importance)),
            "marginal_spearman": mean(rs.iter().map(|r| r.hybrid.marginals)),
            "best_ops_agree": mean(rs.iter().map(|r| r.hybrid.best_ops_agree as f64)),
            "best_in_set": mean(rs.iter().map(|r| r.hybrid.best_in_set as f64)),
            "best_in_set_min": rs.iter().map(|r| r.hybrid.best_in_set).min().unwrap_or(0),
            "runs_best_in_set_on_all_6": rs.iter().filter(|r| r.hybrid.best_in_set == 6).count(),
            "best_set_size": mean(rs.iter().map(|r| r.hybrid.best_set_size)),
            "marginal_interval_coverage": mean(rs.iter().map(|r| r.hybrid.marginal_coverage)),
            "gap_interval_coverage": mean(rs.iter().map(|r| r.hybrid.gap_coverage)),
            "misses_by_marking": misses_by_marking(rs),
            "baseline_importance_spearman": mean(rs.iter().map(|r| r.baseline.importance)),
            "baseline_marginal_spearman": mean(rs.iter().map(|r| r.baseline.marginals)),
            "importance_spearman_vs_test200": mean(rs.iter().map(|r| r.hybrid_vs_test200.importance)),
            "marginal_spearman_vs_test200": mean(rs.iter().map(|r| r.hybrid_vs_test200.marginals)),
        })
    };
    let per_seed: Vec<Value> = main
        .iter()
        .map(|r| {
            json!({
                "seed": r.seed,
                "importance_spearman": r.hybrid.importance,
                "marginal_spearman": r.hybrid.marginals,
                "best_ops_agree": r.hybrid.best_ops_agree,
                "best_in_set": r.hybrid.best_in_set,
                "best_set_size": r.hybrid.best_set_size,
                "marginal_interval_coverage": r.hybrid.marginal_coverage,
                "gap_interval_coverage": r.hybrid.gap_coverage,
                "misses": r.hybrid.misses.iter().map(|(edge, set)| json!({"edge": edge, "marked": set})).collect::<Vec<_>>(),
                "baseline_importance_spearman": r.baseline.importance,
                "baseline_marginal_spearman": r.baseline.marginals,
                "importance_spearman_vs_test200": r.hybrid_vs_test200.importance,
                "marginal_spearman_vs_test200": r.hybrid_vs_test200.marginals,
                "oob_r2": r.oob_r2,
                "seconds": r.seconds,
            })
        })
        .collect();
    let truth_json = |d: &nascent_report::analysis::Decomposition| -> Value {
        let fr = d.fractions();
        json!({
            "mean": d.mean,
            "variance": d.variance,
            "main_effects_share": fr.iter().sum::<f64>(),
            "importance": cells.dimensions.iter().zip(&fr).map(|(dim, f)| json!({"edge": dim.name, "share": f})).collect::<Vec<_>>(),
            "marginals": cells.dimensions.iter().enumerate().flat_map(|(e, dim)| {
                dim.options().unwrap_or(&[]).iter().enumerate().map(move |(o, op)| json!({"edge": dim.name, "op": op, "mean": d.marginals[e][o]})).collect::<Vec<_>>()
            }).collect::<Vec<_>>(),
        })
    };
    let seed0 = analyze(
        &search_run(table.clone(), StrategyKind::Evolution, 0, args.trials),
        &cfg,
    )
    .map_err(|e| e.to_string())?;
    let out = json!({
        "schema_version": 1,
        "data": args.data.display().to_string(),
        "objective": "cifar10valid_val_12ep (CIFAR-10 validation accuracy after 12 epochs), the search's signal",
        "truth": "exact functional-ANOVA main effects over all 15,625 cells (uniform), of the objective",
        "interval": cfg.interval,
        "interval_coverage": "the share of the intervals (marginal effects; paired gaps to an edge's marked best op, which decide the best set) that hold the true value, at the analysis' nominal level",
        "search": format!("regularized evolution, default settings (population 30, tournament 10), {} trials", args.trials),
        "estimator": "nascent-report analysis defaults: 128 members, each an additive ridge model (its lambda drawn log-uniformly from 0.01 to 10000) with the cell's structure features (connected, a path with a convolution; lambda 0.1) plus a tree on its residuals, fitted to a bootstrap resample; exact fANOVA over the uniform space per member, the edges' main effects from the additive part alone (the trees add interactions there: TreeEffects::ExceptCellEdges); importance: main-effect shares of the members' mean prediction; marginal effects: means over members",
        "baseline": "the same with plain random-forest trees (additive_ridge: null)",
        "acceptance": {
            "seeds": main.iter().map(|r| r.seed).collect::<Vec<_>>(),
            "importance_spearman_mean": mean(main.iter().map(|r| r.hybrid.importance)),
            "marginal_spearman_mean": mean(main.iter().map(|r| r.hybrid.marginals)),
            "threshold": 0.8,
        },
        "per_seed": per_seed,
        "mean_seeds_0_4": summary(&main),
        "mean_extra_seeds": json!({"seeds": format!("100-{}", 99 + args.extra_seeds), "result": summary(&extra)}),
        "random_search_reference": summary(&random),
        "truth_val12": truth_json(&t),
        "truth_test200": truth_json(&t200),
        "analysis_seed0": seed0,
        "machine": "2-core CPU (run at nice 19 beside a training job)",
    });
    let json_path = args.out.join("analysis_nb201.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&out).map_err(|e| e.to_string())? + "\n",
    )
    .map_err(|e| format!("{}: {e}", json_path.display()))?;
    let write = |name: &str, svg: String| -> Result<(), String> {
        let p = args.out.join(name);
        std::fs::write(&p, svg).map_err(|e| format!("{}: {e}", p.display()))
    };
    write(
        "analysis_nb201_marginals.svg",
        marginal_svg_with_truth(&seed0, &truth_analysis(&t, &cells)),
    )?;
    write("analysis_nb201_importance.svg", importance_svg(&seed0))?;
    write(
        "analysis_nb201_truth_marginals.svg",
        marginal_svg(&truth_analysis(&t, &cells)),
    )?;
    let s = summary(&main);
    let x = summary(&extra);
    println!(
        "seeds 0-{}: importance Spearman {:.3}, marginal Spearman {:.3} (baseline {:.3}, {:.3}), the table's best op in the best set on all 6 edges in {} runs; {} extra seeds: {:.3}, {:.3} (baseline {:.3}, {:.3}), all 6 in {} runs; random search: {:.3}, {:.3}",
        args.seeds.saturating_sub(1),
        s["importance_spearman"].as_f64().unwrap_or(f64::NAN),
        s["marginal_spearman"].as_f64().unwrap_or(f64::NAN),
        s["baseline_importance_spearman"]
            .as_f64()
            .unwrap_or(f64::NAN),
        s["baseline_marginal_spearman"].as_f64().unwrap_or(f64::NAN),
        s["runs_best_in_set_on_all_6"],
        args.extra_seeds,
        x["importance_spearman"].as_f64().unwrap_or(f64::NAN),
        x["marginal_spearman"].as_f64().unwrap_or(f64::NAN),
        x["baseline_importance_spearman"]
            .as_f64()
            .unwrap_or(f64::NAN),
        x["baseline_marginal_spearman"].as_f64().unwrap_or(f64::NAN),
        x["runs_best_in_set_on_all_6"],
        random.iter().map(|r| r.hybrid.importance).sum::<f64>() / random.len().max(1) as f64,
        random.iter().map(|r| r.hybrid.marginals).sum::<f64>() / random.len().max(1) as f64,
    );
    eprintln!("wrote {}", json_path.display());
    Ok(())
}
