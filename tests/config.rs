//! mm2.properties semantics, table-driven: MirrorMaker 2's routing and precedence rules, its
//! defaults, Apache Kafka's sample file, and our example file.

use std::collections::HashMap;
use std::time::Duration;

use mm2::config::{
    self, keys, ClientKind, ConfigErrors, Environment, ExactlyOnceSource, Mm2Config,
    OffsetSyncsLocation, PolicyKind, Properties, Side, TransactionBoundary,
};

fn env(pairs: &[(&str, &str)]) -> Environment {
    Environment::Fixed(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
    )
}

fn resolve_with(
    text: &str,
    targets: &[&str],
    vars: &[(&str, &str)],
) -> Result<Mm2Config, ConfigErrors> {
    let props = Properties::parse(text.as_bytes()).expect("syntax");
    let targets: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
    config::from_properties(props, &targets, &env(vars))
}

fn resolve(text: &str) -> Mm2Config {
    resolve_with(text, &[], &[]).unwrap_or_else(|e| panic!("{e}"))
}

const BASE: &str = "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\n";

#[test]
fn apache_sample_file() {
    let cfg = config::load(
        std::path::Path::new("tests/data/apache-sample.properties"),
        &[],
        &env(&[]),
    )
    .unwrap();
    assert_eq!(cfg.clusters, ["A", "B"]);
    assert_eq!(cfg.flows.len(), 2);
    for (s, t) in [("A", "B"), ("B", "A")] {
        let f = cfg.flow(s, t).unwrap();
        assert!(f.settings.enabled);
        assert_eq!(f.settings.topics, [".*"]);
        assert_eq!(f.settings.replication_factor, 1);
        assert_eq!(f.settings.checkpoints_topic_replication_factor, 1);
        assert_eq!(f.settings.heartbeats_topic_replication_factor, 1);
        assert_eq!(f.settings.offset_syncs_topic_replication_factor, 1);
        // Top-level storage keys reach the worker through MirrorMaker 2's worker prefixes.
        assert_eq!(f.worker_settings.offset_storage_replication_factor, 1);
        assert_eq!(f.worker_settings.config_storage_replication_factor, 1);
        assert_eq!(f.worker_settings.status_storage_replication_factor, 1);
        assert_eq!(
            f.client_props(Side::Source, ClientKind::Admin)["bootstrap.servers"].value,
            if s == "A" {
                "A_host1:9092, A_host2:9092, A_host3:9092"
            } else {
                "B_host1:9092, B_host2:9092, B_host3:9092"
            }
        );
    }
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn mirror_maker_defaults() {
    let cfg = resolve(&format!("{BASE}A->B.enabled = true\n"));
    let f = cfg.flow("A", "B").unwrap();
    let s = &f.settings;
    assert!(s.enabled);
    assert_eq!(s.policy.kind, PolicyKind::Default);
    assert_eq!(s.policy.separator, ".");
    assert_eq!(s.topics, [".*"]);
    assert_eq!(
        s.topics_exclude,
        [".*[\\-\\.]internal", ".*\\.replica", "__.*"]
    );
    assert_eq!(
        s.groups_exclude,
        ["console-consumer-.*", "connect-.*", "__.*"]
    );
    assert_eq!(s.config_properties_exclude.len(), 6);
    assert_eq!(s.tasks_max, 1);
    assert_eq!(s.replication_factor, 2);
    assert_eq!(s.offset_syncs_topic_replication_factor, 3);
    assert_eq!(s.offset_syncs_location, OffsetSyncsLocation::Source);
    assert_eq!(s.offset_lag_max, 100);
    assert!(s.emit_offset_syncs && s.heartbeats_replication);
    assert_eq!(s.consumer_poll_timeout, Duration::from_millis(1000));
    assert_eq!(s.admin_timeout, Duration::from_secs(60));
    assert_eq!(s.refresh_topics, Some(Duration::from_secs(600)));
    assert_eq!(s.sync_topic_configs, Some(Duration::from_secs(600)));
    assert_eq!(s.sync_topic_acls, Some(Duration::from_secs(600)));
    assert_eq!(s.refresh_groups, Some(Duration::from_secs(600)));
    assert_eq!(s.emit_checkpoints, Some(Duration::from_secs(60)));
    assert_eq!(s.sync_group_offsets, None);
    assert_eq!(s.emit_heartbeats, Some(Duration::from_secs(1)));
    let w = &f.worker_settings;
    assert_eq!(w.group_id, "A-mm2");
    assert_eq!(w.client_id, "A->B");
    assert_eq!(w.offset_storage_topic, "mm2-offsets.A.internal");
    assert_eq!(w.config_storage_topic, "mm2-configs.A.internal");
    assert_eq!(w.status_storage_topic, "mm2-status.A.internal");
    assert_eq!(w.offset_storage_partitions, 25);
    assert_eq!(w.status_storage_partitions, 5);
    assert_eq!(w.offset_flush_interval, Duration::from_secs(60));
    assert_eq!(w.exactly_once_source, ExactlyOnceSource::Disabled);
    // B->A exists for heartbeats only.
    let back = cfg.flow("B", "A").unwrap();
    assert!(!back.settings.enabled);
}

/// (description, extra lines, flow, key in the connector config, expected value)
type Case = (
    &'static str,
    &'static str,
    (&'static str, &'static str),
    &'static str,
    Option<&'static str>,
);

const PRECEDENCE: &[Case] = &[
    (
        "top-level connector key reaches every flow",
        "topics = foo.*\n",
        ("A", "B"),
        "topics",
        Some("foo.*"),
    ),
    (
        "flow key beats top level",
        "topics = foo.*\nA->B.topics = bar\n",
        ("A", "B"),
        "topics",
        Some("bar"),
    ),
    (
        "flow key stays in its flow",
        "A->B.topics = bar\n",
        ("B", "A"),
        "topics",
        None,
    ),
    (
        "cluster key is not a connector key",
        "A.topics = bar\n",
        ("A", "B"),
        "topics",
        None,
    ),
    (
        "cluster key becomes source.cluster.*",
        "A.client.id = x\n",
        ("A", "B"),
        "source.cluster.client.id",
        Some("x"),
    ),
    (
        "cluster client key becomes source.<client>.*",
        "A.consumer.fetch.min.bytes = 7\n",
        ("A", "B"),
        "source.consumer.fetch.min.bytes",
        Some("7"),
    ),
    (
        "target side gets target.*",
        "B.admin.request.timeout.ms = 9\n",
        ("A", "B"),
        "target.admin.request.timeout.ms",
        Some("9"),
    ),
    (
        "cluster security key is inherited by its clients",
        "A.security.protocol = SSL\n",
        ("A", "B"),
        "source.producer.security.protocol",
        Some("SSL"),
    ),
    (
        "top-level security key is inherited by every cluster",
        "security.protocol = SASL_SSL\n",
        ("B", "A"),
        "source.cluster.security.protocol",
        Some("SASL_SSL"),
    ),
    (
        "cluster security beats top level",
        "security.protocol = SASL_SSL\nB.security.protocol = SSL\n",
        ("A", "B"),
        "target.consumer.security.protocol",
        Some("SSL"),
    ),
    (
        "explicit client key beats inherited one",
        "A.security.protocol = SSL\nA.consumer.security.protocol = PLAINTEXT\n",
        ("A", "B"),
        "source.consumer.security.protocol",
        Some("PLAINTEXT"),
    ),
    (
        "replication.policy keys are always copied",
        "replication.policy.separator = _\n",
        ("A", "B"),
        "replication.policy.separator",
        Some("_"),
    ),
    (
        "unknown top-level key is not copied",
        "frobnicate = 1\n",
        ("A", "B"),
        "frobnicate",
        None,
    ),
    (
        "any flow key is copied",
        "A->B.producer.override.linger.ms = 50\n",
        ("A", "B"),
        "producer.override.linger.ms",
        Some("50"),
    ),
    (
        "aliases are filled in",
        "",
        ("A", "B"),
        "source.cluster.alias",
        Some("A"),
    ),
    (
        "enabled defaults to false",
        "",
        ("B", "A"),
        "enabled",
        Some("false"),
    ),
    (
        "top-level enabled turns every flow on",
        "enabled = true\n",
        ("B", "A"),
        "enabled",
        Some("true"),
    ),
    (
        "3.x blacklist name still works",
        "topics.blacklist = secret.*\n",
        ("A", "B"),
        "topics.exclude",
        Some("secret.*"),
    ),
    (
        "flow-level 3.x name still works",
        "A->B.groups.blacklist = g.*\n",
        ("A", "B"),
        "groups.exclude",
        Some("g.*"),
    ),
];

#[test]
fn precedence_rules() {
    for (what, extra, (s, t), key, want) in PRECEDENCE {
        let cfg = resolve(&format!("{BASE}A->B.enabled = true\n{extra}"));
        let flow = cfg
            .flow(s, t)
            .unwrap_or_else(|| panic!("{what}: no flow {s}->{t}"));
        let got = flow.connector.get(*key).map(|v| v.value.as_str());
        assert_eq!(got, *want, "{what}");
    }
}

#[test]
fn client_maps_follow_mirror_maker_precedence() {
    let cfg = resolve(&format!(
        "{BASE}A->B.enabled = true\nsecurity.protocol = SSL\nA.consumer.fetch.min.bytes = 1\n\
         A->B.consumer.fetch.min.bytes = 2\nA->B.consumer.max.partition.fetch.bytes = 3\n\
         B.producer.linger.ms = 10\nA->B.producer.override.linger.ms = 20\nA.producer.acks = 1\n"
    ));
    let f = cfg.flow("A", "B").unwrap();
    let c = f.replication_consumer_props();
    assert_eq!(c["bootstrap.servers"].value, "a:9092");
    assert_eq!(c["security.protocol"].value, "SSL");
    // `source.consumer.*` (from A.consumer.*) beats the flow's `consumer.*`.
    assert_eq!(c["fetch.min.bytes"].value, "1");
    assert_eq!(c["max.partition.fetch.bytes"].value, "3");
    assert_eq!(c["enable.auto.commit"].value, "false");
    assert_eq!(c["auto.offset.reset"].value, "earliest");
    assert!(
        !c.contains_key("poll.timeout.ms"),
        "connector key consumer.poll.timeout.ms leaked"
    );
    // The worker producer writes replicated records to B: B.producer.* then producer.override.*.
    let p = f.worker_client_props(ClientKind::Producer);
    assert_eq!(p["bootstrap.servers"].value, "b:9092");
    assert_eq!(p["linger.ms"].value, "20");
    // The offset-syncs producer on A reads A.producer.*.
    let sp = f.client_props(Side::Source, ClientKind::Producer);
    assert_eq!(sp["acks"].value, "1");
    assert_eq!(sp["bootstrap.servers"].value, "a:9092");
}

#[test]
fn herders_follow_enabled_and_heartbeat_flags() {
    let three = "clusters = A, B, C\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nC.bootstrap.servers = c\nA->B.enabled = true\n";
    let names = |cfg: &Mm2Config| cfg.flows.iter().map(|f| f.name()).collect::<Vec<_>>();
    assert_eq!(
        names(&resolve(three)).len(),
        6,
        "every ordered pair emits heartbeats by default"
    );
    let cfg = resolve(&format!("{three}emit.heartbeats.enabled = false\n"));
    assert_eq!(names(&cfg), ["A->B"]);
    let cfg = resolve(&format!(
        "{three}emit.heartbeats.enabled = false\nC->A.emit.heartbeats.enabled = true\n"
    ));
    assert_eq!(names(&cfg), ["A->B", "C->A"]);
    let cfg = resolve_with(three, &["B"], &[]).unwrap();
    assert_eq!(names(&cfg), ["A->B", "C->B"]);
}

#[test]
fn policy_and_separator() {
    let cfg = resolve(&format!("{BASE}A->B.enabled = true\nreplication.policy.separator = _\nreplication.policy.internal.topic.separator.enabled = false\n"));
    let p = &cfg.flow("A", "B").unwrap().settings.policy;
    assert_eq!(p.separator, "_");
    assert_eq!(p.internal_separator, ".");
    let cfg = resolve(&format!("{BASE}A->B.enabled = true\nreplication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n"));
    assert_eq!(
        cfg.flow("A", "B").unwrap().settings.policy.kind,
        PolicyKind::Identity
    );
}

#[test]
fn negative_interval_disables_and_worker_keys_apply_per_target() {
    let cfg = resolve(&format!(
        "{BASE}A->B.enabled = true\nrefresh.topics.interval.seconds = -1\nA->B.sync.topic.acls.enabled = false\n\
         B.offset.flush.interval.ms = 5000\nB.exactly.once.source.support = enabled\n"
    ));
    let f = cfg.flow("A", "B").unwrap();
    assert_eq!(f.settings.refresh_topics, None);
    assert_eq!(f.settings.sync_topic_acls, None);
    assert_eq!(
        f.worker_settings.offset_flush_interval,
        Duration::from_secs(5)
    );
    assert_eq!(
        f.worker_settings.exactly_once_source,
        ExactlyOnceSource::Enabled
    );
    assert_eq!(
        cfg.flow("B", "A")
            .unwrap()
            .worker_settings
            .exactly_once_source,
        ExactlyOnceSource::Disabled
    );
}

#[test]
fn exactly_once_transactions() {
    let cfg = resolve(&format!(
        "{BASE}A->B.enabled = true\nB->A.enabled = true\nB.exactly.once.source.support = enabled\n\
         A->B.transaction.boundary = interval\nA->B.transaction.boundary.interval.ms = 250\n"
    ));
    let f = cfg.flow("A", "B").unwrap();
    assert!(mm2::mirror::source_task::exactly_once(f));
    // Connect's `<group.id>-<connector>-<task>`, with MirrorMaker 2's group `<source>-mm2`.
    assert_eq!(
        mm2::mirror::source_task::transactional_id(f, "MirrorSourceConnector", 3),
        "A-mm2-MirrorSourceConnector-3"
    );
    assert_eq!(
        f.settings.transaction_boundary,
        TransactionBoundary::Interval(Some(Duration::from_millis(250)))
    );
    let back = cfg.flow("B", "A").unwrap();
    assert!(!mm2::mirror::source_task::exactly_once(back));
    assert_eq!(
        back.settings.transaction_boundary,
        TransactionBoundary::Poll
    );
}

#[test]
fn environment_overrides_and_providers() {
    let cfg = resolve_with(
        &format!("{BASE}A->B.enabled = false\nB.sasl.jaas.config = x password=\"${{env:PW}}\";\n"),
        &[],
        &[
            ("MM2_A__B_ENABLED", "true"),
            ("MM2_A_BOOTSTRAP_SERVERS", "override:1"),
            ("PW", "pw"),
        ],
    )
    .unwrap();
    let f = cfg.flow("A", "B").unwrap();
    assert!(f.settings.enabled);
    assert_eq!(
        f.connector["source.cluster.bootstrap.servers"].value,
        "override:1"
    );
    let jaas = &f.connector["target.cluster.sasl.jaas.config"];
    assert_eq!(jaas.value, "x password=\"pw\";");
    assert!(jaas.sensitive);
}

/// (description, extra lines, expected fragment of the error)
const INVALID: &[(&str, &str, &str)] = &[
    (
        "empty separator",
        "replication.policy.separator =\n",
        "`replication.policy.separator` (line 5): must not be empty",
    ),
    (
        "bad location",
        "offset-syncs.topic.location = middle\n",
        "expected one of source, target",
    ),
    (
        "zero interval",
        "emit.checkpoints.interval.seconds = 0\n",
        "must be positive",
    ),
    (
        "zero replication factor",
        "replication.factor = 0\n",
        "must be -1 (the broker's default) or at least 1",
    ),
    (
        "transforms",
        "transforms = mask\n",
        "single message transforms are not supported",
    ),
    (
        "converter",
        "A->B.value.converter = org.apache.kafka.connect.json.JsonConverter\n",
        "only ByteArrayConverter",
    ),
    (
        "custom filter",
        "topic.filter.class = com.acme.Filter\n",
        "custom plugin class `com.acme.Filter`",
    ),
    (
        "eos required without read_committed",
        "A->B.exactly.once.support = required\n",
        "isolation.level = read_committed",
    ),
    (
        "connector-defined transactions",
        "A->B.transaction.boundary = connector\n",
        "expected one of poll, interval",
    ),
    (
        "bad eos mode",
        "B.exactly.once.source.support = maybe\n",
        "expected one of disabled, preparing, enabled",
    ),
    (
        "bad alias",
        "clusters = A, B, C.D\n",
        "alias `C.D` may not contain",
    ),
    (
        "duplicate alias",
        "clusters = A, B, A\n",
        "alias `A` is listed twice",
    ),
    (
        "bad listener",
        "listeners = ftp://:8443\n",
        "Listener protocol must be either \"http\" or \"https\".",
    ),
    (
        "https listener without a keystore",
        "listeners = https://:8443\n",
        "an https listener needs a keystore: set `ssl.keystore.location`",
    ),
    (
        "unknown REST extension",
        "rest.extension.classes = com.acme.Ext\n",
        "REST extension class `com.acme.Ext` is not available",
    ),
    (
        "bad metric names",
        "metrics.names = jmx\n",
        "`jmx` is neither `strimzi`",
    ),
];

#[test]
fn invalid_values_are_named() {
    for (what, extra, fragment) in INVALID {
        let text = format!("{BASE}A->B.enabled = true\n{extra}");
        let err = resolve_with(&text, &[], &[])
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(fragment),
            "{what}: expected `{fragment}` in:\n{err}"
        );
    }
}

#[test]
fn example_file_parses_and_documents_every_key() {
    let text = std::fs::read_to_string("mm2.properties.example").unwrap();
    let cfg = resolve(&text);
    assert!(cfg.flow("A", "B").unwrap().settings.enabled);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    for def in keys::KEYS {
        assert!(
            text.contains(def.name),
            "mm2.properties.example does not mention `{}`",
            def.name
        );
        if let Some(default) = def
            .default
            .filter(|d| !d.is_empty() && def.name != "enabled")
        {
            let line = format!("{} = {default}", def.name);
            let documented = text
                .lines()
                .any(|l| l.trim_start_matches(['#', ' ']).ends_with(&line))
                || text.contains(&format!("{} ({default}", def.name))
                || text
                    .lines()
                    .any(|l| l.contains(def.name) && l.contains(default));
            assert!(
                documented,
                "mm2.properties.example does not give `{}`'s default `{default}`",
                def.name
            );
        }
    }
}

#[test]
fn deploy_example_resolves() {
    let cfg = config::load(
        std::path::Path::new("deploy/mm2.properties"),
        &[],
        &env(&[
            ("KAFKA_A_PASSWORD", "a-secret"),
            ("KAFKA_B_PASSWORD", "b-secret"),
        ]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let f = cfg.flow("A", "B").unwrap();
    assert!(f.settings.enabled && f.settings.sync_group_offsets.is_some());
    let jaas = &f.connector["source.cluster.sasl.jaas.config"];
    assert!(jaas.sensitive && jaas.value.contains("a-secret"));
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

/// `dedicated.mode.enable.internal.rest = true` opens nothing: Java serves only its signed
/// internal endpoints there, never the public REST API; ours is served only on `listeners`.
#[test]
fn internal_rest_does_not_open_the_public_api() {
    let cfg = resolve(&format!(
        "{BASE}A->B.enabled = true\ndedicated.mode.enable.internal.rest = true\n"
    ));
    assert!(cfg.driver.internal_rest);
    assert!(!cfg.driver.listeners_set, "no listener without `listeners`");
    let cfg = resolve(&format!(
        "{BASE}A->B.enabled = true\ndedicated.mode.enable.internal.rest = true\nlisteners = http://127.0.0.1:8099\n"
    ));
    assert!(cfg.driver.listeners_set);
    assert_eq!(cfg.driver.rest.listeners[0].bind_addr(), "127.0.0.1:8099");
}

/// Strimzi's metric names by default; `metrics.names = legacy` keeps the first releases' names.
#[test]
fn metric_names_are_strimzis_unless_legacy_is_asked_for() {
    use mm2::metrics::MetricNames;
    let cfg = resolve(&format!("{BASE}A->B.enabled = true\n"));
    assert_eq!(cfg.driver.metric_names, MetricNames::Strimzi);
    let cfg = resolve(&format!(
        "{BASE}A->B.enabled = true\nmetrics.names = legacy\n"
    ));
    assert_eq!(cfg.driver.metric_names, MetricNames::Legacy);
}
