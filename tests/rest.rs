//! The Kafka Connect REST API of connect-mirror-maker, against a running flow between the two
//! brokers: every path, Connect's shapes and status codes, and pause/resume/stop steering the
//! replication for real.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_rest_api_steers_the_flows() {
    common::require_brokers!();
    let (a, b) = aliases();
    let (topic, sent) = seeded_source_topic("rest", 2, 20).await;
    let remote = format!("{a}.{topic}");
    let mm2 = Mm2::start(&flow_config(
        &a,
        &b,
        &format!("{a}->{b}.topics = {topic}\nlisteners = http://127.0.0.1:0\nrefresh.topics.interval.seconds = 1\n"),
    ))
    .await;
    let addr = mm2.http[0];
    let source = format!("{a}->{b}.MirrorSourceConnector");
    let checkpoint = format!("{a}->{b}.MirrorCheckpointConnector");
    let heartbeat = format!("{a}->{b}.MirrorHeartbeatConnector");
    let got = read_exactly(&target_bootstrap(), &remote, 2, 20, Duration::from_secs(60));
    assert_same_partitions(&got, &sent, 2);

    // GET /: version, commit, cluster id.
    let root = http_json(addr, "GET", "/", None, 200);
    assert_eq!(root["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        root.get("commit").is_some() && root.get("kafka_cluster_id").is_some(),
        "{root}"
    );

    // The flow's three connectors, by Strimzi's names.
    let list = http_json(addr, "GET", "/connectors", None, 200);
    let mut expected = vec![checkpoint.clone(), heartbeat.clone(), source.clone()];
    expected.sort();
    assert_eq!(list, json!(expected));
    let expanded = http_json(
        addr,
        "GET",
        "/connectors?expand=status&expand=info",
        None,
        200,
    );
    assert_eq!(expanded[&source]["info"]["type"], "source");
    assert_eq!(expanded[&source]["status"]["name"], source.as_str());
    assert_eq!(
        expanded[&source]["info"]["config"]["connector.class"],
        "org.apache.kafka.connect.mirror.MirrorSourceConnector"
    );
    let only_status = http_json(addr, "GET", "/connectors?expand=status", None, 200);
    assert!(only_status[&source].get("info").is_none());

    // Info, config, tasks, statuses.
    let info = http_json(addr, "GET", &connector_path(&source), None, 200);
    assert_eq!(info["name"], source.as_str());
    assert_eq!(info["tasks"], json!([{"connector": source, "task": 0}]));
    let config = http_json(
        addr,
        "GET",
        &format!("{}/config", connector_path(&source)),
        None,
        200,
    );
    assert_eq!(config["source.cluster.alias"], a.as_str());
    assert_eq!(config["topics"], topic.as_str());
    let tasks = http_json(
        addr,
        "GET",
        &format!("{}/tasks", connector_path(&source)),
        None,
        200,
    );
    assert_eq!(tasks[0]["id"], json!({"connector": source, "task": 0}));
    let assigned = tasks[0]["config"]["task.assigned.partitions"]
        .as_str()
        .unwrap();
    // Heartbeat topics are always replicated, as in Java.
    for p in [format!("{topic}-0"), format!("{topic}-1")] {
        assert!(assigned.split(',').any(|a| a == p), "{assigned}");
    }
    let status = wait_state(addr, &source, "RUNNING", 1);
    assert_eq!(status["type"], "source");
    assert!(status["connector"]["worker_id"]
        .as_str()
        .unwrap()
        .contains(':'));
    let task = http_json(
        addr,
        "GET",
        &format!("{}/tasks/0/status", connector_path(&source)),
        None,
        200,
    );
    assert_eq!(task["id"], 0);
    assert_eq!(task["state"], "RUNNING");
    wait_state(addr, &checkpoint, "RUNNING", 1);
    // Heartbeats are disabled in this flow: the connector runs with no task, as Java's.
    wait_state(addr, &heartbeat, "RUNNING", 0);

    // Topics the connector uses (KIP-558), and their reset.
    let topics = http_json(
        addr,
        "GET",
        &format!("{}/topics", connector_path(&source)),
        None,
        200,
    );
    let used = topics[&source]["topics"].as_array().unwrap().clone();
    assert!(used.contains(&json!(remote)), "{topics}");
    http_json(
        addr,
        "PUT",
        &format!("{}/topics/reset", connector_path(&source)),
        None,
        202,
    );
    let topics = http_json(
        addr,
        "GET",
        &format!("{}/topics", connector_path(&source)),
        None,
        200,
    );
    assert_eq!(topics[&source]["topics"], json!([]));

    // Pause: nothing more is replicated; resume: it catches up.
    http_json(
        addr,
        "PUT",
        &format!("{}/pause", connector_path(&source)),
        None,
        202,
    );
    wait_state(addr, &source, "PAUSED", 1);
    let more = sample_records(10, 2);
    produce(&source_bootstrap(), &topic, &more).await;
    // The witness that a running flow would have had time to copy `more`: another flow, in a
    // process of its own, copies a record produced after them.
    let (wa, wb) = aliases();
    let (witness, _) = seeded_source_topic("rest-witness", 1, 0).await;
    let witness_mm2 = Mm2::start(&flow_config(
        &wa,
        &wb,
        &format!("{wa}->{wb}.topics = {witness}\n"),
    ))
    .await;
    produce(&source_bootstrap(), &witness, &sample_records(1, 1)).await;
    read_exactly(
        &target_bootstrap(),
        &format!("{wa}.{witness}"),
        1,
        1,
        Duration::from_secs(60),
    );
    witness_mm2.stop().await;
    assert_eq!(
        read_topic(&target_bootstrap(), &remote).len(),
        20,
        "replicated while paused"
    );
    http_json(
        addr,
        "PUT",
        &format!("{}/resume", connector_path(&source)),
        None,
        202,
    );
    wait_state(addr, &source, "RUNNING", 1);
    read_exactly(&target_bootstrap(), &remote, 2, 30, Duration::from_secs(60));

    // Restarts: connector only (204), with tasks (202 and the states), one task (204).
    http_json(
        addr,
        "POST",
        &format!("{}/restart", connector_path(&source)),
        None,
        204,
    );
    let r = http_json(
        addr,
        "POST",
        &format!("{}/restart?includeTasks=true", connector_path(&source)),
        None,
        202,
    );
    assert_eq!(r["name"], source.as_str());
    assert_eq!(r["tasks"].as_array().unwrap().len(), 1);
    http_json(
        addr,
        "POST",
        &format!("{}/tasks/0/restart", connector_path(&source)),
        None,
        204,
    );
    wait_state(addr, &source, "RUNNING", 1);
    let r = http_json(
        addr,
        "POST",
        &format!(
            "{}/restart?includeTasks=true&onlyFailed=true",
            connector_path(&source)
        ),
        None,
        202,
    );
    assert_eq!(
        r["connector"]["state"], "RUNNING",
        "nothing failed, nothing restarted: {r}"
    );

    // Offsets (KIP-875): readable while running, changeable only when stopped.
    let offsets = http_json(
        addr,
        "GET",
        &format!("{}/offsets", connector_path(&source)),
        None,
        200,
    );
    let entries: Vec<Value> = offsets["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["partition"]["topic"] == topic.as_str())
        .cloned()
        .collect();
    assert_eq!(entries.len(), 2, "{offsets}");
    assert_eq!(entries[0]["partition"]["cluster"], a.as_str());
    let p0 = sent
        .iter()
        .chain(&more)
        .filter(|r| r.partition == 0)
        .count();
    assert_eq!(entries[0]["partition"]["partition"], 0);
    assert_eq!(entries[0]["offset"]["offset"], p0 - 1);
    let patch =
        json!({"offsets": [{"partition": entries[0]["partition"], "offset": {"offset": 4}}]})
            .to_string();
    let err = http_json(
        addr,
        "PATCH",
        &format!("{}/offsets", connector_path(&source)),
        Some(&patch),
        400,
    );
    assert!(
        err["message"].as_str().unwrap().contains("STOPPED"),
        "{err}"
    );
    http_json(
        addr,
        "PUT",
        &format!("{}/stop", connector_path(&source)),
        None,
        204,
    );
    // A stopped connector has no tasks (its empty task list goes through the config topic).
    wait_status(addr, &source, |s| {
        s["connector"]["state"] == "STOPPED" && s["tasks"] == json!([])
    });
    let ok = http_json(
        addr,
        "PATCH",
        &format!("{}/offsets", connector_path(&source)),
        Some(&patch),
        200,
    );
    assert_eq!(
        ok["message"],
        "The offsets for this connector have been altered successfully"
    );
    let after = http_json(
        addr,
        "GET",
        &format!("{}/offsets", connector_path(&source)),
        None,
        200,
    );
    assert!(
        after["offsets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["offset"]["offset"] == 4),
        "{after}"
    );
    // Resumed from offset 4: partition 0's records after it are replicated again.
    http_json(
        addr,
        "PUT",
        &format!("{}/resume", connector_path(&source)),
        None,
        202,
    );
    wait_state(addr, &source, "RUNNING", 1);
    wait_for(Duration::from_secs(60), || {
        read_topic(&target_bootstrap(), &remote).len() >= 30 + (p0 - 5)
    });

    // Plugins and validation.
    let classes = plugin_classes(addr);
    assert!(
        classes
            .iter()
            .any(|c| c == "org.apache.kafka.connect.mirror.MirrorSourceConnector"),
        "{classes:?}"
    );
    let body = json!({"connector.class": "MirrorSourceConnector", "name": "x", "source.cluster.alias": a, "target.cluster.alias": b}).to_string();
    let v = http_json(
        addr,
        "PUT",
        "/connector-plugins/MirrorSource/config/validate",
        Some(&body),
        200,
    );
    assert_eq!(v["error_count"], 0, "{v}");
    let v = http_json(
        addr,
        "PUT",
        "/connector-plugins/MirrorSourceConnector/config/validate",
        Some(r#"{"tasks.max":"x"}"#),
        200,
    );
    assert!(v["error_count"].as_u64().unwrap() >= 2, "{v}");

    // Loggers: read and change the level live.
    let loggers = http_json(addr, "GET", "/admin/loggers", None, 200);
    assert!(loggers.get("root").is_some(), "{loggers}");
    let changed = http_json(
        addr,
        "PUT",
        "/admin/loggers/mm2::mirror",
        Some(r#"{"level":"DEBUG"}"#),
        200,
    );
    assert_eq!(changed, json!(["mm2::mirror"]));
    assert_eq!(
        http_json(addr, "GET", "/admin/loggers/mm2::mirror", None, 200)["level"],
        "DEBUG"
    );
    http_json(
        addr,
        "PUT",
        "/admin/loggers/mm2::mirror",
        Some(r#"{"level":"LOUD"}"#),
        400,
    );
    http_json(
        addr,
        "PUT",
        "/admin/loggers/mm2::mirror",
        Some(r#"{"level":"INFO"}"#),
        200,
    );

    // Metrics on the same listener.
    let (status, text) = http_get(addr, "/metrics");
    assert_eq!(status, 200);
    assert!(text.contains("kafka_connect_mirror_mirrorsourceconnector_record_count"));

    // Errors: Connect's body, never a 500.
    let e = http_json(addr, "GET", "/connectors/nope/status", None, 404);
    assert_eq!(
        e,
        json!({"error_code": 404, "message": "Connector nope not found"})
    );
    http_json(
        addr,
        "GET",
        &format!("{}/tasks/7/status", connector_path(&source)),
        None,
        404,
    );
    http_json(addr, "PUT", "/connectors/nope/pause", None, 404);
    let e = http_json(addr, "POST", "/connectors", Some("{not json"), 400);
    assert_eq!(e["error_code"], 400);
    let e = http_json(
        addr,
        "POST",
        "/connectors",
        Some(r#"{"name":"n","config":{"connector.class":"FileStreamSource"}}"#),
        400,
    );
    assert!(
        e["message"].as_str().unwrap().contains("mm2.properties"),
        "{e}"
    );
    http_json(addr, "DELETE", &connector_path(&source), None, 400);
    http_json(
        addr,
        "PUT",
        &format!("{}/config", connector_path(&source)),
        Some("{}"),
        400,
    );
    http_json(addr, "GET", "/no/such/path", None, 404);
    mm2.stop().await;
}
