//! `connect-mirror-maker`: parse the command line, run, and turn the outcome into an exit status
//! and clear lines on stderr (never a panic or a backtrace).

use std::process::ExitCode;

use clap::Parser;

use mm2::app::{self, AppError};
use mm2::cli::{Cli, Command, OffsetsCommand};

fn main() -> ExitCode {
    mm2::allocator::limit_arenas();
    let cli = Cli::parse();
    mm2::telemetry::init();
    let result = match cli.command {
        Some(Command::Validate(args)) => app::validate(&args, &mut std::io::stdout()),
        Some(Command::Offsets(OffsetsCommand::Translate(args))) => app::translate_offsets(&args),
        Some(Command::Topology(args)) => app::topology(&args),
        Some(Command::Failover(args)) => app::switch(&args, app::Switch::Failover),
        Some(Command::Failback(args)) => app::switch(&args, app::Switch::Failback),
        Some(Command::Verify(args)) => app::verify(&args),
        Some(Command::Plan(args)) => app::plan(&args),
        None => app::run(&cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The report has named every difference; one line says the outcome.
        Err(AppError::Differences(n)) => {
            eprintln!("connect-mirror-maker: verify: {n} differences found");
            ExitCode::from(1)
        }
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("connect-mirror-maker: error: {line}");
            }
            ExitCode::from(match e {
                AppError::Config(_) | AppError::Usage(_) => 2,
                AppError::Runtime(_) | AppError::Differences(_) => 1,
            })
        }
    }
}
