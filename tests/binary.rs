//! The `connect-mirror-maker` binary as operators run it: SIGTERM drains, stores offsets and
//! exits 0; an unreachable cluster is named in the log, retried, and harms nothing.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// A running connect-mirror-maker whose stderr is collected as it comes, so a test can wait
/// for a line instead of for a fixed time.
struct Process {
    child: Child,
    log: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

fn spawn(config: &TempFile) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_connect-mirror-maker"));
    cmd.arg(&config.path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("MM2_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd.spawn().expect("spawns connect-mirror-maker");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    Process { child, log, reader }
}

impl Process {
    /// Waits until the log holds every one of `parts`, panicking with the log after `timeout`.
    fn wait_for_log(&self, parts: &[&str], timeout: Duration) {
        let seen = wait_until(timeout, || {
            let log = self.log.lock().unwrap();
            parts.iter().all(|p| log.contains(p))
        });
        assert!(
            seen,
            "the log never showed {parts:?}:\n{}",
            self.log.lock().unwrap()
        );
    }

    /// Sends SIGTERM and returns the exit code and everything the process logged.
    fn terminate(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let code = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "did not exit within 30 s of SIGTERM:\n{}",
                    self.log.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        // The process has exited, so its stderr is closed and the reader ends.
        self.reader.join().unwrap();
        let log = std::mem::take(&mut *self.log.lock().unwrap());
        (code, log)
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
    process.wait_for_log(
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
