//! Poison records in every internal topic a flow reads or writes (issue 24, part 7): random
//! bytes, empty values, empty and null keys, JSON of the wrong shape, and 10,000 nested `[`,
//! written before the flow starts and again while it runs. The flow skips them: every record
//! is copied once and in order, the source offsets are stored, checkpoints and synced group
//! offsets stay exact, heartbeats go on, and the three connectors keep RUNNING.
//!
//! The six topics, named as `policy::replication` and the worker settings name them: on the
//! target `mm2-configs.<source>.internal`, `mm2-offsets.<source>.internal`,
//! `mm2-status.<source>.internal`, `<source>.checkpoints.internal` and `heartbeats`; on the
//! source `mm2-offset-syncs.<target>.internal` and `heartbeats` (replicated as
//! `<source>.heartbeats`). A compacted topic refuses a record without a key, so null keys go
//! only to the checkpoints and offset-syncs topics, pre-created here with `cleanup.policy=delete`
//! (which Java and we accept for them).

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use mm2::connect::offsets::{source_offset_key, MirrorPartition};
use mm2::mirror::wire::{Checkpoint, Heartbeat};
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};

const PARTITIONS: i32 = 3;
const BATCH: usize = 60;
/// Records per partition in each batch.
const PER_PARTITION: i64 = BATCH as i64 / PARTITIONS as i64;

/// Creates `topic` with `partitions` and `cleanup.policy`; one that exists already is left as
/// it is (the shared `heartbeats` topics).
async fn ensure(bootstrap: &str, topic: &str, partitions: i32, cleanup_policy: &str) {
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1))
        .set("cleanup.policy", cleanup_policy);
    let results = admin(bootstrap)
        .create_topics(
            &[new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics");
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => panic!("create {t}: {e}"),
        }
    }
    wait_for(Duration::from_secs(10), || {
        topics(bootstrap).get(topic) == Some(&(partitions as usize))
            || (topic == "heartbeats" && topic_exists(bootstrap, topic))
    });
}

fn junk(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

fn nested() -> Vec<u8> {
    "[".repeat(10_000).into_bytes()
}

/// Values no reader can use: random bytes (not UTF-8 either), JSON of every wrong shape,
/// half a document, and deep nesting. `tombstones` adds the zero-length value and JSON `null`,
/// which Connect's JsonConverter both reads as null, that is as a deletion (of a connector's
/// config, of a status), in Java as here: they are only written under keys the flow does not
/// use, or before it starts.
fn bad_values(tombstones: bool) -> Vec<Vec<u8>> {
    let mut values: Vec<Vec<u8>> = vec![
        junk(256),
        vec![0xff, 0xfe, 0x00, 0x80],
        b"42".to_vec(),
        b"\"text\"".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        br#"{"properties": 7, "state": ["RUNNING"], "offset": "abc"}"#.to_vec(),
        br#"{"offset": [1], "tasks": "x", "worker_id": {"a": null}}"#.to_vec(),
        b"{\"unterminated\": ".to_vec(),
        nested(),
    ];
    if tombstones {
        values.push(b"null".to_vec());
        values.push(Vec::new());
    }
    values
}

/// Keys no reader knows: random bytes, the empty key, JSON of the wrong shape, deep nesting.
fn bad_keys() -> Vec<Vec<u8>> {
    vec![
        junk(32),
        Vec::new(),
        b"[1,2,3]".to_vec(),
        br#"{"not": "an array"}"#.to_vec(),
        br#"["MirrorSourceConnector"]"#.to_vec(),
        b"connector-".to_vec(),
        b"status-task-".to_vec(),
        nested(),
    ]
}

/// Writes records on a producer with Java's partitioner, so a poison record under a key the
/// flow uses lands on the partition where the flow writes that key.
struct Poisoner {
    producer: FutureProducer,
    written: usize,
}

impl Poisoner {
    fn new(bootstrap: &str) -> Poisoner {
        let producer = client(bootstrap)
            .set("partitioner", "murmur2_random")
            .set("message.max.bytes", "2000000")
            .create()
            .expect("producer");
        Poisoner {
            producer,
            written: 0,
        }
    }

    async fn send(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: &[u8],
    ) {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).payload(value);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(p) = partition {
            record = record.partition(p);
        }
        self.producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap_or_else(|(e, _)| panic!("poison to {topic}: {e}"));
        self.written += 1;
    }

    /// Every bad value under every key of `keys` and of `bad_keys`, and tombstones under the
    /// bad keys (and under `keys` too if `tombstones`).
    async fn keyed(&mut self, topic: &str, keys: &[Vec<u8>], tombstones: bool) {
        for key in keys {
            for value in bad_values(tombstones) {
                self.send(topic, None, Some(key), &value).await;
            }
        }
        for key in bad_keys() {
            for value in bad_values(true) {
                self.send(topic, None, Some(&key), &value).await;
            }
        }
    }

    /// As `keyed`, and records without a key, for a topic that is not compacted.
    async fn keyed_and_keyless(&mut self, topic: &str, keys: &[Vec<u8>]) {
        self.keyed(topic, keys, true).await;
        for value in bad_values(true) {
            self.send(topic, Some(0), None, &value).await;
        }
    }
}

/// The keys a flow's connectors use in the config and status topics, as Java's dedicated
/// MirrorMaker stores them (without the flow's prefix).
fn connect_keys(status: bool) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for c in [
        "MirrorSourceConnector",
        "MirrorCheckpointConnector",
        "MirrorHeartbeatConnector",
    ] {
        if status {
            keys.push(format!("status-connector-{c}"));
            keys.push(format!("status-task-{c}-0"));
        } else {
            keys.push(format!("connector-{c}"));
            keys.push(format!("task-{c}-0"));
            keys.push(format!("commit-{c}"));
            keys.push(format!("target-state-{c}"));
        }
    }
    if !status {
        keys.push("session-key".into());
    }
    keys.into_iter().map(String::into_bytes).collect()
}

/// The topics a flow `a->b` uses, and the keys a reader of each knows.
struct Flow {
    a: String,
    b: String,
    topic: String,
    group: String,
}

impl Flow {
    fn offset_keys(&self) -> Vec<Vec<u8>> {
        (0..PARTITIONS)
            .map(|p| {
                let partition = MirrorPartition {
                    cluster: self.a.clone(),
                    partition: p,
                    topic: self.topic.clone(),
                };
                source_offset_key("MirrorSourceConnector", &partition)
            })
            .collect()
    }

    /// Binary keys of the checkpoint and offset-sync formats, for our group and topic, with
    /// values that stop short.
    fn binary_keys(&self) -> Vec<Vec<u8>> {
        let checkpoint = Checkpoint {
            group: self.group.clone(),
            topic: format!("{}.{}", self.a, self.topic),
            partition: 0,
            upstream_offset: 0,
            downstream_offset: 0,
            metadata: String::new(),
        };
        let sync = mm2::mirror::wire::OffsetSyncRef {
            topic: &self.topic,
            partition: 0,
            upstream_offset: 0,
            downstream_offset: 0,
        };
        let mut huge_string = vec![0x7f, 0xff];
        huge_string.extend(b"short");
        vec![checkpoint.record_key(), sync.record_key(), huge_string]
    }

    /// Poisons the six topics; `live` when the flow runs (no tombstones under its own keys).
    async fn poison(&self, target: &mut Poisoner, source: &mut Poisoner, live: bool) {
        let (a, b) = (&self.a, &self.b);
        target
            .keyed(
                &format!("mm2-configs.{a}.internal"),
                &connect_keys(false),
                !live,
            )
            .await;
        target
            .keyed(
                &format!("mm2-status.{a}.internal"),
                &connect_keys(true),
                !live,
            )
            .await;
        // The offsets of the flow's own partitions are poisoned only before it starts: a
        // record that is no offset, stored last, leaves the partition with none.
        let offset_keys = if live { Vec::new() } else { self.offset_keys() };
        target
            .keyed(&format!("mm2-offsets.{a}.internal"), &offset_keys, !live)
            .await;
        let binary = self.binary_keys();
        target
            .keyed_and_keyless(&format!("{a}.checkpoints.internal"), &binary)
            .await;
        target.keyed("heartbeats", &binary, true).await;
        source
            .keyed_and_keyless(&format!("mm2-offset-syncs.{b}.internal"), &binary)
            .await;
        source.keyed("heartbeats", &binary, true).await;
    }
}

/// The last checkpoint of `group` for each partition of `remote`, once every partition has
/// one at `offset`, both upstream and downstream.
fn wait_for_checkpoints(flow: &Flow, remote: &str, offset: i64) {
    let target = target_bootstrap();
    let mut last = Vec::new();
    let exact = wait_until(Duration::from_secs(60), || {
        last = checkpoints_of(&target, &flow.a, &flow.group);
        (0..PARTITIONS).all(|p| {
            last.iter()
                .rev()
                .find(|c| c.topic == remote && c.partition == p)
                .is_some_and(|c| (c.upstream_offset, c.downstream_offset) == (offset, offset))
        })
    });
    assert!(exact, "no exact checkpoints at {offset}: {last:?}");
    let synced = wait_until(Duration::from_secs(30), || {
        (0..PARTITIONS).all(|p| committed(&target, &flow.group, remote, p) == Some(offset))
    });
    assert!(synced, "group offsets not synced to {offset} on the target");
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_in_every_internal_topic_changes_nothing() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (source, target) = (source_bootstrap(), target_bootstrap());
    let (topic, first) = seeded_source_topic("poison", PARTITIONS, BATCH).await;
    let flow = Flow {
        a: a.clone(),
        b: b.clone(),
        topic: topic.clone(),
        group: unique("poison-group"),
    };
    for p in 0..PARTITIONS {
        commit(&source, &flow.group, &topic, p, PER_PARTITION);
    }

    // The topics as the flow would create them, but for the two that take keyless records.
    ensure(&target, &format!("mm2-configs.{a}.internal"), 1, "compact").await;
    ensure(&target, &format!("mm2-offsets.{a}.internal"), 25, "compact").await;
    ensure(&target, &format!("mm2-status.{a}.internal"), 5, "compact").await;
    ensure(&target, &format!("{a}.checkpoints.internal"), 1, "delete").await;
    ensure(&target, "heartbeats", 1, "compact").await;
    ensure(
        &source,
        &format!("mm2-offset-syncs.{b}.internal"),
        1,
        "delete",
    )
    .await;
    ensure(&source, "heartbeats", 1, "compact").await;
    let (mut on_target, mut on_source) = (Poisoner::new(&target), Poisoner::new(&source));
    flow.poison(&mut on_target, &mut on_source, false).await;

    let mm2 = Mm2::start(&flow_config(
        &a,
        &b,
        &format!(
            "{a}->{b}.topics = {topic}\n{a}->{b}.groups = {group}\n\
             offset.lag.max = 0\nemit.checkpoints.interval.seconds = 1\n\
             refresh.groups.interval.seconds = 1\nsync.group.offsets.enabled = true\n\
             sync.group.offsets.interval.seconds = 1\n\
             emit.heartbeats.enabled = true\nemit.heartbeats.interval.seconds = 1\n\
             listeners = http://127.0.0.1:0\n",
            group = flow.group
        ),
    ))
    .await;
    let remote = format!("{a}.{topic}");
    let got = read_exactly(&target, &remote, PARTITIONS, BATCH, Duration::from_secs(60));
    assert_same_partitions(&got, &first, PARTITIONS);
    wait_for_checkpoints(&flow, &remote, PER_PARTITION);

    // Again while the flow runs: its followers of the config and status topics, its
    // checkpoint task and the heartbeats meet them live.
    flow.poison(&mut on_target, &mut on_source, true).await;
    let poisoned_at = now_ms();
    let second = sample_records(2 * BATCH, PARTITIONS).split_off(BATCH);
    produce(&source, &topic, &second).await;
    let all: Vec<Rec> = first.iter().chain(&second).cloned().collect();
    for p in 0..PARTITIONS {
        commit(&source, &flow.group, &topic, p, 2 * PER_PARTITION);
    }
    let got = read_exactly(
        &target,
        &remote,
        PARTITIONS,
        2 * BATCH,
        Duration::from_secs(60),
    );
    assert_same_partitions(&got, &all, PARTITIONS);
    let end = 2 * PER_PARTITION - 1;
    let stored = (0..PARTITIONS).map(|p| (p, end)).collect::<Vec<_>>();
    let mut last = Vec::new();
    let committed_all = wait_until(Duration::from_secs(30), || {
        last = stored_offsets(&target, &a, &topic);
        last == stored
    });
    assert!(committed_all, "stored offsets {last:?}, not {stored:?}");
    wait_for_checkpoints(&flow, &remote, 2 * PER_PARTITION);

    // Heartbeats are still emitted after the poison.
    let beating = wait_until(Duration::from_secs(30), || {
        read_raw(&target, "heartbeats", 0)
            .into_iter()
            .filter_map(|(k, v)| Heartbeat::decode(&k?, &v?).ok())
            .any(|h| {
                h.source_cluster_alias == a
                    && h.target_cluster_alias == b
                    && h.timestamp > poisoned_at
            })
    });
    assert!(beating, "no heartbeat {a}->{b} after the poison");
    // The source's heartbeats topic, poison and all, is copied once and in order: the remote
    // topic is a prefix of it that reaches past the last poison record.
    let remote_heartbeats = format!("{a}.heartbeats");
    let upstream = read_raw(&source, "heartbeats", 0);
    // The last poison record written there is the last one under the nested key.
    let last_poison = upstream
        .iter()
        .rposition(|(k, _)| k.as_deref() == Some(nested().as_slice()))
        .expect("the poison is on the source");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let copied = read_raw(&target, &remote_heartbeats, 0);
        let upstream = read_raw(&source, "heartbeats", 0);
        assert!(
            upstream.starts_with(&copied),
            "{remote_heartbeats} is not a prefix of the source's heartbeats ({} and {} records)",
            copied.len(),
            upstream.len()
        );
        if copied.len() > last_poison {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{remote_heartbeats} holds {} records, not past the poison at {last_poison}",
            copied.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The three connectors and their tasks run.
    let addr = mm2.http[0];
    for (connector, tasks) in [
        ("MirrorSourceConnector", 1),
        ("MirrorCheckpointConnector", 1),
        ("MirrorHeartbeatConnector", 1),
    ] {
        wait_state(addr, &format!("{a}->{b}.{connector}"), "RUNNING", tasks);
    }
    mm2.stop().await;
    eprintln!(
        "poison records written: {} on the target, {} on the source",
        on_target.written, on_source.written
    );
}
