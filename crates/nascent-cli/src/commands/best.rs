//! `nascent best`: the best trials of a study (and the retrained final model, if any).

use super::StudyArgs;
use anyhow::Result;
use nascent_core::TrialState;
use nascent_core::storage::TrialRecord;

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
    let trials = storage.trials(record.id, 0)?;
    let objective = &record.objectives[0];
    let feasible = |t: &TrialRecord| {
        record
            .constraints
            .iter()
            .all(|c| c.violation(&t.metrics) == 0.0)
    };
    let mut done: Vec<&TrialRecord> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && feasible(t))
        .filter(|t| t.values.first().is_some_and(|v| v.is_finite()))
        .collect();
    done.sort_by(|a, b| {
        objective
            .utility(b.values[0])
            .total_cmp(&objective.utility(a.values[0]))
            .then(a.number.cmp(&b.number))
    });
    done.truncate(args.top.max(1));
    let final_model = storage
        .artefacts(record.id)?
        .into_iter()
        .rfind(|a| a.path.file_name().is_some_and(|n| n == "final.json"))
        .and_then(|a| std::fs::read_to_string(&a.path).ok())
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok());
    if done.is_empty() {
        anyhow::bail!(
            "study `{}` has no completed feasible trial yet ({} trials)",
            record.name,
            trials.len()
        );
    }
    if args.json {
        let v = serde_json::json!({
            "study": record.name,
            "objective": objective,
            "best": done,
            "final": final_model,
        });
        println!("{v}");
        return Ok(());
    }
    for t in &done {
        println!(
            "#{:<4} {}={:.4}  {}",
            t.number, objective.metric, t.values[0], t.arch
        );
    }
    if let Some(f) = final_model {
        println!("final model: {f}");
    }
    Ok(())
}
