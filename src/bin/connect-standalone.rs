//! `connect-standalone worker.properties [connector.properties ...]`: a single Kafka Connect
//! worker with the built-in connectors and the REST API.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use mm2::app::AppError;

/// Run a standalone Kafka Connect worker.
#[derive(Debug, Parser)]
#[command(name = "connect-standalone", version)]
struct Args {
    /// The worker properties file.
    #[arg(value_name = "worker.properties")]
    worker: PathBuf,
    /// Connector properties files, each started at once.
    #[arg(value_name = "connector.properties")]
    connectors: Vec<PathBuf>,
}

fn main() -> ExitCode {
    mm2::allocator::limit_arenas();
    let args = Args::parse();
    mm2::telemetry::init();
    match mm2::standalone::run(&args.worker, &args.connectors) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("connect-standalone: error: {line}");
            }
            ExitCode::from(match e {
                AppError::Config(_) | AppError::Usage(_) => 2,
                AppError::Runtime(_) | AppError::Differences(_) => 1,
            })
        }
    }
}
