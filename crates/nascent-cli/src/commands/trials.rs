//! `nascent trials`: the trials of a study, as a table or JSON lines.

use super::{StudyArgs, fmt_value};
use anyhow::Result;

/// Arguments of `nascent trials`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub study: StudyArgs,
    /// One JSON object per trial per line.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let (storage, record) = args.study.open()?;
    let trials = storage.trials(record.id, 0)?;
    if args.json {
        for t in &trials {
            crate::output::print_json(&nascent_study::TrialLine {
                schema_version: nascent_study::SCHEMA_VERSION,
                trial: t.clone(),
            })?;
        }
        return Ok(());
    }
    let metrics: Vec<&str> = record
        .objectives
        .iter()
        .map(|o| o.metric.as_str())
        .collect();
    print!("{:>5}  {:<9}", "#", "state");
    for m in &metrics {
        print!("  {m:>14}");
    }
    println!("  {:>8}  {:>7}  arch", "seconds", "epochs");
    for t in &trials {
        print!("{:>5}  {:<9}", t.number, t.state_label());
        for m in &metrics {
            print!("  {:>14}", fmt_value(t.metrics.get(*m).copied()));
        }
        println!("  {:>8.1}  {:>7}  {}", t.cost_seconds, t.epochs, t.arch);
        if let Some(r) = &t.reason {
            println!("{:>18}{r}", "");
        }
    }
    Ok(())
}
