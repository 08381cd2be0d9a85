//! Several connect-mirror-maker processes with the same mm2.properties share a flow's
//! connectors and tasks through the flow's worker group on the target; a process killed with
//! SIGKILL has its tasks taken over by the others, and no record is lost.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;

/// Starts connect-mirror-maker on `config` with its REST API on `port` (set through the
/// child's environment, so every process reads the same file).
fn start(config: &TempFile, port: u16) -> ConnectProcess {
    let launch = Launch::mirror_maker()
        .arg(&config.path)
        .env("MM2_LISTENERS", format!("http://127.0.0.1:{port}"));
    ConnectProcess::launch(launch, port)
}

/// The workers running the source connector's tasks, once all `tasks` run and none on `not_on`.
fn source_tasks_running(
    addr: std::net::SocketAddr,
    name: &str,
    tasks: usize,
    not_on: Option<&str>,
) -> BTreeSet<String> {
    let status = wait_status_known(addr, name, |s| {
        running_tasks(s) == tasks && not_on.is_none_or(|w| !task_workers(s).contains(w))
    });
    task_workers(&status)
}

/// Every record sent is on the target, in order per partition; duplicates (at least once)
/// are counted.
fn assert_replicated(remote: &str, sent: &[Rec], partitions: i32) -> usize {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = read_records(&target_bootstrap(), remote, partitions);
        let mut ok = true;
        for p in 0..partitions {
            let mut firsts: Vec<&Rec> = Vec::new();
            for r in partition_of(&got, p) {
                if !firsts
                    .iter()
                    .any(|f| f.value == r.value && f.key == r.key && f.timestamp == r.timestamp)
                {
                    firsts.push(r);
                }
            }
            ok &= firsts.into_iter().cloned().collect::<Vec<_>>()
                == partition_of(sent, p)
                    .into_iter()
                    .cloned()
                    .collect::<Vec<_>>();
        }
        if ok {
            return got.len() - sent.len();
        }
        assert!(Instant::now() < deadline, "not every record is on {remote}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_a_flow_and_survive_a_kill() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, mut sent) = seeded_source_topic("workers", 4, 40).await;
    let remote = format!("{a}.{topic}");
    let config = TempFile::new(
        "mm2.properties",
        &flow_config(
            &a,
            &b,
            &format!("{a}->{b}.topics = {topic}\ntasks.max = 4\nlisteners = http://127.0.0.1:0\n"),
        ),
    );
    let source = format!("{a}->{b}.MirrorSourceConnector");
    let w1 = start(&config, free_port());
    let w2 = start(&config, free_port());
    // Both processes run some of the work (the units are dealt out round robin).
    wait_connectors(w1.addr, |s| running_units(s).1.len() == 2);
    // The work can be shared before the source connector's task configs are written (or
    // before the second process has read them): wait for them.
    let mut tasks = serde_json::Value::Null;
    let ready = wait_until(Duration::from_secs(60), || {
        tasks = http_json(
            w2.addr,
            "GET",
            &format!("{}/tasks", connector_path(&source)),
            None,
            200,
        );
        tasks.as_array().is_some_and(|t| t.len() >= 2)
    });
    assert!(ready, "no task configs of {source}: {tasks}");
    let n = tasks.as_array().unwrap().len();
    source_tasks_running(w1.addr, &source, n, None);
    assert_eq!(
        assert_replicated(&remote, &sent, 4),
        0,
        "duplicates without any failure"
    );

    // Kill -9 the second process while records keep coming; the first takes everything over.
    let victim = format!("{}", w2.addr).replace("127.0.0.1", "");
    let victim_id = http_json(
        w1.addr,
        "GET",
        &format!("{}/status", connector_path(&source)),
        None,
        200,
    )["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["worker_id"].as_str().unwrap().to_string())
        .find(|w| w.ends_with(&victim))
        .expect("the second process runs a task");
    let more: Vec<Rec> = sample_records(40, 4)
        .into_iter()
        .map(|mut r| {
            r.value = Some(format!("later-{:?}", r.timestamp).into_bytes());
            r.timestamp = r.timestamp.map(|t| t + 1_000_000);
            r
        })
        .collect();
    produce(&source_bootstrap(), &topic, &more[..20]).await;
    let killed = Instant::now();
    w2.kill();
    produce(&source_bootstrap(), &topic, &more[20..]).await;
    source_tasks_running(w1.addr, &source, n, Some(&victim_id));
    eprintln!("tasks moved {:?} after the kill", killed.elapsed());
    sent.extend(more);
    let dups = assert_replicated(&remote, &sent, 4);
    eprintln!("{} records, {dups} duplicates after the kill", sent.len());
    w1.stop();
}
