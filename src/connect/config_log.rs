//! The connector configs of a distributed worker group, in Connect's compacted config topic and
//! record format (JSON without schemas): `connector-<name>` → `{"properties":{..}}` (a tombstone
//! deletes), `task-<name>-<n>` → `{"properties":{..}}`, `commit-<name>` → `{"tasks":N}`,
//! `target-state-<name>` → `{"state":"STARTED|PAUSED|STOPPED"}`,
//! `restart-connector-<name>` → `{"include-tasks":..,"only-failed":..}`. One more kind is ours:
//! `restart-task-<name>-<n>` (Java workers skip keys they do not know).
//!
//! Every worker tails the topic and applies it in order, so all of them converge on the same
//! state and a REST change sent to any worker takes effect everywhere.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::connector::ConfigMap;
use super::status::TargetState;
use super::stored_names::StoredNames;
use crate::kafka::client::{create, LogContext};
use crate::kafka::log::watermarks_when_led;
use crate::kafka::props::ClientProps;

/// One change read from the config topic.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigRecord {
    Connector(String, Option<ConfigMap>),
    Task(String, usize, ConfigMap),
    Commit(String, usize),
    TargetState(String, TargetState),
    RestartConnector {
        name: String,
        include_tasks: bool,
        only_failed: bool,
    },
    RestartTask(String, usize),
    /// A log level for every worker of the group (`PUT /admin/loggers/{ns}?scope=cluster`,
    /// KIP-976): `logger-cluster-<namespace>` → `{"level":"DEBUG"}`.
    LoggerLevel {
        namespace: String,
        level: String,
    },
}

fn properties(v: &Value) -> Option<ConfigMap> {
    let props = v.get("properties")?.as_object()?;
    Some(
        props
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
    )
}

/// `name-3` into (`name`, 3).
fn name_and_task(rest: &str) -> Option<(String, usize)> {
    let (name, n) = rest.rsplit_once('-')?;
    Some((name.to_string(), n.parse().ok()?))
}

impl ConfigRecord {
    /// Parses one record; `None` for records of other kinds or shapes.
    pub fn parse(key: &[u8], value: Option<&[u8]>) -> Option<ConfigRecord> {
        let key = std::str::from_utf8(key).ok()?;
        let value: Option<Value> = value.and_then(|v| serde_json::from_slice(v).ok());
        if let Some(name) = key.strip_prefix("connector-") {
            return Some(ConfigRecord::Connector(
                name.to_string(),
                value.as_ref().and_then(properties),
            ));
        }
        if let Some(rest) = key.strip_prefix("task-") {
            let (name, n) = name_and_task(rest)?;
            return Some(ConfigRecord::Task(name, n, properties(&value?)?));
        }
        if let Some(name) = key.strip_prefix("commit-") {
            let n = value?.get("tasks")?.as_u64()?;
            return Some(ConfigRecord::Commit(name.to_string(), n as usize));
        }
        if let Some(name) = key.strip_prefix("target-state-") {
            let v = value?;
            let state = v.get("state.v2").or(v.get("state"))?;
            let state = TargetState::deserialize(state).ok()?;
            return Some(ConfigRecord::TargetState(name.to_string(), state));
        }
        if let Some(name) = key.strip_prefix("restart-connector-") {
            let v = value?;
            return Some(ConfigRecord::RestartConnector {
                name: name.to_string(),
                include_tasks: v.get("include-tasks")?.as_bool()?,
                only_failed: v.get("only-failed")?.as_bool()?,
            });
        }
        if let Some(rest) = key.strip_prefix("restart-task-") {
            let (name, n) = name_and_task(rest)?;
            return Some(ConfigRecord::RestartTask(name, n));
        }
        if let Some(namespace) = key.strip_prefix("logger-cluster-") {
            return Some(ConfigRecord::LoggerLevel {
                namespace: namespace.to_string(),
                level: value?.get("level")?.as_str()?.to_string(),
            });
        }
        None
    }

    /// The record's key and value.
    pub fn encode(&self) -> (String, Option<Vec<u8>>) {
        let j = |v: Value| Some(serde_json::to_vec(&v).expect("json"));
        match self {
            ConfigRecord::Connector(name, config) => (
                format!("connector-{name}"),
                config.as_ref().and_then(|c| j(json!({ "properties": c }))),
            ),
            ConfigRecord::Task(name, n, config) => (
                format!("task-{name}-{n}"),
                j(json!({ "properties": config })),
            ),
            ConfigRecord::Commit(name, n) => (format!("commit-{name}"), j(json!({ "tasks": n }))),
            ConfigRecord::TargetState(name, state) => {
                // Java 3.5+ reads `state.v2`; older workers read `state`, which has no STOPPED.
                let old = match state {
                    TargetState::Stopped => TargetState::Paused,
                    s => *s,
                };
                let s = state;
                (
                    format!("target-state-{name}"),
                    j(json!({ "state": old, "state.v2": s })),
                )
            }
            ConfigRecord::RestartConnector {
                name,
                include_tasks,
                only_failed,
            } => (
                format!("restart-connector-{name}"),
                j(json!({ "include-tasks": include_tasks, "only-failed": only_failed })),
            ),
            ConfigRecord::RestartTask(name, n) => {
                (format!("restart-task-{name}-{n}"), j(json!({})))
            }
            ConfigRecord::LoggerLevel { namespace, level } => (
                format!("logger-cluster-{namespace}"),
                j(json!({ "level": level })),
            ),
        }
    }
}

impl ConfigRecord {
    /// The record with every connector name passed through `rename` (a connector config's own
    /// `name` property too); `None` when `rename` refuses the name.
    pub fn renamed(self, rename: impl Fn(&str) -> Option<String>) -> Option<ConfigRecord> {
        Some(match self {
            ConfigRecord::Connector(name, config) => {
                let name = rename(&name)?;
                let config = config.map(|mut c| {
                    if c.contains_key("name") {
                        c.insert("name".into(), name.clone());
                    }
                    c
                });
                ConfigRecord::Connector(name, config)
            }
            ConfigRecord::Task(name, n, config) => ConfigRecord::Task(rename(&name)?, n, config),
            ConfigRecord::Commit(name, n) => ConfigRecord::Commit(rename(&name)?, n),
            ConfigRecord::TargetState(name, state) => {
                ConfigRecord::TargetState(rename(&name)?, state)
            }
            ConfigRecord::RestartConnector {
                name,
                include_tasks,
                only_failed,
            } => ConfigRecord::RestartConnector {
                name: rename(&name)?,
                include_tasks,
                only_failed,
            },
            ConfigRecord::RestartTask(name, n) => ConfigRecord::RestartTask(rename(&name)?, n),
            // Names a logger, not a connector.
            level @ ConfigRecord::LoggerLevel { .. } => level,
        })
    }
}

/// A connector's state as the config topic says it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorState {
    pub config: ConfigMap,
    pub target: TargetState,
    /// The committed task configs.
    pub tasks: Vec<ConfigMap>,
}

/// The state of every connector, built by applying the config topic in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub connectors: BTreeMap<String, ConnectorState>,
    /// Task configs written but not yet committed.
    pending: BTreeMap<String, BTreeMap<usize, ConfigMap>>,
    /// Target states of connectors whose config has not arrived yet.
    targets: BTreeMap<String, TargetState>,
    /// Task configs committed before their connector's config: compaction keeps only a
    /// connector's latest config record, which is often newer than its last task commit
    /// (every connect-mirror-maker process rewrites the connector configs when it starts).
    committed: BTreeMap<String, Vec<ConfigMap>>,
}

impl Snapshot {
    /// Applies a record; returns a restart request or a cluster log level, which are not state.
    pub fn apply(&mut self, record: ConfigRecord) -> Option<ConfigRecord> {
        match record {
            ConfigRecord::Connector(name, None) => {
                self.connectors.remove(&name);
                self.pending.remove(&name);
                self.targets.remove(&name);
                self.committed.remove(&name);
            }
            ConfigRecord::Connector(name, Some(config)) => {
                let target = self
                    .targets
                    .get(&name)
                    .copied()
                    .unwrap_or(TargetState::Started);
                let tasks = self.committed.remove(&name).unwrap_or_default();
                self.connectors
                    .entry(name)
                    .and_modify(|c| c.config = config.clone())
                    .or_insert(ConnectorState {
                        config,
                        target,
                        tasks,
                    });
            }
            ConfigRecord::Task(name, n, config) => {
                self.pending.entry(name).or_default().insert(n, config);
            }
            ConfigRecord::Commit(name, n) => {
                let pending = self.pending.remove(&name).unwrap_or_default();
                // A commit covers tasks 0..n written before it.
                let tasks: Vec<ConfigMap> =
                    (0..n).filter_map(|i| pending.get(&i).cloned()).collect();
                if tasks.len() == n {
                    match self.connectors.get_mut(&name) {
                        Some(c) => c.tasks = tasks,
                        None => {
                            self.committed.insert(name, tasks);
                        }
                    }
                }
            }
            ConfigRecord::TargetState(name, state) => {
                self.targets.insert(name.clone(), state);
                if let Some(c) = self.connectors.get_mut(&name) {
                    c.target = state;
                }
            }
            restart => return Some(restart),
        }
        None
    }
}

struct WriteCtx {
    log: LogContext,
    result: Mutex<Option<Result<i64, String>>>,
}

impl ClientContext for WriteCtx {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        self.log.log(level, fac, msg);
    }
}

impl ProducerContext for WriteCtx {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        let r = match r {
            Ok(m) => Ok(m.offset()),
            Err((e, _)) => Err(e.to_string()),
        };
        let mut slot = self.result.lock().expect("result lock");
        match (&*slot, &r) {
            (Some(Err(_)), _) => {}
            _ => *slot = Some(r),
        }
    }
}

/// Writes records to the config topic and waits until this worker's reader has applied them.
pub struct ConfigLog {
    topic: String,
    names: StoredNames,
    producer: Mutex<BaseProducer<WriteCtx>>,
    applied: watch::Receiver<i64>,
}

impl ConfigLog {
    /// Writes `records` in order, under their stored names; returns once they are applied
    /// here.
    pub async fn write(self: &Arc<Self>, records: Vec<ConfigRecord>) -> Result<(), String> {
        let stored: Vec<ConfigRecord> = records
            .into_iter()
            .filter_map(|r| r.renamed(|n| Some(self.names.store(n).to_string())))
            .collect();
        self.write_stored(stored).await
    }

    /// Deletes the connector configs stored under the names earlier versions gave the herder's
    /// `names` (see [`StoredNames::legacy`]).
    pub async fn delete_legacy(self: &Arc<Self>, names: Vec<String>) -> Result<(), String> {
        let tombstones: Vec<ConfigRecord> = names
            .iter()
            .filter_map(|n| self.names.legacy(n))
            .map(|n| ConfigRecord::Connector(n.to_string(), None))
            .collect();
        self.write_stored(tombstones).await
    }

    /// Writes records whose names are already the stored ones, then waits for the reader.
    async fn write_stored(self: &Arc<Self>, records: Vec<ConfigRecord>) -> Result<(), String> {
        let log = self.clone();
        let last = tokio::task::spawn_blocking(move || log.send(&records))
            .await
            .map_err(|e| e.to_string())??;
        let mut applied = self.applied.clone();
        let read_back = async move { applied.wait_for(|position| *position >= last).await.is_ok() };
        match tokio::time::timeout(Duration::from_secs(30), read_back).await {
            Ok(true) => Ok(()),
            _ => Err(format!("{} did not come back to this worker", self.topic)),
        }
    }

    /// Sends the records and waits until they are stored; the offset of the last (-1 for
    /// none). Blocking.
    fn send(&self, records: &[ConfigRecord]) -> Result<i64, String> {
        let producer = self.producer.lock().expect("producer lock");
        *producer.context().result.lock().expect("result lock") = None;
        for r in records {
            let (key, value) = r.encode();
            let mut rec = BaseRecord::<str, [u8]>::to(&self.topic).key(key.as_str());
            if let Some(v) = &value {
                rec = rec.payload(&v[..]);
            }
            producer
                .send(rec)
                .map_err(|(e, _)| format!("cannot write to {}: {e}", self.topic))?;
        }
        producer
            .flush(Duration::from_secs(30))
            .map_err(|e| format!("cannot write to {}: {e}", self.topic))?;
        let last = producer
            .context()
            .result
            .lock()
            .expect("result lock")
            .take()
            .unwrap_or(Ok(-1));
        last
    }
}

/// What the reader hands the herder.
#[derive(Debug, Clone)]
pub enum Update {
    /// The whole state after one or more records.
    Snapshot(Snapshot),
    Restart(ConfigRecord),
}

/// Starts the writer and a thread that tails the topic from the beginning. Returns after the
/// initial catch-up, with the state then; every later state and restart request goes to
/// `updates` (old restart requests are not replayed).
pub fn open(
    consumer: &ClientProps,
    producer: &ClientProps,
    topic: &str,
    names: StoredNames,
    updates: tokio::sync::mpsc::UnboundedSender<Update>,
    stop: Arc<AtomicBool>,
) -> Result<(ConfigLog, Snapshot), String> {
    let name = format!("{topic}|reader");
    let mut props = consumer.clone();
    props.set_default("group.id", format!("{topic}-reader"));
    props.set("enable.auto.commit", "false", false);
    props.set("fetch.wait.max.ms", "50", false);
    let c: BaseConsumer<LogContext> =
        create(&props, &name, LogContext::new(&name)).map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .map_err(|e| e.to_string())?;
    c.assign(&tpl).map_err(|e| e.to_string())?;
    // The end to read up to before this worker acts on the topic.
    let (_, high) = watermarks_when_led(&c, topic, 0, Instant::now() + Duration::from_secs(30))
        .map_err(|e| format!("cannot read {topic}: {e}"))?;
    let (applied_tx, applied_rx) = watch::channel(-1i64);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader_names = names.clone();
    std::thread::Builder::new()
        .name("config-log".into())
        .spawn(move || {
            let mut snapshot = Snapshot::default();
            let mut levels = BTreeMap::new();
            let mut caught_up = false;
            let mut position = -1;
            while !stop.load(Ordering::Relaxed) {
                let mut changed = false;
                let mut restarts = Vec::new();
                let mut last = None;
                while let Some(m) = c.poll(Duration::from_millis(if changed { 0 } else { 100 })) {
                    let Ok(m) = m else { continue };
                    last = Some(m.offset());
                    let record = m
                        .key()
                        .and_then(|k| ConfigRecord::parse(k, m.payload()))
                        .and_then(|r| r.renamed(|n| reader_names.load(n)));
                    if let Some(r) = record {
                        match snapshot.apply(r) {
                            Some(request) if caught_up => restarts.push(request),
                            // Old restart requests are not replayed; the latest cluster log
                            // level of each logger is applied once caught up, as a worker that
                            // joins later must follow it too.
                            Some(ConfigRecord::LoggerLevel { namespace, level }) => {
                                levels.insert(namespace, level);
                            }
                            Some(_) => {}
                            None => changed = true,
                        }
                    }
                }
                if let Some(o) = last {
                    position = o;
                }
                if !caught_up && position >= high - 1 {
                    caught_up = true;
                    changed = false;
                    let _ = ready_tx.send(snapshot.clone());
                    for (namespace, level) in std::mem::take(&mut levels) {
                        restarts.push(ConfigRecord::LoggerLevel { namespace, level });
                    }
                }
                if caught_up {
                    // The state first, so a restart finds the connector it names.
                    if changed {
                        let _ = updates.send(Update::Snapshot(snapshot.clone()));
                    }
                    for r in restarts {
                        let _ = updates.send(Update::Restart(r));
                    }
                }
                if let Some(o) = last {
                    let _ = applied_tx.send(o);
                }
            }
        })
        .map_err(|e| e.to_string())?;
    let initial = ready_rx
        .recv_timeout(Duration::from_secs(120))
        .map_err(|_| format!("cannot read {topic}"))?;
    let mut props = producer.clone();
    props.set_default("acks", "all");
    props.set_default("enable.idempotence", "true");
    let pname = format!("{topic}|writer");
    let ctx = WriteCtx {
        log: LogContext::new(&pname),
        result: Mutex::new(None),
    };
    let p: BaseProducer<WriteCtx> = create(&props, &pname, ctx).map_err(|e| e.to_string())?;
    let log = ConfigLog {
        topic: topic.to_string(),
        names,
        producer: Mutex::new(p),
        applied: applied_rx,
    };
    Ok((log, initial))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(r: ConfigRecord) -> ConfigRecord {
        let (k, v) = r.encode();
        ConfigRecord::parse(k.as_bytes(), v.as_deref()).unwrap()
    }

    #[test]
    fn records_are_renamed_with_their_name_property() {
        let config: ConfigMap = [("name".to_string(), "A->B.X".to_string())].into();
        let stored = ConfigRecord::Connector("A->B.X".into(), Some(config))
            .renamed(|n| n.strip_prefix("A->B.").map(String::from))
            .unwrap();
        let want: ConfigMap = [("name".to_string(), "X".to_string())].into();
        assert_eq!(stored, ConfigRecord::Connector("X".into(), Some(want)));
        let commit = ConfigRecord::Commit("A->B.X".into(), 2).renamed(|_| None);
        assert_eq!(commit, None, "a refused name drops the record");
    }

    #[test]
    fn records_in_connects_format() {
        let config = ConfigMap::from([("connector.class".to_string(), "X".to_string())]);
        let (k, v) = ConfigRecord::Connector("a-b".into(), Some(config.clone())).encode();
        assert_eq!(k, "connector-a-b");
        assert_eq!(v.unwrap(), br#"{"properties":{"connector.class":"X"}}"#);
        let (k, v) = ConfigRecord::Commit("a-b".into(), 2).encode();
        assert_eq!(
            (k.as_str(), v.unwrap()),
            ("commit-a-b", br#"{"tasks":2}"#.to_vec())
        );
        let (_, v) = ConfigRecord::TargetState("a".into(), TargetState::Stopped).encode();
        assert_eq!(v.unwrap(), br#"{"state":"PAUSED","state.v2":"STOPPED"}"#);
        for r in [
            ConfigRecord::Connector("a-b".into(), None),
            ConfigRecord::Task("a-b".into(), 3, config),
            ConfigRecord::TargetState("a".into(), TargetState::Paused),
            ConfigRecord::RestartConnector {
                name: "a".into(),
                include_tasks: true,
                only_failed: false,
            },
            ConfigRecord::RestartTask("a-b".into(), 1),
        ] {
            assert_eq!(round_trip(r.clone()), r);
        }
        // Java's older target-state record.
        let r = ConfigRecord::parse(b"target-state-a", Some(br#"{"state":"PAUSED"}"#));
        assert_eq!(
            r,
            Some(ConfigRecord::TargetState("a".into(), TargetState::Paused))
        );
    }

    #[test]
    fn tasks_take_effect_at_their_commit() {
        let mut s = Snapshot::default();
        let c = |k: &str| ConfigMap::from([("k".to_string(), k.to_string())]);
        s.apply(ConfigRecord::TargetState("a".into(), TargetState::Paused));
        s.apply(ConfigRecord::Connector("a".into(), Some(c("conf"))));
        assert_eq!(s.connectors["a"].target, TargetState::Paused);
        s.apply(ConfigRecord::Task("a".into(), 0, c("t0")));
        s.apply(ConfigRecord::Task("a".into(), 1, c("t1")));
        assert!(s.connectors["a"].tasks.is_empty());
        s.apply(ConfigRecord::Commit("a".into(), 2));
        assert_eq!(s.connectors["a"].tasks, vec![c("t0"), c("t1")]);
        s.apply(ConfigRecord::Commit("a".into(), 0));
        assert!(s.connectors["a"].tasks.is_empty());
        let restart = ConfigRecord::RestartTask("a".into(), 0);
        assert_eq!(s.apply(restart.clone()), Some(restart));
        s.apply(ConfigRecord::Connector("a".into(), None));
        assert!(s.connectors.is_empty());
    }

    /// After compaction, a connector's only config record can follow its task commit: the
    /// committed tasks still count (as in Java's KafkaConfigBackingStore).
    #[test]
    fn tasks_committed_before_the_connector_config_count() {
        let mut s = Snapshot::default();
        let c = |k: &str| ConfigMap::from([("k".to_string(), k.to_string())]);
        s.apply(ConfigRecord::Task("a".into(), 0, c("t0")));
        s.apply(ConfigRecord::Commit("a".into(), 1));
        s.apply(ConfigRecord::Task("b".into(), 0, c("b0")));
        s.apply(ConfigRecord::Commit("b".into(), 1));
        s.apply(ConfigRecord::Connector("b".into(), None));
        s.apply(ConfigRecord::Connector("a".into(), Some(c("conf"))));
        s.apply(ConfigRecord::Connector("b".into(), Some(c("conf"))));
        assert_eq!(s.connectors["a"].tasks, vec![c("t0")]);
        // A deleted connector's tasks do not come back with a new config.
        assert!(s.connectors["b"].tasks.is_empty());
    }
}
