//! connect-standalone, as the source documents walk through it: a file's lines to a topic with
//! FileStreamSource, and the topic back to a file with FileStreamSink created through REST,
//! with lines appended later following, JsonConverter's envelope on the topic, and source
//! offsets in `offset.storage.file.filename` surviving a restart.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

struct Worker;

impl Worker {
    fn start(worker: &Path, connectors: &[&Path]) -> ConnectProcess {
        let text = std::fs::read_to_string(worker).unwrap();
        let port: u16 = text
            .lines()
            .find_map(|l| l.strip_prefix("listeners=http://127.0.0.1:"))
            .unwrap()
            .parse()
            .unwrap();
        let mut args = vec![worker];
        args.extend_from_slice(connectors);
        ConnectProcess::start(env!("CARGO_BIN_EXE_connect-standalone"), &args, port)
    }
}

fn lines(path: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn wait_lines(path: &PathBuf, n: usize) -> Vec<String> {
    wait_for(Duration::from_secs(60), || lines(path).len() >= n);
    lines(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_to_topic_to_file_with_rest_and_restart() {
    common::require_brokers!();
    let topic = unique("connect-test");
    // One partition, so the lines keep their order on the topic.
    create_topic(&target_bootstrap(), &topic, 1).await;
    let dir = TempFile::new("worker.properties", "");
    let root = dir.path.parent().unwrap().to_path_buf();
    let (input, output, offsets) = (
        root.join("test.txt"),
        root.join("test.sink.txt"),
        root.join("connect.offsets"),
    );
    let worker_props = format!(
        "bootstrap.servers={}\n\
         key.converter=org.apache.kafka.connect.storage.StringConverter\n\
         value.converter=org.apache.kafka.connect.json.JsonConverter\n\
         value.converter.schemas.enable=true\n\
         offset.storage.file.filename={}\n\
         offset.flush.interval.ms=500\n\
         consumer.session.timeout.ms=6000\n\
         listeners=http://127.0.0.1:{}\n",
        target_bootstrap(),
        offsets.display(),
        free_port()
    );
    std::fs::write(&dir.path, worker_props).unwrap();
    let source_props = root.join("connect-file-source.properties");
    std::fs::write(
        &source_props,
        format!(
            "name=local-file-source\nconnector.class=FileStreamSource\ntasks.max=1\nfile={}\ntopic={topic}\n",
            input.display()
        ),
    )
    .unwrap();
    append(&input, ["foo", "bar", "hello world"]);
    let w = Worker::start(&dir.path, &[&source_props]);

    // The lines arrive in JsonConverter's envelope.
    wait_for(Duration::from_secs(60), || {
        read_topic(&target_bootstrap(), &topic).len() >= 3
    });
    let values: Vec<Value> = read_topic(&target_bootstrap(), &topic)
        .iter()
        .map(|r| serde_json::from_slice(r.1.as_ref().unwrap()).unwrap())
        .collect();
    assert_eq!(
        values[0],
        json!({"schema": {"type": "string", "optional": false}, "payload": "foo"})
    );
    assert_eq!(values[2]["payload"], "hello world");

    // The sink, created through REST, writes the topic back to a file.
    let sink = json!({"name": "local-file-sink", "config": {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "tasks.max": "1", "file": output.display().to_string(), "topics": topic}});
    let created = http_json(w.addr, "POST", "/connectors", Some(&sink.to_string()), 201);
    assert_eq!(created["type"], "sink");
    http_json(w.addr, "POST", "/connectors", Some(&sink.to_string()), 409);
    assert_eq!(wait_lines(&output, 3), ["foo", "bar", "hello world"]);

    // Lines appended later follow, end to end.
    append(&input, ["appended 1", "appended 2"]);
    assert_eq!(wait_lines(&output, 5)[3..], ["appended 1", "appended 2"]);

    // The REST view of a standalone worker.
    let list = http_json(w.addr, "GET", "/connectors", None, 200);
    assert_eq!(list, json!(["local-file-sink", "local-file-source"]));
    let status = http_json(
        w.addr,
        "GET",
        "/connectors/local-file-sink/status",
        None,
        200,
    );
    assert_eq!(status["connector"]["state"], "RUNNING");
    assert_eq!(status["tasks"][0]["state"], "RUNNING");
    let topics = http_json(
        w.addr,
        "GET",
        "/connectors/local-file-source/topics",
        None,
        200,
    );
    assert_eq!(topics["local-file-source"]["topics"], json!([topic]));
    assert_eq!(
        plugin_classes(w.addr),
        [
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
            "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector",
            "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        ]
    );
    let bad = json!({"name": "bad", "config": {"connector.class": "FileStreamSource", "file": input.display().to_string()}});
    let e = http_json(w.addr, "POST", "/connectors", Some(&bad.to_string()), 400);
    assert!(e["message"].as_str().unwrap().contains("topic"), "{e}");
    let unknown = json!({"name": "u", "config": {"connector.class": "NoSuchConnector"}});
    let e = http_json(
        w.addr,
        "POST",
        "/connectors",
        Some(&unknown.to_string()),
        400,
    );
    assert!(
        e["message"].as_str().unwrap().contains("NoSuchConnector"),
        "{e}"
    );
    let v = http_json(
        w.addr,
        "PUT",
        "/connector-plugins/FileStreamSink/config/validate",
        Some(r#"{"connector.class":"FileStreamSink","name":"s"}"#),
        200,
    );
    assert_eq!(
        v["name"],
        "org.apache.kafka.connect.file.FileStreamSinkConnector"
    );
    assert_eq!(v["error_count"], 2, "{v}");

    // Reconfigure the sink to a second file (200), which receives the topic from the group's
    // committed position on.
    let output2 = root.join("test.sink2.txt");
    let mut cfg = http_json(
        w.addr,
        "GET",
        "/connectors/local-file-sink/config",
        None,
        200,
    );
    cfg["file"] = json!(output2.display().to_string());
    http_json(
        w.addr,
        "PUT",
        "/connectors/local-file-sink/config",
        Some(&cfg.to_string()),
        200,
    );
    append(&input, ["after reconfigure"]);
    assert_eq!(wait_lines(&output2, 1).last().unwrap(), "after reconfigure");
    // The sink's offsets are its group's (KIP-875), and reset only when stopped.
    wait_for(Duration::from_secs(30), || {
        let o = http_json(
            w.addr,
            "GET",
            "/connectors/local-file-sink/offsets",
            None,
            200,
        );
        o["offsets"][0]["offset"]["kafka_offset"] == 6
    });
    let o = http_json(
        w.addr,
        "GET",
        "/connectors/local-file-sink/offsets",
        None,
        200,
    );
    assert_eq!(
        o["offsets"][0]["partition"],
        json!({"kafka_partition": 0, "kafka_topic": topic})
    );
    http_json(
        w.addr,
        "DELETE",
        "/connectors/local-file-sink/offsets",
        None,
        400,
    );
    http_json(w.addr, "PUT", "/connectors/local-file-sink/stop", None, 204);
    let patch = json!({"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 2}}]});
    http_json(
        w.addr,
        "PATCH",
        "/connectors/local-file-sink/offsets",
        Some(&patch.to_string()),
        200,
    );
    let o = http_json(
        w.addr,
        "GET",
        "/connectors/local-file-sink/offsets",
        None,
        200,
    );
    assert_eq!(o["offsets"][0]["offset"]["kafka_offset"], 2);
    let r = http_json(
        w.addr,
        "DELETE",
        "/connectors/local-file-sink/offsets",
        None,
        200,
    );
    assert_eq!(
        r["message"],
        "The offsets for this connector have been reset successfully"
    );
    http_json(w.addr, "DELETE", "/connectors/local-file-sink", None, 204);
    http_json(w.addr, "GET", "/connectors/local-file-sink", None, 404);

    // The source's offset is the byte position after the last line.
    let size = std::fs::metadata(&input).unwrap().len();
    let o = http_json(
        w.addr,
        "GET",
        "/connectors/local-file-source/offsets",
        None,
        200,
    );
    assert_eq!(
        o["offsets"][0]["partition"]["filename"],
        input.display().to_string()
    );
    wait_for(Duration::from_secs(10), || {
        let o = http_json(
            w.addr,
            "GET",
            "/connectors/local-file-source/offsets",
            None,
            200,
        );
        o["offsets"][0]["offset"]["position"] == size
    });
    w.stop();

    // Restarted, the source resumes after the stored position: no line is sent twice.
    append(&input, ["after restart"]);
    let w = Worker::start(&dir.path, &[&source_props]);
    wait_for(Duration::from_secs(60), || {
        read_topic(&target_bootstrap(), &topic).len() >= 7
    });
    // A line appended last is sent after any line read twice would be (one file, one
    // partition, in order): once it is on the topic, every duplicate would be too.
    append(&input, ["witness"]);
    wait_for(Duration::from_secs(60), || {
        read_topic(&target_bootstrap(), &topic).iter().any(|r| {
            r.1.as_deref()
                .is_some_and(|v| v.windows(7).any(|w| w == b"witness"))
        })
    });
    let payloads: Vec<String> = read_topic(&target_bootstrap(), &topic)
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(r.1.as_ref().unwrap()).unwrap()["payload"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        payloads,
        [
            "foo",
            "bar",
            "hello world",
            "appended 1",
            "appended 2",
            "after reconfigure",
            "after restart",
            "witness"
        ]
    );
    // A standalone worker forgets connectors created through REST, as Kafka Connect's does.
    assert_eq!(
        http_json(w.addr, "GET", "/connectors", None, 200),
        json!(["local-file-source"])
    );
    w.stop();
}

#[test]
fn bad_worker_config_is_named() {
    let f = TempFile::new("worker.properties", "bootstrap.servers=127.0.0.1:1\n");
    let out = Launch::new(env!("CARGO_BIN_EXE_connect-standalone"))
        .arg(&f.path)
        .output();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "key.converter",
        "value.converter",
        "offset.storage.file.filename",
    ] {
        assert!(err.contains(key), "{err}");
    }
}

/// MirrorMaker 2's connectors run as plugins of a Connect worker, configured as in Java: the
/// connector config names both clusters (`source.cluster.*`, `target.cluster.*`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_source_connector_as_a_plugin() {
    common::require_brokers!();
    let (alias, _) = aliases();
    let (topic, sent) = seeded_source_topic("plugin", 2, 30).await;
    let dir = TempFile::new("worker.properties", "");
    let root = dir.path.parent().unwrap().to_path_buf();
    let port = free_port();
    std::fs::write(
        &dir.path,
        format!(
            "bootstrap.servers={}\n\
             key.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n\
             value.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n\
             offset.storage.file.filename={}\n\
             offset.flush.interval.ms=500\n\
             listeners=http://127.0.0.1:{port}\n",
            target_bootstrap(),
            root.join("connect.offsets").display(),
        ),
    )
    .unwrap();
    let connector = root.join("mirror-source.properties");
    std::fs::write(
        &connector,
        format!(
            "name=mirror-source\n\
             connector.class=MirrorSourceConnector\n\
             tasks.max=2\n\
             source.cluster.alias={alias}\n\
             target.cluster.alias=backup\n\
             source.cluster.bootstrap.servers={}\n\
             target.cluster.bootstrap.servers={}\n\
             topics={topic}\n\
             replication.factor=1\n\
             offset-syncs.topic.replication.factor=1\n\
             offset.storage.replication.factor=1\n",
            source_bootstrap(),
            target_bootstrap(),
        ),
    )
    .unwrap();
    let w = Worker::start(&dir.path, &[&connector]);
    let classes = plugin_classes(w.addr);
    for class in [
        "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
        "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector",
    ] {
        assert!(classes.iter().any(|c| c == class), "{class} in {classes:?}");
    }
    let remote = format!("{alias}.{topic}");
    let got = read_exactly(
        &target_bootstrap(),
        &remote,
        2,
        sent.len(),
        Duration::from_secs(60),
    );
    assert_same_partitions(&got, &sent, 2);
    let status = http_json(w.addr, "GET", "/connectors/mirror-source/status", None, 200);
    assert_eq!(status["connector"]["state"], "RUNNING", "{status}");
    assert_eq!(status["type"], "source", "{status}");
    // Offsets are stored under the connector's own name, with MirrorMaker 2's partition keys.
    let mut last = Value::Null;
    let stored = wait_until(Duration::from_secs(60), || {
        let o = http_json(
            w.addr,
            "GET",
            "/connectors/mirror-source/offsets",
            None,
            200,
        );
        last = o.clone();
        // Heartbeat topics on the shared brokers are replicated too, as MirrorMaker 2 always
        // replicates them: count the topic's own partitions.
        o["offsets"].as_array().is_some_and(|a| {
            a.iter()
                .filter(|e| {
                    e["partition"]["cluster"] == alias.as_str()
                        && e["partition"]["topic"] == topic.as_str()
                })
                .count()
                == 2
        })
    });
    assert!(
        stored,
        "offsets not stored within 60 s; last answer: {last}"
    );
    // A config naming no source cluster is refused with the key's name.
    let (code, body) = http(
        w.addr,
        "PUT",
        "/connector-plugins/MirrorSourceConnector/config/validate",
        Some(&json!({"connector.class": "MirrorSourceConnector"}).to_string()),
    );
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["error_count"].as_i64().unwrap() >= 1, "{v}");
    assert!(body.contains("source.cluster.alias"), "{body}");
    w.stop();
}
