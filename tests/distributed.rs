//! connect-distributed: three workers of one group share connectors and tasks through Kafka
//! (group membership on the target broker, compacted config, offset and status topics); a
//! REST change sent to any worker takes effect; a worker killed with SIGKILL has its tasks
//! moved to the others with no line lost; connectors created through REST survive a restart
//! of the whole group. With exactly-once support, a frozen worker's task is fenced by its
//! successor, so no line arrives twice, and stopping a connector fences its tasks' zombies.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const CONNECTORS: usize = 4;

struct Group {
    id: String,
    root: PathBuf,
    bootstrap: String,
    /// More worker properties.
    extra: String,
    _dir: TempFile,
}

impl Group {
    fn new() -> Group {
        Group::on(target_bootstrap(), "")
    }

    /// A group on the cluster at `bootstrap`, its workers given `extra` properties too.
    fn on(bootstrap: String, extra: &str) -> Group {
        let dir = TempFile::new("unused", "");
        let root = dir.path.parent().unwrap().to_path_buf();
        Group {
            id: unique("connect-cluster"),
            root,
            bootstrap,
            extra: extra.to_string(),
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
             listeners=http://127.0.0.1:{port}\n{extra}",
            self.bootstrap,
            id = self.id,
            extra = self.extra,
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

/// Lines `line <from>` to `line <to - 1>` of a file source's input.
fn numbered(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|n| format!("line {n}")).collect()
}

/// Waits until every connector and task is RUNNING; returns the workers running them.
fn all_running(addr: std::net::SocketAddr, tasks: usize, not_on: Option<&str>) -> BTreeSet<String> {
    let s = wait_connectors(addr, |s| {
        let (running, workers) = running_units(s);
        running == CONNECTORS + tasks && not_on.is_none_or(|w| !workers.contains(w))
    });
    running_units(&s).1
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
    common::require_brokers!();
    let g = Group::new();
    for i in 0..CONNECTORS {
        create_topic(&target_bootstrap(), &g.topic(i), 1).await;
        append(&g.input(i), numbered(0, 10));
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
    // Every unit may run on the first worker until the others have joined the group.
    let mut running_on = BTreeSet::new();
    let shared = wait_until(Duration::from_secs(60), || {
        running_on = all_running(addr(&workers, 1), CONNECTORS, None);
        running_on.len() >= 2
    });
    assert!(shared, "the work is not shared: {running_on:?}");
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
        append(&g.input(i), numbered(10, 20));
    }
    let killed_at = Instant::now();
    workers[victim].take().unwrap().kill();
    for i in 0..CONNECTORS {
        append(&g.input(i), numbered(20, 30));
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
        append(&g.input(i), numbered(30, 35));
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

/// The worker (index into `workers`) whose REST port ends `worker_id`.
fn worker_of(workers: &[ConnectProcess], worker_id: &str) -> usize {
    (0..workers.len())
        .find(|n| worker_id.ends_with(&format!(":{}", workers[*n].addr.port())))
        .unwrap_or_else(|| panic!("no worker is {worker_id}"))
}

/// Exactly once (KIP-618). A worker frozen with SIGSTOP while its task writes is a zombie: the group moves
/// the task to the other worker, whose producer fences the zombie's transactional id. When the
/// zombie wakes, its open transaction is gone and its writes are refused. Every line arrives
/// exactly once, in order. (At least once, the zombie would write again what its successor
/// wrote, and the successor what the zombie wrote since its last offset flush.)
/// A group with exactly-once support on the target cluster, with topic 0 created and 10 lines
/// in input 0.
async fn exactly_once_group() -> Group {
    let g = Group::on(target_bootstrap(), "exactly.once.source.support=enabled\n");
    create_topic(&g.bootstrap, &g.topic(0), 1).await;
    append(&g.input(0), numbered(0, 10));
    g
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_fences_a_frozen_worker() {
    common::require_brokers!();
    let g = exactly_once_group().await;
    let workers: Vec<ConnectProcess> = (0..2).map(|n| g.worker(n)).collect();

    // The exactly-once keys of a source connector are validated.
    let bad = json!({"name": "x", "connector.class": "FileStreamSource", "file": "f", "topic": "t",
        "transaction.boundary": "connector"});
    let v = http_json(
        workers[0].addr,
        "PUT",
        "/connector-plugins/FileStreamSource/config/validate",
        Some(&bad.to_string()),
        200,
    );
    assert_eq!(v["error_count"], 1, "{v}");

    let body = json!({"name": "eos", "config": {
        "connector.class": "FileStreamSource", "file": g.input(0).display().to_string(),
        "topic": g.topic(0), "batch.size": "5"}});
    http_json(
        workers[0].addr,
        "POST",
        "/connectors",
        Some(&body.to_string()),
        201,
    );
    let running_on = |addr, not_on: Option<&str>| {
        let s = wait_status(addr, "eos", |s| {
            let task = &s["tasks"][0];
            task["state"] == "RUNNING" && not_on.is_none_or(|w| task["worker_id"] != w)
        });
        s["tasks"][0]["worker_id"].as_str().unwrap().to_string()
    };
    // The owner once the group has settled: both workers are members (the first to join runs
    // the task until the second joins, and either may join first), each holding a share of the
    // offsets topic's partitions, and the owner's latest assignment holds the task.
    const ASSIGNED: &str = "running after the rebalance";
    wait_for(Duration::from_secs(60), || {
        workers
            .iter()
            .all(|w| last_assignment_share(&w.log.text()).is_some_and(|(held, of)| held < of))
    });
    // A worker owns the task when its latest assignment holds it, or when the task started
    // after that assignment (a connector created once the group formed starts its task without
    // a rebalance).
    let owns_task = |w: &ConnectProcess| {
        let log = w.log.text();
        let since = log.rfind(ASSIGNED).map_or("", |at| &log[at..]);
        let assigned = since.lines().next().unwrap_or_default();
        assigned.contains("\"eos-0\"") || since.contains("reading the file")
    };
    // The latest assignment in a worker's log hands it the task: the other worker must not
    // have one (the owner's log may not yet show the assignment that takes the task away).
    let handed_task = |w: &ConnectProcess| {
        let log = w.log.text();
        log.rfind(ASSIGNED)
            .and_then(|at| log[at..].lines().next())
            .is_some_and(|l| l.contains("\"eos-0\""))
    };
    let mut victim_id = String::new();
    wait_for(Duration::from_secs(60), || {
        victim_id = running_on(workers[0].addr, None);
        let v = worker_of(&workers, &victim_id);
        owns_task(&workers[v]) && !handed_task(&workers[1 - v])
    });
    let victim = worker_of(&workers, &victim_id);
    let other = 1 - victim;

    // Lines keep coming while the task's worker is frozen, moved and woken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appender = {
        let (stop, path) = (stop.clone(), g.input(0));
        std::thread::spawn(move || {
            let mut n = 10;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                append(&path, numbered(n, n + 1));
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            n
        })
    };
    // The victim is frozen in the middle of copying: once appended lines reach the topic.
    wait_for(Duration::from_secs(60), || {
        end_offset(&g.bootstrap, &g.topic(0)) >= 30
    });
    let rebalances_seen = workers[victim].log.count(ASSIGNED);
    signal(workers[victim].child.id(), "-STOP");
    let frozen_at = Instant::now();
    let successor = running_on(workers[other].addr, Some(&victim_id));
    eprintln!(
        "task moved to {successor} {:?} after the freeze",
        frozen_at.elapsed()
    );
    // The zombie wakes once its successor writes lines of its own.
    let at_move = end_offset(&g.bootstrap, &g.topic(0));
    wait_for(Duration::from_secs(60), || {
        end_offset(&g.bootstrap, &g.topic(0)) >= at_move + 20
    });
    signal(workers[victim].child.id(), "-CONT");
    // The zombie runs on until the group tells it that its task is gone: its next assignment.
    workers[victim]
        .log
        .wait_for_more(ASSIGNED, rebalances_seen, Duration::from_secs(60));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let n = appender.join().unwrap();

    let want: Vec<String> = (0..n).map(|i| format!("line {i}")).collect();
    let mut got = Vec::new();
    let complete = wait_until(Duration::from_secs(90), || {
        got = read_log(&g.bootstrap, &g.topic(0));
        got.len() >= want.len()
    });
    let twice = got.len() - got.iter().collect::<BTreeSet<_>>().len();
    if twice > 0 {
        let mut seen = BTreeSet::new();
        let at: Vec<(usize, &String)> = got
            .iter()
            .enumerate()
            .filter(|(_, l)| !seen.insert(*l))
            .collect();
        eprintln!("again at (position, line): {at:?}");
    }
    assert!(
        complete && got == want,
        "{} records for {n} lines, {twice} duplicated, first difference at {:?}",
        got.len(),
        got.iter().zip(&want).position(|(a, b)| a != b)
    );
    eprintln!("{n} lines, each exactly once");
    for w in workers {
        w.stop();
    }
}

/// How many of the offsets topic's partitions a worker's latest group assignment held, and of
/// how many, from its log line `group assignment partitions={0, 2} tokens=25`.
fn last_assignment_share(log: &str) -> Option<(usize, usize)> {
    let line = log.lines().rev().find(|l| l.contains("group assignment"))?;
    // The fields may be coloured: drop the escape sequences (ESC [ ... m).
    let mut plain = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            plain.push(c);
        }
    }
    let set = plain.split_once("partitions={")?.1.split_once('}')?.0;
    let held = set.split(',').filter(|p| !p.trim().is_empty()).count();
    let of = plain.split_once("tokens=")?.1.split_whitespace().next()?;
    Some((held, of.parse().ok()?))
}

#[test]
fn assignment_shares_are_read_from_plain_and_coloured_lines() {
    let plain = "INFO group assignment partitions={1, 3} tokens=25\nINFO running";
    assert_eq!(last_assignment_share(plain), Some((2, 25)));
    let coloured = "\u{1b}[32m INFO\u{1b}[0m group assignment \u{1b}[3mpartitions\u{1b}[0m\u{1b}[2m=\u{1b}[0m{0, 1, 2} \u{1b}[3mtokens\u{1b}[0m\u{1b}[2m=\u{1b}[0m3";
    assert_eq!(last_assignment_share(coloured), Some((3, 3)));
    assert_eq!(last_assignment_share("nothing"), None);
}

/// The end offset of a one-partition topic: how far its writers have got while they still
/// write (`read_log` waits for them to pause).
fn end_offset(bootstrap: &str, topic: &str) -> i64 {
    use rdkafka::consumer::Consumer;
    consumer(bootstrap)
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .map(|(_, high)| high)
        .unwrap_or(0)
}

/// Zombie fencing, as a worker does before it writes a connector's new task configs: fencing a
/// transactional id aborts the open transaction of its producer and refuses its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_a_transactional_id_aborts_its_open_transaction() {
    common::require_brokers!();
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let bootstrap = target_bootstrap();
    let topic = unique("fenced");
    create_topic(&bootstrap, &topic, 1).await;
    let id = unique("group-connector-0");
    let zombie: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("transactional.id", &id)
        .create()
        .unwrap();
    zombie.init_transactions(Duration::from_secs(30)).unwrap();
    zombie.begin_transaction().unwrap();
    zombie
        .send(BaseRecord::<(), str>::to(&topic).payload("from the zombie"))
        .unwrap();
    zombie.flush(Duration::from_secs(30)).unwrap();

    let mut props = mm2::kafka::ClientProps::default();
    props.set("bootstrap.servers", bootstrap.clone(), false);
    let ids = [id.clone()];
    tokio::task::spawn_blocking(move || {
        mm2::kafka::fence::fence_producers(&props, &ids, Duration::from_secs(30))
    })
    .await
    .unwrap()
    .unwrap();

    // Its next write is refused, so its commit fails.
    zombie
        .send(BaseRecord::<(), str>::to(&topic).payload("after the fence"))
        .unwrap();
    let _ = zombie.flush(Duration::from_secs(30));
    let commit = zombie.commit_transaction(Duration::from_secs(30));
    assert!(commit.is_err(), "the fenced producer committed");
    assert_eq!(read_log(&bootstrap, &topic), Vec::<String>::new());
}

/// Zombie fencing by the herder (Connect's fenceZombies): stopping a connector fences the
/// transactional ids of all its tasks before the empty task configs are written, so a producer
/// left over with a task's id (a zombie of a worker that lost the task) cannot commit, even
/// though no new incarnation of that task starts to fence it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_connector_fences_its_tasks_zombies() {
    common::require_brokers!();
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let g = exactly_once_group().await;
    let worker = g.worker(0);
    let body = json!({"name": "src", "config": {
        "connector.class": "FileStreamSource", "file": g.input(0).display().to_string(),
        "topic": g.topic(0)}});
    http_json(
        worker.addr,
        "POST",
        "/connectors",
        Some(&body.to_string()),
        201,
    );
    wait_for(Duration::from_secs(60), || {
        read_log(&g.bootstrap, &g.topic(0)).len() == 10
    });

    // Paused, the task writes nothing; the zombie takes its transactional id and opens a
    // transaction.
    http(worker.addr, "PUT", "/connectors/src/pause", None);
    wait_for(Duration::from_secs(30), || {
        let s = http_json(worker.addr, "GET", "/connectors/src/status", None, 200);
        s["tasks"][0]["state"] == "PAUSED"
    });
    let zombie: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &g.bootstrap)
        .set("transactional.id", format!("{}-src-0", g.id))
        .create()
        .unwrap();
    zombie.init_transactions(Duration::from_secs(30)).unwrap();
    zombie.begin_transaction().unwrap();
    zombie
        .send(BaseRecord::<(), str>::to(&g.topic(0)).payload("zombie 1"))
        .unwrap();
    zombie.flush(Duration::from_secs(30)).unwrap();

    // Stopping writes empty task configs, after fencing.
    http(worker.addr, "PUT", "/connectors/src/stop", None);
    wait_for(Duration::from_secs(30), || {
        let s = http_json(worker.addr, "GET", "/connectors/src/status", None, 200);
        s["connector"]["state"] == "STOPPED" && s["tasks"].as_array().is_some_and(Vec::is_empty)
    });
    // The zombie writes once more: a fenced producer learns it is fenced from its next request.
    zombie
        .send(BaseRecord::<(), str>::to(&g.topic(0)).payload("zombie 2"))
        .unwrap();
    let _ = zombie.flush(Duration::from_secs(30));
    assert!(
        zombie.commit_transaction(Duration::from_secs(30)).is_err(),
        "the zombie committed after its task was fenced"
    );
    let lines = read_log(&g.bootstrap, &g.topic(0));
    assert_eq!(
        lines,
        (0..10).map(|i| format!("line {i}")).collect::<Vec<_>>()
    );
    worker.stop();
}

/// The REST features of Kafka 3.7 and later: a connector created in a stopped or paused state
/// (`initial_state`, KIP-980) starts in it on every worker, `PATCH .../config` (KIP-477)
/// changes some keys and removes those given as null, and `GET /connector-plugins/{p}/config`
/// (KIP-769) lists a plugin's keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_state_patch_and_plugin_config() {
    common::require_brokers!();
    let g = Group::new();
    create_topic(&g.bootstrap, &g.topic(0), 1).await;
    append(&g.input(0), numbered(0, 10));
    let w = g.worker(0);

    let keys = http_json(
        w.addr,
        "GET",
        "/connector-plugins/FileStreamSource/config",
        None,
        200,
    );
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"file") && names.contains(&"topic"),
        "{keys}"
    );
    let (code, _) = http(w.addr, "GET", "/connector-plugins/NoSuchThing/config", None);
    assert_eq!(code, 404);

    let config = json!({"connector.class": "FileStreamSource",
        "file": g.input(0).display().to_string(), "topic": g.topic(0), "batch.size": "5"});
    let bad = json!({"name": "src", "config": config, "initial_state": "SLEEPING"});
    let (code, body) = http(w.addr, "POST", "/connectors", Some(&bad.to_string()));
    assert_eq!(code, 400, "{body}");
    let body = json!({"name": "src", "config": config, "initial_state": "STOPPED"});
    http_json(w.addr, "POST", "/connectors", Some(&body.to_string()), 201);
    let state = |w: &ConnectProcess| {
        let s = http_json(w.addr, "GET", "/connectors/src/status", None, 200);
        (
            s["connector"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            s,
        )
    };
    wait_for(Duration::from_secs(30), || state(&w).0 == "STOPPED");
    let (_, s) = state(&w);
    assert_eq!(
        s["tasks"],
        json!([]),
        "a stopped connector runs no task: {s}"
    );

    // PATCH: one key changed, one removed, the rest kept.
    let patch = json!({"batch.size": "7", "no.such.key": null});
    let info = http_json(
        w.addr,
        "PATCH",
        "/connectors/src/config",
        Some(&patch.to_string()),
        200,
    );
    assert_eq!(info["config"]["batch.size"], "7", "{info}");
    assert_eq!(info["config"]["topic"], g.topic(0).as_str(), "{info}");
    let patch = json!({"batch.size": null});
    http_json(
        w.addr,
        "PATCH",
        "/connectors/src/config",
        Some(&patch.to_string()),
        200,
    );
    let config = http_json(w.addr, "GET", "/connectors/src/config", None, 200);
    assert!(config.get("batch.size").is_none(), "{config}");
    let (code, _) = http(
        w.addr,
        "PATCH",
        "/connectors/nosuch/config",
        Some(r#"{"a": "b"}"#),
    );
    assert_eq!(code, 404);
    let (code, _) = http(
        w.addr,
        "PATCH",
        "/connectors/src/config",
        Some(r#"{"name": "other"}"#),
    );
    assert_eq!(code, 400);

    // Resumed, it runs and the lines arrive.
    http(w.addr, "PUT", "/connectors/src/resume", None);
    wait_for(Duration::from_secs(30), || state(&w).0 == "RUNNING");
    assert_all_lines(&g.topic(0), 10);
    w.stop();
}

/// `PUT /admin/loggers/{name}?scope=cluster` (KIP-976) sets the level on every worker of the
/// group, through the config topic; without the scope only the worker asked changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_scoped_log_levels_reach_every_worker() {
    common::require_brokers!();
    let g = Group::new();
    let workers = [g.worker(0), g.worker(1)];
    let level_on = |w: &ConnectProcess, logger: &str| {
        let (code, body) = http(w.addr, "GET", &format!("/admin/loggers/{logger}"), None);
        if code == 200 {
            serde_json::from_str::<Value>(&body).unwrap()["level"].clone()
        } else {
            Value::Null
        }
    };
    let body = r#"{"level": "DEBUG"}"#;
    let (code, _) = http(
        workers[0].addr,
        "PUT",
        "/admin/loggers/mm2::connect::herder?scope=cluster",
        Some(body),
    );
    assert_eq!(code, 204);
    for w in &workers {
        wait_for(Duration::from_secs(30), || {
            level_on(w, "mm2::connect::herder") == "DEBUG"
        });
    }
    // Worker scope: only the worker asked.
    http_json(
        workers[1].addr,
        "PUT",
        "/admin/loggers/mm2::connect::worker",
        Some(r#"{"level": "TRACE"}"#),
        200,
    );
    assert_eq!(level_on(&workers[1], "mm2::connect::worker"), "TRACE");
    assert_eq!(level_on(&workers[0], "mm2::connect::worker"), Value::Null);
    let (code, _) = http(
        workers[0].addr,
        "PUT",
        "/admin/loggers/x?scope=cluster",
        Some(r#"{"level": "LOUD"}"#),
    );
    assert_eq!(code, 400, "a bad level is refused before it is written");
    for w in workers {
        w.stop();
    }
}
