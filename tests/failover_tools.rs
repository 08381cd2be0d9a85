//! The operator commands against the two brokers: `offsets translate` (with and without
//! `--apply`) reads checkpoints as Java's RemoteClusterUtils does, and `topology` reads the
//! replication path from heartbeat topic names.

mod common;

use std::time::Duration;

use common::*;
use mm2::mirror::wire::Checkpoint;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

fn checkpoint(group: &str, topic: &str, partition: i32, downstream: i64) -> Checkpoint {
    Checkpoint {
        group: group.into(),
        topic: topic.into(),
        partition,
        upstream_offset: downstream + 1000,
        downstream_offset: downstream,
        metadata: "m".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_translate_prints_and_applies_the_latest_checkpoints() {
    common::require_brokers!();
    let (a, b) = aliases();
    let group = unique("failover");
    let remote = format!("{a}.orders");
    write_checkpoints(
        &target_bootstrap(),
        &format!("{a}.checkpoints.internal"),
        &[
            checkpoint(&group, &remote, 0, 10),
            checkpoint("someone-else", &remote, 0, 99),
            checkpoint(&group, &remote, 1, 20),
            checkpoint(&group, &remote, 0, 15),
        ],
    )
    .await;
    create_topic(&target_bootstrap(), &remote, 2).await;
    let file = TempFile::new("mm2.properties", &flow_config(&a, &b, ""));
    let path = file.path.to_str().unwrap();
    let out = mm2(&[
        "offsets",
        "translate",
        path,
        "--source",
        &a,
        "--target",
        &b,
        "--group",
        &group,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text,
        format!("TOPIC\tPARTITION\tOFFSET\tMETADATA\n{remote}\t0\t15\tm\n{remote}\t1\t20\tm\n")
    );
    assert_eq!(
        committed(&target_bootstrap(), &group, &remote, 0),
        None,
        "nothing committed without --apply"
    );

    let out = mm2(&[
        "offsets",
        "translate",
        path,
        "--source",
        &a,
        "--target",
        &b,
        "--group",
        &group,
        "--apply",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains(&format!("committed 2 offsets to group {group} on {b}")));
    assert_eq!(
        (
            committed(&target_bootstrap(), &group, &remote, 0),
            committed(&target_bootstrap(), &group, &remote, 1)
        ),
        (Some(15), Some(20))
    );

    let out = mm2(&[
        "offsets",
        "translate",
        path,
        "--source",
        &a,
        "--target",
        &b,
        "--group",
        "nobody",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no checkpoints for group `nobody`"));
    let out = mm2(&[
        "offsets",
        "translate",
        path,
        "--source",
        &a,
        "--target",
        "nope",
        "--group",
        &group,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`nope` is not one of the clusters"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_translate_apply_refuses_an_active_group() {
    common::require_brokers!();
    let (a, b) = aliases();
    let group = unique("busy");
    let remote = format!("{a}.orders");
    write_checkpoints(
        &target_bootstrap(),
        &format!("{a}.checkpoints.internal"),
        &[checkpoint(&group, &remote, 0, 5)],
    )
    .await;
    create_topic(&target_bootstrap(), &remote, 1).await;
    // A member of the group on the target.
    let member: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", target_bootstrap())
        .set("group.id", &group)
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    member.subscribe(&[&remote]).unwrap();
    wait_for(Duration::from_secs(30), || {
        let _ = member.poll(Duration::from_millis(100));
        member.assignment().map(|a| a.count() > 0).unwrap_or(false)
    });
    let file = TempFile::new("mm2.properties", &flow_config(&a, &b, ""));
    let out = mm2(&[
        "offsets",
        "translate",
        file.path.to_str().unwrap(),
        "--source",
        &a,
        "--target",
        &b,
        "--group",
        &group,
        "--apply",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is active on"), "{err}");
    assert_eq!(committed(&target_bootstrap(), &group, &remote, 0), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_reads_upstream_clusters_from_heartbeat_topics() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (x, z) = aliases();
    for t in [format!("{x}.heartbeats"), format!("{z}.{a}.heartbeats")] {
        create_topic(&target_bootstrap(), &t, 1).await;
    }
    let file = TempFile::new("mm2.properties", &flow_config(&a, &b, ""));
    let out = mm2(&["topology", file.path.to_str().unwrap(), "--cluster", &b]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        format!("upstream {x}: 1 hop"),
        format!("upstream {z}: 1 hop"),
        format!("upstream {a}: 2 hops"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "expected `{line}` in:\n{text}"
        );
    }
}

/// `failover` and `failback` name what is wrong with their input and exit 2, before reaching
/// any cluster (so no broker is needed).
#[test]
fn failover_and_failback_refuse_bad_input_with_exit_2() {
    let text = "clusters = a, b\na.bootstrap.servers = 127.0.0.1:1\nb.bootstrap.servers = 127.0.0.1:1\na->b.enabled = true\n";
    let file = TempFile::new("mm2.properties", text);
    let path = file.path.to_str().unwrap();
    for (args, wanted) in [
        (
            vec!["failover", path, "--source", "a", "--target", "c"],
            "`c` is not one of the clusters (a, b)",
        ),
        (
            vec!["failover", path, "--source", "b", "--target", "a"],
            "flow b->a is not enabled (b->a.enabled = true)",
        ),
        (
            vec![
                "failover", path, "--source", "a", "--target", "b", "--groups", "(",
            ],
            "--groups `(`",
        ),
        (
            vec!["failback", path, "--source", "a", "--target", "b"],
            "failback needs flow b->a (active/active)",
        ),
        (
            vec![
                "failover",
                "/nonexistent/mm2.properties",
                "--source",
                "a",
                "--target",
                "b",
            ],
            "/nonexistent/mm2.properties",
        ),
    ] {
        let out = mm2(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(wanted),
            "{args:?}: `{wanted}` not in {stderr}"
        );
    }
}
