//! Java MirrorMaker 2 itself, from the jars scripts/kafka.sh assembled, replicating A->B on
//! scripts/test.sh's Kafka clusters: the reference peer the interoperability tests and the
//! benchmark run beside ours. Its heartbeats decode with our wire format.

mod common;

use std::time::Duration;

use common::*;
use mm2::mirror::wire::Heartbeat;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_mirror_maker_replicates_a_to_b() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, records) = seeded_source_topic("java", 2, 50).await;
    // Java's settings, with the intervals Kafka's own MirrorMaker 2 tests use.
    let config = format!(
        "clusters = {a}, {b}\n\
         {a}.bootstrap.servers = {}\n\
         {b}.bootstrap.servers = {}\n\
         {a}->{b}.enabled = true\n\
         {a}->{b}.topics = {topic}\n\
         refresh.topics.interval.seconds = 1\n\
         emit.heartbeats.interval.seconds = 1\n\
         sync.topic.acls.enabled = false\n\
         {}",
        source_bootstrap(),
        target_bootstrap(),
        one_broker_settings(&b),
    );
    let mut java = JavaPeer::mirror_maker(&config, &["--clusters", &b]);
    let remote = format!("{a}.{topic}");
    let target = target_bootstrap();
    let arrived = wait_until(Duration::from_secs(120), || topic_exists(&target, &remote));
    assert!(
        arrived,
        "Java MirrorMaker 2 made no {remote} (running: {}); its log ends:\n{}",
        java.running(),
        java.log_tail(40)
    );
    let got = read_exactly(&target, &remote, 2, records.len(), Duration::from_secs(90));
    assert_same_partitions(&got, &records, 2);
    wait_for(Duration::from_secs(60), || {
        read_topic(&target, "heartbeats")
            .into_iter()
            .filter_map(|(k, v)| Heartbeat::decode(&k?, &v?).ok())
            .any(|h| h.source_cluster_alias == a && h.target_cluster_alias == b)
    });
    java.stop();
}
