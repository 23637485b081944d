//! `nascent search [STUDY.toml] [--set key=value]...`: runs a study (the default one without a
//! file): a resumable search on real data, then the best architecture retrained, exported and
//! explained in an HTML report.

use crate::layered::{Layered, env_overrides};
use crate::study::{RunOptions, run as run_study};
use anyhow::Result;
use nascent_study::{Backend, StudySettings};
use std::path::PathBuf;

/// Arguments of `nascent search`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The study file (TOML); without one, the default study runs: every NB201 cell ranked by
    /// the synflow proxy (3 minutes at most), the best retrained at 16 channels for the rest
    /// of 30 minutes on Fashion-MNIST, storage ./nascent.db (`--dry-run` prints it whole).
    pub file: Option<PathBuf>,
    /// Override a field of the study file, e.g. `--set strategy.population=50` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Search only: no retraining, export or report.
    #[arg(long)]
    pub search_only: bool,
    /// Check the settings, print them as TOML, and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// Create the study in its storage (with its settings, so `nascent worker` can join it by
    /// name) and run no trial: for clusters where only workers run.
    #[arg(long, conflicts_with = "dry_run")]
    pub no_run: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let layered = Layered::load(args.file.as_deref(), &env_overrides(), &args.sets)?;
    let mut settings: StudySettings = layered.parse()?;
    if let Some(file) = &args.file {
        settings.resolve_paths(file);
    }
    let backend = crate::backend::torch();
    let config = settings
        .check(&backend.catalog())
        .map_err(|e| anyhow::anyhow!("{}: {e}", layered.origin))?;
    if args.dry_run {
        print!("{}", toml::to_string_pretty(config.settings())?);
        return Ok(());
    }
    if args.no_run {
        let storage = config.storage.clone();
        let outcome = nascent_study::Study::new(config, &backend)
            .create_only(true)
            .run()?;
        if args.json {
            return crate::output::print_json(&nascent_study::SearchOutput::from(&outcome));
        }
        println!(
            "study `{}` is ready in {storage} ({} trials so far); join it with\n  nascent worker --storage {storage} --study {}",
            outcome.study, outcome.summary.counts.total, outcome.study
        );
        return Ok(());
    }
    run_study(
        config,
        &backend,
        &RunOptions {
            json: args.json,
            search_only: args.search_only,
            result_to_stderr: false,
        },
    )
    .map(drop)
}
