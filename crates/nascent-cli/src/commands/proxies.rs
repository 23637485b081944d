//! `nascent proxies`: zero-cost proxies of sampled NAS-Bench-201 architectures and their rank
//! correlation with the benchmark's accuracy.
//!
//! ```text
//! nascent proxies --space nb201 --data ../shared/data/cifar10-jpg/cifar10-jpg.tar.gz \
//!     --archs 1000 --batch 64 [--proxies all] [--table ../shared/data/nb201/nb201.csv] \
//!     [--table-dataset cifar10] [--seed 0] [--threads 1] [--out scores.csv] [--json]
//! ```
//!
//! For each of `--archs` architectures drawn uniformly without replacement (from the seed), the
//! full-size network (C = 16, N = 5 unless `--channels`/`--cells` say otherwise) is built and
//! every proxy computed on one minibatch of `--batch` training images. A progress bar goes to
//! stderr; stdout gets, per proxy, Spearman's rank correlation with the table's 200-epoch test
//! accuracy (with `--table`) and the mean seconds per architecture (a table, or one JSON object
//! with `--json`). `--out` writes one CSV row per architecture (benchmark index, arch string,
//! every proxy, the table's accuracy), written as the rows are computed, the file
//! `nascent bench nb201 --proxy-scores` reads.

use anyhow::{Context, Result, anyhow};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use nascent_bench::{Dataset as BenchDataset, Nb201Table};
use nascent_core::{Rng, SearchSpace, derive_seed};
use nascent_oneshot::data::load_images;
use nascent_oneshot::proxies::{Proxy, ProxyBatch, ProxyComputer, spearman};
use nascent_space::nb201::NB201_SIZE;
use nascent_space::{Nb201Arch, Nb201Space};
use nascent_train::{Builder, Nb201Builder, NetSpec};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The space whose architectures are scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Space {
    /// The NAS-Bench-201 cell.
    Nb201,
}

/// Arguments of `nascent proxies`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The space.
    #[arg(long, value_enum, default_value = "nb201")]
    pub space: Space,
    /// A dataset name (cifar10) or a path (image folder or .tar.gz, CIFAR batches).
    #[arg(long)]
    pub data: String,
    /// Architectures sampled (uniformly, without replacement).
    #[arg(long, default_value_t = 100)]
    pub archs: usize,
    /// Images in the minibatch the proxies see.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Proxies, comma separated: synflow, naswot, zico, meco, jacob_cov, snip, grad_norm,
    /// fisher, grasp, params, flops, or all.
    #[arg(long, default_value = "all")]
    pub proxies: String,
    /// The NAS-Bench-201 table (nb201.csv): rank correlation with its accuracy.
    #[arg(long, value_name = "PATH")]
    pub table: Option<PathBuf>,
    /// The table's data set whose 200-epoch test accuracy is correlated: cifar10, cifar100,
    /// imagenet16.
    #[arg(long, default_value = "cifar10")]
    pub table_dataset: BenchDataset,
    /// Seed of the sample of architectures, of the minibatch and of the initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Torch threads (default: libtorch's choice).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Initial width C (default 16).
    #[arg(long)]
    pub channels: Option<i64>,
    /// Cells per stage N (default 5).
    #[arg(long)]
    pub cells: Option<i64>,
    /// Writes the scores of every architecture to this CSV file.
    #[arg(long, value_name = "FILE.csv")]
    pub out: Option<PathBuf>,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One architecture's row.
struct Row {
    index: usize,
    arch: Nb201Arch,
    scores: Vec<f64>,
    seconds: Vec<f64>,
    accuracy: Option<f64>,
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let proxies = Proxy::parse_list(&a.proxies)?;
    if a.archs == 0 || a.archs > NB201_SIZE {
        return Err(anyhow!(
            "--archs must be between 1 and {NB201_SIZE}, got {}",
            a.archs
        ));
    }
    if a.batch < 2 {
        return Err(anyhow!("--batch must be at least 2, got {}", a.batch));
    }
    if let Some(t) = a.threads {
        if t == 0 {
            return Err(anyhow!("--threads must be at least 1"));
        }
        tch::set_num_threads(t as i32);
    }
    let table = a
        .table
        .as_ref()
        .map(|p| Nb201Table::load(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?;
    let data = load_images(&a.data, Some(a.batch))
        .with_context(|| format!("reading the images of --data {}", a.data))?;
    let batch = ProxyBatch::sample(&data.train, a.batch, derive_seed(a.seed, 1))?;
    let [c, h, w] = batch.shape;
    if h != w {
        return Err(anyhow!(
            "--data {}: images are {h}x{w}; the NB201 network needs square images",
            a.data
        ));
    }
    let spec = NetSpec {
        in_channels: c as i64,
        resolution: h as i64,
        classes: batch.classes as i64,
        channels: a.channels,
        cells: a.cells,
    };
    let builder: Arc<dyn Builder<Nb201Arch>> = Arc::new(Nb201Builder);
    let computer = ProxyComputer::new(builder, spec, batch, proxies.clone(), a.seed)?;
    let space = Nb201Space::new();
    let mut indices = Rng::new(a.seed).sample_indices(NB201_SIZE, a.archs);
    indices.sort_unstable();
    log::info!(
        "{} proxies of {} NB201 architectures, batch {}, network C={} N={}",
        proxies.len(),
        a.archs,
        a.batch,
        a.channels.unwrap_or(16),
        a.cells.unwrap_or(5)
    );
    let bar = ProgressBar::new(a.archs as u64);
    bar.set_style(
        ProgressStyle::with_template("proxies [{bar:30}] {pos}/{len} archs {elapsed} (eta {eta})")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    let start = Instant::now();
    // Rows go to --out as they are computed (a long run stopped early keeps what it did).
    let mut csv = match &a.out {
        Some(path) => Some(
            CsvOut::create(path, &proxies)
                .with_context(|| format!("writing the scores to {}", path.display()))?,
        ),
        None => None,
    };
    let mut rows = Vec::with_capacity(indices.len());
    for &index in &indices {
        let arch = space
            .from_index(index as u64)
            .ok_or_else(|| anyhow!("no NB201 architecture with index {index}"))?;
        let s = computer
            .compute(&arch)
            .with_context(|| format!("proxies of {arch} (index {index})"))?;
        let row = Row {
            index,
            arch,
            scores: proxies.iter().map(|p| s.scores[p]).collect(),
            seconds: proxies.iter().map(|p| s.seconds[p]).collect(),
            accuracy: table
                .as_ref()
                .map(|t| t.rows()[index].test(a.table_dataset)),
        };
        if let (Some(csv), Some(path)) = (csv.as_mut(), &a.out) {
            csv.row(&row)
                .with_context(|| format!("writing the scores to {}", path.display()))?;
        }
        rows.push(row);
        bar.inc(1);
        if bar.is_hidden() && rows.len() % 50 == 0 {
            log::info!(
                "{}/{} architectures ({:.1} s)",
                rows.len(),
                a.archs,
                start.elapsed().as_secs_f64()
            );
        }
    }
    bar.finish_and_clear();
    let total = start.elapsed().as_secs_f64();
    if let Some(path) = &a.out {
        log::info!("scores written to {}", path.display());
    }
    let n = rows.len() as f64;
    let results: Vec<(Proxy, Option<f64>, f64)> = proxies
        .iter()
        .enumerate()
        .map(|(k, &p)| {
            let rho = table.as_ref().and_then(|_| {
                let x: Vec<f64> = rows.iter().map(|r| r.scores[k]).collect();
                let y: Vec<f64> = rows
                    .iter()
                    .map(|r| r.accuracy.unwrap_or(f64::NAN))
                    .collect();
                spearman(&x, &y)
            });
            let secs = rows.iter().map(|r| r.seconds[k]).sum::<f64>() / n;
            (p, rho, secs)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if a.json {
        let obj = crate::output::ProxiesOutput {
            schema_version: nascent_study::SCHEMA_VERSION,
            space: "nb201".into(),
            data: a.data.clone(),
            archs: rows.len(),
            batch: a.batch,
            seed: a.seed,
            channels: a.channels.unwrap_or(16),
            cells: a.cells.unwrap_or(5),
            table_dataset: table.as_ref().map(|_| a.table_dataset.name().to_string()),
            proxies: results
                .iter()
                .map(|(p, rho, secs)| crate::output::ProxyResult {
                    proxy: p.name().to_string(),
                    spearman: *rho,
                    seconds_per_arch: *secs,
                })
                .collect(),
            seconds_per_arch: total / n,
            seconds: total,
        };
        writeln!(out, "{}", serde_json::to_string(&obj)?).context("writing to stdout")?;
    } else {
        writeln!(
            out,
            "NAS-Bench-201: {} architectures, batch {}, seed {}, network C={} N={}{}",
            rows.len(),
            a.batch,
            a.seed,
            a.channels.unwrap_or(16),
            a.cells.unwrap_or(5),
            if table.is_some() {
                format!(
                    "; Spearman with the 200-epoch {} test accuracy",
                    a.table_dataset.title()
                )
            } else {
                String::new()
            }
        )
        .context("writing to stdout")?;
        writeln!(out, "{:<10}  {:>9}  {:>10}", "proxy", "spearman", "s/arch")
            .context("writing to stdout")?;
        for (p, rho, secs) in &results {
            let rho = rho.map_or("-".to_string(), |r| format!("{r:.3}"));
            writeln!(out, "{:<10}  {:>9}  {:>10.3}", p.name(), rho, secs)
                .context("writing to stdout")?;
        }
        writeln!(
            out,
            "all proxies: {:.3} s/arch ({:.1} s in all)",
            total / n,
            total
        )
        .context("writing to stdout")?;
    }
    Ok(())
}

/// The `--out` file, one row per architecture, each flushed when written.
struct CsvOut {
    f: std::io::BufWriter<std::fs::File>,
}

impl CsvOut {
    fn create(path: &PathBuf, proxies: &[Proxy]) -> std::io::Result<Self> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        write!(f, "index,arch")?;
        for p in proxies {
            write!(f, ",{}", p.name())?;
        }
        writeln!(f, ",test_accuracy")?;
        f.flush()?;
        Ok(CsvOut { f })
    }

    fn row(&mut self, r: &Row) -> std::io::Result<()> {
        write!(self.f, "{},{}", r.index, r.arch)?;
        for s in &r.scores {
            write!(self.f, ",{s}")?;
        }
        match r.accuracy {
            Some(acc) => writeln!(self.f, ",{acc}")?,
            None => writeln!(self.f, ",")?,
        }
        self.f.flush()
    }
}
