//! `GET /health` (KIP-1017) of the three binaries, as real processes: 503 `starting` while a
//! worker starts (a distributed worker whose Kafka is unreachable, a MirrorMaker 2 flow whose
//! target is), 200 `healthy` once it has started (a standalone worker at once, a distributed
//! worker once it joined its group, MirrorMaker 2 once every flow joined its group).

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::*;
use serde_json::Value;

const HEALTHY: &str = "Worker has completed startup and is ready to handle requests.";

/// Polls `GET /health` until it answers `status`; returns the body.
fn health_until(addr: SocketAddr, status: u16) -> Value {
    curl_until(status, || Curl::get(&format!("http://{addr}/health"))).json()
}

fn assert_healthy(addr: SocketAddr) {
    let body = health_until(addr, 200);
    assert_eq!(
        body,
        serde_json::json!({"status": "healthy", "message": HEALTHY})
    );
}

/// The fields of a 503, in Connect's words, with its stage.
fn assert_starting(body: &Value, doing: &str) {
    assert_eq!(body["status"], "starting", "{body}");
    let message = body["message"].as_str().unwrap();
    let expected =
        format!("Worker is still starting up. The worker is currently {doing}, which began at ");
    assert!(
        message.starts_with(&expected) && message.ends_with("Z."),
        "{message}"
    );
}

/// An address nothing listens on, for a Kafka that cannot be reached.
fn nowhere() -> String {
    format!("127.0.0.1:{}", free_port())
}

fn distributed_worker(bootstrap: &str, port: u16, dir: &TempFile) -> std::path::PathBuf {
    let id = unique("health-group");
    let props = format!(
        "bootstrap.servers={bootstrap}\ngroup.id={id}\n\
         key.converter=org.apache.kafka.connect.storage.StringConverter\n\
         value.converter=org.apache.kafka.connect.storage.StringConverter\n\
         config.storage.topic={id}-configs\noffset.storage.topic={id}-offsets\n\
         status.storage.topic={id}-status\n\
         config.storage.replication.factor=1\noffset.storage.replication.factor=1\n\
         status.storage.replication.factor=1\n\
         session.timeout.ms=6000\nheartbeat.interval.ms=1000\nrebalance.timeout.ms=10000\n\
         listeners=http://127.0.0.1:{port}\n"
    );
    let path = dir.dir().join("worker.properties");
    std::fs::write(&path, props).unwrap();
    path
}

#[test]
fn standalone_is_healthy_once_started() {
    let dir = TempFile::new("worker.properties", "");
    let port = free_port();
    std::fs::write(
        &dir.path,
        format!(
            "bootstrap.servers={}\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n\
             offset.storage.file.filename={}\n\
             listeners=http://127.0.0.1:{port}\n",
            nowhere(),
            dir.dir().join("offsets").display()
        ),
    )
    .unwrap();
    let w = ConnectProcess::start(
        env!("CARGO_BIN_EXE_connect-standalone"),
        &[dir.path.as_path()],
        port,
    );
    assert_healthy(w.addr);
    w.stop();
}

/// A distributed worker cannot create its internal topics while its Kafka is unreachable: it
/// serves 503, naming Connect's first startup stage, and its connector requests wait.
#[test]
fn distributed_is_starting_while_its_kafka_is_unreachable() {
    let dir = TempFile::new("unused", "");
    let port = free_port();
    let worker = distributed_worker(&nowhere(), port, &dir);
    let w = ConnectProcess::start(
        env!("CARGO_BIN_EXE_connect-distributed"),
        &[worker.as_path()],
        port,
    );
    let body = health_until(w.addr, 503);
    assert_starting(
        &body,
        "initializing and reading to the end of internal topics",
    );
    w.kill();
}

#[test]
fn distributed_is_healthy_once_it_joined_its_group() {
    common::require_brokers!();
    let dir = TempFile::new("unused", "");
    let port = free_port();
    let worker = distributed_worker(&target_bootstrap(), port, &dir);
    let w = ConnectProcess::start(
        env!("CARGO_BIN_EXE_connect-distributed"),
        &[worker.as_path()],
        port,
    );
    assert_healthy(w.addr);
    // Healthy means started: the connector API answers at once.
    assert_eq!(
        http_json(w.addr, "GET", "/connectors", None, 200),
        serde_json::json!([])
    );
    w.stop();
}

fn mirror_maker(config: &Path, port: u16) -> ConnectProcess {
    ConnectProcess::launch(Launch::mirror_maker().arg(config), port)
}

/// A flow whose target is unreachable keeps retrying to join its group: the process stays
/// starting, and says which flow it waits for.
#[test]
fn mirror_maker_is_starting_while_a_target_is_unreachable() {
    let port = free_port();
    let config = TempFile::new(
        "mm2.properties",
        &format!(
            "clusters = A, B\n\
             A.bootstrap.servers = {}\n\
             B.bootstrap.servers = {}\n\
             A->B.enabled = true\n\
             emit.heartbeats.enabled = false\n\
             listeners = http://127.0.0.1:{port}\n",
            nowhere(),
            nowhere()
        ),
    );
    let mm2 = mirror_maker(&config.path, port);
    let body = health_until(mm2.addr, 503);
    assert_starting(&body, "joining the worker group of flow A->B");
    mm2.stop();
}

/// Healthy once every flow has joined; until then, the message names the flows left. Here one
/// flow's target is reachable and the other's is not: the witness that the first has joined is
/// the message naming only the second.
#[test]
fn mirror_maker_is_healthy_once_every_flow_joined() {
    common::require_brokers!();
    let (a, b) = aliases();
    let port = free_port();
    let config = TempFile::new(
        "mm2.properties",
        &flow_config(&a, &b, &format!("listeners = http://127.0.0.1:{port}\n")),
    );
    let mm2 = mirror_maker(&config.path, port);
    assert_healthy(mm2.addr);
    mm2.stop();

    let port = free_port();
    let text = flow_config(
        &a,
        &b,
        &format!(
            "clusters = {a}, {b}, X\nX.bootstrap.servers = {}\n{a}->X.enabled = true\n\
             listeners = http://127.0.0.1:{port}\n",
            nowhere()
        ),
    );
    let config = TempFile::new("mm2.properties", &text);
    let mm2 = mirror_maker(&config.path, port);
    let only_x = format!("joining the worker group of flow {a}->X");
    let mut last = Value::Null;
    let seen = wait_until(std::time::Duration::from_secs(60), || {
        last = health_until(mm2.addr, 503);
        last["message"]
            .as_str()
            .is_some_and(|m| m.contains(&only_x))
    });
    assert!(seen, "{last}");
    assert_starting(&last, &only_x);
    // The flow that joined is served meanwhile.
    let list = http_json(mm2.addr, "GET", "/connectors", None, 200);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str() == Some(&format!("{a}->{b}.MirrorSourceConnector"))),
        "{list}"
    );
    mm2.stop();
}
