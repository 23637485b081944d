//! `nascent`: neural architecture search from the command line.
//!
//! Results go to stdout, logs and progress to stderr. Exit codes: 0 success, 1 a user error
//! (bad input, a missing file, an unknown name), 2 an internal error.

mod commands;
mod error;

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
    /// Build one architecture and print its parameters and FLOPs (latency and memory with
    /// --measure), without training.
    Inspect(commands::inspect::Args),
    /// Write an architecture's genotype, weights (safetensors) and ONNX model.
    Export(commands::export::Args),
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
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_secs()
        .init();
    let result = std::panic::catch_unwind(|| match cli.command {
        Command::Bench(args) => commands::bench::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Export(args) => commands::export::run(args),
    });
    let code = match result {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            exit_code(&e)
        }
        Err(_) => {
            eprintln!("error: internal error (a bug in nascent; please report it)");
            2
        }
    };
    std::process::exit(code);
}
