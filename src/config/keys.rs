//! The single declaration of every mm2.properties key we recognise: its scope, type, and
//! MirrorMaker 2's default. Validation, unknown-key warnings, environment overrides and the
//! example-file test all read this table.

/// Where a key is meaningful.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Top level only: the driver (`clusters`, REST listeners, config providers).
    Driver,
    /// A connector setting: top level (applies to every flow) or `A->B.<key>`.
    Connector,
    /// A Connect worker setting of the target cluster: `B.<key>` (some also top level, see
    /// [`WORKER_TOP_LEVEL_PREFIXES`]).
    Worker,
}

/// How a value is typed, as Kafka's `ConfigDef` types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    Long,
    Short,
    List,
    Str,
    Class,
}

/// Whether we act on a key or only accept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Honoured with MirrorMaker 2's semantics.
    Honoured,
    /// Accepted for compatibility but has no effect here; a warning says so when it is set.
    Ignored(&'static str),
}

/// One recognised key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub name: &'static str,
    pub scope: Scope,
    pub kind: Kind,
    /// MirrorMaker 2's default as text, or `None` when it has none.
    pub default: Option<&'static str>,
    pub support: Support,
}

const fn key(
    name: &'static str,
    scope: Scope,
    kind: Kind,
    default: Option<&'static str>,
) -> KeyDef {
    KeyDef {
        name,
        scope,
        kind,
        default,
        support: Support::Honoured,
    }
}

const fn ignored(
    name: &'static str,
    scope: Scope,
    kind: Kind,
    default: Option<&'static str>,
    why: &'static str,
) -> KeyDef {
    KeyDef {
        name,
        scope,
        kind,
        default,
        support: Support::Ignored(why),
    }
}

use Kind::*;
use Scope::*;

pub const DEFAULT_TOPICS_EXCLUDE: &str = ".*[\\-\\.]internal, .*\\.replica, __.*";
pub const DEFAULT_GROUPS_EXCLUDE: &str = "console-consumer-.*, connect-.*, __.*";
pub const DEFAULT_CONFIG_PROPERTIES_EXCLUDE: &str = "follower\\.replication\\.throttled\\.replicas, leader\\.replication\\.throttled\\.replicas, message\\.timestamp\\.difference\\.max\\.ms, message\\.timestamp\\.type, unclean\\.leader\\.election\\.enable, min\\.insync\\.replicas";
pub const DEFAULT_POLICY: &str = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy";
pub const BYTE_ARRAY_CONVERTER: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";

const NO_PLUGINS: &str = "Java plugin classes cannot be loaded; only the default is available";

/// Every key of MirrorMaker 2's driver, connectors and Connect worker that we recognise.
pub static KEYS: &[KeyDef] = &[
    // Driver (MirrorMakerConfig).
    key("clusters", Driver, List, None),
    key(
        "dedicated.mode.enable.internal.rest",
        Driver,
        Bool,
        Some("false"),
    ),
    key("config.providers", Driver, List, Some("")),
    key("listeners", Driver, List, Some("http://:8083")),
    // Ours: which names the MirrorMaker metric families carry (see `metrics::MetricNames`).
    key("metrics.names", Driver, Str, Some("strimzi")),
    // Kafka Connect's REST server (RestServerConfig); see `config::rest`.
    key("rest.extension.classes", Driver, List, Some("")),
    key("listeners.https.ssl.keystore.location", Driver, Str, None),
    key("listeners.https.ssl.keystore.type", Driver, Str, None),
    key("listeners.https.ssl.keystore.password", Driver, Str, None),
    key("listeners.https.ssl.key.password", Driver, Str, None),
    key(
        "listeners.https.ssl.keystore.certificate.chain",
        Driver,
        Str,
        None,
    ),
    key("listeners.https.ssl.keystore.key", Driver, Str, None),
    key("listeners.https.ssl.truststore.location", Driver, Str, None),
    key("listeners.https.ssl.truststore.type", Driver, Str, None),
    key("listeners.https.ssl.truststore.password", Driver, Str, None),
    key(
        "listeners.https.ssl.truststore.certificates",
        Driver,
        Str,
        None,
    ),
    key("listeners.https.ssl.client.auth", Driver, Str, Some("none")),
    key(
        "listeners.https.ssl.enabled.protocols",
        Driver,
        List,
        Some("TLSv1.2,TLSv1.3"),
    ),
    ignored(
        "rest.advertised.host.name",
        Driver,
        Str,
        None,
        "workers coordinate through Kafka, not through REST forwarding",
    ),
    ignored(
        "rest.advertised.port",
        Driver,
        Int,
        None,
        "workers coordinate through Kafka, not through REST forwarding",
    ),
    key("rest.advertised.listener", Driver, Str, None),
    ignored(
        "access.control.allow.origin",
        Driver,
        Str,
        Some(""),
        "CORS is not served yet",
    ),
    ignored(
        "access.control.allow.methods",
        Driver,
        Str,
        Some(""),
        "CORS is not served yet",
    ),
    ignored(
        "response.http.headers.config",
        Driver,
        Str,
        Some(""),
        "extra response headers are not served yet",
    ),
    // The https listener's, when no `listeners.https.` key is set (as are the other `ssl.*`
    // keys, which also configure the clients).
    key("ssl.client.auth", Driver, Str, Some("none")),
    // Common to the three connectors (MirrorConnectorConfig and Connect's ConnectorConfig).
    key("enabled", Connector, Bool, Some("false")),
    key("source.cluster.alias", Connector, Str, None),
    key("target.cluster.alias", Connector, Str, Some("target")),
    key("admin.timeout.ms", Connector, Long, Some("60000")),
    key(
        "replication.policy.class",
        Connector,
        Class,
        Some(DEFAULT_POLICY),
    ),
    key("replication.policy.separator", Connector, Str, Some(".")),
    key(
        "replication.policy.internal.topic.separator.enabled",
        Connector,
        Bool,
        Some("true"),
    ),
    key(
        "forwarding.admin.class",
        Connector,
        Class,
        Some("org.apache.kafka.clients.admin.ForwardingAdmin"),
    ),
    ignored(
        "metric.reporters",
        Connector,
        List,
        Some("org.apache.kafka.common.metrics.JmxReporter"),
        "metrics are served in Prometheus format at GET /metrics instead of JMX",
    ),
    key("name", Connector, Str, None),
    key("connector.class", Connector, Class, None),
    key("tasks.max", Connector, Int, Some("1")),
    key("tasks.max.enforce", Connector, Bool, Some("true")),
    key("key.converter", Connector, Class, None),
    key("value.converter", Connector, Class, None),
    key("header.converter", Connector, Class, None),
    key("transforms", Connector, List, Some("")),
    key("predicates", Connector, List, Some("")),
    ignored(
        "config.action.reload",
        Connector,
        Str,
        Some("restart"),
        "configuration changes take effect on restart, as in MirrorMaker 2's dedicated mode",
    ),
    key("errors.retry.timeout", Connector, Long, Some("0")),
    key("errors.retry.delay.max.ms", Connector, Long, Some("60000")),
    key("errors.tolerance", Connector, Str, Some("none")),
    key("errors.log.enable", Connector, Bool, Some("false")),
    key(
        "errors.log.include.messages",
        Connector,
        Bool,
        Some("false"),
    ),
    key("exactly.once.support", Connector, Str, Some("requested")),
    key("transaction.boundary", Connector, Str, Some("poll")),
    key("transaction.boundary.interval.ms", Connector, Long, None),
    // MirrorSourceConnector.
    key("topics", Connector, List, Some(".*")),
    key(
        "topics.exclude",
        Connector,
        List,
        Some(DEFAULT_TOPICS_EXCLUDE),
    ),
    key(
        "config.properties.exclude",
        Connector,
        List,
        Some(DEFAULT_CONFIG_PROPERTIES_EXCLUDE),
    ),
    key("use.defaults.from", Connector, Str, Some("target")),
    key(
        "topic.filter.class",
        Connector,
        Class,
        Some("org.apache.kafka.connect.mirror.DefaultTopicFilter"),
    ),
    key(
        "config.property.filter.class",
        Connector,
        Class,
        Some("org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter"),
    ),
    key("consumer.poll.timeout.ms", Connector, Long, Some("1000")),
    key("refresh.topics.enabled", Connector, Bool, Some("true")),
    key(
        "refresh.topics.interval.seconds",
        Connector,
        Long,
        Some("600"),
    ),
    key("sync.topic.configs.enabled", Connector, Bool, Some("true")),
    key(
        "sync.topic.configs.interval.seconds",
        Connector,
        Long,
        Some("600"),
    ),
    key("sync.topic.acls.enabled", Connector, Bool, Some("true")),
    key(
        "sync.topic.acls.interval.seconds",
        Connector,
        Long,
        Some("600"),
    ),
    key("replication.factor", Connector, Int, Some("2")),
    key(
        "offset-syncs.topic.replication.factor",
        Connector,
        Short,
        Some("3"),
    ),
    key(
        "offset-syncs.topic.location",
        Connector,
        Str,
        Some("source"),
    ),
    key("offset.lag.max", Connector, Long, Some("100")),
    key("emit.offset-syncs.enabled", Connector, Bool, Some("true")),
    // Ours: a source partition whose records were deleted before they were replicated (or
    // that started over) fails its task instead of going on; see `source_task::continuity`.
    key("fail.on.data.loss", Connector, Bool, Some("false")),
    // Ours: MirrorSource tasks copy record batches as they are (`source_task::batch_copy`)
    // instead of reading and producing each record.
    key("copy.batches.enabled", Connector, Bool, Some("false")),
    key(
        "heartbeats.replication.enabled",
        Connector,
        Bool,
        Some("true"),
    ),
    // MirrorCheckpointConnector.
    key("groups", Connector, List, Some(".*")),
    key(
        "groups.exclude",
        Connector,
        List,
        Some(DEFAULT_GROUPS_EXCLUDE),
    ),
    key(
        "group.filter.class",
        Connector,
        Class,
        Some("org.apache.kafka.connect.mirror.DefaultGroupFilter"),
    ),
    key("refresh.groups.enabled", Connector, Bool, Some("true")),
    key(
        "refresh.groups.interval.seconds",
        Connector,
        Long,
        Some("600"),
    ),
    key("emit.checkpoints.enabled", Connector, Bool, Some("true")),
    key(
        "emit.checkpoints.interval.seconds",
        Connector,
        Long,
        Some("60"),
    ),
    key("sync.group.offsets.enabled", Connector, Bool, Some("false")),
    key(
        "sync.group.offsets.interval.seconds",
        Connector,
        Long,
        Some("60"),
    ),
    key(
        "checkpoints.topic.replication.factor",
        Connector,
        Short,
        Some("3"),
    ),
    // MirrorHeartbeatConnector.
    key("emit.heartbeats.enabled", Connector, Bool, Some("true")),
    key(
        "emit.heartbeats.interval.seconds",
        Connector,
        Long,
        Some("1"),
    ),
    key(
        "heartbeats.topic.replication.factor",
        Connector,
        Short,
        Some("3"),
    ),
    // Connect worker of each target cluster (DistributedConfig / WorkerConfig).
    key("group.id", Worker, Str, None),
    key("client.id", Worker, Str, None),
    key("config.storage.topic", Worker, Str, None),
    key("offset.storage.topic", Worker, Str, None),
    key("status.storage.topic", Worker, Str, None),
    key(
        "config.storage.replication.factor",
        Worker,
        Short,
        Some("3"),
    ),
    key(
        "offset.storage.replication.factor",
        Worker,
        Short,
        Some("3"),
    ),
    key(
        "status.storage.replication.factor",
        Worker,
        Short,
        Some("3"),
    ),
    key("offset.storage.partitions", Worker, Int, Some("25")),
    key("status.storage.partitions", Worker, Int, Some("5")),
    key("offset.flush.interval.ms", Worker, Long, Some("60000")),
    key("offset.flush.timeout.ms", Worker, Long, Some("5000")),
    key("exactly.once.source.support", Worker, Str, Some("disabled")),
    key("session.timeout.ms", Worker, Int, Some("10000")),
    key("heartbeat.interval.ms", Worker, Int, Some("3000")),
    key("rebalance.timeout.ms", Worker, Int, Some("60000")),
    key(
        "task.shutdown.graceful.timeout.ms",
        Worker,
        Long,
        Some("5000"),
    ),
    key(
        "scheduled.rebalance.max.delay.ms",
        Worker,
        Int,
        Some("300000"),
    ),
    ignored(
        "connect.protocol",
        Worker,
        Str,
        Some("sessioned"),
        "workers coordinate through Kafka's group protocol of this implementation",
    ),
    ignored(
        "inter.worker.key.generation.algorithm",
        Worker,
        Str,
        Some("HmacSHA256"),
        "no internal REST requests are signed",
    ),
    ignored(
        "inter.worker.key.size",
        Worker,
        Int,
        None,
        "no internal REST requests are signed",
    ),
    ignored(
        "inter.worker.key.ttl.ms",
        Worker,
        Int,
        Some("3600000"),
        "no internal REST requests are signed",
    ),
    ignored(
        "inter.worker.signature.algorithm",
        Worker,
        Str,
        Some("HmacSHA256"),
        "no internal REST requests are signed",
    ),
    ignored(
        "inter.worker.verification.algorithms",
        Worker,
        List,
        Some("HmacSHA256"),
        "no internal REST requests are signed",
    ),
    ignored(
        "worker.sync.timeout.ms",
        Worker,
        Int,
        Some("3000"),
        "workers coordinate through Kafka's group protocol of this implementation",
    ),
    ignored(
        "worker.unsync.backoff.ms",
        Worker,
        Int,
        Some("300000"),
        "workers coordinate through Kafka's group protocol of this implementation",
    ),
    ignored("plugin.path", Worker, List, None, NO_PLUGINS),
    ignored(
        "connector.client.config.override.policy",
        Worker,
        Class,
        Some("All"),
        "MirrorMaker 2 always uses the All policy",
    ),
];

/// Keys removed in Kafka 4.0 that 3.x files still use: old name, new name.
pub static RENAMED: &[(&str, &str)] = &[
    ("topics.blacklist", "topics.exclude"),
    ("groups.blacklist", "groups.exclude"),
    ("config.properties.blacklist", "config.properties.exclude"),
];

/// Keys removed in Kafka 4.0 that are accepted with a warning: key and why it has no effect.
pub static REMOVED: &[(&str, &str)] = &[
    (
        "use.incremental.alter.configs",
        "removed in Kafka 4.0; topic configs are always synced with IncrementalAlterConfigs",
    ),
    (
        "add.source.alias.to.metrics",
        "removed in Kafka 4.0; the source alias is always a metric label",
    ),
    (
        "auto.include.jmx.reporter",
        "removed in Kafka 4.0; metrics are served in Prometheus format",
    ),
];

/// Top-level key prefixes that MirrorMaker 2 also hands to every worker.
pub static WORKER_TOP_LEVEL_PREFIXES: &[&str] = &[
    "offset.storage",
    "config.storage",
    "status.storage",
    "key.converter",
    "value.converter",
    "header.converter",
    "task",
    "worker",
    "replication.policy",
];

/// Finds a key's declaration.
pub fn lookup(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.name == name)
}

/// True for the client keys MirrorMaker 2 inherits from top level and cluster level into every
/// client (`MirrorClientConfig.CLIENT_CONFIG_DEF`): connection and security.
pub fn is_client_security_key(name: &str) -> bool {
    name == "bootstrap.servers"
        || name == "security.protocol"
        || name.starts_with("ssl.")
        || name.starts_with("sasl.")
}

/// True for keys that name a client prefix: `producer.`, `consumer.`, `admin.`.
pub fn client_prefix(name: &str) -> Option<&'static str> {
    ["producer.", "consumer.", "admin."]
        .into_iter()
        .find(|p| name.starts_with(p))
}

/// True for keys whose values are secrets: never printed.
pub fn is_sensitive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("password")
        || n.ends_with("jaas.config")
        || n.contains("secret")
        || n.ends_with("ssl.keystore.key")
        || n.ends_with("ssl.key.pem")
        || n.ends_with("sasl.oauthbearer.client.secret")
        || n.ends_with("basic.auth.user.info")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, a) in KEYS.iter().enumerate() {
            assert!(
                KEYS[i + 1..].iter().all(|b| b.name != a.name),
                "{} declared twice",
                a.name
            );
        }
    }

    #[test]
    fn sensitive_keys() {
        for k in [
            "sasl.jaas.config",
            "A.ssl.truststore.password",
            "ssl.key.password",
            "producer.sasl.jaas.config",
        ] {
            assert!(is_sensitive(k), "{k}");
        }
        for k in ["bootstrap.servers", "ssl.truststore.location", "topics"] {
            assert!(!is_sensitive(k), "{k}");
        }
    }
}
