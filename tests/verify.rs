//! `connect-mirror-maker verify` against the two brokers: a clean replication verifies (exit 0);
//! each kind of difference is found and named (exit 1); bad input is refused (exit 2).

mod common;

use std::time::Duration;

use common::*;
use mm2::connect::offsets::{offset_value, source_offset_key, MirrorPartition};
use mm2::mirror::wire::{Checkpoint, OffsetSyncRef};
use rdkafka::producer::FutureRecord;

/// Runs verify; (exit code, stdout, stderr).
fn verify(config: &TempFile, source: &str, target: &str, extra: &[&str]) -> (i32, String, String) {
    let path = config.path.to_str().unwrap();
    let mut args = vec!["verify", path, "--source", source, "--target", target];
    args.extend_from_slice(extra);
    let out = mm2(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes raw (key, value) records to partition 0 of a new one-partition topic.
async fn write_raw(bootstrap: &str, topic: &str, records: &[(Vec<u8>, Vec<u8>)]) {
    create_topic(bootstrap, topic, 1).await;
    let p = producer(bootstrap);
    for (k, v) in records {
        p.send(
            FutureRecord::to(topic).partition(0).key(k).payload(v),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered");
    }
}

/// Waits until MirrorSourceConnector has stored `want` (partition, last offset) for `topic`.
fn wait_stored(a: &str, topic: &str, want: Vec<(i32, i64)>) {
    wait_for(Duration::from_secs(60), || {
        stored_offsets(&target_bootstrap(), a, topic) == want
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_replication_verifies_and_drift_and_an_extra_record_are_found() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, _) = seeded_source_topic("verify-clean", 2, 40).await;
    let remote = format!("{a}.{topic}");
    let text = flow_config(&a, &b, &format!("topics = {topic}\n"));
    let file = TempFile::new("mm2.properties", &text);

    let running = Mm2::start(&text).await;
    wait_stored(&a, &topic, vec![(0, 19), (1, 19)]);
    // Alongside the live flow: everything up to the stored offsets matches.
    let (code, out, err) = verify(&file, &a, &b, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!("{topic}\t0\t{remote}\t0..19")),
        "{out}"
    );
    assert!(
        out.contains("40 records compared, 0 duplicates, 0 differences"),
        "{out}"
    );
    let (code, out, _) = verify(
        &file,
        &a,
        &b,
        &["--sample", "0.5", "--window", "4", "--format", "json"],
    );
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json report");
    assert_eq!(json["differences"].as_array().unwrap().len(), 0);
    running.stop().await;

    // A config the connector syncs, changed on the remote topic.
    let admin = admin(&target_bootstrap());
    let mut cfg =
        rdkafka::admin::AlterConfig::new(rdkafka::admin::ResourceSpecifier::Topic(&remote));
    cfg = cfg.set("retention.ms", "3600000");
    admin
        .alter_configs(&[cfg], &rdkafka::admin::AdminOptions::new())
        .await
        .expect("alter")
        .into_iter()
        .for_each(|r| {
            r.expect("altered");
        });
    wait_for(Duration::from_secs(30), || {
        let rt = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| {
            rt.block_on(topic_override(&target_bootstrap(), &remote, "retention.ms"))
        })
        .is_some()
    });
    let (code, out, err) = verify(&file, &a, &b, &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "{topic}: config drift retention.ms: source (default), target {remote} 3600000"
        )),
        "{out}"
    );

    // A record written straight to the remote topic, then more replication after a restart.
    let mut extra = sample_records(1, 1);
    extra[0].value = Some(b"not from the source".to_vec());
    produce(&target_bootstrap(), &remote, &extra).await;
    let more: Vec<Rec> = sample_records(45, 1).split_off(40);
    produce(&source_bootstrap(), &topic, &more).await;
    let running = Mm2::start(&text).await;
    wait_stored(&a, &topic, vec![(0, 24), (1, 19)]);
    running.stop().await;
    let (code, out, err) = verify(&file, &a, &b, &["--format", "json"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json report");
    let diffs = json["differences"].as_array().unwrap();
    assert!(
        diffs.iter().any(|d| d["kind"] == "extra_record"
            && d["remote_topic"] == remote.as_str()
            && d["partition"] == 0
            && d["downstream_offset"] == 20),
        "{out}"
    );
    assert!(
        !diffs
            .iter()
            .any(|d| d["kind"] == "missing_record" || d["kind"] == "changed_record"),
        "{out}"
    );
    assert!(err.contains("differences found"), "{err}");
}

/// A hand-built replication, in MirrorMaker's formats: source records, a remote topic holding
/// their copies with one changed and one left out, the offset sync and the stored offset, and
/// a checkpoint of a group whose commit on the target differs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_changed_partition_count_and_group_differences_are_named() {
    common::require_brokers!();
    let (a, b) = aliases();
    let topic = unique("verify-built");
    let remote = format!("{a}.{topic}");
    create_topic(&source_bootstrap(), &topic, 2).await;
    let sent = sample_records(10, 1);
    produce(&source_bootstrap(), &topic, &sent).await;
    create_topic(&target_bootstrap(), &remote, 1).await;
    let mut copies = sent.clone();
    copies[3].value = Some(b"changed".to_vec());
    copies.remove(6);
    produce(&target_bootstrap(), &remote, &copies).await;
    let sync = OffsetSyncRef {
        topic: &topic,
        partition: 0,
        upstream_offset: 0,
        downstream_offset: 0,
    };
    write_raw(
        &source_bootstrap(),
        &format!("mm2-offset-syncs.{b}.internal"),
        &[(sync.record_key(), sync.record_value())],
    )
    .await;
    let partition = MirrorPartition {
        cluster: a.clone(),
        partition: 0,
        topic: topic.clone(),
    };
    write_raw(
        &target_bootstrap(),
        &format!("mm2-offsets.{a}.internal"),
        &[(
            source_offset_key("MirrorSourceConnector", &partition),
            offset_value(9),
        )],
    )
    .await;
    let group = unique("verify-group");
    write_checkpoints(
        &target_bootstrap(),
        &format!("{a}.checkpoints.internal"),
        &[Checkpoint {
            group: group.clone(),
            topic: remote.clone(),
            partition: 0,
            upstream_offset: 5,
            downstream_offset: 5,
            metadata: String::new(),
        }],
    )
    .await;
    commit(&target_bootstrap(), &group, &remote, 0, 3);
    let file = TempFile::new(
        "mm2.properties",
        &flow_config(&a, &b, &format!("topics = {topic}\n")),
    );

    let (code, out, err) = verify(&file, &a, &b, &["--groups", &group]);
    assert_eq!(code, 1, "{out}\n{err}");
    for line in [
        format!("DIFFERENCE {topic}-0 offset 3 (target offset 3): changed value"),
        format!("DIFFERENCE {topic}-0 offset 6: missing record (no copy on the target)"),
        format!("DIFFERENCE {topic}: partition count 2 on the source, 1 on {remote}"),
        format!(
            "DIFFERENCE group {group} {remote}-0: group offset differs: translated 5, committed 3"
        ),
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "expected `{line}` in:\n{out}"
        );
    }
    assert_eq!(out.matches("DIFFERENCE").count(), 4, "{out}");
    // The group commits what it was translated to: no group difference left.
    commit(&target_bootstrap(), &group, &remote, 0, 5);
    let (code, out, _) = verify(&file, &a, &b, &["--groups", &group]);
    assert_eq!(code, 1);
    assert!(!out.contains("group offset differs"), "{out}");
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    common::require_brokers!();
    let (a, b) = aliases();
    let file = TempFile::new(
        "mm2.properties",
        &flow_config(&a, &b, "topics = nothing-here\n"),
    );
    let cases: Vec<(Vec<&str>, &str, &str, String)> = vec![
        (
            vec![],
            "nope",
            &b,
            "`nope` is not one of the clusters".into(),
        ),
        (
            vec![],
            &b,
            &a,
            format!("mm2.properties has no flow {b}->{a}"),
        ),
        (
            vec!["--topics", "("],
            &a,
            &b,
            "--topics is not a valid regex".into(),
        ),
        (
            vec!["--groups", "[x"],
            &a,
            &b,
            "--groups is not a valid regex".into(),
        ),
        (
            vec!["--sample", "0"],
            &a,
            &b,
            "--sample 0 is outside (0, 1]".into(),
        ),
        (
            vec!["--sample", "1.5"],
            &a,
            &b,
            "--sample 1.5 is outside (0, 1]".into(),
        ),
    ];
    for (extra, source, target, message) in cases {
        let (code, out, err) = verify(&file, source, target, &extra);
        assert_eq!(code, 2, "{extra:?} {source}->{target}: {out}\n{err}");
        assert!(err.contains(&message), "expected `{message}` in: {err}");
    }
    let malformed = TempFile::new("mm2.properties", "clusters = \n");
    let (code, _, err) = verify(&malformed, &a, &b, &[]);
    assert_eq!(code, 2, "{err}");
    let unreachable = TempFile::new(
        "mm2.properties",
        &format!(
            "clusters = {a}, {b}\n{a}.bootstrap.servers = 127.0.0.1:1\n{b}.bootstrap.servers = {}\n\
             {a}->{b}.enabled = true\nadmin.timeout.ms = 3000\n",
            target_bootstrap()
        ),
    );
    let (code, _, err) = verify(&unreachable, &a, &b, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("cluster `{a}` is unreachable")),
        "{err}"
    );
}
