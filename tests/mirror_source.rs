//! MirrorSource against the two test brokers: remote topics named by the replication policy,
//! every record copied with its partition, key, value, headers and timestamp, resume from stored
//! offsets, offset syncs, config sync, topic discovery and no loops in active/active.

mod common;

use std::time::Duration;

use common::*;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicates_records_exactly_under_the_source_alias() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, sent) = seeded_source_topic("orders", 3, 60).await;

    let mm2 = Mm2::start(&flow_config(
        &a,
        &b,
        &format!("tasks.max = 2\n{a}->{b}.topics = {topic}\n"),
    ))
    .await;
    let remote = format!("{a}.{topic}");
    let got = read_exactly(
        &target_bootstrap(),
        &remote,
        3,
        sent.len(),
        Duration::from_secs(60),
    );
    assert_eq!(
        topics(&target_bootstrap())[&remote],
        3,
        "same partition count as the source"
    );
    assert_same_partitions(&got, &sent, 3);
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_from_stored_offsets_without_loss_or_duplicates() {
    common::require_brokers!();
    let (a, b) = aliases();
    let topic = unique("resume");
    create_topic(&source_bootstrap(), &topic, 2).await;
    let first = sample_records(40, 2);
    produce(&source_bootstrap(), &topic, &first).await;
    let config = flow_config(&a, &b, &format!("{a}->{b}.topics = {topic}\n"));
    let remote = format!("{a}.{topic}");

    let mm2 = Mm2::start(&config).await;
    read_exactly(
        &target_bootstrap(),
        &remote,
        2,
        first.len(),
        Duration::from_secs(60),
    );
    mm2.stop().await;

    let second: Vec<Rec> = sample_records(80, 2).split_off(40);
    produce(&source_bootstrap(), &topic, &second).await;
    let mm2 = Mm2::start(&config).await;
    let got = read_exactly(
        &target_bootstrap(),
        &remote,
        2,
        first.len() + second.len(),
        Duration::from_secs(60),
    );
    let all: Vec<Rec> = first.iter().chain(second.iter()).cloned().collect();
    assert_same_partitions(&got, &all, 2);
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emits_offset_syncs_byte_compatible_on_the_source() {
    common::require_brokers!();
    use mm2::mirror::wire::OffsetSync;
    let (a, b) = aliases();
    let (topic, _) = seeded_source_topic("syncs", 2, 300).await;
    let mm2 = Mm2::start(&flow_config(
        &a,
        &b,
        &format!("{a}->{b}.topics = {topic}\n"),
    ))
    .await;
    read_exactly(
        &target_bootstrap(),
        &format!("{a}.{topic}"),
        2,
        300,
        Duration::from_secs(60),
    );
    mm2.stop().await;

    let syncs_topic = format!("mm2-offset-syncs.{b}.internal");
    assert!(
        topics(&source_bootstrap()).contains_key(&syncs_topic),
        "offset syncs live on the source"
    );
    let syncs: Vec<OffsetSync> = read_raw(&source_bootstrap(), &syncs_topic, 0)
        .into_iter()
        .map(|(k, v)| OffsetSync::decode(&k.unwrap(), &v.unwrap()).expect("decodes"))
        .filter(|s| s.topic == topic)
        .collect();
    for p in 0..2 {
        let ours: Vec<(i64, i64)> = syncs
            .iter()
            .filter(|s| s.partition == p)
            .map(|s| (s.upstream_offset, s.downstream_offset))
            .collect();
        // First record, every offset.lag.max + 1 (101) records, and the final position at commit.
        assert_eq!(ours, vec![(0, 0), (101, 101), (149, 149)], "partition {p}");
    }
}

/// Topic configs under Kafka's default rule (`use.defaults.from = target`): what is set on the
/// source topic is set on the remote topic, at creation and when it changes; what returns to
/// its default on the source is deleted on the target; `config.properties.exclude` keys
/// (min.insync.replicas) are never copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_remote_topics_with_source_configs_and_keeps_them_in_sync() {
    common::require_brokers!();
    use mm2::kafka::admin_ffi::{
        incremental_alter_topic_configs, AlterKind, ConfigOp, TopicConfigChanges,
    };
    let (a, b) = aliases();
    let topic = unique("configs");
    let admin_a = admin(&source_bootstrap());
    let new = NewTopic::new(&topic, 1, TopicReplication::Fixed(1))
        .set("retention.ms", "3600000")
        .set("max.message.bytes", "200000")
        .set("min.insync.replicas", "1");
    admin_a
        .create_topics(&[new], &AdminOptions::new())
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    let remote = format!("{a}.{topic}");
    let extra = format!("{a}->{b}.topics = {topic}\nsync.topic.configs.interval.seconds = 1\n");
    let mm2 = Mm2::start(&flow_config(&a, &b, &extra)).await;
    wait_for(Duration::from_secs(30), || {
        topics(&target_bootstrap()).contains_key(&remote)
    });
    let target = target_bootstrap();
    assert_eq!(
        topic_override(&target, &remote, "retention.ms")
            .await
            .as_deref(),
        Some("3600000")
    );
    assert_eq!(
        topic_override(&target, &remote, "max.message.bytes")
            .await
            .as_deref(),
        Some("200000")
    );
    // A key left at its default on the source is not set on the target.
    assert_eq!(topic_override(&target, &remote, "segment.ms").await, None);

    // One key changed and one returned to its default on the source.
    let change = TopicConfigChanges {
        topic: topic.clone(),
        ops: vec![
            ConfigOp {
                name: "retention.ms".into(),
                kind: AlterKind::Set,
                value: Some("7200000".into()),
            },
            ConfigOp {
                name: "max.message.bytes".into(),
                kind: AlterKind::Delete,
                value: None,
            },
        ],
    };
    incremental_alter_topic_configs(&admin_a, &[change], Duration::from_secs(10))
        .await
        .unwrap()[0]
        .1
        .as_ref()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let retention = topic_override(&target, &remote, "retention.ms").await;
        let max_bytes = topic_override(&target, &remote, "max.message.bytes").await;
        if retention.as_deref() == Some("7200000") && max_bytes.is_none() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "config changes not synced: retention.ms {retention:?}, max.message.bytes {max_bytes:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // min.insync.replicas is in config.properties.exclude: set on the source, never copied.
    assert_eq!(
        topic_override(&source_bootstrap(), &topic, "min.insync.replicas")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        topic_override(&target, &remote, "min.insync.replicas").await,
        None
    );
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_topics_start_replicating_without_a_restart() {
    common::require_brokers!();
    let (a, b) = aliases();
    let prefix = unique("disc");
    let first = format!("{prefix}-1");
    create_topic(&source_bootstrap(), &first, 1).await;
    produce(&source_bootstrap(), &first, &sample_records(5, 1)).await;
    let mm2 = Mm2::start(&flow_config(
        &a,
        &b,
        &format!("{a}->{b}.topics = {prefix}-.*\nrefresh.topics.interval.seconds = 1\n"),
    ))
    .await;
    read_exactly(
        &target_bootstrap(),
        &format!("{a}.{first}"),
        1,
        5,
        Duration::from_secs(60),
    );
    let second = format!("{prefix}-2");
    create_topic(&source_bootstrap(), &second, 2).await;
    let recs = sample_records(10, 2);
    produce(&source_bootstrap(), &second, &recs).await;
    let got = read_exactly(
        &target_bootstrap(),
        &format!("{a}.{second}"),
        2,
        10,
        Duration::from_secs(60),
    );
    assert_same_partitions(&got, &recs, 2);
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_active_never_loops() {
    common::require_brokers!();
    let (x, y) = aliases();
    let topic = unique("aa");
    for bootstrap in [source_bootstrap(), target_bootstrap()] {
        create_topic(&bootstrap, &topic, 1).await;
        produce(&bootstrap, &topic, &sample_records(10, 1)).await;
    }
    // `.*<topic>` also matches the remote topics, so only loop detection keeps them from
    // going back to where they came from.
    let config = format!(
        "{}{y}->{x}.enabled = true\ntopics = .*{topic}.*\nrefresh.topics.interval.seconds = 1\n",
        flow_config(&x, &y, "")
    );
    let mm2 = Mm2::start(&config).await;
    read_exactly(
        &target_bootstrap(),
        &format!("{x}.{topic}"),
        1,
        10,
        Duration::from_secs(60),
    );
    read_exactly(
        &source_bootstrap(),
        &format!("{y}.{topic}"),
        1,
        10,
        Duration::from_secs(60),
    );
    // Witnesses of refreshes after both remote topics exist: a topic created now on each
    // side is replicated only by a refresh that also lists the remote topic it must not loop.
    let late = format!("{topic}-late");
    create_topic(&source_bootstrap(), &late, 1).await;
    create_topic(&target_bootstrap(), &late, 1).await;
    wait_for(Duration::from_secs(60), || {
        topic_exists(&target_bootstrap(), &format!("{x}.{late}"))
            && topic_exists(&source_bootstrap(), &format!("{y}.{late}"))
    });
    for (bootstrap, looped) in [
        (source_bootstrap(), format!("{x}.{y}.{topic}")),
        (target_bootstrap(), format!("{y}.{x}.{topic}")),
    ] {
        let names = topics(&bootstrap);
        assert!(!names.contains_key(&looped), "{looped} must never exist");
        assert!(
            names.keys().filter(|t| t.ends_with(&topic)).count() == 2,
            "{names:?}"
        );
    }
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_per_partition_metrics() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, _) = seeded_source_topic("metrics", 2, 20).await;
    let mm2 = Mm2::start(&flow_config(
        &a,
        &b,
        &format!("{a}->{b}.topics = {topic}\nlisteners = http://127.0.0.1:0\n"),
    ))
    .await;
    let remote = format!("{a}.{topic}");
    read_exactly(&target_bootstrap(), &remote, 2, 20, Duration::from_secs(60));
    let addr = mm2.http[0];
    // Strimzi's names: the family of MirrorSourceConnector's MBeans, and the clients' metrics
    // the tasks keep, client ids quoted as in MBean names.
    let p = "kafka_connect_mirror_mirrorsourceconnector_";
    let labels = format!("partition=\"1\",source=\"{a}\",target=\"{b}\",topic=\"{remote}\"");
    let wanted = [
        format!("{p}record_count{{{labels}}} 10"),
        // Caught up: nothing outstanding, so the recovery point is now.
        format!("{p}replication_lag_seconds{{{labels}}} 0"),
        format!("{p}replication_lag{{{labels}}} 0"),
        format!("kafka_producer_outgoing_byte_total{{clientid=\"\\\"connector-producer-{a}->{b}.MirrorSourceConnector-0\\\"\"}}"),
        format!("kafka_producer_buffer_available_bytes{{clientid=\"\\\"connector-producer-{a}->{b}.MirrorSourceConnector-0\\\"\"}}"),
        format!(
            "kafka_consumer_fetch_manager_records_lag{{clientid=\"\\\"{a}->{b}|MirrorSourceConnector-0|replication-consumer\\\"\",partition=\"1\",topic=\"{}\"}} 0",
            topic.replace('.', "_")
        ),
        format!("kafka_consumer_incoming_byte_total{{clientid=\"\\\"{a}->{b}|MirrorSourceConnector-0|replication-consumer\\\"\"}}"),
        "process_resident_memory_bytes ".to_string(),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_get(addr, "/metrics");
        assert_eq!(status, 200);
        if wanted.iter().all(|w| body.contains(w.as_str())) {
            for name in [
                "byte_count",
                "byte_rate",
                "record_rate",
                "record_age_ms_max",
                "replication_latency_ms_avg",
            ] {
                assert!(
                    body.contains(&format!("{p}{name}{{{labels}}}")),
                    "{name} missing"
                );
            }
            assert!(!body.contains("kafka_connect_mirror_source_connector_"));
            break;
        }
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|w| !body.contains(w.as_str()))
            .collect();
        assert!(
            std::time::Instant::now() < deadline,
            "missing {missing:?} in:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_outage_is_waited_out_without_losing_records() {
    common::require_brokers!();
    let (a, b) = aliases();
    let target = KafkaNode::start("outage-target");
    let topic = unique("outage");
    create_topic(&source_bootstrap(), &topic, 2).await;
    let all = sample_records(100, 2);
    produce(&source_bootstrap(), &topic, &all[..50]).await;
    // Short request timeouts, so the pause makes the producer time out and retry.
    let extra = format!("{a}->{b}.topics = {topic}\n{b}.producer.request.timeout.ms = 2000\n{b}.producer.socket.timeout.ms = 2000\n");
    let config = flow_config(&a, &b, &extra).replace(
        &format!("{b}.bootstrap.servers = {}", target_bootstrap()),
        &format!("{b}.bootstrap.servers = {}", target.bootstrap()),
    );
    let mm2 = Mm2::start(&config).await;
    let remote = format!("{a}.{topic}");
    read_exactly(&target.bootstrap(), &remote, 2, 50, Duration::from_secs(60));

    target.pause();
    produce(&source_bootstrap(), &topic, &all[50..]).await;
    // The outage itself, not a wait for something: three request timeouts (2 s), so that
    // sends time out and are retried before the target answers again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    target.resume();

    let got = read_exactly(
        &target.bootstrap(),
        &remote,
        2,
        100,
        Duration::from_secs(90),
    );
    assert_same_partitions(&got, &all, 2);
    mm2.stop().await;
}

/// A partition added to a source topic (CreatePartitions on Kafka) is added to the remote
/// topic, and the records written to it are replicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_increases_reach_the_remote_topic() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, first) = seeded_source_topic("grow", 2, 20).await;
    let extra = format!("{a}->{b}.topics = {topic}\nrefresh.topics.interval.seconds = 1\n");
    let mm2 = Mm2::start(&flow_config(&a, &b, &extra)).await;
    let (source, target) = (source_bootstrap(), target_bootstrap());
    let remote = format!("{a}.{topic}");
    read_exactly(&target, &remote, 2, 20, Duration::from_secs(60));

    let grown = admin(&source)
        .create_partitions(
            &[rdkafka::admin::NewPartitions::new(&topic, 4)],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    grown[0].as_ref().unwrap();
    wait_for(Duration::from_secs(30), || {
        topics(&target).get(&remote) == Some(&4)
    });
    let more = sample_records(40, 4);
    produce(&source, &topic, &more).await;
    let got = read_exactly(&target, &remote, 4, 60, Duration::from_secs(60));
    let mut sent = first;
    sent.extend(more);
    for p in 0..4 {
        let want: Vec<&Rec> = sent.iter().filter(|r| r.partition == p).collect();
        assert_eq!(partition_of(&got, p), want, "partition {p}");
    }
    mm2.stop().await;
}

/// Topic ACLs are copied to the remote topic through Kafka's authorizer as Java does: ALLOW
/// ALL becomes ALLOW READ, ALLOW WRITE is not copied (only MirrorMaker writes remote topics),
/// the rest is copied as it is; ACLs of topics outside the flow are not copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_acls_are_synced_as_java_does() {
    common::require_brokers!();
    use mm2::kafka::admin_ffi::{
        create_acls, describe_topic_acls, AclBinding, AclOperation, AclPatternType, AclPermission,
        AclResourceType,
    };
    let (a, b) = aliases();
    let topic = unique("acl");
    let other = unique("acl-other");
    let (source, target) = (source_bootstrap(), target_bootstrap());
    create_topic(&source, &topic, 1).await;
    let acl = |name: &str, principal: &str, operation, permission| AclBinding {
        resource_type: AclResourceType::Topic,
        name: name.to_string(),
        pattern_type: AclPatternType::Literal,
        principal: format!("User:{principal}"),
        host: "*".to_string(),
        operation,
        permission,
    };
    let (reader, admin_user) = (unique("reader"), unique("owner"));
    let on_source = [
        acl(&topic, &reader, AclOperation::Read, AclPermission::Allow),
        acl(&topic, &admin_user, AclOperation::All, AclPermission::Allow),
        acl(&topic, &reader, AclOperation::Write, AclPermission::Allow),
        acl(&topic, &reader, AclOperation::Delete, AclPermission::Deny),
        acl(&other, &reader, AclOperation::Read, AclPermission::Allow),
    ];
    let created = create_acls(&admin(&source), &on_source, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");

    let extra = format!(
        "{a}->{b}.topics = {topic}\nsync.topic.acls.enabled = true\n\
         sync.topic.acls.interval.seconds = 1\n"
    );
    let mm2 = Mm2::start(&flow_config(&a, &b, &extra)).await;
    let remote = format!("{a}.{topic}");
    let mut want = vec![
        acl(&remote, &reader, AclOperation::Read, AclPermission::Allow),
        acl(
            &remote,
            &admin_user,
            AclOperation::Read,
            AclPermission::Allow,
        ),
        acl(&remote, &reader, AclOperation::Delete, AclPermission::Deny),
    ];
    want.sort();
    let principals = [format!("User:{reader}"), format!("User:{admin_user}")];
    let target_admin = admin(&target);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let got = loop {
        let mut got: Vec<AclBinding> = describe_topic_acls(&target_admin, Duration::from_secs(10))
            .await
            .unwrap()
            .into_iter()
            .filter(|acl| principals.contains(&acl.principal))
            .collect();
        got.sort();
        if got == want || std::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(got, want, "ACLs of the remote topic on the target");
    mm2.stop().await;
}

/// In exactly-once mode with the offset syncs on the source (the default location), the latest
/// position of a partition is published as a sync after a transaction commits, as Java does,
/// so a quiet partition's checkpoints are not left up to offset.lag.max behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_publishes_the_latest_offset_syncs_on_the_source() {
    common::require_brokers!();
    use mm2::mirror::wire::OffsetSync;
    let (a, b) = aliases();
    let (topic, _) = seeded_source_topic("eos-syncs", 1, 50).await;
    let extra = format!("{a}->{b}.topics = {topic}\n{b}.exactly.once.source.support = enabled\n");
    let mm2 = Mm2::start(&flow_config(&a, &b, &extra)).await;
    read_exactly(
        &target_bootstrap(),
        &format!("{a}.{topic}"),
        1,
        50,
        Duration::from_secs(60),
    );
    let syncs_topic = format!("mm2-offset-syncs.{b}.internal");
    let mut ours = Vec::new();
    let published = wait_until(Duration::from_secs(30), || {
        ours = read_raw(&source_bootstrap(), &syncs_topic, 0)
            .into_iter()
            .filter_map(|(k, v)| OffsetSync::decode(&k?, &v?).ok())
            .filter(|s| s.topic == topic)
            .map(|s| s.upstream_offset)
            .collect();
        ours.contains(&49)
    });
    assert!(
        published,
        "no sync of the last record (upstream 49): {ours:?}"
    );
    assert_eq!(
        ours.first(),
        Some(&0),
        "the first record's sync comes first"
    );
    mm2.stop().await;
}

/// The flow's connectors are kept in its config and status topics under the names Java's
/// dedicated MirrorMaker 2 gives them there (`MirrorSourceConnector`...), with their settings
/// as written in mm2.properties, so that a switch either way finds one connector of each; a
/// config an earlier version stored under the full name is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_are_stored_under_java_names() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, _) = seeded_source_topic("names", 1, 10).await;
    let target = target_bootstrap();
    let config_topic = format!("mm2-configs.{a}.internal");
    let legacy = format!("connector-{a}->{b}.MirrorSourceConnector");
    // What an earlier version left: the same connector under the full name (in a config topic
    // of the shape Java requires: one partition, compacted).
    create_topic_with(&target, &config_topic, 1, &[("cleanup.policy", "compact")]).await;
    producer(&target)
        .send(
            rdkafka::producer::FutureRecord::to(&config_topic)
                .key(&legacy)
                .payload(r#"{"properties":{"connector.class":"org.apache.kafka.connect.mirror.MirrorSourceConnector"}}"#),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    // A MirrorSource config of this flow under a name of another tool's: never run.
    let stray = format!(
        r#"{{"properties":{{"connector.class":"org.apache.kafka.connect.mirror.MirrorSourceConnector","source.cluster.alias":"{a}","target.cluster.alias":"{b}"}}}}"#
    );
    producer(&target)
        .send(
            rdkafka::producer::FutureRecord::to(&config_topic)
                .key("connector-StrayMirrorSource")
                .payload(&stray),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let extra = format!("{a}->{b}.topics = {topic}\nlisteners = http://127.0.0.1:0\n");
    let mm2 = Mm2::start(&flow_config(&a, &b, &extra)).await;
    read_exactly(
        &target,
        &format!("{a}.{topic}"),
        1,
        10,
        Duration::from_secs(60),
    );

    let records = read_raw(&target, &config_topic, 0);
    let last = |key: &str| {
        records
            .iter()
            .rev()
            .find(|(k, _)| k.as_deref() == Some(key.as_bytes()))
            .map(|(_, v)| v.clone())
    };
    for short in [
        "MirrorSourceConnector",
        "MirrorCheckpointConnector",
        "MirrorHeartbeatConnector",
    ] {
        let value = last(&format!("connector-{short}"))
            .flatten()
            .unwrap_or_else(|| panic!("no config stored for {short}"));
        let v: serde_json::Value = serde_json::from_slice(&value).unwrap();
        let p = &v["properties"];
        assert_eq!(p["name"], short, "{v}");
        assert_eq!(
            p["connector.class"],
            format!("org.apache.kafka.connect.mirror.{short}")
        );
        assert_eq!(p["source.cluster.alias"], a.as_str());
        assert_eq!(p["target.cluster.alias"], b.as_str());
        assert!(!String::from_utf8_lossy(&value).contains("[hidden]"), "{v}");
    }
    assert_eq!(last(&legacy), Some(None), "the full-name config is deleted");
    let stored_under_full_names = records
        .iter()
        .filter_map(|(k, v)| Some((String::from_utf8_lossy(k.as_deref()?).into_owned(), v)))
        .any(|(k, v)| k.contains("->") && k != legacy && v.is_some());
    assert!(!stored_under_full_names, "a record under a full name");
    // The statuses too.
    wait_for(Duration::from_secs(30), || {
        read_topic(&target, &format!("mm2-status.{a}.internal"))
            .iter()
            .any(|(k, _)| k.as_deref() == Some(b"status-connector-MirrorSourceConnector"))
    });
    // The REST API still names them by flow.
    let names = http_json(mm2.http[0], "GET", "/connectors", None, 200);
    assert!(
        names
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == &format!("{a}->{b}.MirrorSourceConnector")),
        "{names}"
    );
    assert!(
        !names.to_string().contains("Stray"),
        "a stray MirrorSource config was taken up: {names}"
    );
    mm2.stop().await;
}
