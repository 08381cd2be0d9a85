//! MirrorMaker 2's routing rules (`MirrorMakerConfig`): which herders exist, and how top-level,
//! cluster-level (`A.<key>`) and flow-level (`A->B.<key>`) keys become each herder's connector
//! and worker configuration. Unknown, ignored and misplaced keys become warnings.

use super::error::{ConfigError, ConfigErrors, Origin, Warning};
use super::keys::{self, Scope, Support};
use super::model::{DriverSettings, Flow, Mm2Config, Props};
use super::properties::{Properties, Setting};
use super::settings;
use crate::metrics::MetricNames;

/// Resolves parsed properties into the herders this process serves. `targets` is `--clusters`:
/// when not empty, only herders whose target is listed.
pub fn resolve(mut props: Properties, targets: &[String]) -> Result<Mm2Config, ConfigErrors> {
    let mut warnings = props.take_warnings();
    let mut errors = Vec::new();
    apply_renames(&mut props, &mut warnings);

    let clusters = parse_clusters(&props, &mut errors);
    classify_keys(&props, &clusters, &mut warnings, &mut errors);
    for t in targets {
        if !clusters.contains(t) {
            errors.push(ConfigError::invalid(
                "--clusters",
                &Origin::Unset,
                format!("`{t}` is not one of the clusters ({})", clusters.join(", ")),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    let mut flows = Vec::new();
    for (source, target) in herder_pairs(&props, &clusters, &mut errors) {
        if !targets.is_empty() && !targets.contains(&target) {
            continue;
        }
        let connector = connector_config(&props, &source, &target);
        let worker = worker_config(&props, &source, &target);
        let flow_settings = settings::flow_settings(&connector, &mut errors);
        let worker_settings = settings::worker_settings(&worker, &mut errors);
        flows.push(Flow {
            source,
            target,
            connector,
            worker,
            settings: flow_settings,
            worker_settings,
        });
    }
    if flows.is_empty() && errors.is_empty() {
        errors.push(ConfigError::invalid(
            "clusters",
            &origin(&props, "clusters"),
            "no source->target replication flows: enable one with `A->B.enabled = true`",
        ));
    }
    for flow in &flows {
        settings::check_flow(flow, &mut errors);
    }
    let driver = driver_settings(&props, &mut errors);
    if !errors.is_empty() {
        return Err(ConfigErrors::deduplicated(errors));
    }
    Ok(Mm2Config {
        clusters,
        flows,
        driver,
        warnings,
    })
}

fn origin(props: &Properties, key: &str) -> Origin {
    props
        .get(key)
        .map(|s| s.origin.clone())
        .unwrap_or(Origin::Unset)
}

/// Kafka 3.x names (`topics.blacklist`) still work, with a warning, unless the new name is set.
fn apply_renames(props: &mut Properties, warnings: &mut Vec<Warning>) {
    let keys: Vec<String> = props.keys().cloned().collect();
    for key in keys {
        for (old, new) in keys::RENAMED {
            let Some(prefix) = key.strip_suffix(old) else {
                continue;
            };
            if !(prefix.is_empty() || prefix.ends_with('.')) {
                continue;
            }
            let setting = props.get(&key).expect("listed key").clone();
            let new_key = format!("{prefix}{new}");
            warnings.push(Warning::new(
                &key,
                &setting.origin,
                format!("deprecated and removed in Kafka 4.0; use `{new_key}`"),
            ));
            if props.get(&new_key).is_none() {
                props.set(new_key, setting);
            }
        }
    }
}

fn parse_clusters(props: &Properties, errors: &mut Vec<ConfigError>) -> Vec<String> {
    let Some(setting) = props.get("clusters") else {
        errors.push(ConfigError::invalid(
            "clusters",
            &Origin::Unset,
            "required: list the cluster aliases, e.g. `clusters = A, B`",
        ));
        return Vec::new();
    };
    let mut aliases: Vec<String> = Vec::new();
    for alias in settings::split_list(&setting.value) {
        let bad =
            alias.contains("->") || alias.contains('.') || alias.chars().any(char::is_whitespace);
        if bad {
            errors.push(ConfigError::invalid(
                "clusters",
                &setting.origin,
                format!("alias `{alias}` may not contain `.`, `->` or whitespace"),
            ));
        } else if aliases.contains(&alias) {
            errors.push(ConfigError::invalid(
                "clusters",
                &setting.origin,
                format!("alias `{alias}` is listed twice"),
            ));
        } else {
            aliases.push(alias);
        }
    }
    if aliases.is_empty() && errors.is_empty() {
        errors.push(ConfigError::invalid(
            "clusters",
            &setting.origin,
            "is empty: list the cluster aliases, e.g. `clusters = A, B`",
        ));
    }
    aliases
}

/// What kind of key `key` is, relative to the aliases.
enum KeyForm<'a> {
    TopLevel,
    Cluster {
        alias: &'a str,
        rest: &'a str,
    },
    Flow {
        source: &'a str,
        target: &'a str,
        rest: &'a str,
    },
}

fn key_form<'a>(key: &'a str, aliases: &[String]) -> KeyForm<'a> {
    if let Some((head, _)) = key.split_once('.') {
        if let Some((source, target)) = head.split_once("->") {
            return KeyForm::Flow {
                source,
                target,
                rest: &key[head.len() + 1..],
            };
        }
        if aliases.iter().any(|a| a == head) {
            return KeyForm::Cluster {
                alias: head,
                rest: &key[head.len() + 1..],
            };
        }
    }
    KeyForm::TopLevel
}

fn is_worker_key(rest: &str) -> bool {
    keys::lookup(rest).is_some_and(|d| d.scope == Scope::Worker)
        || keys::WORKER_TOP_LEVEL_PREFIXES
            .iter()
            .any(|p| rest.starts_with(p))
}

fn is_connector_key(rest: &str) -> bool {
    keys::lookup(rest).is_some_and(|d| d.scope == Scope::Connector)
        || rest.starts_with("replication.policy")
        || [
            "producer.override.",
            "consumer.override.",
            "admin.override.",
            "transforms.",
            "predicates.",
            "errors.",
        ]
        .iter()
        .any(|p| rest.starts_with(p))
}

/// Warns about unknown, ignored and misplaced keys; errors on flows naming unknown clusters.
fn classify_keys(
    props: &Properties,
    aliases: &[String],
    warnings: &mut Vec<Warning>,
    errors: &mut Vec<ConfigError>,
) {
    for (key, s) in props.iter() {
        let mut warn = |msg: String| warnings.push(Warning::new(key, &s.origin, msg));
        match key_form(key, aliases) {
            KeyForm::Flow {
                source,
                target,
                rest,
            } => {
                check_flow_clusters(key, s, [source, target], aliases, errors);
                classify_flow_key(rest, &mut warn);
            }
            KeyForm::Cluster { alias, rest } => classify_cluster_key(alias, rest, &mut warn),
            KeyForm::TopLevel => classify_top_level(key, aliases, &mut warn),
        }
    }
}

/// A flow key (`A->B.<rest>`) must name two different known clusters.
fn check_flow_clusters(
    key: &str,
    s: &Setting,
    [source, target]: [&str; 2],
    aliases: &[String],
    errors: &mut Vec<ConfigError>,
) {
    for alias in [source, target] {
        if !aliases.iter().any(|a| a == alias) {
            errors.push(ConfigError::invalid(
                key,
                &s.origin,
                format!(
                    "names cluster `{alias}`, which is not in clusters ({})",
                    aliases.join(", ")
                ),
            ));
        }
    }
    if source == target {
        errors.push(ConfigError::invalid(
            key,
            &s.origin,
            "a flow must go between two different clusters",
        ));
    }
}

fn classify_flow_key(rest: &str, warn: &mut impl FnMut(String)) {
    if let Some(msg) = ignored_message(rest) {
        warn(msg);
    } else if !is_connector_key(rest)
        && keys::client_prefix(rest).is_none()
        && !keys::is_client_security_key(rest)
    {
        warn(format!("`{rest}` is not a MirrorMaker 2 connector setting; it is passed to the connectors unused"));
    }
}

fn classify_cluster_key(alias: &str, rest: &str, warn: &mut impl FnMut(String)) {
    if keys::is_client_security_key(rest)
        || keys::client_prefix(rest).is_some()
        || is_worker_key(rest)
    {
        if let Some(msg) = ignored_message(rest) {
            warn(msg);
        }
    } else if is_connector_key(rest) {
        warn(format!(
            "a cluster-level key does not configure connectors; use `{alias}->OTHER.{rest}` or a top-level `{rest}`"
        ));
    } else {
        warn(format!(
            "`{rest}` is not a known client or worker setting of cluster `{alias}`"
        ));
    }
}

fn classify_top_level(key: &str, aliases: &[String], warn: &mut impl FnMut(String)) {
    if let Some(msg) = ignored_message(key) {
        return warn(msg);
    }
    if let Some((_, why)) = keys::REMOVED.iter().find(|(k, _)| *k == key) {
        return warn((*why).to_string());
    }
    if keys::RENAMED.iter().any(|(old, _)| *old == key) {
        return; // already warned
    }
    let known = keys::lookup(key).is_some_and(|d| d.scope != Scope::Worker)
        || keys::is_client_security_key(key)
        || key.starts_with("config.providers.")
        || key.starts_with("replication.policy")
        || keys::WORKER_TOP_LEVEL_PREFIXES
            .iter()
            .any(|p| key.starts_with(p))
        || is_connector_key(key);
    if known {
        return;
    }
    let example = aliases.last().map(String::as_str).unwrap_or("B");
    if keys::lookup(key).is_some_and(|d| d.scope == Scope::Worker) {
        warn(format!(
            "MirrorMaker 2 ignores this worker setting at top level; set it per target cluster, e.g. `{example}.{key}`"
        ));
    } else if keys::client_prefix(key).is_some() {
        warn(format!(
            "MirrorMaker 2 ignores client settings at top level; set `{example}.{key}` or `A->B.{key}`"
        ));
    } else if let Some((head, rest)) = key.split_once('.') {
        if keys::is_client_security_key(rest)
            || keys::client_prefix(rest).is_some()
            || is_worker_key(rest)
        {
            warn(format!(
                "`{head}` is not one of the clusters ({}); the key is ignored",
                aliases.join(", ")
            ));
        } else {
            warn("unknown key; it is ignored".to_string());
        }
    } else {
        warn("unknown key; it is ignored".to_string());
    }
}

fn ignored_message(key: &str) -> Option<String> {
    match keys::lookup(key)?.support {
        Support::Ignored(why) => Some(format!("accepted but has no effect: {why}")),
        Support::Honoured => None,
    }
}

fn parse_bool_loose(value: Option<&Setting>) -> Option<bool> {
    value.map(|s| s.value.eq_ignore_ascii_case("true"))
}

/// The herders MirrorMaker 2 creates: every ordered pair that is enabled or emits heartbeats.
fn herder_pairs(
    props: &Properties,
    aliases: &[String],
    errors: &mut Vec<ConfigError>,
) -> Vec<(String, String)> {
    for key in ["emit.heartbeats.enabled", "enabled"] {
        settings::check_bool(props.get(key), errors);
    }
    let global_heartbeats = parse_bool_loose(props.get("emit.heartbeats.enabled")).unwrap_or(true);
    let global_enabled = parse_bool_loose(props.get("enabled")).unwrap_or(false);
    let mut pairs = Vec::new();
    for source in aliases {
        for target in aliases.iter().filter(|t| *t != source) {
            let prefix = format!("{source}->{target}.");
            let enabled_key = format!("{prefix}enabled");
            let heartbeats_key = format!("{prefix}emit.heartbeats.enabled");
            settings::check_bool(props.get(&enabled_key), errors);
            settings::check_bool(props.get(&heartbeats_key), errors);
            let enabled = parse_bool_loose(props.get(&enabled_key)).unwrap_or(global_enabled);
            let heartbeats =
                parse_bool_loose(props.get(&heartbeats_key)).unwrap_or(global_heartbeats);
            if enabled || heartbeats {
                pairs.push((source.clone(), target.clone()));
            }
        }
    }
    pairs
}

/// `clusterProps(alias)`: the alias's keys, with security keys inherited into every client.
pub(crate) fn cluster_props(props: &Properties, alias: &str) -> Props {
    let prefix = format!("{alias}.");
    let mut out: Props = props
        .iter()
        .filter_map(|(k, s)| {
            k.strip_prefix(&prefix)
                .map(|rest| (rest.to_string(), s.clone()))
        })
        .collect();
    let inherit = |out: &mut Props, k: &str, s: &Setting, top: bool| {
        for client in ["producer.", "consumer.", "admin."] {
            out.entry(format!("{client}{k}"))
                .or_insert_with(|| s.clone());
        }
        if top {
            out.entry(k.to_string()).or_insert_with(|| s.clone());
        }
    };
    let cluster_level: Vec<(String, Setting)> = out
        .iter()
        .filter(|(k, _)| keys::is_client_security_key(k))
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    for (k, s) in &cluster_level {
        inherit(&mut out, k, s, false);
    }
    for (k, s) in props
        .iter()
        .filter(|(k, _)| keys::is_client_security_key(k))
    {
        inherit(&mut out, k, s, true);
    }
    out
}

/// `connectorBaseConfig(source->target)`.
fn connector_config(props: &Properties, source: &str, target: &str) -> Props {
    let mut out: Props = props
        .iter()
        .filter(|(k, _)| {
            keys::lookup(k).is_some_and(|d| d.scope == Scope::Connector)
                || k.starts_with("config.providers")
                || k.starts_with("replication.policy")
        })
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    for (side, alias) in [("source", source), ("target", target)] {
        for (k, s) in cluster_props(props, alias) {
            let key = if keys::client_prefix(&k).is_some() {
                format!("{side}.{k}")
            } else {
                format!("{side}.cluster.{k}")
            };
            out.insert(key, s);
        }
    }
    for (k, v) in [
        ("source.cluster.alias", source),
        ("target.cluster.alias", target),
    ] {
        out.entry(k.to_string())
            .or_insert_with(|| Setting::default_for(k, v));
    }
    let prefix = format!("{source}->{target}.");
    for (k, s) in props.iter() {
        if let Some(rest) = k.strip_prefix(&prefix) {
            out.insert(rest.to_string(), s.clone());
        }
    }
    out.entry("enabled".to_string())
        .or_insert_with(|| Setting::default_for("enabled", "false"));
    out
}

/// `workerConfig(source->target)`.
fn worker_config(props: &Properties, source: &str, target: &str) -> Props {
    let mut out = cluster_props(props, target);
    for (k, s) in props.iter() {
        if keys::WORKER_TOP_LEVEL_PREFIXES
            .iter()
            .any(|p| k.starts_with(p))
            || k.starts_with("config.providers")
        {
            out.insert(k.clone(), s.clone());
        }
    }
    let defaults = [
        ("client.id", format!("{source}->{target}")),
        ("group.id", format!("{source}-mm2")),
        (
            "offset.storage.topic",
            format!("mm2-offsets.{source}.internal"),
        ),
        (
            "status.storage.topic",
            format!("mm2-status.{source}.internal"),
        ),
        (
            "config.storage.topic",
            format!("mm2-configs.{source}.internal"),
        ),
        ("key.converter", keys::BYTE_ARRAY_CONVERTER.to_string()),
        ("value.converter", keys::BYTE_ARRAY_CONVERTER.to_string()),
        ("header.converter", keys::BYTE_ARRAY_CONVERTER.to_string()),
    ];
    for (k, v) in defaults {
        out.entry(k.to_string())
            .or_insert_with(|| Setting::default_for(k, &v));
    }
    out
}

/// `metrics.names`: `strimzi` or `legacy`.
fn metric_names(props: &Properties, errors: &mut Vec<ConfigError>) -> MetricNames {
    let Some(setting) = props.get("metrics.names") else {
        return MetricNames::default();
    };
    match setting.value.trim() {
        "strimzi" => MetricNames::Strimzi,
        "legacy" => MetricNames::Legacy,
        other => {
            errors.push(ConfigError::invalid(
                "metrics.names",
                &setting.origin,
                format!("`{other}` is neither `strimzi` (Strimzi's names, the default) nor `legacy` (kafka_connect_mirror_source_connector_*)"),
            ));
            MetricNames::default()
        }
    }
}

fn driver_settings(props: &Properties, errors: &mut Vec<ConfigError>) -> DriverSettings {
    let internal_rest = settings::bool_of(
        props.get("dedicated.mode.enable.internal.rest"),
        "dedicated.mode.enable.internal.rest",
        errors,
    );
    // Java's MirrorMaker builds its REST server from the top-level keys; so do we.
    let top_level: Props = props.iter().map(|(k, s)| (k.clone(), s.clone())).collect();
    DriverSettings {
        metric_names: metric_names(props, errors),
        rest: super::rest::rest_settings(&top_level, errors),
        // Java's internal REST serves only its signed task-forwarding endpoints, which workers
        // coordinating through Kafka do not need: it never opens the public API.
        listeners_set: props.get("listeners").is_some(),
        internal_rest,
    }
}
