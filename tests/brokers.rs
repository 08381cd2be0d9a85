//! The two test brokers work as Kafka clusters: create a topic, produce records with keys,
//! headers, tombstones and timestamps, and read them back with rdkafka on each cluster.

mod common;

use std::time::Duration;

use common::*;

async fn round_trip(bootstrap: &str) {
    let topic = unique("roundtrip");
    create_topic(bootstrap, &topic, 3).await;
    let sent = sample_records(30, 3);
    produce(bootstrap, &topic, &sent).await;
    let got = read(bootstrap, &topic, 3, sent.len(), Duration::from_secs(20));
    for p in 0..3 {
        let want: Vec<&Rec> = sent.iter().filter(|r| r.partition == p).collect();
        let have: Vec<&Rec> = got.iter().filter(|r| r.partition == p).collect();
        assert_eq!(have, want, "partition {p} on {bootstrap}");
    }
}

#[tokio::test]
async fn source_cluster_round_trip() {
    common::require_brokers!();
    round_trip(&source_bootstrap()).await;
}

#[tokio::test]
async fn target_cluster_round_trip() {
    common::require_brokers!();
    round_trip(&target_bootstrap()).await;
}

#[tokio::test]
async fn clusters_are_distinct() {
    common::require_brokers!();
    let topic = unique("only-on-source");
    create_topic(&source_bootstrap(), &topic, 1).await;
    let c = consumer(&target_bootstrap());
    let md = rdkafka::consumer::Consumer::fetch_metadata(&c, None, Duration::from_secs(5)).unwrap();
    assert!(
        md.topics().iter().all(|t| t.name() != topic),
        "{topic} must not exist on the target"
    );
}
