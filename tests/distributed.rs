//! connect-distributed: three workers of one group share connectors and tasks through Kafka
//! (group membership on the target broker, compacted config, offset and status topics); a
//! REST change sent to any worker takes effect; a worker killed with SIGKILL has its tasks
//! moved to the others with no line lost; connectors created through REST survive a restart
//! of the whole group.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const CONNECTORS: usize = 4;

struct Group {
    id: String,
    root: PathBuf,
    _dir: TempFile,
}

impl Group {
    fn new() -> Group {
        let dir = TempFile::new("unused", "");
        let root = dir.path.parent().unwrap().to_path_buf();
        Group {
            id: unique("connect-cluster"),
            root,
            _dir: dir,
        }
    }

    /// A worker of the group on its own port.
    fn worker(&self, n: usize) -> ConnectProcess {
        let port = free_port();
        let props = format!(
            "bootstrap.servers={}\ngroup.id={id}\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n\
             config.storage.topic={id}-configs\noffset.storage.topic={id}-offsets\n\
             status.storage.topic={id}-status\n\
             config.storage.replication.factor=1\noffset.storage.replication.factor=1\n\
             status.storage.replication.factor=1\noffset.storage.partitions=25\n\
             offset.flush.interval.ms=500\nsession.timeout.ms=6000\nheartbeat.interval.ms=1000\nrebalance.timeout.ms=10000\n\
             consumer.session.timeout.ms=6000\n\
             listeners=http://127.0.0.1:{port}\n",
            target_bootstrap(),
            id = self.id
        );
        let path = self.root.join(format!("worker-{n}.properties"));
        std::fs::write(&path, props).unwrap();
        ConnectProcess::start(env!("CARGO_BIN_EXE_connect-distributed"), &[&path], port)
    }

    fn input(&self, i: usize) -> PathBuf {
        self.root.join(format!("in-{i}.txt"))
    }

    fn topic(&self, i: usize) -> String {
        format!("{}-lines-{i}", self.id)
    }
}

fn append(path: &Path, from: usize, to: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for n in from..to {
        writeln!(f, "line {n}").unwrap();
    }
}

/// Waits until every connector and task is RUNNING; returns the workers running them.
fn all_running(addr: std::net::SocketAddr, tasks: usize, not_on: Option<&str>) -> BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = http_json(addr, "GET", "/connectors?expand=status", None, 200);
        let mut workers = BTreeSet::new();
        let mut running = 0;
        for (_, c) in s.as_object().unwrap() {
            let st = &c["status"];
            for u in std::iter::once(&st["connector"]).chain(st["tasks"].as_array().unwrap()) {
                if u["state"] == "RUNNING" {
                    running += 1;
                    workers.insert(u["worker_id"].as_str().unwrap().to_string());
                }
            }
        }
        let moved = not_on.is_none_or(|w| !workers.contains(w));
        if running == CONNECTORS + tasks && moved {
            return workers;
        }
        assert!(Instant::now() < deadline, "not all running: {s}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Every line 0..n arrived on the topic, in order of first arrival (duplicates are allowed:
/// delivery is at least once).
fn assert_all_lines(topic: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let values: Vec<String> = read_topic(&target_bootstrap(), topic)
            .iter()
            .map(|r| String::from_utf8(r.1.clone().unwrap()).unwrap())
            .collect();
        let mut seen = Vec::new();
        for v in &values {
            if !seen.contains(v) {
                seen.push(v.clone());
            }
        }
        let want: Vec<String> = (0..n).map(|i| format!("line {i}")).collect();
        if seen == want {
            eprintln!("{topic}: {} records for {n} lines", values.len());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: {} of {n} lines: {seen:?}",
            seen.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_tasks_and_survive_a_kill() {
    let g = Group::new();
    for i in 0..CONNECTORS {
        create_topic(&target_bootstrap(), &g.topic(i), 1).await;
        append(&g.input(i), 0, 10);
    }
    let mut workers: Vec<Option<ConnectProcess>> = (0..3).map(|n| Some(g.worker(n))).collect();
    let addr = |w: &Vec<Option<ConnectProcess>>, n: usize| w[n].as_ref().unwrap().addr;

    // Connectors created on different workers.
    for i in 0..CONNECTORS {
        let body = json!({"name": format!("source-{i}"), "config": {
            "connector.class": "FileStreamSource", "file": g.input(i).display().to_string(),
            "topic": g.topic(i)}});
        http_json(
            addr(&workers, i % 3),
            "POST",
            "/connectors",
            Some(&body.to_string()),
            201,
        );
    }
    let listed = http_json(addr(&workers, 2), "GET", "/connectors", None, 200);
    assert_eq!(listed.as_array().unwrap().len(), CONNECTORS);
    let running_on = all_running(addr(&workers, 1), CONNECTORS, None);
    assert!(
        running_on.len() >= 2,
        "the work is not shared: {running_on:?}"
    );
    for i in 0..CONNECTORS {
        assert_all_lines(&g.topic(i), 10);
    }

    // A REST change on one worker takes effect on the group.
    http_json(
        addr(&workers, 2),
        "PUT",
        "/connectors/source-0/pause",
        None,
        202,
    );
    wait_for(Duration::from_secs(30), || {
        let s = http_json(
            addr(&workers, 0),
            "GET",
            "/connectors/source-0/status",
            None,
            200,
        );
        s["connector"]["state"] == "PAUSED" && s["tasks"][0]["state"] == "PAUSED"
    });
    http_json(
        addr(&workers, 0),
        "PUT",
        "/connectors/source-0/resume",
        None,
        202,
    );
    all_running(addr(&workers, 1), CONNECTORS, None);

    // Kill -9 the worker that runs source-1's task, while lines keep coming.
    let status = http_json(
        addr(&workers, 0),
        "GET",
        "/connectors/source-1/status",
        None,
        200,
    );
    let victim_id = status["tasks"][0]["worker_id"]
        .as_str()
        .unwrap()
        .to_string();
    let victim = (0..3)
        .find(|n| victim_id.ends_with(&format!(":{}", addr(&workers, *n).port())))
        .unwrap();
    for i in 0..CONNECTORS {
        append(&g.input(i), 10, 20);
    }
    let killed_at = Instant::now();
    workers[victim].take().unwrap().kill();
    for i in 0..CONNECTORS {
        append(&g.input(i), 20, 30);
    }
    let alive = (0..3).find(|n| *n != victim).unwrap();
    let survivors = all_running(addr(&workers, alive), CONNECTORS, Some(&victim_id));
    let recovery = killed_at.elapsed();
    eprintln!("all units running again {recovery:?} after the kill, on {survivors:?}");
    assert!(
        recovery < Duration::from_secs(6 + 15),
        "recovery took {recovery:?}"
    );
    for i in 0..CONNECTORS {
        assert_all_lines(&g.topic(i), 30);
    }

    // The whole group restarts: the connectors created through REST come back and resume.
    for w in workers.iter_mut() {
        if let Some(w) = w.take() {
            w.stop();
        }
    }
    for i in 0..CONNECTORS {
        append(&g.input(i), 30, 35);
    }
    let w = g.worker(9);
    let listed: Value = http_json(w.addr, "GET", "/connectors", None, 200);
    assert_eq!(listed.as_array().unwrap().len(), CONNECTORS, "{listed}");
    all_running(w.addr, CONNECTORS, None);
    for i in 0..CONNECTORS {
        assert_all_lines(&g.topic(i), 35);
    }
    http_json(w.addr, "DELETE", "/connectors/source-3", None, 204);
    http_json(w.addr, "GET", "/connectors/source-3", None, 404);
    w.stop();
}
