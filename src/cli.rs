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
    /// Consumer-group offsets for failover.
    #[command(subcommand)]
    Offsets(OffsetsCommand),
    /// Print the clusters upstream of a cluster and their replication hops, from heartbeat topics.
    Topology(TopologyArgs),
    /// Print what the flows would replicate, create, sync and exclude, reading both clusters of
    /// each enabled flow and writing nothing.
    Plan(PlanArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// `table` for people, `json` for programs.
    #[arg(long, value_enum, default_value_t = crate::plan::Format::Table)]
    pub format: crate::plan::Format,
}

#[derive(Debug, Subcommand)]
pub enum OffsetsCommand {
    /// Print a group's offsets on the target, translated from the source's checkpoints
    /// (RemoteClusterUtils.translateOffsets); `--apply` commits them if the group is inactive.
    Translate(TranslateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TranslateArgs {
    /// The mm2.properties file.
    #[arg(value_name = "mm2.properties")]
    pub config: PathBuf,
    /// The cluster the group consumed from.
    #[arg(long)]
    pub source: String,
    /// The cluster to fail over to.
    #[arg(long)]
    pub target: String,
    /// The consumer group.
    #[arg(long)]
    pub group: String,
    /// Commit the translated offsets to the group on the target (only if it has no members).
    #[arg(long)]
    pub apply: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TopologyArgs {
    /// The mm2.properties file.
    #[arg(value_name = "mm2.properties")]
    pub config: PathBuf,
    /// The cluster to look from.
    #[arg(long)]
    pub cluster: String,
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
