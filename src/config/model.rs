//! The typed, resolved configuration: what every other module reads. No Kafka client types here;
//! client settings stay string maps until `kafka::props` translates them for librdkafka.

use std::collections::BTreeMap;
use std::time::Duration;

use super::error::Warning;
use super::pattern::Patterns;
use super::properties::Setting;
use crate::metrics::MetricNames;

/// A string map of settings with their origins, as MirrorMaker 2 hands them to a connector,
/// a worker or a client.
pub type Props = BTreeMap<String, Setting>;

/// The whole resolved mm2.properties.
#[derive(Debug, Clone)]
pub struct Mm2Config {
    /// Aliases from `clusters`, in the file's order.
    pub clusters: Vec<String>,
    /// The herders this process runs (one per ordered pair `source->target`), as MirrorMaker 2
    /// creates them: for enabled flows and for heartbeat-only pairs, limited to `--clusters`.
    pub flows: Vec<Flow>,
    pub driver: DriverSettings,
    /// Everything accepted but worth telling the operator.
    pub warnings: Vec<Warning>,
}

impl Mm2Config {
    /// The flow `source->target`, if this process runs it.
    pub fn flow(&self, source: &str, target: &str) -> Option<&Flow> {
        self.flows
            .iter()
            .find(|f| f.source == source && f.target == target)
    }
}

/// Driver-level settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverSettings {
    /// The REST server: `listeners`, their TLS keys, `rest.extension.classes`.
    pub rest: super::rest::RestSettings,
    /// True when `listeners` was set explicitly: only then do we bind.
    pub listeners_set: bool,
    /// `dedicated.mode.enable.internal.rest`: accepted, and nothing to serve (see `app::start`).
    pub internal_rest: bool,
    /// `metrics.names`: Strimzi's metric names (the default) or this project's first ones.
    pub metric_names: MetricNames,
}

/// One herder: an ordered cluster pair with its connector and worker configuration.
#[derive(Debug, Clone)]
pub struct Flow {
    pub source: String,
    pub target: String,
    /// The connector config MirrorMaker 2 would build (`connectorBaseConfig`): top-level
    /// connector keys, `source.cluster.*`/`target.cluster.*`, `source.*`/`target.*` client keys,
    /// then the flow's own `A->B.*` keys.
    pub connector: Props,
    /// The Connect worker config of this herder (`workerConfig`): the target's cluster keys plus
    /// the top-level worker prefixes and MirrorMaker 2's defaults.
    pub worker: Props,
    pub settings: FlowSettings,
    pub worker_settings: WorkerSettings,
}

impl Flow {
    /// `A->B`.
    pub fn name(&self) -> String {
        format!("{}->{}", self.source, self.target)
    }

    /// The cluster on one side of the flow.
    pub fn alias(&self, side: Side) -> &str {
        match side {
            Side::Source => &self.source,
            Side::Target => &self.target,
        }
    }
}

/// One end of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }
}

/// The kind of Kafka client a setting map is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Consumer,
    Producer,
    Admin,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Consumer => "consumer",
            ClientKind::Producer => "producer",
            ClientKind::Admin => "admin",
        }
    }
}

/// Which replication policy names remote topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// `A.orders`: the source alias and separator before the topic.
    Default,
    /// `orders`: the same name, for migrations (no cycle detection).
    Identity,
}

/// The replication policy settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    pub kind: PolicyKind,
    pub separator: String,
    /// `replication.policy.internal.topic.separator.enabled`, already combined with whether the
    /// separator was set explicitly: the separator used in internal topic names.
    pub internal_separator: String,
    /// The source alias (IdentityReplicationPolicy's `topicSource`).
    pub source_alias: String,
}

/// Where the offset-syncs topic lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSyncsLocation {
    Source,
    Target,
}

/// `use.defaults.from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultsFrom {
    Source,
    Target,
}

/// `exactly.once.source.support` of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactlyOnceSource {
    Disabled,
    Preparing,
    Enabled,
}

/// `transaction.boundary` of an exactly-once source connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBoundary {
    /// One transaction per poll of the source.
    Poll,
    /// One transaction per `transaction.boundary.interval.ms` (`None`: the worker's
    /// `offset.flush.interval.ms`).
    Interval(Option<Duration>),
}

/// The typed connector settings of one flow. Periodic jobs are `None` when disabled.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSettings {
    pub enabled: bool,
    pub policy: PolicyConfig,
    pub topics: Patterns,
    pub topics_exclude: Patterns,
    pub groups: Patterns,
    pub groups_exclude: Patterns,
    pub config_properties_exclude: Patterns,
    pub tasks_max: u32,
    /// -1 means the broker's default.
    pub replication_factor: i32,
    pub offset_syncs_topic_replication_factor: i16,
    pub checkpoints_topic_replication_factor: i16,
    pub heartbeats_topic_replication_factor: i16,
    pub offset_syncs_location: OffsetSyncsLocation,
    pub offset_lag_max: i64,
    pub emit_offset_syncs: bool,
    /// `fail.on.data.loss` (ours): stop a task that finds records lost before replication.
    pub fail_on_data_loss: bool,
    /// `copy.batches.enabled` (ours): source tasks copy record batches without decoding them.
    pub copy_batches: bool,
    pub heartbeats_replication: bool,
    pub use_defaults_from: DefaultsFrom,
    pub consumer_poll_timeout: Duration,
    pub admin_timeout: Duration,
    pub refresh_topics: Option<Duration>,
    pub sync_topic_configs: Option<Duration>,
    pub sync_topic_acls: Option<Duration>,
    pub refresh_groups: Option<Duration>,
    pub emit_checkpoints: Option<Duration>,
    pub sync_group_offsets: Option<Duration>,
    pub emit_heartbeats: Option<Duration>,
    /// `exactly.once.support=required`.
    pub exactly_once_required: bool,
    pub transaction_boundary: TransactionBoundary,
}

/// The typed Connect worker settings of one herder (on its target cluster).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    pub group_id: String,
    pub client_id: String,
    pub config_storage_topic: String,
    pub offset_storage_topic: String,
    pub status_storage_topic: String,
    pub config_storage_replication_factor: i16,
    pub offset_storage_replication_factor: i16,
    pub status_storage_replication_factor: i16,
    pub offset_storage_partitions: i32,
    pub status_storage_partitions: i32,
    pub offset_flush_interval: Duration,
    pub offset_flush_timeout: Duration,
    pub exactly_once_source: ExactlyOnceSource,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub rebalance_timeout: Duration,
    pub task_shutdown_graceful_timeout: Duration,
    pub scheduled_rebalance_max_delay: Duration,
}
