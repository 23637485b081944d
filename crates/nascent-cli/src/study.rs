//! Runs a study from the command line: the library's driver with the libtorch backend, a
//! progress bar, the Ctrl-C handler, and the result printed.

use crate::progress::StudyProgress;
use anyhow::Result;
use nascent_study::{Study, StudyBudget, StudyConfig, StudyOutcome};

/// What the command line asks of a run besides the settings.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Print the result as one JSON object.
    pub json: bool,
    /// Skip retraining, export and the final report (search only).
    pub search_only: bool,
    /// Print the result to stderr, keeping stdout for the caller (`nascent compare`).
    pub result_to_stderr: bool,
}

/// The progress bar of a study's search.
fn progress_of(config: &StudyConfig) -> StudyProgress {
    StudyProgress::new(
        &StudyBudget {
            trials: config.budget.trials,
            seconds: config.search_seconds(),
            epochs: config.budget.epochs,
        },
        config.trial_budget().epochs,
    )
}

/// Runs (or resumes) the study of `config`, prints what it did and gives back its outcome.
pub fn run(
    config: StudyConfig,
    backend: &impl nascent_study::Backend,
    opts: &RunOptions,
) -> Result<StudyOutcome> {
    let progress = progress_of(&config);
    let outcome = Study::new(config, backend)
        .observer(&progress)
        .stop(crate::signal::ctrlc()?)
        .search_only(opts.search_only)
        .run()?;
    if outcome.interrupted() {
        eprintln!(
            "interrupted: {} trials kept; continue with `nascent resume --storage {} --study {}`",
            outcome.summary.counts.finished(),
            outcome.storage,
            outcome.study
        );
        return Ok(outcome);
    }
    if opts.result_to_stderr {
        eprintln!(
            "{}: best {}, final test accuracy {}, {:.1} min",
            outcome.study,
            outcome
                .best
                .as_ref()
                .map_or("-".into(), |b| format!("#{} {}", b.trial, b.arch)),
            outcome
                .final_model
                .as_ref()
                .and_then(|f| f.test_accuracy)
                .map_or("-".into(), |a| format!("{a:.2}%")),
            outcome.seconds / 60.0
        );
    } else {
        print_outcome(&outcome, opts.json);
    }
    Ok(outcome)
}

fn print_outcome(o: &StudyOutcome, json: bool) {
    let c = &o.summary.counts;
    if json {
        // Printing plain data cannot fail but for a closed stdout, which ends the process.
        let _ = crate::output::print_json(&nascent_study::SearchOutput::from(o));
        return;
    }
    println!("study        {}", o.study);
    println!(
        "trials       {} ({} complete, {} pruned, {} failed)",
        c.total, c.complete, c.pruned, c.failed
    );
    if let Some(best) = &o.best {
        println!("best trial   #{} {}", best.trial, best.arch);
        if let Some(v) = best.metrics.get("val_accuracy") {
            println!("search val   {v:.2}%");
        }
    }
    if let Some(fm) = &o.final_model {
        println!(
            "retrained    {} epochs in {:.0} s: test accuracy {}",
            fm.epochs,
            fm.seconds,
            fm.test_accuracy
                .map_or("n/a".to_string(), |t| format!("{t:.2}%"))
        );
        if !fm.members.is_empty() {
            let each: Vec<String> = fm
                .members
                .iter()
                .map(|m| {
                    m.test_accuracy
                        .map_or("n/a".to_string(), |t| format!("{t:.2}%"))
                })
                .collect();
            println!(
                "ensemble     {} networks averaged (each alone: {}); params, flops and latency are their sums",
                fm.members.len(),
                each.join(", ")
            );
        }
        println!("params       {:.0}", fm.params);
        if let Some(f) = fm.flops {
            println!("flops        {:.1} M multiply-accumulates", f / 1e6);
        }
        if let Some(l) = fm.latency_ms {
            println!("latency      {l:.2} ms (batch 1, this machine)");
        }
        for (label, path) in &fm.exports {
            println!("export       {label}: {}", path.display());
        }
    }
    if let Some(r) = &o.report {
        println!("report       {}", r.display());
    }
    println!("wall time    {:.1} min", o.seconds / 60.0);
}

/// Runs one worker of a shared study (`nascent worker`): search only, within `limits`, with
/// the progress bar and the Ctrl-C handler; prints what this worker did.
pub fn run_worker(
    config: StudyConfig,
    backend: &impl nascent_study::Backend,
    limits: nascent_study::WorkerLimits,
    json: bool,
) -> Result<()> {
    let progress = progress_of(&config);
    let outcome = Study::new(config, backend)
        .observer(&progress)
        .stop(crate::signal::ctrlc()?)
        .worker(limits)
        .run()?;
    let s = &outcome.summary;
    if json {
        return crate::output::print_json(&nascent_study::WorkerOutput::from(&outcome));
    }
    println!("study        {}", outcome.study);
    println!(
        "this worker  {} trials evaluated, {} re-queued",
        s.evaluated, s.requeued
    );
    println!(
        "stopped      {}",
        match s.stop {
            nascent_study::StopReason::WorkerLimit => "--max-trials reached",
            nascent_study::StopReason::Interrupted => "interrupted (its trial re-queued)",
            nascent_study::StopReason::AllFailed => "the study's trials all failed",
            _ => "the study's budget is spent",
        }
    );
    println!(
        "study        {} trials ({} complete, {} pruned, {} failed, {} running)",
        s.counts.total, s.counts.complete, s.counts.pruned, s.counts.failed, s.counts.running
    );
    if let Some(best) = &outcome.best {
        println!("best trial   #{} {}", best.trial, best.arch);
    }
    Ok(())
}
