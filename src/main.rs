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
        Some(Command::Plan(args)) => app::plan(&args),
        None => app::run(&cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("connect-mirror-maker: error: {line}");
            }
            ExitCode::from(match e {
                AppError::Config(_) | AppError::Usage(_) => 2,
                AppError::Runtime(_) => 1,
            })
        }
    }
}
