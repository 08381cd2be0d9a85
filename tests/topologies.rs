//! Replication topologies beyond one flow, on scripts/test.sh's Kafka clusters:
//! - aggregation: two sources A and B replicate into one target C (A->C and B->C), each under
//!   its own prefix, with heartbeats from both and no topic going round;
//! - migration with IdentityReplicationPolicy: A->B keeps topic names, offsets and
//!   checkpoints line up with the source, and heartbeats keep their prefixed name, so a
//!   heartbeats topic is never copied onto another.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use mm2::mirror::wire::Heartbeat;

/// The heartbeats in `topic` on `bootstrap`, as (source alias, target alias).
fn heartbeats(bootstrap: &str, topic: &str) -> Vec<(String, String)> {
    if !topic_exists(bootstrap, topic) {
        return Vec::new();
    }
    read_topic(bootstrap, topic)
        .into_iter()
        .filter_map(|(k, v)| Heartbeat::decode(&k?, &v?).ok())
        .map(|h| (h.source_cluster_alias, h.target_cluster_alias))
        .collect()
}

fn pair(source: &str, target: &str) -> (String, String) {
    (source.to_string(), target.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_aggregate_into_one_target_without_loops() {
    common::require_brokers!();
    let n = rand::random::<u32>();
    let (a, b, c) = (
        format!("a{n:08x}"),
        format!("b{n:08x}"),
        format!("c{n:08x}"),
    );
    let (ka, kb, kc) = (source_bootstrap(), target_bootstrap(), third_bootstrap());
    let topic = unique("sales");
    let mut sent = BTreeMap::new();
    for (alias, bootstrap, count) in [(&a, &ka, 30), (&b, &kb, 40)] {
        create_topic(bootstrap, &topic, 2).await;
        let records = sample_records(count, 2);
        produce(bootstrap, &topic, &records).await;
        sent.insert(alias.clone(), records);
    }
    let config = format!(
        "clusters = {a}, {b}, {c}\n\
         {a}.bootstrap.servers = {ka}\n\
         {b}.bootstrap.servers = {kb}\n\
         {c}.bootstrap.servers = {kc}\n\
         {a}->{c}.enabled = true\n\
         {b}->{c}.enabled = true\n\
         topics = .*{topic}\n\
         emit.heartbeats.interval.seconds = 1\n\
         refresh.topics.interval.seconds = 1\n\
         {}{}\
         {a}.consumer.session.timeout.ms = 6000\n\
         {b}.consumer.session.timeout.ms = 6000\n",
        one_broker_settings(&c),
        // The heartbeat-only flows into A and B (Java runs one for every pair) need workers too.
        [&a, &b]
            .iter()
            .map(|t| format!("{t}.session.timeout.ms = 6000\n{t}.heartbeat.interval.ms = 1000\n"))
            .collect::<String>(),
    );
    let mm2 = Mm2::start(&config).await;
    for (alias, records) in &sent {
        let remote = format!("{alias}.{topic}");
        let got = read_exactly(&kc, &remote, 2, records.len(), Duration::from_secs(90));
        assert_same_partitions(&got, records, 2);
    }
    // Heartbeats from both sources on C, and both sources' heartbeats topics replicated to C
    // under their prefixes.
    wait_for(Duration::from_secs(60), || {
        let on_c = heartbeats(&kc, "heartbeats");
        on_c.contains(&pair(&a, &c)) && on_c.contains(&pair(&b, &c))
    });
    wait_for(Duration::from_secs(60), || {
        let topics = topics(&kc);
        topics.contains_key(&format!("{a}.heartbeats"))
            && topics.contains_key(&format!("{b}.heartbeats"))
    });
    // Nothing went round: no remote topic of a remote topic, nothing of C's own prefix.
    let names = topics(&kc);
    for x in [&a, &b, &c] {
        for y in [&a, &b, &c] {
            let looped = format!("{x}.{y}.");
            assert!(
                !names.keys().any(|t| t.starts_with(&looped)),
                "a topic named {looped}* on {c}: {names:?}"
            );
        }
    }
    assert!(!names.keys().any(|t| t.starts_with(&format!("{c}."))));
    // And nothing came back to the sources.
    for bootstrap in [&ka, &kb] {
        let names = topics(bootstrap);
        for x in [&a, &b, &c] {
            assert!(
                !names.contains_key(&format!("{x}.{topic}")),
                "{x}.{topic} on a source cluster"
            );
        }
    }
    mm2.stop().await;
}

/// A migration from A to B with IdentityReplicationPolicy: the topic keeps its name, its
/// records keep their offsets, a group's checkpoint names the topic as it is and its offset is
/// synced to B, and heartbeats keep a prefixed name (`A.heartbeats`), so that A's heartbeats
/// never land in B's own heartbeats topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_policy_migrates_names_offsets_and_groups() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (source, target) = (source_bootstrap(), target_bootstrap());
    let (topic, records) = seeded_source_topic("migrate", 2, 60).await;
    let group = unique("billing");
    commit(&source, &group, &topic, 0, 30);
    commit(&source, &group, &topic, 1, 30);
    let extra = format!(
        "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n\
         {a}->{b}.topics = {topic}\n{a}->{b}.groups = {group}\n\
         emit.heartbeats.enabled = true\nemit.heartbeats.interval.seconds = 1\n\
         emit.checkpoints.interval.seconds = 1\nrefresh.groups.interval.seconds = 1\n\
         refresh.topics.interval.seconds = 1\n\
         sync.group.offsets.enabled = true\nsync.group.offsets.interval.seconds = 1\n\
         {a}.session.timeout.ms = 6000\n{a}.heartbeat.interval.ms = 1000\n"
    );
    // flow_config turns heartbeats off; this test wants them.
    let config = flow_config(&a, &b, &extra).replace("emit.heartbeats.enabled = false\n", "");
    let mm2 = Mm2::start(&config).await;

    // Same name, same records at the same offsets (a fresh topic: offsets start at 0 on both).
    let got = read_exactly(&target, &topic, 2, records.len(), Duration::from_secs(90));
    assert_same_partitions(&got, &records, 2);
    assert!(!topic_exists(&target, &format!("{a}.{topic}")));

    // The checkpoint names the topic as it is; the group's offset on B is the translated one,
    // never past where it stopped on A.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ours = checkpoints_of(&target, &a, &group);
        let synced: Vec<Option<i64>> = (0..2)
            .map(|p| committed(&target, &group, &topic, p))
            .collect();
        let done = ours.iter().any(|c| c.topic == topic)
            && synced
                .iter()
                .all(|o| matches!(o, Some(o) if (1..=30).contains(o)));
        if done {
            assert!(ours.iter().all(|c| c.topic == topic), "{ours:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint and synced offsets for {group}: {ours:?}, {synced:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Heartbeats: B's own from the flow, A's under `A.heartbeats`. The heartbeat-only flow B->A
    // writes b->a heartbeats into A's heartbeats topic; once they show in `A.heartbeats` on B,
    // B's own heartbeats topic must not hold any (identity would put them there if it named
    // heartbeats as it names other topics).
    let prefixed = format!("{a}.heartbeats");
    wait_for(Duration::from_secs(60), || {
        heartbeats(&target, &prefixed).contains(&pair(&b, &a))
    });
    let own = heartbeats(&target, "heartbeats");
    assert!(own.contains(&pair(&a, &b)), "no {a}->{b} heartbeat on B");
    assert!(
        !own.contains(&pair(&b, &a)),
        "A's heartbeats were copied into B's heartbeats topic"
    );
    mm2.stop().await;
}
