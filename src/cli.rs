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
    /// Move consumer groups from --source to --target: check that the flow has drained,
    /// translate and (with --apply) commit their offsets on the target, print a checklist.
    Failover(SwitchArgs),
    /// Move consumer groups back from --target to --source after a failover (needs the flow
    /// target->source): check it has drained, translate back and (with --apply) commit.
    Failback(SwitchArgs),
    /// Compare a flow's source and target: records of each replicated partition up to the stored
    /// offsets, topic configs, partition counts and group offsets. Exit 1 on a difference.
    Verify(VerifyArgs),
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

/// How `verify` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The mm2.properties file.
    #[arg(value_name = "mm2.properties")]
    pub config: PathBuf,
    /// The flow's source cluster.
    #[arg(long)]
    pub source: String,
    /// The flow's target cluster.
    #[arg(long)]
    pub target: String,
    /// Only the flow's topics whose whole name matches this regular expression (heartbeats
    /// topics are compared only when it selects them).
    #[arg(long, value_name = "REGEX")]
    pub topics: Option<String>,
    /// Only the flow's groups whose whole name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub groups: Option<String>,
    /// Compare this fraction of the windows, in (0, 1], chosen by a hash of the window index.
    #[arg(long, value_name = "FRACTION", default_value_t = 1.0)]
    pub sample: f64,
    /// Upstream offsets per window.
    #[arg(long, value_name = "RECORDS", default_value_t = 1000)]
    pub window: u64,
    /// Also check the target's records past the stored source offsets while the flow runs
    /// (always checked once its worker group has no member). Copies of source records in flight
    /// are not differences; records no source record accounts for are.
    #[arg(long)]
    pub include_tail: bool,
    /// table for people, json for scripts.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct SwitchArgs {
    /// The mm2.properties file.
    #[arg(value_name = "mm2.properties")]
    pub config: PathBuf,
    /// The cluster the groups consumed from before the failover.
    #[arg(long)]
    pub source: String,
    /// The cluster they fail over to.
    #[arg(long)]
    pub target: String,
    /// The groups to move (a regular expression matching the whole name); all by default.
    #[arg(long, value_name = "REGEX")]
    pub groups: Option<String>,
    /// The most records the flow may have left to copy.
    #[arg(long, default_value_t = 0)]
    pub max_lag: i64,
    /// Commit although the drain could not be checked or was not reached.
    #[arg(long)]
    pub force: bool,
    /// Commit the offsets (only to groups with no active members); without it, only report.
    #[arg(long)]
    pub apply: bool,
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
