//! MirrorMaker 2's three connectors as plugins of connect-standalone and connect-distributed.
//! There a connector config names both clusters itself, as in Java:
//! `source.cluster.alias`/`target.cluster.alias`, `source.cluster.<client key>` and
//! `target.cluster.<client key>`, plus any MirrorMaker 2 connector key (`topics`, `tasks.max`,
//! ...). The config is turned into the mm2.properties of one flow and typed by the same code
//! as connect-mirror-maker's, so every key means the same in both.
//!
//! The flow's worker settings come from the Connect worker: `group.id` (the transactional ids of
//! exactly-once tasks), `offset.storage.topic`, `offset.flush.interval.ms` and
//! `exactly.once.source.support`. The records go to the target cluster, whose
//! `target.cluster.bootstrap.servers` should be the worker's own cluster, as Java assumes.

use std::sync::Arc;

use crate::config::{self, Environment, Flow, Properties, Props};
use crate::connect::connector::{ConfigMap, Connector};
use crate::connect::plugin_info::Validation;
use crate::connect::worker_env::WorkerEnv;

use super::flow_connectors::{MirrorCheckpoint, MirrorHeartbeat, MirrorSource};

pub const SOURCE_CLASS: &str = "org.apache.kafka.connect.mirror.MirrorSourceConnector";
pub const CHECKPOINT_CLASS: &str = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector";
pub const HEARTBEAT_CLASS: &str = "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector";

/// Keys that configure the connector itself, not the flow.
const OWN_KEYS: &[&str] = &["name", "connector.class"];
/// Worker keys that a flow's worker settings take from the Connect worker.
const WORKER_KEYS: &[&str] = &[
    "group.id",
    "offset.storage.topic",
    "offset.flush.interval.ms",
    "offset.flush.timeout.ms",
    "exactly.once.source.support",
    "task.shutdown.graceful.timeout.ms",
];

/// Keys of the connector's source-offsets topic, which the connector config may set: our
/// MirrorSource keeps its offsets in a topic on the target even under connect-standalone.
const OFFSETS_TOPIC_KEYS: &[&str] = &[
    "offset.storage.replication.factor",
    "offset.storage.partitions",
];

/// The flow a Mirror connector config describes, typed as connect-mirror-maker types its
/// flows; the errors name the connector's own keys where they can.
pub fn flow_of(config: &ConfigMap, worker: &Props) -> Result<Arc<Flow>, Vec<String>> {
    let source = config
        .get("source.cluster.alias")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            vec!["source.cluster.alias: Missing required configuration \"source.cluster.alias\" which has no default value.".to_string()]
        })?;
    let target = config
        .get("target.cluster.alias")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "target".into());
    if source == target {
        return Err(vec![format!(
            "target.cluster.alias: the source and target clusters are both `{source}`"
        )]);
    }
    let mut pairs: Vec<(String, String)> = vec![
        ("clusters".into(), format!("{source}, {target}")),
        (format!("{source}->{target}.enabled"), "true".into()),
    ];
    for (k, v) in config {
        if OWN_KEYS.contains(&k.as_str()) || k.ends_with(".cluster.alias") {
            continue;
        }
        let key = if let Some(rest) = k.strip_prefix("source.cluster.") {
            format!("{source}.{rest}")
        } else if let Some(rest) = k.strip_prefix("target.cluster.") {
            format!("{target}.{rest}")
        } else if OFFSETS_TOPIC_KEYS.contains(&k.as_str()) {
            // Worker settings of the flow, as `B.offset.storage...` in mm2.properties.
            format!("{target}.{k}")
        } else {
            format!("{source}->{target}.{k}")
        };
        pairs.push((key, v.clone()));
    }
    for k in WORKER_KEYS {
        if let Some(s) = worker.get(*k) {
            pairs.push((format!("{target}.{k}"), s.value.clone()));
        }
    }
    let props = Properties::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let cfg = config::from_properties(props, &[], &Environment::Fixed(Default::default()))
        .map_err(|e| {
            e.0.iter()
                .map(|e| connector_key(e.to_string(), &source, &target))
                .collect::<Vec<_>>()
        })?;
    cfg.flow(&source, &target)
        .cloned()
        .map(Arc::new)
        .ok_or_else(|| vec![format!("no flow {source}->{target}")])
}

/// Names a config error after the connector key the user wrote, not the mm2.properties key it
/// was turned into.
fn connector_key(message: String, source: &str, target: &str) -> String {
    message
        .replace(&format!("{source}->{target}."), "")
        .replace(&format!("`{source}."), "`source.cluster.")
        .replace(&format!("`{target}."), "`target.cluster.")
}

/// Validation beyond the key types: the flow can be built.
pub fn check(config: &ConfigMap, v: &mut Validation) {
    if let Err(errors) = flow_of(config, &Props::new()) {
        for e in errors {
            v.error("source.cluster.alias", e);
        }
    }
}

/// Creates a MirrorSourceConnector for a Connect worker.
pub fn create_source(
    name: &str,
    config: &ConfigMap,
    env: &Arc<WorkerEnv>,
) -> Result<Arc<dyn Connector>, String> {
    let flow = flow_of(config, &env.props).map_err(|e| e.join("; "))?;
    Ok(Arc::new(MirrorSource::named(
        flow,
        env.metrics.clone(),
        name,
    )))
}

/// Creates a MirrorCheckpointConnector for a Connect worker.
pub fn create_checkpoint(
    _name: &str,
    config: &ConfigMap,
    env: &Arc<WorkerEnv>,
) -> Result<Arc<dyn Connector>, String> {
    let flow = flow_of(config, &env.props).map_err(|e| e.join("; "))?;
    Ok(Arc::new(MirrorCheckpoint {
        flow,
        metrics: env.metrics.clone(),
    }))
}

/// Creates a MirrorHeartbeatConnector for a Connect worker.
pub fn create_heartbeat(
    _name: &str,
    config: &ConfigMap,
    env: &Arc<WorkerEnv>,
) -> Result<Arc<dyn Connector>, String> {
    let flow = flow_of(config, &env.props).map_err(|e| e.join("; "))?;
    Ok(Arc::new(MirrorHeartbeat { flow }))
}
