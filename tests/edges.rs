//! MirrorSource at the edges, on the brokers: stored offsets that cannot be used, a record the
//! producer refuses, and source records that are gone before they were replicated (retention
//! and a topic deleted and created again). Each keeps the target's partitions in the source's
//! order, and none stops a partition it does not concern.

mod common;

use std::time::Duration;

use common::*;
use mm2::connect::offsets::{offset_value, source_offset_key, MirrorPartition};
use rdkafka::admin::AdminOptions;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

/// A flow's mm2.properties with a REST listener, for one topic.
fn edge_config(a: &str, b: &str, topic: &str, extra: &str) -> String {
    flow_config(
        a,
        b,
        &format!("{a}->{b}.topics = {topic}\nlisteners = http://127.0.0.1:0\n{extra}"),
    )
}

fn source_connector(a: &str, b: &str) -> String {
    format!("{a}->{b}.MirrorSourceConnector")
}

/// Whether a task of the status is FAILED with a trace containing `text`.
fn task_failed_with(status: &Value, text: &str) -> bool {
    status["tasks"].as_array().is_some_and(|tasks| {
        tasks.iter().any(|t| {
            t["state"] == "FAILED" && t["trace"].as_str().is_some_and(|s| s.contains(text))
        })
    })
}

/// Writes source offsets to the flow's offsets topic as the worker would: the topic created
/// compacted with Connect's 25 partitions, each key where Java's partitioner puts it.
async fn store_source_offsets(a: &str, topic: &str, offsets: &[(i32, i64)]) {
    let offsets_topic = format!("mm2-offsets.{a}.internal");
    create_topic_with(
        &target_bootstrap(),
        &offsets_topic,
        25,
        &[("cleanup.policy", "compact")],
    )
    .await;
    let p: BaseProducer = client(&target_bootstrap())
        .set("partitioner", "murmur2_random")
        .create()
        .expect("producer");
    for (partition, offset) in offsets {
        let key = source_offset_key(
            "MirrorSourceConnector",
            &MirrorPartition {
                cluster: a.to_string(),
                topic: topic.to_string(),
                partition: *partition,
            },
        );
        let value = offset_value(*offset);
        p.send(
            BaseRecord::<[u8], [u8]>::to(&offsets_topic)
                .key(&key)
                .payload(&value),
        )
        .expect("queued");
    }
    p.flush(Duration::from_secs(10)).expect("offsets written");
}

/// Values of a partition as read to its end.
fn values(bootstrap: &str, topic: &str, partition: i32) -> Vec<Vec<u8>> {
    read_raw(bootstrap, topic, partition)
        .into_iter()
        .map(|(_, v)| v.unwrap_or_default())
        .collect()
}

/// `record-<i>` for each `i`, as `fill_topic` writes them.
fn filled(range: impl IntoIterator<Item = usize>) -> Vec<Vec<u8>> {
    range
        .into_iter()
        .map(|i| format!("record-{i}").into_bytes())
        .collect()
}

/// A negative stored offset (Java: uncommitted) and one past the log end (Java: the consumer's
/// reset, `earliest`) each start only their own partition over; a usable one beside them is
/// resumed after. The task runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_stored_offsets_start_only_their_partition_over() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, sent) = seeded_source_topic("edge-offsets", 3, 30).await;
    store_source_offsets(&a, &topic, &[(0, -2), (1, 4), (2, 1_000_000)]).await;
    let mm2 = Mm2::start(&edge_config(&a, &b, &topic, "")).await;
    let remote = format!("{a}.{topic}");
    let got = read_exactly(
        &target_bootstrap(),
        &remote,
        3,
        30 - 5,
        Duration::from_secs(60),
    );
    assert_eq!(
        partition_of(&got, 0),
        partition_of(&sent, 0),
        "negative: from the start"
    );
    assert_eq!(
        partition_of(&got, 1),
        partition_of(&sent, 1)[5..].to_vec(),
        "usable: after it"
    );
    assert_eq!(
        partition_of(&got, 2),
        partition_of(&sent, 2),
        "past the end: reset"
    );
    let status = wait_status_known(mm2.http[0], &source_connector(&a, &b), |s| {
        s["tasks"][0]["state"] == "RUNNING"
    });
    assert_eq!(status["connector"]["state"], "RUNNING");
    mm2.stop().await;
}

/// A record larger than the producer's limit stops its partition at that record: nothing after
/// it reaches the target (the records after it were read in the same poll, so a task that sent
/// them would have done so at once), and the error names the setting.
/// Raising it copies the rest in order, each record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_stops_its_partition_in_order() {
    common::require_brokers!();
    let (a, b) = aliases();
    let topic = unique("edge-large");
    create_topic_with(
        &source_bootstrap(),
        &topic,
        1,
        &[("max.message.bytes", "3000000")],
    )
    .await;
    let big = vec![b'x'; 2_000_000];
    let p: BaseProducer = client(&source_bootstrap())
        .set("message.max.bytes", "3000000")
        .create()
        .expect("producer");
    for i in 0..20 {
        let value = if i == 10 {
            big.clone()
        } else {
            format!("record-{i}").into_bytes()
        };
        let mut r = BaseRecord::<(), [u8]>::to(&topic)
            .partition(0)
            .payload(&value);
        while let Err((_, back)) = p.send(r) {
            p.poll(Duration::from_millis(10));
            r = back;
        }
        // One record per batch: the producer refuses the large one on its own.
        p.flush(Duration::from_secs(10)).expect("produced");
    }

    let mm2 = Mm2::start(&edge_config(&a, &b, &topic, "")).await;
    let setting = format!("{b}.producer.max.request.size");
    wait_status_known(mm2.http[0], &source_connector(&a, &b), |s| {
        task_failed_with(s, &setting)
    });
    mm2.stop().await;
    let remote = format!("{a}.{topic}");
    assert_eq!(
        values(&target_bootstrap(), &remote, 0),
        filled(0..10),
        "records up to the refused one, each once, and nothing after it"
    );

    let raised = format!("{setting} = 3000000\n");
    let mm2 = Mm2::start(&edge_config(&a, &b, &topic, &raised)).await;
    wait_for(Duration::from_secs(60), || {
        read_raw(&target_bootstrap(), &remote, 0).len() >= 20
    });
    mm2.stop().await;
    let mut want = filled(0..20);
    want[10] = big;
    let got = values(&target_bootstrap(), &remote, 0);
    assert_eq!(got.len(), 20, "each record once");
    assert!(got == want, "the source's order");
}

/// Records deleted from the source while MirrorMaker was away are counted as lost and the rest
/// copied; with fail.on.data.loss the task stops at the loss instead, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_deleted_before_replication_are_counted_or_stop_the_task() {
    common::require_brokers!();
    for fail in [false, true] {
        let (a, b, topic, text) = ten_copied_then_stopped("edge-retention", fail).await;
        // While it is away: ten more records, and the first five of them deleted.
        fill_topic(&source_bootstrap(), &topic, 10);
        delete_records_before(&topic, 15).await;

        let mm2 = Mm2::start(&text).await;
        let remote = format!("{a}.{topic}");
        if fail {
            let status = wait_status_known(mm2.http[0], &source_connector(&a, &b), |s| {
                task_failed_with(s, "data loss")
            });
            let trace = status["tasks"][0]["trace"].as_str().unwrap().to_string();
            assert!(
                trace.contains(&format!("{topic}-0: offsets 10..=14 (5 records)")),
                "{trace}"
            );
            mm2.stop().await;
            assert_eq!(values(&target_bootstrap(), &remote, 0), filled(0..10));
        } else {
            wait_for(Duration::from_secs(60), || {
                stored_offsets(&target_bootstrap(), &a, &topic) == vec![(0, 19)]
            });
            let metrics = mm2.metrics.render();
            let lost = metrics
                .lines()
                .find(|l| l.contains("lost_record_count") && l.contains(&remote))
                .unwrap_or_else(|| panic!("no lost-record count for {remote}:\n{metrics}"));
            assert!(lost.ends_with(" 5"), "{lost}");
            mm2.stop().await;
            // The second batch is `record-0..9` again, of which 5..9 remain.
            let want: Vec<Vec<u8>> = filled(0..10).into_iter().chain(filled(5..10)).collect();
            assert_eq!(values(&target_bootstrap(), &remote, 0), want);
        }
    }
}

/// A source topic deleted and created again while MirrorMaker was away starts over on the
/// target; with fail.on.data.loss the task stops instead, naming the rewind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_source_topic_starts_over_or_stops_the_task() {
    common::require_brokers!();
    for fail in [false, true] {
        let (a, b, topic, text) = ten_copied_then_stopped("edge-recreated", fail).await;
        admin(&source_bootstrap())
            .delete_topics(&[&topic], &AdminOptions::new())
            .await
            .expect("delete");
        wait_for(Duration::from_secs(30), || {
            !topic_exists(&source_bootstrap(), &topic)
        });
        create_topic(&source_bootstrap(), &topic, 1).await;
        fill_topic(&source_bootstrap(), &topic, 3);

        let mm2 = Mm2::start(&text).await;
        let remote = format!("{a}.{topic}");
        if fail {
            wait_status_known(mm2.http[0], &source_connector(&a, &b), |s| {
                task_failed_with(s, "went back from offset 10 to 0")
            });
            mm2.stop().await;
            assert_eq!(values(&target_bootstrap(), &remote, 0), filled(0..10));
        } else {
            wait_for(Duration::from_secs(60), || {
                stored_offsets(&target_bootstrap(), &a, &topic) == vec![(0, 2)]
            });
            mm2.stop().await;
            let want: Vec<Vec<u8>> = filled(0..10).into_iter().chain(filled(0..3)).collect();
            assert_eq!(values(&target_bootstrap(), &remote, 0), want);
        }
    }
}

/// A one-partition source topic of ten records, copied by a flow (`fail.on.data.loss` as given)
/// that then stops: (source alias, target alias, topic, the flow's mm2.properties).
async fn ten_copied_then_stopped(prefix: &str, fail: bool) -> (String, String, String, String) {
    let (a, b) = aliases();
    let topic = unique(prefix);
    create_topic(&source_bootstrap(), &topic, 1).await;
    fill_topic(&source_bootstrap(), &topic, 10);
    let text = edge_config(&a, &b, &topic, &format!("fail.on.data.loss = {fail}\n"));
    let mm2 = Mm2::start(&text).await;
    wait_for(Duration::from_secs(60), || {
        stored_offsets(&target_bootstrap(), &a, &topic) == vec![(0, 9)]
    });
    mm2.stop().await;
    (a, b, topic, text)
}

/// Deletes the records of partition 0 of `topic` on the source before `offset`, as retention
/// would.
async fn delete_records_before(topic: &str, offset: i64) {
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Offset(offset))
        .unwrap();
    admin(&source_bootstrap())
        .delete_records(&tpl, &AdminOptions::new())
        .await
        .expect("delete records");
}
