//! `connect-distributed worker.properties`: a Kafka Connect worker of a group that shares
//! connectors and tasks through Kafka.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use mm2::app::AppError;

/// Run a distributed Kafka Connect worker.
#[derive(Debug, Parser)]
#[command(name = "connect-distributed", version)]
struct Args {
    /// The worker properties file.
    #[arg(value_name = "worker.properties")]
    worker: PathBuf,
}

fn main() -> ExitCode {
    mm2::allocator::limit_arenas();
    let args = Args::parse();
    mm2::telemetry::init();
    match mm2::distributed::run(&args.worker) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("connect-distributed: error: {line}");
            }
            ExitCode::from(match e {
                AppError::Config(_) | AppError::Usage(_) => 2,
                AppError::Runtime(_) | AppError::Differences(_) => 1,
            })
        }
    }
}
