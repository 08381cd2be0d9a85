//! Many topics and groups, side by side with Java MirrorMaker 2 on the same source, at a size
//! that fits the suite (the benchmark's scale part measures the size and the times):
//! every remote topic is created, every record copied, and every group's offsets are synced on
//! the target exactly as Java's run syncs them. Completion and correctness, not time.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::TopicPartitionList;

const TOPICS: usize = 60;
const PARTITIONS: i32 = 2;
const RECORDS: i64 = 20;
const GROUPS: usize = 20;
const TOPICS_PER_GROUP: usize = 5;

/// The source: `TOPICS` topics of `PARTITIONS` partitions, `RECORDS` records in each.
async fn source_topics(prefix: &str) -> Vec<String> {
    let topics: Vec<String> = (0..TOPICS).map(|i| format!("{prefix}-{i:03}")).collect();
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(1)))
        .collect();
    for r in admin(&source_bootstrap())
        .create_topics(&new, &AdminOptions::new())
        .await
        .expect("create topics")
    {
        r.unwrap_or_else(|(t, e)| panic!("create {t}: {e}"));
    }
    let p: BaseProducer = client(&source_bootstrap())
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    for t in &topics {
        for partition in 0..PARTITIONS {
            for i in 0..RECORDS {
                let value = format!("{t}-{partition}-{i}");
                let mut r = BaseRecord::<(), str>::to(t)
                    .partition(partition)
                    .payload(&value);
                while let Err((_, back)) = p.send(r) {
                    p.poll(Duration::from_millis(10));
                    r = back;
                }
            }
        }
    }
    p.flush(Duration::from_secs(60)).expect("records written");
    topics
}

/// Each group's partitions: group `g` committed on `TOPICS_PER_GROUP` topics from topic `g`
/// on, at their end offsets (a consumer that read everything).
fn group_partitions(topics: &[String], g: usize) -> Vec<(String, i32)> {
    (0..TOPICS_PER_GROUP)
        .flat_map(|k| {
            let t = &topics[(g + k) % topics.len()];
            (0..PARTITIONS).map(move |p| (t.clone(), p))
        })
        .collect()
}

fn commit_group(group: &str, partitions: &[(String, i32)]) {
    let c: BaseConsumer = client(&source_bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for (t, p) in partitions {
        tpl.add_partition_offset(t, *p, rdkafka::Offset::Offset(RECORDS))
            .unwrap();
    }
    c.commit(&tpl, CommitMode::Sync).expect("commit");
}

/// `group`'s committed offsets on the target for `partitions` of the remote topics
/// `<alias>.<topic>`, keyed by the source topic.
fn synced(group: &str, alias: &str, partitions: &[(String, i32)]) -> BTreeMap<(String, i32), i64> {
    let c: BaseConsumer = client(&target_bootstrap())
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for (t, p) in partitions {
        tpl.add_partition(&format!("{alias}.{t}"), *p);
    }
    let Ok(committed) = c.committed_offsets(tpl, Duration::from_secs(10)) else {
        return BTreeMap::new();
    };
    committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            rdkafka::Offset::Offset(o) => {
                let topic = e.topic().strip_prefix(&format!("{alias}."))?.to_string();
                Some(((topic, e.partition()), o))
            }
            _ => None,
        })
        .collect()
}

/// The mm2.properties of flow `a`->`b` over the topics and groups of `prefix`.
fn flow(a: &str, b: &str, prefix: &str) -> String {
    let groups = format!("{prefix}-group-.*");
    checkpointing_flow(a, b, &format!("{prefix}-.*"), &groups, 2) + "tasks.max = 4\n"
}

/// Waits until every remote topic of `alias` exists and holds every record.
fn wait_copied(alias: &str, topics: &[String], who: &str) {
    let mut last = (0, 0);
    let done = wait_until(Duration::from_secs(180), || {
        let on_target = common::topics(&target_bootstrap());
        let present = topics
            .iter()
            .filter(|t| on_target.contains_key(&format!("{alias}.{t}")))
            .count();
        let copied: i64 = topics
            .iter()
            .filter(|t| on_target.contains_key(&format!("{alias}.{t}")))
            .map(|t| end_offsets(&format!("{alias}.{t}")))
            .sum();
        last = (present, copied);
        present == topics.len() && copied == RECORDS * PARTITIONS as i64 * TOPICS as i64
    });
    assert!(
        done,
        "{who}: {} of {TOPICS} remote topics, {} of {} records",
        last.0,
        last.1,
        RECORDS * PARTITIONS as i64 * TOPICS as i64
    );
}

/// The sum of a target topic's end offsets.
fn end_offsets(topic: &str) -> i64 {
    let c = consumer(&target_bootstrap());
    (0..PARTITIONS)
        .map(|p| {
            c.fetch_watermarks(topic, p, Duration::from_secs(5))
                .map_or(0, |(_, high)| high)
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_topics_and_groups_replicate_and_sync_as_java_does() {
    common::require_brokers!();
    let n = rand::random::<u32>();
    let prefix = format!("scale{n:08x}");
    let topics = source_topics(&prefix).await;
    let groups: Vec<(String, Vec<(String, i32)>)> = (0..GROUPS)
        .map(|g| {
            (
                format!("{prefix}-group-{g:03}"),
                group_partitions(&topics, g),
            )
        })
        .collect();
    for (g, partitions) in &groups {
        commit_group(g, partitions);
    }

    let (ja, jb, ra, rb) = (
        format!("ja{n:08x}"),
        format!("jb{n:08x}"),
        format!("ra{n:08x}"),
        format!("rb{n:08x}"),
    );
    let java = JavaPeer::mirror_maker(&flow(&ja, &jb, &prefix), &["--clusters", &jb]);
    let ours = Mm2::start(&flow(&ra, &rb, &prefix)).await;
    wait_copied(&ra, &topics, "ours");
    wait_copied(&ja, &topics, "Java");

    let want: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut last = (String::new(), want.clone(), want);
    let agreed = wait_until(Duration::from_secs(180), || {
        groups.iter().all(|(g, partitions)| {
            let (ours, java) = (synced(g, &ra, partitions), synced(g, &ja, partitions));
            let done = ours.len() == partitions.len() && ours == java;
            if !done {
                last = (g.clone(), ours, java);
            }
            done
        })
    });
    java.stop();
    ours.stop().await;
    assert!(
        agreed,
        "group {}: ours synced {:?}, Java {:?}",
        last.0, last.1, last.2
    );
    // And both synced the end offsets: the consumers lose and repeat nothing.
    for (g, partitions) in &groups {
        let ours = synced(g, &ra, partitions);
        assert!(ours.values().all(|o| *o == RECORDS), "{g}: {ours:?}");
    }
}
