//! `nascent report`: (re)writes the HTML report of a study from its storage.

use super::StudyArgs;
use anyhow::Result;
use nascent_study::{stored_final_model, stored_settings, view_of, write_report};
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
    let final_model = stored_final_model(&*storage, &record)?;
    let out = args.out.unwrap_or_else(|| settings.out.clone());
    let view = view_of(&crate::backend::torch(), &record.space)?;
    let path = write_report(
        &*storage,
        &record,
        &settings,
        final_model.as_ref(),
        &out,
        view,
    )?;
    println!("{}", path.display());
    Ok(())
}
