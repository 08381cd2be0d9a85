//! Command line, as Apache Kafka's: `connect-mirror-maker mm2.properties [--clusters B ...]`,
//! plus subcommands for operators.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// MirrorMaker 2: replicate topics, configs and consumer-group offsets between Kafka clusters.
#[derive(Debug, Parser)]
#[command(
    name = "connect-mirror-maker",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: ConfigArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check mm2.properties and print the resolved flows, with secrets hidden.
    Validate(ConfigArgs),
}

/// The configuration file and the target clusters this process serves.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The mm2.properties file.
    #[arg(value_name = "mm2.properties", required = true)]
    pub config: Option<PathBuf>,
    /// Serve only the flows whose target is one of these clusters.
    #[arg(long, value_name = "CLUSTER", num_args = 1..)]
    pub clusters: Vec<String>,
}

impl ConfigArgs {
    pub fn config_path(&self) -> PathBuf {
        self.config.clone().unwrap_or_default()
    }
}
