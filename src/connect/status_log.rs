//! Statuses shared through the group's compacted status topic, in Connect's format:
//! `status-connector-<name>` / `status-task-<name>-<n>` →
//! `{"state":"RUNNING","trace":null,"worker_id":"host:port","generation":0}`. Each worker
//! publishes the statuses of what it runs and reads everyone else's, so any worker answers
//! `GET /connectors/{name}/status` for the whole group.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::error::Error;
use super::status::{ConnectorOrTask, Publisher, State, Status, StatusStore};
use super::stored_names::StoredNames;
use crate::kafka::log::{LogPublisher, Partitions, Tail};
use crate::kafka::props::ClientProps;

fn key(unit: &ConnectorOrTask, names: &StoredNames) -> String {
    match unit {
        ConnectorOrTask::Connector(n) => format!("status-connector-{}", names.store(n)),
        ConnectorOrTask::Task(n, i) => format!("status-task-{}-{i}", names.store(n)),
    }
}

/// The record of one status, under the connector's stored name.
pub fn encode(
    unit: &ConnectorOrTask,
    status: &Status,
    worker_id: &str,
    names: &StoredNames,
) -> (String, Vec<u8>) {
    let value = json!({
        "state": status.state,
        "trace": status.trace,
        "worker_id": worker_id,
        "generation": 0,
    });
    (key(unit, names), serde_json::to_vec(&value).expect("json"))
}

/// A status record: the unit (under the herder's name for it), its status and the worker that
/// reported it; `None` for other records and for names the herder leaves alone.
pub fn parse(
    key: &[u8],
    value: &[u8],
    names: &StoredNames,
) -> Option<(ConnectorOrTask, Status, String)> {
    let key = std::str::from_utf8(key).ok()?;
    let unit = if let Some(n) = key.strip_prefix("status-connector-") {
        ConnectorOrTask::Connector(names.load(n)?)
    } else {
        let rest = key.strip_prefix("status-task-")?;
        let (n, i) = rest.rsplit_once('-')?;
        ConnectorOrTask::Task(names.load(n)?, i.parse().ok()?)
    };
    let v: Value = serde_json::from_slice(value).ok()?;
    let state: State = serde_json::from_value(v.get("state")?.clone()).ok()?;
    let status = Status {
        state,
        trace: v.get("trace").and_then(Value::as_str).map(String::from),
    };
    Some((unit, status, v.get("worker_id")?.as_str()?.to_string()))
}

/// A status store that publishes to `topic` and follows the other workers' statuses in it.
pub fn status_store(
    worker_id: &str,
    consumer: &ClientProps,
    producer: &ClientProps,
    topic: &str,
    names: StoredNames,
    stop: Arc<AtomicBool>,
) -> Result<StatusStore, Error> {
    let writer = LogPublisher::open(producer, &format!("{topic}|writer"), topic)
        .map_err(|e| Error::kafka("cannot create the status producer", e))?;
    let (wid, writer_names) = (worker_id.to_string(), names.clone());
    let publisher: Publisher = Arc::new(move |unit: &ConnectorOrTask, status: &Status| {
        let (k, v) = encode(unit, status, &wid, &writer_names);
        writer.send(&k, &v);
    });
    let status_store = StatusStore::new(worker_id).with_publisher(publisher);
    let tail = Tail::open(consumer, &format!("{topic}|reader"), topic, Partitions::All)?;
    let follower = status_store.clone();
    std::thread::Builder::new()
        .name("status-log".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Some(r) = tail.poll(Duration::from_millis(100)) else {
                    continue;
                };
                if let (Some(k), Some(v)) = (&r.key, &r.value) {
                    if let Some((unit, status, worker)) = parse(k, v, &names) {
                        follower.apply_remote(unit, status, worker);
                    }
                }
            }
        })
        .map_err(Error::Thread)?;
    Ok(status_store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_status_records() {
        let same = StoredNames::same();
        let (k, v) = encode(
            &ConnectorOrTask::Task("my-conn".into(), 2),
            &Status::failed("boom"),
            "w:8083",
            &same,
        );
        assert_eq!(k, "status-task-my-conn-2");
        assert_eq!(
            String::from_utf8(v.clone()).unwrap(),
            r#"{"generation":0,"state":"FAILED","trace":"boom","worker_id":"w:8083"}"#
        );
        let (unit, status, worker) = parse(k.as_bytes(), &v, &same).unwrap();
        assert_eq!(unit, ConnectorOrTask::Task("my-conn".into(), 2));
        assert_eq!(status, Status::failed("boom"));
        assert_eq!(worker, "w:8083");
        let java = br#"{"state":"RUNNING","trace":null,"worker_id":"a:1","generation":7}"#;
        let (unit, status, _) = parse(b"status-connector-x", java, &same).unwrap();
        assert_eq!(
            (unit, status),
            (
                ConnectorOrTask::Connector("x".into()),
                Status::of(State::Running)
            )
        );
    }

    /// A flow's statuses are stored under Java's names, and Java's are read as the flow's.
    #[test]
    fn flow_statuses_use_java_names() {
        let names = StoredNames::without_prefix("A->B.");
        let unit = ConnectorOrTask::Task("A->B.MirrorSourceConnector".into(), 0);
        let (k, v) = encode(&unit, &Status::of(State::Running), "w:1", &names);
        assert_eq!(k, "status-task-MirrorSourceConnector-0");
        assert_eq!(parse(k.as_bytes(), &v, &names).unwrap().0, unit);
        // A status under the name earlier versions stored is not taken up.
        assert!(parse(b"status-task-A->B.MirrorSourceConnector-0", &v, &names).is_none());
    }
}
