//! MirrorSource against the two test brokers: remote topics named by the replication policy,
//! every record copied with its partition, key, value, headers and timestamp, resume from stored
//! offsets, offset syncs, config sync, topic discovery and no loops in active/active.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicates_records_exactly_under_the_source_alias() {
    let (a, b) = aliases();
    let topic = unique("orders");
    create_topic(&source_bootstrap(), &topic, 3).await;
    let sent = sample_records(60, 3);
    produce(&source_bootstrap(), &topic, &sent).await;

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
    for p in 0..3 {
        assert_eq!(
            partition_of(&got, p),
            partition_of(&sent, p),
            "partition {p}"
        );
    }
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_from_stored_offsets_without_loss_or_duplicates() {
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
    for p in 0..2 {
        assert_eq!(
            partition_of(&got, p),
            partition_of(&all, p),
            "partition {p}"
        );
    }
    mm2.stop().await;
}
