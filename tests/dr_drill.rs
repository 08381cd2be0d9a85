//! A disaster-recovery drill on two Kafka nodes of its own, A and B, replicated both ways by
//! connect-mirror-maker (active/active):
//! 1. records are produced and a consumer group consumes part of them on A;
//! 2. A dies; `failover` (forced: A cannot be asked whether the flow drained) moves the group to
//!    B, where it consumes the rest of A's records from `a.orders`; producers write to B;
//! 3. A returns; flow b->a copies what was written on B to `b.orders` on A; `failback` moves
//!    the group back, through a->b's offset syncs for `a.orders` and b->a's checkpoints for B's
//!    `orders`; producers write to A again and the group consumes on A.
//!
//! Every record is consumed at least once across the drill; how many twice is printed. No
//! record goes round in a loop: B's records are never on `a.orders`, A's never on `b.orders`,
//! and no `a.b.*` or `b.a.*` topic appears.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

const GROUP: &str = "drill-orders";

/// Consumes `topics` as `GROUP`, from its committed offsets (the earliest without), up to
/// `limit` records per partition or to the end, and commits where it stopped, as a consumer
/// that processes and commits would. Returns the values read.
fn consume(bootstrap: &str, topics: &[&str], limit: Option<i64>) -> Vec<String> {
    let consumer: BaseConsumer = consumer_config(bootstrap)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let timeout = Duration::from_secs(10);
    let mut stops = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        let md = consumer
            .fetch_metadata(Some(topic), timeout)
            .expect("metadata");
        let partitions = md.topics()[0].partitions().len() as i32;
        for p in 0..partitions {
            let mut one = TopicPartitionList::new();
            one.add_partition(topic, p);
            let committed = consumer.committed_offsets(one, timeout).expect("committed");
            let (low, high) = consumer
                .fetch_watermarks(topic, p, timeout)
                .expect("watermarks");
            let start = match committed.elements()[0].offset() {
                Offset::Offset(o) => o.max(low),
                _ => low,
            };
            let stop = limit.map_or(high, |l| (start + l).min(high));
            if stop > start {
                assignment
                    .add_partition_offset(topic, p, Offset::Offset(start))
                    .unwrap();
                stops.insert((topic.to_string(), p), stop);
            }
        }
    }
    let mut values = Vec::new();
    if stops.is_empty() {
        return values;
    }
    consumer.assign(&assignment).expect("assign");
    let mut done = BTreeSet::new();
    let finished = wait_until(Duration::from_secs(60), || {
        while let Some(m) = consumer.poll(Duration::from_millis(200)) {
            let m = m.expect("consume");
            let key = (m.topic().to_string(), m.partition());
            let stop = stops[&key];
            if m.offset() < stop {
                values.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            }
            if m.offset() + 1 >= stop {
                done.insert(key);
            }
        }
        done.len() == stops.len()
    });
    assert!(finished, "{topics:?} on {bootstrap}: not read to {stops:?}");
    let mut commit = TopicPartitionList::new();
    for ((t, p), stop) in &stops {
        commit
            .add_partition_offset(t, *p, Offset::Offset(*stop))
            .unwrap();
    }
    consumer.commit(&commit, CommitMode::Sync).expect("commit");
    values
}

/// Records with values `<phase>-<n>`, over two partitions.
fn records(phase: &str, n: usize) -> Vec<Rec> {
    sample_records(n, 2)
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.value = Some(format!("{phase}-{i}").into_bytes());
            r
        })
        .collect()
}

fn values(recs: &[Rec]) -> BTreeSet<String> {
    recs.iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap()).into_owned())
        .collect()
}

/// Runs a failover tool; its output, and whether it succeeded.
fn tool(args: &[&str]) -> (bool, String) {
    let out = mm2(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_and_failback_consume_every_record_without_loops() {
    common::require_brokers!();
    let mut a = KafkaNode::start("drill-a");
    let b = KafkaNode::start("drill-b");
    for node in [&a, &b] {
        create_topic(&node.bootstrap(), "orders", 2).await;
    }
    let config = TempFile::new(
        "mm2.properties",
        &format!(
            "clusters = a, b\n\
             a.bootstrap.servers = {}\n\
             b.bootstrap.servers = {}\n\
             a->b.enabled = true\n\
             b->a.enabled = true\n\
             topics = .*orders\n\
             groups = drill-.*\n\
             emit.checkpoints.interval.seconds = 1\n\
             refresh.groups.interval.seconds = 1\n\
             refresh.topics.interval.seconds = 1\n\
             offset.lag.max = 10\n\
             admin.timeout.ms = 5000\n\
             {}{}",
            a.bootstrap(),
            b.bootstrap(),
            one_broker_settings("a"),
            one_broker_settings("b"),
        ),
    );
    let cfg = config.path.to_str().unwrap();
    let (mut replicator, _log) = Launch::mirror_maker()
        .arg(&config.path)
        .label("drill")
        .spawn_logged();

    // 1. On A: 200 records, 60 of each partition consumed.
    let first = records("first", 200);
    produce(&a.bootstrap(), "orders", &first).await;
    let mut consumed = consume(&a.bootstrap(), &["orders"], Some(60));
    assert_eq!(consumed.len(), 120);
    read_exactly(&b.bootstrap(), "a.orders", 2, 200, Duration::from_secs(90));
    let checkpointed = wait_until(Duration::from_secs(60), || {
        let c = checkpoints_of(&b.bootstrap(), "a", GROUP);
        (0..2).all(|p| {
            c.iter()
                .any(|c| c.partition == p && c.upstream_offset == 60)
        })
    });
    assert!(checkpointed, "no checkpoints of {GROUP} at 60 on b");
    // While A is up, failover sees the flow drain (the stored offsets reach the end).
    let mut last = String::new();
    let drained = wait_until(Duration::from_secs(60), || {
        let (ok, text) = tool(&["failover", cfg, "--source", "a", "--target", "b"]);
        last = text;
        ok && last.contains("flow a->b: 0 records not yet copied")
    });
    assert!(drained, "a->b did not drain:\n{last}");
    assert!(
        last.contains("nothing committed: run again with --apply"),
        "{last}"
    );

    // 2. A dies. Failover cannot check the drain: refused, then forced.
    a.kill();
    let (ok, text) = tool(&["failover", cfg, "--source", "a", "--target", "b", "--apply"]);
    assert!(!ok && text.contains("--force"), "{text}");
    assert!(text.contains("a is unreachable"), "{text}");
    let (ok, text) = tool(&[
        "failover", cfg, "--source", "a", "--target", "b", "--apply", "--force",
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("committed 2 offsets to group drill-orders on b")
            && text.contains("checklist"),
        "{text}"
    );
    // The group resumes on B where it stopped on A, and consumes what producers write there.
    consumed.extend(consume(&b.bootstrap(), &["a.orders"], None));
    let second = records("second", 100);
    produce(&b.bootstrap(), "orders", &second).await;
    consumed.extend(consume(&b.bootstrap(), &["orders"], Some(30)));

    // 3. A returns; what was written on B reaches it; the group fails back.
    a.spawn();
    read_exactly(&a.bootstrap(), "b.orders", 2, 100, Duration::from_secs(120));
    let mut last = String::new();
    let failed_back = wait_until(Duration::from_secs(90), || {
        let (ok, text) = tool(&[
            "failback", cfg, "--source", "a", "--target", "b", "--groups", "drill-.*", "--apply",
        ]);
        last = text;
        ok
    });
    assert!(failed_back, "failback did not succeed:\n{last}");
    assert!(
        last.contains("committed 4 offsets to group drill-orders on a"),
        "{last}"
    );
    let third = records("third", 50);
    produce(&a.bootstrap(), "orders", &third).await;
    consumed.extend(consume(&a.bootstrap(), &["orders", "b.orders"], None));

    // Every record consumed at least once; some twice, where translations round down.
    let all: BTreeSet<String> = values(&first)
        .into_iter()
        .chain(values(&second))
        .chain(values(&third))
        .collect();
    let seen: BTreeSet<String> = consumed.iter().cloned().collect();
    let missed: Vec<&String> = all.difference(&seen).collect();
    assert!(missed.is_empty(), "never consumed: {missed:?}");
    assert!(seen.is_subset(&all), "consumed what nobody produced");
    eprintln!(
        "drill: {} records, {} consumptions, {} consumed twice",
        all.len(),
        consumed.len(),
        consumed.len() - seen.len()
    );

    // No loops: each side's records stay on its own remote topic, and none goes round again.
    read_exactly(&b.bootstrap(), "a.orders", 2, 250, Duration::from_secs(90));
    let on_b = values(&read_records(&b.bootstrap(), "a.orders", 2));
    assert!(
        on_b.is_disjoint(&values(&second)),
        "B's records came back to B"
    );
    let on_a = values(&read_records(&a.bootstrap(), "b.orders", 2));
    assert_eq!(on_a, values(&second), "b.orders holds exactly B's records");
    for (node, prefix) in [(&a, "b.a."), (&b, "a.b.")] {
        let looped: Vec<String> = topics(&node.bootstrap())
            .into_keys()
            .filter(|t| t.starts_with(prefix))
            .collect();
        assert!(looped.is_empty(), "replicated in a loop: {looped:?}");
    }
    terminate(&mut replicator, Duration::from_secs(30));
}
