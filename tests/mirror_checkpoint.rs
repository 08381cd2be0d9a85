//! MirrorCheckpoint and MirrorHeartbeat against the two test brokers: a group's progress on the
//! source becomes a checkpoint on the target that a consumer can resume from without missing
//! anything, group offsets are synced to the target, and heartbeats flow both ways.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mm2::mirror::wire::{Checkpoint, Heartbeat};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_fail_over_from_checkpoints_without_missing_records() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, sent) = seeded_source_topic("ckpt", 1, 300).await;
    let group = unique("app");
    let consumed = 295;
    commit(&source_bootstrap(), &group, &topic, 0, consumed);

    let extra = format!(
        "{a}->{b}.topics = {topic}\n{a}->{b}.groups = {group}\noffset.lag.max = 10\n\
         emit.checkpoints.interval.seconds = 1\nrefresh.groups.interval.seconds = 1\n\
         sync.group.offsets.enabled = true\nsync.group.offsets.interval.seconds = 1\n\
         listeners = http://127.0.0.1:0\n"
    );
    let mm2 = Mm2::start(&flow_config(&a, &b, &extra)).await;
    let remote = format!("{a}.{topic}");
    read_exactly(
        &target_bootstrap(),
        &remote,
        1,
        300,
        Duration::from_secs(60),
    );

    // The checkpoints of the group, as Java's RemoteClusterUtils reads them (the last one wins).
    // Early ones may be coarse while offset syncs are still arriving; they converge to within
    // offset.lag.max + 1 records, never past what the group consumed, never moving backwards.
    let deadline = Instant::now() + Duration::from_secs(60);
    let checkpoint = loop {
        let ours = checkpoints_of(&target_bootstrap(), &a, &group);
        for pair in ours.windows(2) {
            assert!(
                pair[1].downstream_offset >= pair[0].downstream_offset,
                "moved backwards: {ours:?}"
            );
        }
        for c in &ours {
            assert_eq!(
                (c.topic.as_str(), c.partition, c.upstream_offset),
                (remote.as_str(), 0, consumed)
            );
            assert!(
                c.downstream_offset <= consumed,
                "past what the group consumed: {c:?}"
            );
        }
        match ours.last() {
            Some(c) if consumed - c.downstream_offset <= 11 => break c.clone(),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no precise checkpoint for {group}: {ours:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let d = checkpoint.downstream_offset;

    // A consumer of the remote topic starting at the checkpoint misses nothing.
    let resumed = read(
        &target_bootstrap(),
        &remote,
        1,
        300,
        Duration::from_secs(10),
    );
    let from_checkpoint: Vec<&Rec> = resumed.iter().skip(d as usize).collect();
    let not_yet_consumed: Vec<&Rec> = sent.iter().skip(consumed as usize).collect();
    assert!(
        from_checkpoint.ends_with(&not_yet_consumed),
        "records after the checkpoint"
    );

    // checkpoint-latency-ms, labelled as Java's MBean is.
    let (_, body) = http_get(mm2.http[0], "/metrics");
    let series = format!("kafka_connect_mirror_mirrorcheckpointconnector_checkpoint_latency_ms_max{{group=\"{group}\",partition=\"0\",source=\"{a}\",target=\"{b}\",topic=\"{remote}\"}}");
    assert!(body.contains(&series), "no `{series}` in:\n{body}");
    // Staleness per group: the group was checkpointed moments ago, not never.
    let stale = format!("kafka_connect_mirror_mirrorcheckpointconnector_checkpoint_staleness_seconds{{group=\"{group}\",source=\"{a}\",target=\"{b}\"}} ");
    let seconds: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix(stale.as_str()))
        .unwrap_or_else(|| panic!("no `{stale}` in:\n{body}"))
        .parse()
        .expect("a number");
    assert!((0.0..60.0).contains(&seconds), "staleness {seconds}");

    // With sync.group.offsets.enabled the group has the translated offset on the target.
    let deadline = Instant::now() + Duration::from_secs(30);
    while committed(&target_bootstrap(), &group, &remote, 0) != Some(d) {
        assert!(
            Instant::now() < deadline,
            "group offset not synced to the target"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    mm2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_flow_both_ways_in_active_active() {
    common::require_brokers!();
    let (x, y) = aliases();
    let topic = unique("hb");
    let config = format!(
        "{}{y}->{x}.enabled = true\ntopics = {topic}\nemit.heartbeats.enabled = true\n\
         emit.heartbeats.interval.seconds = 1\nrefresh.topics.interval.seconds = 1\n",
        flow_config(&x, &y, "")
    );
    let mm2 = Mm2::start(&config).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    for (bootstrap, source, target) in [(target_bootstrap(), &x, &y), (source_bootstrap(), &y, &x)]
    {
        // Emitted: heartbeats on each target from the other cluster.
        loop {
            let found = read_raw(&bootstrap, "heartbeats", 0)
                .into_iter()
                .filter_map(|(k, v)| Heartbeat::decode(&k?, &v?).ok())
                .any(|h| &h.source_cluster_alias == source && &h.target_cluster_alias == target);
            if found {
                break;
            }
            assert!(Instant::now() < deadline, "no heartbeat {source}->{target}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Replicated: the other cluster's heartbeats topic arrives as `<source>.heartbeats`,
        // although `topics` does not include it; never `<target>.<source>.heartbeats`.
        let remote = format!("{source}.heartbeats");
        wait_for(Duration::from_secs(60), || {
            topics(&bootstrap).contains_key(&remote)
        });
        let looped = format!("{target}.{source}.heartbeats");
        assert!(
            !topics(&bootstrap).contains_key(&looped),
            "{looped} must never exist"
        );
    }
    mm2.stop().await;
}

/// `emit.offset-syncs.enabled = false` with checkpoints on (their default), as Java takes it:
/// records are replicated, no offset syncs are written, and MirrorCheckpointConnector runs no
/// task (in Java it fails validation) instead of the whole process stopping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_offset_syncs_only_checkpoints_stop() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, sent) = seeded_source_topic("nosync", 1, 20).await;
    let extra = format!(
        "{a}->{b}.topics = {topic}\nemit.offset-syncs.enabled = false\n\
         emit.checkpoints.interval.seconds = 1\nlisteners = http://127.0.0.1:0\n"
    );
    let mm2 = Mm2::start(&flow_config(&a, &b, &extra)).await;
    let got = read_exactly(
        &target_bootstrap(),
        &format!("{a}.{topic}"),
        1,
        20,
        Duration::from_secs(60),
    );
    assert_same_partitions(&got, &sent, 1);
    let status = http_json(
        mm2.http[0],
        "GET",
        &format!(
            "{}/status",
            connector_path(&format!("{a}->{b}.MirrorCheckpointConnector"))
        ),
        None,
        200,
    );
    assert_eq!(status["tasks"], serde_json::json!([]), "{status}");
    assert!(
        !topic_exists(
            &source_bootstrap(),
            &format!("mm2-offset-syncs.{b}.internal")
        ),
        "offset syncs were written"
    );
    mm2.stop().await;
}

/// Group offsets are synced only for the groups selected now (`groups`), as Java syncs its
/// tasks' assigned groups: a group known only from old checkpoints, no longer selected, is
/// left alone on the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_selected_groups_are_synced() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, _) = seeded_source_topic("select", 1, 50).await;
    let (selected, dropped) = (unique("selected"), unique("dropped"));
    commit(&source_bootstrap(), &selected, &topic, 0, 40);
    commit(&source_bootstrap(), &dropped, &topic, 0, 40);
    let remote = format!("{a}.{topic}");
    // A checkpoint of the dropped group from an earlier run, when it was still selected.
    write_checkpoints(
        &target_bootstrap(),
        &format!("{a}.checkpoints.internal"),
        &[Checkpoint {
            group: dropped.clone(),
            topic: remote.clone(),
            partition: 0,
            upstream_offset: 30,
            downstream_offset: 30,
            metadata: String::new(),
        }],
    )
    .await;
    let extra = format!(
        "{a}->{b}.topics = {topic}\n{a}->{b}.groups = {selected}\n\
         emit.checkpoints.interval.seconds = 1\nrefresh.groups.interval.seconds = 1\n\
         sync.group.offsets.enabled = true\nsync.group.offsets.interval.seconds = 1\n"
    );
    let mm2 = Mm2::start(&flow_config(&a, &b, &extra)).await;
    let target = target_bootstrap();
    read_exactly(&target, &remote, 1, 50, Duration::from_secs(60));
    // Once the selected group is synced, a sync round has passed over the loaded checkpoints.
    wait_for(Duration::from_secs(60), || {
        committed(&target, &selected, &remote, 0).is_some()
    });
    assert_eq!(
        committed(&target, &dropped, &remote, 0),
        None,
        "a group no longer selected was synced"
    );
    mm2.stop().await;
}
