//! `nascent report`: (re)writes the HTML report of a study from its storage.

use super::StudyArgs;
use crate::study::{FinalModel, stored_settings, write_report};
use anyhow::Result;
use std::path::PathBuf;

/// Arguments of `nascent report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub study: StudyArgs,
    /// Output folder (default: the study's `out`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let (storage, record) = args.study.open()?;
    let settings = stored_settings(&record)?;
    let final_model: Option<FinalModel> = storage
        .artefacts(record.id)?
        .into_iter()
        .rfind(|a| a.path.file_name().is_some_and(|n| n == "final.json"))
        .and_then(|a| std::fs::read_to_string(&a.path).ok())
        .and_then(|s| serde_json::from_str(&s).ok());
    let out = args.out.unwrap_or_else(|| settings.out.clone());
    let path = write_report(&*storage, &record, &settings, final_model.as_ref(), &out)?;
    println!("{}", path.display());
    Ok(())
}
