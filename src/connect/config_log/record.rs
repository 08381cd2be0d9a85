//! The config topic's records in Connect's format (JSON without schemas), and the state they
//! add up to when applied in order. Pure: no Kafka here.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use tracing::error;

use crate::connect::connector::ConfigMap;
use crate::connect::status::TargetState;

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
        // As Java's JsonConverter reads it: no value, an empty one and JSON `null` are null; a
        // value that is no JSON at all is skipped whatever its key (Java: "Failed to convert
        // config data to Kafka Connect format").
        let value: Option<Value> = match value {
            None | Some([]) => None,
            Some(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Null) => None,
                Ok(v) => Some(v),
                Err(_) => return None,
            },
        };
        if let Some(name) = key.strip_prefix("connector-") {
            // Only a null value deletes a connector; a config of the wrong shape is ignored,
            // as Java ignores it (logging at ERROR, as here), rather than taken for a deletion.
            let config = match &value {
                None => None,
                Some(v) => match properties(v) {
                    Some(config) => Some(config),
                    None => {
                        error!(connector = name, "Ignoring configuration for connector '{name}' because it is in the wrong format");
                        return None;
                    }
                },
            };
            return Some(ConfigRecord::Connector(name.to_string(), config));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(r: ConfigRecord) -> ConfigRecord {
        let (k, v) = r.encode();
        ConfigRecord::parse(k.as_bytes(), v.as_deref()).unwrap()
    }

    #[test]
    fn only_a_null_connector_config_deletes_the_connector() {
        for deletion in [None, Some(&b""[..]), Some(&b"null"[..])] {
            assert_eq!(
                ConfigRecord::parse(b"connector-a", deletion),
                Some(ConfigRecord::Connector("a".into(), None)),
                "{deletion:?}"
            );
        }
        let nested = "[".repeat(10_000);
        for poison in [
            &b"\xff\xfe"[..],
            b"42",
            b"\"text\"",
            b"[]",
            b"{}",
            br#"{"properties": 7}"#,
            br#"{"properties": ["a"]}"#,
            b"{\"unterminated\": ",
            nested.as_bytes(),
        ] {
            assert_eq!(ConfigRecord::parse(b"connector-a", Some(poison)), None);
            assert_eq!(ConfigRecord::parse(b"task-a-0", Some(poison)), None);
            assert_eq!(ConfigRecord::parse(b"commit-a", Some(poison)), None);
            assert_eq!(ConfigRecord::parse(b"target-state-a", Some(poison)), None);
        }
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
