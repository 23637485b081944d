//! `nascent bench`: replays search strategies on a tabular benchmark over many seeds.
//!
//! `nascent bench nb201 --data nb201.csv --dataset cifar10 --strategy random,evolution
//! --queries 100 --runs 500` prints a table (mean ± std of the final 200-epoch test accuracy of
//! the architecture with the best 12-epoch validation accuracy, mean queries until it was found,
//! seconds) on stdout, or with `--json` one JSON object per strategy per line; `--plot FILE.svg`
//! draws best-so-far accuracy against queries for all strategies. Progress goes to stderr.

use anyhow::{Context, Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use nascent_bench::{
    BenchObjective, BenchSpec, Dataset, LatencyTable, Nb201Bench, Nb201Table, Stat, Summary,
    WarmPool,
};
use nascent_report::plot::{LineChart, RunCurve};
use nascent_space::Nb201Space;
use nascent_strategy::{ScoreFile, StrategyConfig, StrategyKind};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `nascent bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(clap::Subcommand, Debug)]
enum Bench {
    /// NAS-Bench-201: search on the 12-epoch validation accuracy, report the 200-epoch test
    /// accuracy of the architecture with the best signal.
    Nb201(Nb201Args),
}

/// Arguments of `nascent bench nb201`.
#[derive(clap::Args, Debug)]
struct Nb201Args {
    /// The NAS-Bench-201 table (nb201.csv).
    #[arg(long, value_name = "PATH")]
    data: PathBuf,
    /// The latency table (nb201_latency_ms.csv), needed for `latency:DEVICE` objectives.
    #[arg(long, value_name = "PATH")]
    latency: Option<PathBuf>,
    /// The data set: cifar10, cifar100 or imagenet16.
    #[arg(long, default_value = "cifar10")]
    dataset: Dataset,
    /// Strategies, comma separated: random, evolution, local, reinforce, gp, bananas, nsga2;
    /// `NAME+warm` (or `NAME+warm(K)`) warm-starts one from --proxy-scores: its first K
    /// queries (default --warm-k) are the best-scored cells of the pool.
    #[arg(long, value_name = "NAME[,NAME...]", default_value = "random")]
    strategy: String,
    /// Proxy scores of a pool of cells for `+warm` strategies: the CSV that `nascent proxies
    /// --out` writes (an `arch` column and score columns).
    #[arg(long, value_name = "FILE.csv")]
    proxy_scores: Option<PathBuf>,
    /// The score column of --proxy-scores that ranks the pool (higher is better); several
    /// joined by `+` rank by the sum of their ranks (synflow+naswot).
    #[arg(long, default_value = "synflow")]
    proxy: String,
    /// Queries a `+warm` strategy takes from the pool before the strategy takes over.
    #[arg(long, default_value_t = 10)]
    warm_k: usize,
    /// Queries (distinct architectures evaluated) per run.
    #[arg(long, default_value_t = 100)]
    queries: usize,
    /// Independent runs per strategy.
    #[arg(long, default_value_t = 100)]
    runs: usize,
    /// The seed every run's seed is derived from.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Objectives, comma separated: accuracy, latency:DEVICE, params, flops. With more than
    /// one, the hypervolume reached (as a fraction of the true front's) is reported too.
    #[arg(long, default_value = "accuracy")]
    objectives: String,
    /// A strategy setting, STRATEGY.KEY=VALUE (for example evolution.population=50);
    /// repeatable.
    #[arg(long = "set", value_name = "STRATEGY.KEY=VALUE")]
    set: Vec<String>,
    /// One JSON object per strategy per line on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Writes the best-so-far curves of all strategies to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    match args.bench {
        Bench::Nb201(a) => nb201(a),
    }
}

/// Splits `NAME+warm` or `NAME+warm(K)` into the name and the warm start's K (`default_k` when
/// not given); a plain name has no warm start.
fn split_warm(item: &str, default_k: usize) -> Result<(&str, Option<usize>)> {
    let item = item.trim();
    let Some((name, rest)) = item.split_once('+') else {
        return Ok((item, None));
    };
    let rest = rest.trim();
    let k = if rest.eq_ignore_ascii_case("warm") {
        default_k
    } else if let Some(inner) = rest.strip_prefix("warm(").and_then(|r| r.strip_suffix(')')) {
        let inner = inner.trim();
        let inner = inner.strip_prefix("k=").unwrap_or(inner);
        inner.trim().parse::<usize>().map_err(|_| {
            anyhow!("--strategy `{item}`: expected NAME+warm(K) with K a whole number")
        })?
    } else {
        return Err(anyhow!(
            "--strategy `{item}`: expected NAME, NAME+warm or NAME+warm(K)"
        ));
    };
    if k == 0 {
        return Err(anyhow!(
            "--strategy `{item}`: the warm start's K must be at least 1"
        ));
    }
    Ok((name.trim(), Some(k)))
}

/// The strategies to run with their settings, `--set` applied (to every entry of its kind).
fn configs(strategy: &str, sets: &[String]) -> Result<Vec<StrategyConfig>> {
    let kinds = StrategyKind::parse_list(strategy)?;
    let mut configs: Vec<StrategyConfig> = kinds
        .iter()
        .map(|&k| StrategyConfig::default_for(k))
        .collect();
    for s in sets {
        let (target, value) = s
            .split_once('=')
            .ok_or_else(|| anyhow!("--set `{s}`: expected STRATEGY.KEY=VALUE"))?;
        let (name, key) = target
            .split_once('.')
            .ok_or_else(|| anyhow!("--set `{s}`: expected STRATEGY.KEY=VALUE"))?;
        let kind: StrategyKind = name.parse()?;
        let mut found = false;
        for config in configs.iter_mut().filter(|c| c.kind() == kind) {
            *config = config.with_setting(key.trim(), value.trim())?;
            found = true;
        }
        if !found {
            return Err(anyhow!(
                "--set `{s}`: `{kind}` is not among --strategy {strategy}"
            ));
        }
    }
    Ok(configs)
}

fn nb201(a: Nb201Args) -> Result<()> {
    let entries: Vec<(&str, Option<usize>)> = a
        .strategy
        .split(',')
        .filter(|i| !i.trim().is_empty())
        .map(|i| split_warm(i, a.warm_k))
        .collect::<Result<_>>()?;
    let names: Vec<&str> = entries.iter().map(|e| e.0).collect();
    let configs = configs(&names.join(","), &a.set)?;
    let pool = if entries.iter().any(|e| e.1.is_some()) {
        let path = a.proxy_scores.as_ref().ok_or_else(|| {
            anyhow!(
                "a `+warm` strategy needs --proxy-scores FILE.csv (from `nascent proxies --out`)"
            )
        })?;
        let file = ScoreFile::load(path)?;
        let pool = file.ranked_archs(&Nb201Space::new(), &a.proxy)?;
        log::info!(
            "warm start: {} cells of {} ranked by {}",
            pool.len(),
            path.display(),
            a.proxy
        );
        Some(Arc::new(pool))
    } else {
        None
    };
    let table = Nb201Table::load(&a.data)?;
    let latency = a.latency.as_ref().map(LatencyTable::load).transpose()?;
    let objectives = BenchObjective::parse_list(&a.objectives, latency.as_ref())?;
    let spec = BenchSpec {
        dataset: a.dataset,
        queries: a.queries,
        runs: a.runs,
        seed: a.seed,
        objectives,
    };
    spec.check()?;
    let bench = Nb201Bench::new(Arc::new(table), latency.map(Arc::new));
    log::info!(
        "NAS-Bench-201 {}: {} strategies x {} runs x {} queries",
        spec.dataset.title(),
        configs.len(),
        spec.runs,
        spec.queries
    );
    let mut summaries = Vec::new();
    for (config, entry) in configs.iter().zip(&entries) {
        let warm = entry.1.map(|k| WarmPool {
            candidates: pool.clone().expect("loaded for warm strategies"),
            k,
        });
        let bar = ProgressBar::new(spec.runs as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} runs {elapsed}")
                .context("progress bar template")?
                .progress_chars("=> "),
        );
        bar.set_prefix(match warm {
            Some(_) => format!("{}+warm", config.kind().name()),
            None => config.kind().name().to_string(),
        });
        let s = bench.run_warm(&spec, config, warm.as_ref(), &|| bar.inc(1))?;
        bar.finish_and_clear();
        log::info!(
            "{}: {:.2} ± {:.2} in {:.2} s",
            s.strategy,
            s.test_accuracy.mean,
            s.test_accuracy.std,
            s.seconds
        );
        if a.json {
            let line = serde_json::to_string(&json(&s)).context("encoding the result")?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}").context("writing to stdout")?;
            out.flush().context("writing to stdout")?;
        }
        summaries.push(s);
    }
    if !a.json {
        print!("{}", render_table(&spec, &summaries));
    }
    if let Some(path) = &a.plot {
        std::fs::write(path, plot(&spec, &summaries).to_svg())
            .with_context(|| format!("writing the plot to {}", path.display()))?;
        log::info!("plot written to {}", path.display());
    }
    Ok(())
}

/// The JSON object of one strategy (fields in this order).
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    schema_version: u32,
    strategy: &'a str,
    dataset: Dataset,
    objectives: &'a [String],
    queries: usize,
    runs: usize,
    seed: u64,
    test_accuracy: Stat,
    val_accuracy: Stat,
    queries_to_best: Stat,
    #[serde(skip_serializing_if = "Option::is_none")]
    hypervolume_fraction: Option<Stat>,
    seconds: f64,
    best_so_far: Curve,
}

/// Best-so-far test accuracy after each query, over runs.
#[derive(serde::Serialize)]
struct Curve {
    mean: Vec<f64>,
    std: Vec<f64>,
}

fn json(s: &Summary) -> JsonLine<'_> {
    JsonLine {
        schema_version: nascent_study::SCHEMA_VERSION,
        strategy: &s.strategy,
        dataset: s.dataset,
        objectives: &s.objectives,
        queries: s.queries,
        runs: s.runs,
        seed: s.seed,
        test_accuracy: s.test_accuracy,
        val_accuracy: s.val_accuracy,
        queries_to_best: s.queries_to_best,
        hypervolume_fraction: s.hypervolume,
        seconds: s.seconds,
        best_so_far: Curve {
            mean: s.curve.iter().map(|c| c.mean).collect(),
            std: s.curve.iter().map(|c| c.std).collect(),
        },
    }
}

/// The human-readable table.
fn render_table(spec: &BenchSpec, summaries: &[Summary]) -> String {
    let d = spec.dataset;
    let mut out = format!(
        "NAS-Bench-201 {}: {} queries, {} runs, seed {}\nsearch signal `{}`; reported: `{}` of \
         the queried architecture with the best signal\n\n",
        d.title(),
        spec.queries,
        spec.runs,
        spec.seed,
        d.signal_column(),
        d.test_column()
    );
    let mo = spec.is_multi_objective();
    let w = summaries
        .iter()
        .map(|s| s.strategy.chars().count())
        .max()
        .unwrap_or(0)
        .max(10);
    out += &format!(
        "{:<w$}  {:>17}  {:>17}  {:>15}  {:>8}",
        "strategy", "test acc (%)", "val acc 12ep (%)", "queries to best", "seconds"
    );
    if mo {
        out += &format!("  {:>17}", "hypervolume");
    }
    out += "\n";
    for s in summaries {
        out += &format!(
            "{:<w$}  {:>17}  {:>17}  {:>15.1}  {:>8.2}",
            s.strategy,
            format!("{:.2} ± {:.2}", s.test_accuracy.mean, s.test_accuracy.std),
            format!("{:.2} ± {:.2}", s.val_accuracy.mean, s.val_accuracy.std),
            s.queries_to_best.mean,
            s.seconds
        );
        if let Some(hv) = s.hypervolume {
            out += &format!("  {:>17}", format!("{:.4} ± {:.4}", hv.mean, hv.std));
        }
        out += "\n";
    }
    if mo {
        out += &format!(
            "\nhypervolume: fraction of the true front's, objectives ({}) normalised to [0, 1] \
             by their range over the whole table, reference point {} in each\n",
            summaries
                .first()
                .map(|s| s.objectives.join(", "))
                .unwrap_or_default(),
            nascent_bench::HV_REFERENCE
        );
    }
    out
}

/// Best-so-far test accuracy against queries, one line per strategy: the mean over runs with
/// its 95 % confidence band, the y axis fitted to the lines.
fn plot(spec: &BenchSpec, summaries: &[Summary]) -> LineChart {
    let curves: Vec<RunCurve> = summaries
        .iter()
        .map(|s| RunCurve {
            name: s.strategy.clone(),
            mean: s.curve.iter().map(|c| c.mean).collect(),
            std: s.curve.iter().map(|c| c.std).collect(),
            runs: s.runs,
        })
        .collect();
    LineChart::best_so_far_over_runs(
        format!(
            "NAS-Bench-201 {}: best so far, {} runs, 95 % CI bands",
            spec.dataset.title(),
            spec.runs
        ),
        "test accuracy (%) of the best-signal architecture",
        &curves,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_apply_to_the_named_strategy() {
        let c = configs(
            "random,evolution",
            &[
                "evolution.population=40".into(),
                "evolution.sample_size=8".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        let StrategyConfig::Evolution(e) = &c[1] else {
            panic!("{c:?}")
        };
        assert_eq!((e.population, e.sample_size), (40, 8));
        let e = configs("random", &["gp.top=3".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`gp` is not among"), "{e}");
        let e = configs("random", &["nonsense".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("STRATEGY.KEY=VALUE"), "{e}");
        let e = configs("random,annealing", &[]).unwrap_err().to_string();
        assert!(e.contains("unknown strategy `annealing`"), "{e}");
    }

    #[test]
    fn warm_entries_parse() {
        assert_eq!(split_warm("evolution", 10).unwrap(), ("evolution", None));
        assert_eq!(
            split_warm(" evolution+warm ", 10).unwrap(),
            ("evolution", Some(10))
        );
        assert_eq!(split_warm("re+warm(5)", 10).unwrap(), ("re", Some(5)));
        assert_eq!(split_warm("re+warm(k=7)", 10).unwrap(), ("re", Some(7)));
        assert!(split_warm("re+cold", 10).is_err());
        assert!(split_warm("re+warm(x)", 10).is_err());
        assert!(split_warm("re+warm(0)", 10).is_err());
        let c = configs("evolution,evolution", &["evolution.population=40".into()]).unwrap();
        assert!(
            c.iter()
                .all(|c| matches!(c, StrategyConfig::Evolution(e) if e.population == 40))
        );
    }
}
