//! `nascent best`: the best trials of a study (and the retrained final model, if any).

use super::StudyArgs;
use anyhow::Result;
use nascent_core::storage::TrialRecord;
use nascent_study::{BestOutput, SCHEMA_VERSION};

/// Arguments of `nascent best`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub study: StudyArgs,
    /// How many of the best to list.
    #[arg(short = 'k', long, default_value_t = 1)]
    pub top: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let (storage, record) = args.study.open()?;
    let objective = &record.objectives[0];
    let feasible = |t: &TrialRecord| {
        record
            .constraints
            .iter()
            .all(|c| c.violation(&t.metrics) == 0.0)
    };
    // Pages of the storage's ranking (an index in SQLite and PostgreSQL), so the cost does not
    // grow with the study: only infeasible trials ranked above the best feasible are skipped.
    let top = args.top.max(1);
    let page = (top as u64 * 4).max(64);
    let mut best: Vec<TrialRecord> = Vec::new();
    let mut offset = 0;
    loop {
        let ranked = storage.ranked_trials(record.id, offset, page)?;
        let n = ranked.len() as u64;
        best.extend(ranked.into_iter().filter(|t| feasible(t)));
        offset += n;
        if best.len() >= top || n < page {
            break;
        }
    }
    best.truncate(top);
    if best.is_empty() {
        let counts = storage.counts(record.id)?;
        anyhow::bail!(
            "study `{}` has no completed feasible trial yet ({} trials)",
            record.name,
            counts.total
        );
    }
    let final_model = nascent_study::stored_final_model(&*storage, &record)?;
    if args.json {
        crate::output::print_json(&BestOutput {
            schema_version: SCHEMA_VERSION,
            study: record.name.clone(),
            objective: objective.clone(),
            best,
            final_model,
        })?;
        return Ok(());
    }
    for t in &best {
        println!(
            "#{:<4} {}={:.4}  {}",
            t.number, objective.metric, t.values[0], t.arch
        );
    }
    if let Some(f) = final_model {
        println!(
            "final model: {} retrained {} epochs, test accuracy {}, {:.0} parameters{}",
            f.arch,
            f.epochs,
            f.test_accuracy
                .map_or("n/a".to_string(), |a| format!("{a:.2}%")),
            f.params,
            nascent_study::observer::ensemble_note(f.members.len())
        );
    }
    Ok(())
}
