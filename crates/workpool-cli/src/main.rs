//! The `workpool` binary: thin glue over the workpool libraries.
//!
//! Each subcommand lives in its own module under `commands/` and exposes `Args` (clap) and
//! `run(args) -> anyhow::Result<()>`. Errors are printed once, without a backtrace, and the process
//! exits non-zero.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

/// An autoscaling worker-pool runtime for Amazon SQS.
#[derive(Debug, Parser)]
#[command(name = "workpool", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole loop on this machine, no AWS account needed.
    Demo(commands::demo::Args),
    /// Hand queue messages to a local app over HTTP (sqsd-compatible) or to a command.
    Sidecar(commands::sidecar::Args),
    /// Publish queue depth to CloudWatch and steer an Auto Scaling group.
    Scale(commands::scale::Args),
    /// Replay an arrival trace against a scaling policy and report wait and cost.
    Simulate(commands::simulate::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Sidecar(args) => commands::sidecar::run(args).await,
            Command::Scale(args) => commands::scale::run(args).await,
            Command::Simulate(args) => commands::simulate::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
