//! `nascent resume --storage URL --study NAME`: continues a study after a crash, a kill or
//! Ctrl-C, with the settings stored in it (completed trials are kept, interrupted ones re-run).

use super::open_existing;
use crate::layered::Layered;
use crate::study::{RunOptions, run as run_study};
use anyhow::Result;
use nascent_study::{Backend, StudySettings, stored_settings};

/// Arguments of `nascent resume`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The storage URL of the study (`nascent.db`, `sqlite:///path.db`).
    #[arg(long, default_value = "nascent.db")]
    pub storage: String,
    /// The study's name.
    #[arg(long, default_value = "default")]
    pub study: String,
    /// Override a stored setting, e.g. `--set budget.minutes=60` to extend the budget.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Search only: no retraining, export or report.
    #[arg(long)]
    pub search_only: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let storage = open_existing(&args.storage)?;
    let record = storage.study(&args.study)?;
    let stored = stored_settings(&record)?;
    drop(storage);
    let mut layered = Layered::from_settings(&stored, format!("study `{}`", record.name))?;
    layered.apply_sets(&args.sets)?;
    let mut settings: StudySettings = layered.parse()?;
    // The study lives where it was found, whatever URL it was created with.
    settings.storage = args.storage.clone();
    settings.name = record.name.clone();
    let backend = crate::backend::torch();
    let config = settings
        .check(&backend.catalog())
        .map_err(|e| anyhow::anyhow!("{}: {e}", layered.origin))?;
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
