//! `nascent`: neural architecture search from the command line.
//!
//! Results go to stdout, logs and progress to stderr. Exit codes: 0 success, 1 a user error
//! (bad input, a missing file, an unknown name), 2 an internal error.

mod backend;
mod commands;
mod error;
mod layered;
mod output;
mod progress;
mod signal;
mod study;

use clap::{Parser, Subcommand};
use error::exit_code;

/// Neural architecture search in Rust.
#[derive(Parser, Debug)]
#[command(name = "nascent", version, about, long_about = None)]
struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Replay search strategies on a tabular benchmark (NAS-Bench-201) over many seeds.
    Bench(commands::bench::Args),
    /// Train one architecture on a dataset and print its accuracy, size and speed.
    Train(commands::train::Args),
    /// Build one architecture and print its parameters and FLOPs (latency and memory with
    /// --measure), without training.
    Inspect(commands::inspect::Args),
    /// Write an architecture's genotype, weights (safetensors) and ONNX model.
    Export(commands::export::Args),
    /// Search architectures on a dataset (the default study without a file), retrain the
    /// best, export it and write the report.
    Search(commands::search::Args),
    /// Compare the study with random search and hand-designed reference cells at the same
    /// data, budget and seeds (each arm and seed adds to one results file).
    Compare(commands::compare::Args),
    /// Continue a study after a crash, a kill or Ctrl-C.
    Resume(commands::resume::Args),
    /// Join an existing study (on this or another machine) and run its trials.
    Worker(commands::worker::Args),
    /// List the trials of a study.
    Trials(commands::trials::Args),
    /// Show the best trials of a study.
    Best(commands::best::Args),
    /// Write the HTML report of a study.
    Report(commands::report::Args),
    /// What matters in a study: importance of each decision, marginal effect of each option,
    /// motifs of the best trials; with --compare, stability across studies.
    Analyze(commands::analyze::Args),
    /// One-shot search (DARTS, GDAS, PC-DARTS, SPOS, ENAS) on a dataset in the NB201 or
    /// DARTS space.
    Oneshot(commands::oneshot::Args),
    /// Zero-cost proxies of sampled NAS-Bench-201 architectures and their rank correlation
    /// with the benchmark's accuracy.
    Proxies(commands::proxies::Args),
    /// Serve the live, read-only web dashboard of a storage's studies.
    Dashboard(commands::dashboard::Args),
}

fn main() {
    // Usage errors are the user's (exit 1); --help and --version exit 0.
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        let _ = e.print();
        std::process::exit(if e.use_stderr() { 1 } else { 0 });
    });
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    quiet_on_closed_stdout();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_secs()
        .init();
    let result = std::panic::catch_unwind(|| match cli.command {
        Command::Bench(args) => commands::bench::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Worker(args) => commands::worker::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Search(args) => commands::search::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Resume(args) => commands::resume::run(args),
        Command::Trials(args) => commands::trials::run(args),
        Command::Best(args) => commands::best::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Analyze(args) => commands::analyze::run(args),
        Command::Oneshot(args) => commands::oneshot::run(args),
        Command::Proxies(args) => commands::proxies::run(args),
        Command::Dashboard(args) => commands::dashboard::run(args),
    });
    let code = match result {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            eprintln!("error: {}", error::render(&e));
            exit_code(&e)
        }
        Err(_) => {
            eprintln!("error: internal error (a bug in nascent; please report it)");
            2
        }
    };
    std::process::exit(code);
}

/// A closed stdout is not a bug: when the reader goes away (`nascent trials --json | head -1`),
/// the command ends quietly with success, as ripgrep does. Printing to a closed pipe panics in
/// `println!`; this hook turns exactly that panic into exit 0 and leaves every other panic to
/// the default hook (and then to the internal-error exit above).
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
