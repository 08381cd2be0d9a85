//! The batch path's own cases (`copy.batches.enabled`), on the test brokers: compressed topics
//! copied batch by batch in every codec, a stored offset inside a batch, a compacted topic with
//! gaps, a transactional source with aborted transactions, and a target topic that allows
//! smaller batches than the source holds. Each checks the target's records against the
//! source's, and the batch metric says how each batch went. The other MirrorSource suites run
//! on the batch path too, with `TEST_COPY_BATCHES=1` (scripts/test.sh).

mod common;

use std::time::Duration;

use common::*;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

/// A flow over `topics` on the batch path.
fn batch_flow(a: &str, b: &str, topics: &str, extra: &str) -> String {
    flow_config(a, b, &format!("{a}->{b}.topics = {topics}\n{extra}")).replace(
        "copy.batches.enabled = false",
        "copy.batches.enabled = true",
    )
}

/// Produces `recs` with every send in flight at once, so the producer packs them into a few
/// batches, with the extra producer `settings` (compression, linger).
async fn produce_batched(topic: &str, recs: &[Rec], settings: &[(&str, &str)]) {
    let mut c = client(&source_bootstrap());
    c.set("linger.ms", "200")
        .set("batch.num.messages", "100000");
    for (k, v) in settings {
        c.set(*k, *v);
    }
    let p: FutureProducer = c.create().expect("producer");
    let sends = recs
        .iter()
        .map(|r| p.send(future_record(topic, r), Duration::from_secs(30)));
    for sent in futures_util::future::join_all(sends).await {
        sent.expect("delivered");
    }
}

/// The batch metric's count of batches copied `how` (`as_is` or a re-encoding reason).
fn batches(mm2: &Mm2, how: &str) -> u64 {
    mm2.metrics
        .render()
        .lines()
        .filter(|l| l.starts_with("kafka_connect_source_task_source_batch_total{"))
        .filter(|l| l.contains(&format!("copy=\"{how}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Waits for the metrics, published about once a second, to count `how` batches.
fn await_batches(mm2: &Mm2, how: &str) -> u64 {
    wait_until(Duration::from_secs(10), || batches(mm2, how) > 0);
    batches(mm2, how)
}

const REENCODED: [&str; 5] = [
    "cropped",
    "compacted",
    "old_format",
    "too_large",
    "log_append_time",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_topics_are_copied_batch_by_batch_in_every_codec() {
    common::require_brokers!();
    let (a, b) = aliases();
    let prefix = unique("codec");
    let codecs = ["lz4", "zstd", "snappy", "gzip"];
    let sent = sample_records(400, 2);
    for codec in codecs {
        let topic = format!("{prefix}-{codec}");
        create_topic(&source_bootstrap(), &topic, 2).await;
        produce_batched(&topic, &sent, &[("compression.type", codec)]).await;
    }
    let mm2 = Mm2::start(&batch_flow(
        &a,
        &b,
        &format!("{prefix}-.*"),
        "tasks.max = 2\n",
    ))
    .await;
    for codec in codecs {
        let remote = format!("{a}.{prefix}-{codec}");
        let got = read_exactly(
            &target_bootstrap(),
            &remote,
            2,
            sent.len(),
            Duration::from_secs(60),
        );
        assert_same_partitions(&got, &sent, 2);
    }
    // Copied as they are, or (several small ones in a row) coalesced in their own codec.
    let whole = await_batches(&mm2, "as_is") + batches(&mm2, "coalesced");
    assert!(whole >= codecs.len() as u64, "{whole} batches");
    for how in REENCODED {
        assert_eq!(
            batches(&mm2, how),
            0,
            "{how}: whole batches need no re-encoding"
        );
    }
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_offset_inside_a_batch_crops_it() {
    common::require_brokers!();
    let (a, b) = aliases();
    let topic = unique("crop");
    create_topic(&source_bootstrap(), &topic, 1).await;
    let sent = sample_records(100, 1);
    produce_batched(&topic, &sent, &[("compression.type", "lz4")]).await;
    // A source offset stored inside the batch, as the record path (or Java) leaves it.
    let offsets = format!("mm2-offsets.{a}.internal");
    create_topic_with(
        &target_bootstrap(),
        &offsets,
        1,
        &[("cleanup.policy", "compact")],
    )
    .await;
    let key = mm2::connect::offsets::source_offset_key(
        "MirrorSourceConnector",
        &mm2::connect::offsets::MirrorPartition {
            cluster: a.clone(),
            partition: 0,
            topic: topic.clone(),
        },
    );
    producer(&target_bootstrap())
        .send(
            FutureRecord::to(&offsets)
                .key(&key)
                .payload(r#"{"offset":49}"#),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered");

    let mm2 = Mm2::start(&batch_flow(&a, &b, &topic, "")).await;
    let remote = format!("{a}.{topic}");
    let got = read_exactly(&target_bootstrap(), &remote, 1, 50, Duration::from_secs(60));
    assert_same_partitions(&got, &sent[50..], 1);
    assert!(await_batches(&mm2, "cropped") >= 1);
    mm2.stop().await;
    assert_eq!(stored_offsets(&target_bootstrap(), &a, &topic), [(0, 99)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_topic_with_gaps_is_copied_as_the_log_holds_it() {
    common::require_brokers!();
    let (a, b) = aliases();
    let topic = unique("compacted");
    create_topic_with(
        &source_bootstrap(),
        &topic,
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.ms", "100"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("delete.retention.ms", "100"),
        ],
    )
    .await;
    // Ten keys written over and over, in batches: compaction leaves gaps inside them.
    let mut sent: Vec<Rec> = sample_records(300, 1)
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.key = Some(format!("key-{}", i % 10).into_bytes());
            r
        })
        .collect();
    produce_batched(&topic, &sent[..299], &[]).await;
    // A later record rolls the segment, so the cleaner can take the one before it: its
    // timestamp, now, is past `segment.ms` after the segment's first batch (an hour ago).
    sent[299].timestamp = None;
    produce_batched(&topic, &sent[299..], &[]).await;
    let compacted = wait_until(Duration::from_secs(90), || {
        read_records(&source_bootstrap(), &topic, 1).len() < 100
    });
    assert!(compacted, "the source's cleaner compacted {topic}");
    let log = read_records(&source_bootstrap(), &topic, 1);

    let mm2 = Mm2::start(&batch_flow(
        &a,
        &b,
        &topic,
        "sync.topic.configs.enabled = false\n",
    ))
    .await;
    let remote = format!("{a}.{topic}");
    let got = read_exactly(
        &target_bootstrap(),
        &remote,
        1,
        log.len(),
        Duration::from_secs(60),
    );
    assert_same_partitions(&got, &log, 1);
    assert!(await_batches(&mm2, "compacted") >= 1);
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_transactions_are_not_copied() {
    common::require_brokers!();
    let (a, b) = aliases();
    let topic = unique("txn");
    create_topic(&source_bootstrap(), &topic, 2).await;
    let sent = sample_records(90, 2);
    let p: FutureProducer = client(&source_bootstrap())
        .set("transactional.id", unique("txn-producer"))
        .set("linger.ms", "50")
        .create()
        .expect("transactional producer");
    let timeout = Duration::from_secs(30);
    p.init_transactions(timeout).expect("init");
    let mut committed = Vec::new();
    for (n, chunk) in sent.chunks(30).enumerate() {
        p.begin_transaction().expect("begin");
        let sends = chunk.iter().map(|r| {
            let fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic)
                .partition(r.partition)
                .key(r.key.as_deref().unwrap_or(b"k"))
                .payload(r.value.as_deref().unwrap_or(b"v"));
            p.send(fr, timeout)
        });
        for s in futures_util::future::join_all(sends).await {
            s.expect("delivered");
        }
        if n == 1 {
            p.abort_transaction(timeout).expect("abort");
        } else {
            p.commit_transaction(timeout).expect("commit");
            committed.extend(chunk.iter().map(|r| {
                (
                    r.partition,
                    r.value.clone().unwrap_or_else(|| b"v".to_vec()),
                )
            }));
        }
    }
    let mm2 = Mm2::start(&batch_flow(&a, &b, &topic, "")).await;
    let remote = format!("{a}.{topic}");
    let got = read_exactly(
        &target_bootstrap(),
        &remote,
        2,
        committed.len(),
        Duration::from_secs(60),
    );
    let mut got: Vec<(i32, Vec<u8>)> = got
        .into_iter()
        .map(|r| (r.partition, r.value.unwrap_or_default()))
        .collect();
    got.sort();
    committed.sort();
    assert_eq!(
        got, committed,
        "the committed records, and none of the aborted one"
    );
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_larger_than_the_target_allows_are_split() {
    common::require_brokers!();
    let (a, b) = aliases();
    let topic = unique("large");
    create_topic(&source_bootstrap(), &topic, 1).await;
    let sent = sample_records(200, 1);
    produce_batched(&topic, &sent, &[]).await;
    // The remote topic exists already, taking smaller batches than the source's.
    let remote = format!("{a}.{topic}");
    create_topic_with(
        &target_bootstrap(),
        &remote,
        1,
        &[("max.message.bytes", "2000")],
    )
    .await;

    let mm2 = Mm2::start(&batch_flow(
        &a,
        &b,
        &topic,
        "sync.topic.configs.enabled = false\n",
    ))
    .await;
    let got = read_exactly(
        &target_bootstrap(),
        &remote,
        1,
        sent.len(),
        Duration::from_secs(60),
    );
    assert_same_partitions(&got, &sent, 1);
    assert!(await_batches(&mm2, "too_large") >= 2);
    mm2.stop().await;
}
