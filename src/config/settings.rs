//! Typing of one herder's connector and worker settings, with MirrorMaker 2's defaults and
//! checks. Every problem is collected with the key and line it came from.

use std::time::Duration;

use super::error::{ConfigError, Origin};
use super::keys;
use super::model::{
    DefaultsFrom, ExactlyOnceSource, Flow, FlowSettings, OffsetSyncsLocation, PolicyConfig,
    PolicyKind, Props, TransactionBoundary, WorkerSettings,
};
use super::pattern::Patterns;
use super::properties::Setting;

/// Splits a Kafka LIST value: comma-separated, each item trimmed, empty items dropped.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads typed values out of one props map, collecting errors.
struct Reader<'a> {
    props: &'a Props,
    errors: &'a mut Vec<ConfigError>,
}

impl Reader<'_> {
    /// The setting for `key`, or its declared default.
    fn setting(&self, key: &str) -> Setting {
        self.props.get(key).cloned().unwrap_or_else(|| {
            let default = keys::lookup(key).and_then(|d| d.default).unwrap_or("");
            Setting::default_for(key, default)
        })
    }

    fn fail(&mut self, s: &Setting, message: String) {
        self.errors
            .push(ConfigError::invalid(&s.key, &s.origin, message));
    }

    fn string(&mut self, key: &str) -> String {
        self.setting(key).value
    }

    fn bool(&mut self, key: &str) -> bool {
        let s = self.setting(key);
        match parse_bool(&s.value) {
            Some(b) => b,
            None => {
                self.fail(&s, format!("expected true or false, got `{}`", s.value));
                false
            }
        }
    }

    fn parse_long(&mut self, key: &str) -> Option<i64> {
        let s = self.setting(key);
        let n = s.value.parse::<i64>().ok();
        if n.is_none() {
            self.fail(&s, format!("expected a whole number, got `{}`", s.value));
        }
        n
    }

    fn int_in(&mut self, key: &str, min: i64, max: i64) -> i64 {
        let Some(n) = self.parse_long(key) else {
            return min.max(0);
        };
        if n < min || n > max {
            let s = self.setting(key);
            self.fail(&s, format!("must be between {min} and {max}, got {n}"));
        }
        n.clamp(min, max)
    }

    fn millis(&mut self, key: &str) -> Duration {
        Duration::from_millis(self.int_in(key, 0, i64::MAX) as u64)
    }

    /// A replication factor: -1 (the broker's default) or at least 1.
    fn replication_factor(&mut self, key: &str) -> i16 {
        let valid = self
            .props
            .get(key)
            .is_none_or(|s| s.value.parse::<i64>().is_ok());
        let n = self.int_in(key, -1, i16::MAX as i64);
        if n == 0 && valid {
            let s = self.setting(key);
            self.fail(
                &s,
                "must be -1 (the broker's default) or at least 1".to_string(),
            );
        }
        n as i16
    }

    /// A periodic job: `<job>.enabled` and `<job>.interval.seconds`. A negative interval
    /// disables it, as in MirrorMaker 2's scheduler.
    fn schedule(&mut self, job: &str) -> Option<Duration> {
        let enabled = self.bool(&format!("{job}.enabled"));
        let interval_key = format!("{job}.interval.seconds");
        let secs = self.parse_long(&interval_key);
        if secs == Some(0) {
            let s = self.setting(&interval_key);
            self.fail(&s, "must be positive (or negative to disable)".to_string());
        }
        let secs = secs.unwrap_or(0);
        (enabled && secs > 0).then(|| Duration::from_secs(secs as u64))
    }

    fn list(&mut self, key: &str) -> Vec<String> {
        split_list(&self.setting(key).value)
    }

    /// A regex list, compiled once here so a bad pattern is reported with its key.
    fn patterns(&mut self, key: &str) -> Patterns {
        match Patterns::compile(&self.list(key)) {
            Ok(p) => p,
            Err(e) => {
                let s = self.setting(key);
                self.fail(&s, format!("invalid regular expression: {e}"));
                Patterns::empty()
            }
        }
    }

    fn one_of<T: Copy>(&mut self, key: &str, choices: &[(&str, T)]) -> T {
        let s = self.setting(key);
        if let Some((_, v)) = choices
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&s.value))
        {
            return *v;
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        self.fail(
            &s,
            format!("expected one of {}, got `{}`", names.join(", "), s.value),
        );
        choices[0].1
    }

    /// A plugin class key that must be the default (or unset): we cannot load Java classes.
    fn default_class(&mut self, key: &str) {
        let s = self.setting(key);
        let default = keys::lookup(key).and_then(|d| d.default).unwrap_or("");
        let short = |c: &str| c.rsplit('.').next().unwrap_or(c).to_string();
        if short(&s.value) != short(default) {
            self.fail(
                &s,
                format!(
                    "custom plugin class `{}` is not supported; only {} is",
                    s.value,
                    short(default)
                ),
            );
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Errors if a present boolean setting is not `true` or `false`.
pub fn check_bool(setting: Option<&Setting>, errors: &mut Vec<ConfigError>) {
    if let Some(s) = setting {
        if parse_bool(&s.value).is_none() {
            errors.push(ConfigError::invalid(
                &s.key,
                &s.origin,
                format!("expected true or false, got `{}`", s.value),
            ));
        }
    }
}

/// A boolean setting with its declared default.
pub fn bool_of(setting: Option<&Setting>, key: &str, errors: &mut Vec<ConfigError>) -> bool {
    check_bool(setting, errors);
    match setting {
        Some(s) => parse_bool(&s.value).unwrap_or(false),
        None => keys::lookup(key).and_then(|d| d.default) == Some("true"),
    }
}

fn policy(r: &mut Reader<'_>) -> PolicyConfig {
    let class = r.setting("replication.policy.class");
    let kind = match class.value.rsplit('.').next().unwrap_or("") {
        "DefaultReplicationPolicy" => PolicyKind::Default,
        "IdentityReplicationPolicy" => PolicyKind::Identity,
        _ => {
            r.fail(
                &class,
                format!(
                    "replication policy `{}` is not supported; use DefaultReplicationPolicy or IdentityReplicationPolicy",
                    class.value
                ),
            );
            PolicyKind::Default
        }
    };
    let sep = r.setting("replication.policy.separator");
    if sep.value.is_empty() {
        r.fail(&sep, "must not be empty".to_string());
    }
    // KIP-949: internal topics keep `.` only when the separator was set explicitly and the flag is off.
    let internal_enabled = r.bool("replication.policy.internal.topic.separator.enabled");
    let explicit = sep.origin != Origin::Default;
    let internal_separator = if explicit && !internal_enabled {
        ".".to_string()
    } else {
        sep.value.clone()
    };
    PolicyConfig {
        kind,
        separator: sep.value,
        internal_separator,
        source_alias: r.string("source.cluster.alias"),
    }
}

/// The plugin classes a flow may name only by their defaults.
const DEFAULT_ONLY_CLASSES: [&str; 4] = [
    "topic.filter.class",
    "group.filter.class",
    "config.property.filter.class",
    "forwarding.admin.class",
];

const OFFSET_SYNCS_LOCATIONS: &[(&str, OffsetSyncsLocation)] = &[
    ("source", OffsetSyncsLocation::Source),
    ("target", OffsetSyncsLocation::Target),
];

const DEFAULTS_FROM: &[(&str, DefaultsFrom)] = &[
    ("target", DefaultsFrom::Target),
    ("source", DefaultsFrom::Source),
];

/// `exactly.once.support`: whether `required`.
const EXACTLY_ONCE_SUPPORT: &[(&str, bool)] = &[("requested", false), ("required", true)];

/// Types a flow's connector config. Fields are read in this order, which is the order their
/// errors are reported in.
pub fn flow_settings(connector: &Props, errors: &mut Vec<ConfigError>) -> FlowSettings {
    let mut r = Reader {
        props: connector,
        errors,
    };
    for key in DEFAULT_ONLY_CLASSES {
        r.default_class(key);
    }
    FlowSettings {
        enabled: r.bool("enabled"),
        policy: policy(&mut r),
        topics: r.patterns("topics"),
        topics_exclude: r.patterns("topics.exclude"),
        groups: r.patterns("groups"),
        groups_exclude: r.patterns("groups.exclude"),
        config_properties_exclude: r.patterns("config.properties.exclude"),
        tasks_max: r.int_in("tasks.max", 1, i32::MAX as i64) as u32,
        replication_factor: r.replication_factor("replication.factor") as i32,
        offset_syncs_topic_replication_factor: r
            .replication_factor("offset-syncs.topic.replication.factor"),
        checkpoints_topic_replication_factor: r
            .replication_factor("checkpoints.topic.replication.factor"),
        heartbeats_topic_replication_factor: r
            .replication_factor("heartbeats.topic.replication.factor"),
        offset_syncs_location: r.one_of("offset-syncs.topic.location", OFFSET_SYNCS_LOCATIONS),
        offset_lag_max: r.int_in("offset.lag.max", 0, i64::MAX),
        emit_offset_syncs: r.bool("emit.offset-syncs.enabled"),
        fail_on_data_loss: r.bool("fail.on.data.loss"),
        copy_batches: r.bool("copy.batches.enabled"),
        heartbeats_replication: r.bool("heartbeats.replication.enabled"),
        use_defaults_from: r.one_of("use.defaults.from", DEFAULTS_FROM),
        consumer_poll_timeout: r.millis("consumer.poll.timeout.ms"),
        admin_timeout: r.millis("admin.timeout.ms"),
        refresh_topics: r.schedule("refresh.topics"),
        sync_topic_configs: r.schedule("sync.topic.configs"),
        sync_topic_acls: r.schedule("sync.topic.acls"),
        refresh_groups: r.schedule("refresh.groups"),
        emit_checkpoints: r.schedule("emit.checkpoints"),
        sync_group_offsets: r.schedule("sync.group.offsets"),
        emit_heartbeats: r.schedule("emit.heartbeats"),
        exactly_once_required: r.one_of("exactly.once.support", EXACTLY_ONCE_SUPPORT),
        transaction_boundary: transaction_boundary(&mut r),
    }
}

/// `transaction.boundary`: `poll` or `interval`. MirrorSourceConnector cannot define its own
/// boundaries, so `connector` is refused, as Java's validation refuses it.
fn transaction_boundary(r: &mut Reader<'_>) -> TransactionBoundary {
    let interval = r
        .props
        .get("transaction.boundary.interval.ms")
        .is_some()
        .then(|| r.millis("transaction.boundary.interval.ms"));
    r.one_of(
        "transaction.boundary",
        &[
            ("poll", TransactionBoundary::Poll),
            ("interval", TransactionBoundary::Interval(interval)),
        ],
    )
}

/// Types a herder's worker config.
pub fn worker_settings(worker: &Props, errors: &mut Vec<ConfigError>) -> WorkerSettings {
    let mut r = Reader {
        props: worker,
        errors,
    };
    let ms = |r: &mut Reader<'_>, key: &str| r.millis(key);
    WorkerSettings {
        group_id: r.string("group.id"),
        client_id: r.string("client.id"),
        config_storage_topic: r.string("config.storage.topic"),
        offset_storage_topic: r.string("offset.storage.topic"),
        status_storage_topic: r.string("status.storage.topic"),
        config_storage_replication_factor: r
            .replication_factor("config.storage.replication.factor"),
        offset_storage_replication_factor: r
            .replication_factor("offset.storage.replication.factor"),
        status_storage_replication_factor: r
            .replication_factor("status.storage.replication.factor"),
        offset_storage_partitions: r.int_in("offset.storage.partitions", 1, i32::MAX as i64) as i32,
        status_storage_partitions: r.int_in("status.storage.partitions", 1, i32::MAX as i64) as i32,
        offset_flush_interval: ms(&mut r, "offset.flush.interval.ms"),
        offset_flush_timeout: ms(&mut r, "offset.flush.timeout.ms"),
        exactly_once_source: r.one_of(
            "exactly.once.source.support",
            &[
                ("disabled", ExactlyOnceSource::Disabled),
                ("preparing", ExactlyOnceSource::Preparing),
                ("enabled", ExactlyOnceSource::Enabled),
            ],
        ),
        session_timeout: ms(&mut r, "session.timeout.ms"),
        heartbeat_interval: ms(&mut r, "heartbeat.interval.ms"),
        rebalance_timeout: ms(&mut r, "rebalance.timeout.ms"),
        task_shutdown_graceful_timeout: ms(&mut r, "task.shutdown.graceful.timeout.ms"),
        scheduled_rebalance_max_delay: ms(&mut r, "scheduled.rebalance.max.delay.ms"),
    }
}

/// Cross-field checks of one herder.
pub fn check_flow(flow: &Flow, errors: &mut Vec<ConfigError>) {
    let s = &flow.settings;
    // The target is always contacted (heartbeats at least); the source when the flow is enabled.
    let mut needed = vec![("target", &flow.target)];
    if s.enabled {
        needed.push(("source", &flow.source));
    }
    for (side, alias) in needed {
        let key = format!("{side}.cluster.bootstrap.servers");
        if flow.connector.get(&key).is_none_or(|v| v.value.is_empty()) {
            let why = if s.enabled {
                format!("flow {} is enabled", flow.name())
            } else {
                format!("heartbeats of {} are written there", flow.name())
            };
            errors.push(ConfigError::invalid(
                format!("{alias}.bootstrap.servers"),
                &Origin::Unset,
                format!("required: cluster `{alias}` has no bootstrap.servers and {why}"),
            ));
        }
    }
    let c = &flow.connector;
    if let Some(t) = c.get("transforms").filter(|t| !t.value.is_empty()) {
        errors.push(ConfigError::invalid(
            &t.key,
            &t.origin,
            "single message transforms are not supported; records are copied byte for byte",
        ));
    }
    for key in ["key.converter", "value.converter", "header.converter"] {
        check_converter(c.get(key), errors);
        check_converter(flow.worker.get(key), errors);
    }
    if s.exactly_once_required {
        let isolation = [
            "source.consumer.isolation.level",
            "consumer.isolation.level",
        ]
        .iter()
        .find_map(|k| c.get(*k))
        .map(|v| v.value.as_str());
        if isolation != Some("read_committed") {
            let e = c
                .get("exactly.once.support")
                .expect("set to required explicitly");
            errors.push(ConfigError::invalid(
                &e.key,
                &e.origin,
                format!("exactly.once.support=required needs `{}.consumer.isolation.level = read_committed`", flow.source),
            ));
        }
    }
}

fn check_converter(setting: Option<&Setting>, errors: &mut Vec<ConfigError>) {
    if let Some(s) = setting {
        if !s.value.ends_with("ByteArrayConverter") {
            errors.push(ConfigError::invalid(
                &s.key,
                &s.origin,
                format!("MirrorMaker 2 copies bytes unchanged; only ByteArrayConverter is supported, got `{}`", s.value),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keys::Kind;

    #[test]
    fn lists_split_like_kafka() {
        assert_eq!(split_list(" a, b ,c,, "), vec!["a", "b", "c"]);
        assert!(split_list("").is_empty());
    }

    #[test]
    fn kind_table_covers_typed_keys() {
        // Every boolean key we type must be declared Bool, so the example file documents it right.
        for key in [
            "enabled",
            "refresh.topics.enabled",
            "emit.offset-syncs.enabled",
            "sync.group.offsets.enabled",
        ] {
            assert_eq!(keys::lookup(key).unwrap().kind, Kind::Bool, "{key}");
        }
    }
}
