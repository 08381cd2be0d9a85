//! The `connect-mirror-maker` binary as operators run it: SIGTERM drains, stores offsets and
//! exits 0; an unreachable cluster is named in the log, retried, and harms nothing.

mod common;

use std::process::Child;
use std::time::Duration;

use common::*;

/// A running connect-mirror-maker and its log.
struct Process {
    child: Child,
    log: ProcessLog,
}

fn spawn(config: &TempFile) -> Process {
    let (child, log) = Launch::mirror_maker()
        .arg(&config.path)
        .log_level("info")
        .spawn_logged();
    Process { child, log }
}

impl Process {
    /// Sends SIGTERM and returns the exit code and everything the process logged.
    fn terminate(mut self) -> (Option<i32>, String) {
        let Some(status) = terminate(&mut self.child, Duration::from_secs(30)) else {
            let _ = self.child.kill();
            panic!("did not exit within 30 s of SIGTERM:\n{}", self.log.text());
        };
        (status.code(), self.log.finish())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_stores_offsets_and_exits_0() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, _) = seeded_source_topic("term", 2, 50).await;
    // A long flush interval: the offsets must come from the shutdown itself.
    let config = flow_config(
        &a,
        &b,
        &format!("{a}->{b}.topics = {topic}\n{b}.offset.flush.interval.ms = 600000\n"),
    );
    let file = TempFile::new("mm2.properties", &config);
    let process = spawn(&file);
    read_exactly(
        &target_bootstrap(),
        &format!("{a}.{topic}"),
        2,
        50,
        Duration::from_secs(60),
    );
    let (code, log) = process.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("SIGTERM received"), "{log}");
    assert_eq!(
        stored_offsets(&target_bootstrap(), &a, &topic),
        vec![(0, 24), (1, 24)],
        "last replicated offset of each partition"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_cluster_is_named_retried_and_harms_nothing() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, _) = seeded_source_topic("unreach", 1, 10).await;
    let remote = format!("{a}.{topic}");
    let mm2 = Mm2::start(&flow_config(
        &a,
        &b,
        &format!("{a}->{b}.topics = {topic}\n"),
    ))
    .await;
    read_exactly(&target_bootstrap(), &remote, 1, 10, Duration::from_secs(60));
    mm2.stop().await;
    let before = stored_offsets(&target_bootstrap(), &a, &topic);

    // The same flow, with the source cluster pointing at a closed port.
    let config = flow_config(&a, &b, &format!("{a}->{b}.topics = {topic}\n")).replace(
        &format!("{a}.bootstrap.servers = {}", source_bootstrap()),
        &format!("{a}.bootstrap.servers = 127.0.0.1:1"),
    );
    let file = TempFile::new("mm2.properties", &config);
    let process = spawn(&file);
    // The flow joins its worker group on B and then tries the source: wait until it has.
    process.log.wait_for(
        &["127.0.0.1:1", "Connection refused"],
        Duration::from_secs(60),
    );
    let (code, log) = process.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("127.0.0.1:1") && log.contains("Connection refused"),
        "the log should name the unreachable address:\n{log}"
    );
    assert!(
        log.contains(&format!("{a}->{b}")),
        "the log should name the flow:\n{log}"
    );
    read_exactly(&target_bootstrap(), &remote, 1, 10, Duration::from_secs(10));
    assert_eq!(stored_offsets(&target_bootstrap(), &a, &topic), before);
}
