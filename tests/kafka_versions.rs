//! On premises to the cloud: a Kafka 3.9 source cluster (a node of this test's own) replicated
//! into a Kafka 4.3 target (cluster B of scripts/test.sh). Records, topic configs, offset syncs
//! on the source, checkpoints and synced group offsets on the target.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mm2::mirror::wire::OffsetSync;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicates_from_kafka_3_9_to_kafka_4_3() {
    common::require_brokers!();
    let old = KafkaNode::start_version("kafka-3.9", "3.9.1");
    let (source, target) = (old.bootstrap(), target_bootstrap());
    let (a, b) = aliases();
    let topic = unique("onprem");
    let new = NewTopic::new(&topic, 2, TopicReplication::Fixed(1))
        .set("retention.ms", "86400000")
        .set("max.message.bytes", "500000");
    admin(&source)
        .create_topics(&[new], &AdminOptions::new())
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap();
    let records = sample_records(200, 2);
    produce(&source, &topic, &records).await;
    let group = unique("reports");
    commit(&source, &group, &topic, 0, 80);
    commit(&source, &group, &topic, 1, 100);

    let extra = format!(
        "{a}->{b}.topics = {topic}\n{a}->{b}.groups = {group}\noffset.lag.max = 10\n\
         emit.checkpoints.interval.seconds = 1\nrefresh.groups.interval.seconds = 1\n\
         sync.group.offsets.enabled = true\nsync.group.offsets.interval.seconds = 1\n"
    );
    let config = flow_config(&a, &b, &extra).replace(
        &format!("{a}.bootstrap.servers = {}", source_bootstrap()),
        &format!("{a}.bootstrap.servers = {source}"),
    );
    let mm2 = Mm2::start(&config).await;
    let remote = format!("{a}.{topic}");
    let got = read_exactly(&target, &remote, 2, records.len(), Duration::from_secs(90));
    assert_same_partitions(&got, &records, 2);
    for (key, value) in [
        ("retention.ms", "86400000"),
        ("max.message.bytes", "500000"),
    ] {
        assert_eq!(
            topic_override(&target, &remote, key).await.as_deref(),
            Some(value),
            "{key} of {remote}"
        );
    }

    // Offset syncs on the 3.9 source, for both partitions, in Java's format.
    let syncs_topic = format!("mm2-offset-syncs.{b}.internal");
    wait_for(Duration::from_secs(30), || {
        let syncs: Vec<OffsetSync> = read_raw(&source, &syncs_topic, 0)
            .into_iter()
            .filter_map(|(k, v)| OffsetSync::decode(&k?, &v?).ok())
            .filter(|s| s.topic == topic)
            .collect();
        (0..2).all(|p| syncs.iter().any(|s| s.partition == p))
    });

    // Checkpoints and the synced group offsets on the 4.3 target: never past where the group
    // stopped, and close to it. (Java's offset-sync store keeps the syncs near a group about as
    // far apart as the group is from the head: here up to 20 records, so the translation may
    // lie up to about twice offset.lag.max + 1 behind.)
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let checkpoints = checkpoints_of(&target, &a, &group);
        let synced: Vec<Option<i64>> = (0..2)
            .map(|p| committed(&target, &group, &remote, p))
            .collect();
        let close = |o: &Option<i64>, upstream: i64| matches!(o, Some(o) if *o <= upstream && upstream - *o <= 22);
        if close(&synced[0], 80)
            && close(&synced[1], 100)
            && (0..2).all(|p| {
                checkpoints
                    .iter()
                    .any(|c| c.partition == p && c.topic == remote)
            })
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "checkpoints {checkpoints:?}, synced offsets {synced:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    mm2.stop().await;
}
