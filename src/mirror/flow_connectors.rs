//! MirrorMaker 2's three connectors as the Connect runtime runs them, one set per flow:
//! MirrorSourceConnector (task config `task.assigned.partitions`, as Java's), the
//! MirrorCheckpointConnector and the MirrorHeartbeatConnector (one task each).
//! In connect-mirror-maker they are named `<source>-><target>.<Connector>`, as Strimzi names
//! them, e.g. `A->B.MirrorSourceConnector` (`A-%3EB.MirrorSourceConnector` in a URL).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tracing::info;

use crate::config::{ClientKind, Flow};
use crate::connect::connector::{
    fixed_tasks, BoxFuture, ConfigMap, Connector, OffsetEntry, TaskBody, TaskContext,
};
use crate::connect::error::Error;
use crate::connect::herder::ConnectorFactory;
use crate::connect::offsets::OffsetStore;
use crate::connect::plugin_info::{names_class, KeyDef, PluginInfo, Validation};
use crate::connect::status::ConnectorType;
use crate::connect::worker::run_async;
use crate::kafka::admin::Admin;
use crate::kafka::fence::fence_producers;
use crate::kafka::log::ensure_compacted_topic;
use crate::kafka::props::translate;
use crate::kafka::TopicPartition;
use crate::metrics::Metrics;
use crate::policy::ReplicationPolicy;

use super::scheduler::retry;
use super::source_connector::SourceConnector;
use super::source_task::{self, SourceTaskSpec, TaskDeps, CONNECTOR};
use super::{checkpoint_task, heartbeat};

pub const SOURCE: &str = "MirrorSourceConnector";
pub const CHECKPOINT: &str = "MirrorCheckpointConnector";
pub const HEARTBEAT: &str = "MirrorHeartbeatConnector";

/// The Java class of each MirrorMaker 2 connector.
pub fn java_class(short: &str) -> String {
    format!("org.apache.kafka.connect.mirror.{short}")
}

/// The name of a flow's connector in connect-mirror-maker.
pub fn connector_name(flow: &Flow, short: &str) -> String {
    format!("{}.{short}", flow.name())
}

/// The connectors of one flow: all three when replication is enabled, else heartbeats only.
pub fn flow_connectors(flow: &Flow) -> Vec<&'static str> {
    if flow.settings.enabled {
        vec![SOURCE, CHECKPOINT, HEARTBEAT]
    } else {
        vec![HEARTBEAT]
    }
}

/// The connector config a flow's connector is stored with in its config topic, as Java
/// MirrorMaker 2 stores it there: the flow's connector settings as written in mm2.properties
/// (a `${provider:...}` reference stays a reference, for the worker to resolve), plus the class
/// and cluster aliases. Java reads it after a switch, so no value may be a placeholder.
pub fn stored_config(flow: &Flow, short: &str) -> ConfigMap {
    let mut config: ConfigMap = flow
        .connector
        .iter()
        .map(|(k, s)| {
            (
                k.clone(),
                s.written.clone().unwrap_or_else(|| s.value.clone()),
            )
        })
        .collect();
    config.insert("connector.class".into(), java_class(short));
    config.insert("source.cluster.alias".into(), flow.source.clone());
    config.insert("target.cluster.alias".into(), flow.target.clone());
    config
}

/// `config` as the REST API shows it: secrets, and values a config provider supplied, hidden.
pub fn redacted(flows: &[Arc<Flow>], config: &ConfigMap) -> ConfigMap {
    config
        .iter()
        .map(|(k, v)| {
            let from_provider = flows
                .iter()
                .any(|f| f.connector.get(k).is_some_and(|s| s.sensitive));
            let hidden = from_provider || crate::config::keys::is_sensitive(k);
            (
                k.clone(),
                if hidden { "[hidden]".into() } else { v.clone() },
            )
        })
        .collect()
}

/// connect-mirror-maker's connectors: those of its flows, found by class and cluster aliases.
pub struct FlowConnectors {
    pub flows: Vec<Arc<Flow>>,
    pub metrics: Metrics,
}

impl ConnectorFactory for FlowConnectors {
    fn create(&self, name: &str, config: &ConfigMap) -> Result<Arc<dyn Connector>, Vec<String>> {
        let get = |k: &str| config.get(k).map(String::as_str).unwrap_or_default();
        let (source, target) = (get("source.cluster.alias"), get("target.cluster.alias"));
        let flow = self
            .flows
            .iter()
            .find(|f| f.source == source && f.target == target)
            .ok_or_else(|| vec![format!("no flow {source}->{target} in mm2.properties")])?
            .clone();
        let class = get("connector.class");
        let short = class.rsplit('.').next().unwrap_or_default();
        // Only the flow's own three, by their names: a MirrorMaker connector stored under
        // another name (by some other tool) would copy the same partitions a second time.
        if name != connector_name(&flow, short) {
            return Err(vec![format!(
                "{name} is not one of flow {}'s connectors; left alone",
                flow.name()
            )]);
        }
        Ok(match short {
            SOURCE => Arc::new(MirrorSource::new(flow, self.metrics.clone())),
            CHECKPOINT => Arc::new(MirrorCheckpoint {
                flow,
                metrics: self.metrics.clone(),
            }),
            HEARTBEAT => Arc::new(MirrorHeartbeat { flow }),
            _ => return Err(vec![format!("connector.class: unknown class {class}")]),
        })
    }

    fn redact(&self, config: &ConfigMap) -> ConfigMap {
        redacted(&self.flows, config)
    }

    fn plugins(&self) -> Vec<PluginInfo> {
        [CHECKPOINT, HEARTBEAT, SOURCE]
            .iter()
            .map(|short| PluginInfo {
                class: java_class(short),
                kind: ConnectorType::Source,
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .collect()
    }

    fn validate(&self, plugin: &str, config: &ConfigMap) -> Option<Validation> {
        let class = [SOURCE, CHECKPOINT, HEARTBEAT]
            .iter()
            .map(|s| java_class(s))
            .find(|c| names_class(plugin, c))?;
        let mut v = Validation::new(&class, MIRROR_KEYS);
        v.check_types(config);
        let get = |k: &str| config.get(k).map(String::as_str).unwrap_or_default();
        let (source, target) = (get("source.cluster.alias"), get("target.cluster.alias"));
        if !self
            .flows
            .iter()
            .any(|f| f.source == source && f.target == target)
        {
            v.error(
                "source.cluster.alias",
                format!("connect-mirror-maker runs no flow {source}->{target}"),
            );
        }
        Some(v)
    }
}

/// The keys that name a MirrorMaker 2 connector's clusters.
pub const MIRROR_KEYS: &[KeyDef] = &[
    KeyDef::new("source.cluster.alias", "STRING", "Alias of source cluster").required(),
    KeyDef::new("target.cluster.alias", "STRING", "Alias of target cluster").default("target"),
];

/// MirrorSourceConnector of one flow. Its offsets live in the worker's offsets topic on the
/// target; each task reads them again when it starts, since the worker that stored them last
/// may be another one of the group.
pub struct MirrorSource {
    flow: Arc<Flow>,
    /// The name its offsets are stored under.
    name: Arc<str>,
    /// Its name in the REST API and the metrics.
    label: Arc<str>,
    metrics: Metrics,
    offsets: OnceLock<Arc<OffsetStore>>,
}

impl MirrorSource {
    /// connect-mirror-maker's: offsets stored under `MirrorSourceConnector`, as Java's.
    pub fn new(flow: Arc<Flow>, metrics: Metrics) -> Self {
        let label = connector_name(&flow, SOURCE);
        MirrorSource {
            label: label.into(),
            ..Self::named(flow, metrics, CONNECTOR)
        }
    }

    /// A Connect worker's, whose offsets are stored under the connector's own name.
    pub fn named(flow: Arc<Flow>, metrics: Metrics, name: &str) -> Self {
        MirrorSource {
            flow,
            name: name.into(),
            label: name.into(),
            metrics,
            offsets: OnceLock::new(),
        }
    }

    /// Runs `op` on the offset store and this connector's name, on a blocking thread (the store
    /// reads and writes Kafka synchronously).
    fn on_store<T: Send + 'static>(
        &self,
        op: impl FnOnce(&OffsetStore, &str) -> Result<T, Error> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, Error>> {
        let store = self.store();
        let name = self.name.clone();
        Box::pin(async move {
            let store = store?;
            tokio::task::spawn_blocking(move || op(&store, &name)).await?
        })
    }

    /// The offset store (empty until read), on the worker's offsets topic.
    fn store(&self) -> Result<Arc<OffsetStore>, Error> {
        if let Some(s) = self.offsets.get() {
            return Ok(s.clone());
        }
        let label = format!("{} worker", self.flow.name());
        let props = |kind| {
            translate(&self.flow.worker_client_props(kind), &label)
                .map(|(p, _)| p)
                .map_err(Error::ClientSettings)
        };
        // Under exactly once, offsets of aborted transactions must not count.
        let store = OffsetStore::on_topic(
            self.flow.worker_settings.offset_storage_topic.clone(),
            props(ClientKind::Producer)?,
            props(ClientKind::Consumer)?,
            source_task::exactly_once(&self.flow),
        );
        Ok(self.offsets.get_or_init(|| Arc::new(store)).clone())
    }
}

impl Connector for MirrorSource {
    fn kind(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn run(
        self: Arc<Self>,
        tasks: watch::Sender<Option<Vec<ConfigMap>>>,
        mut stop: watch::Receiver<bool>,
    ) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async move {
            let store = self.store()?;
            if !prepare(&self.flow, &store, &mut stop).await? {
                return Ok(());
            }
            let connector = SourceConnector::new(self.flow.clone()).map_err(Error::task)?;
            let (assign_tx, mut assign_rx) = watch::channel(Vec::new());
            let job = tokio::spawn(connector.run(assign_tx, stop.clone()));
            while assign_rx.changed().await.is_ok() {
                let configs = assign_rx
                    .borrow_and_update()
                    .iter()
                    .map(|partitions| {
                        let list: Vec<String> =
                            partitions.iter().map(|(t, p)| format!("{t}-{p}")).collect();
                        ConfigMap::from([("task.assigned.partitions".into(), list.join(","))])
                    })
                    .collect();
                let _ = tasks.send(Some(configs));
            }
            let _ = job.await;
            Ok(())
        })
    }

    fn fence_zombies(&self, tasks: usize) -> BoxFuture<'static, Result<(), Error>> {
        if !source_task::exactly_once(&self.flow) {
            return Box::pin(async { Ok(()) });
        }
        let ids: Vec<String> = (0..tasks)
            .map(|t| source_task::transactional_id(&self.flow, &self.name, t))
            .collect();
        let props = translate(
            &self.flow.worker_client_props(ClientKind::Producer),
            &format!("{} worker", self.flow.name()),
        )
        .map(|(p, _)| p)
        .map_err(Error::ClientSettings);
        Box::pin(async move {
            let props = props?;
            tokio::task::spawn_blocking(move || {
                fence_producers(&props, &ids, Duration::from_secs(30))
            })
            .await?
            .map_err(Error::from)
        })
    }

    fn task(&self, id: usize, config: &ConfigMap, ctx: TaskContext) -> Result<TaskBody, Error> {
        let offsets = self.store()?;
        let partitions = parse_partitions(
            config
                .get("task.assigned.partitions")
                .map(String::as_str)
                .unwrap_or_default(),
        )
        .map_err(Error::Config)?;
        let policy = ReplicationPolicy::new(&self.flow.settings.policy);
        for tp in &partitions {
            ctx.topics
                .record(&policy.format_remote_topic(&self.flow.source, &tp.topic));
        }
        let spec = SourceTaskSpec {
            flow: self.flow.clone(),
            connector: self.name.clone(),
            label: self.label.clone(),
            task: id,
            partitions,
        };
        let (metrics, task_metrics) = (self.metrics.source.clone(), self.metrics.task.clone());
        Ok(Box::new(move |stop: &Arc<AtomicBool>| {
            let deps = TaskDeps {
                offsets: offsets.clone(),
                metrics: metrics.clone(),
                task_metrics: task_metrics.clone(),
                stop: stop.clone(),
            };
            source_task::run(spec.clone(), deps).map_err(Error::task)
        }))
    }

    fn offsets(&self) -> BoxFuture<'static, Result<Vec<OffsetEntry>, Error>> {
        self.on_store(|store, name| {
            store.refresh()?;
            Ok(store.entries(name))
        })
    }

    fn alter_offsets(&self, entries: Vec<OffsetEntry>) -> BoxFuture<'static, Result<(), Error>> {
        if let Err(e) = entries.iter().try_for_each(check_mirror_offset) {
            return Box::pin(async move { Err(e) });
        }
        self.on_store(move |store, name| store.write(name, &entries))
    }

    fn reset_offsets(&self) -> BoxFuture<'static, Result<(), Error>> {
        self.on_store(|store, name| {
            store.refresh()?;
            store.reset(name)
        })
    }
}

/// A MirrorSourceConnector offset must name cluster, topic and partition, and hold a
/// non-negative `offset`, as Java's `alterOffsets` checks.
fn check_mirror_offset(e: &OffsetEntry) -> Result<(), Error> {
    let p = &e.partition;
    let ok = p.get("cluster").is_some_and(|v| v.is_string())
        && p.get("topic").is_some_and(|v| v.is_string())
        && p.get("partition").is_some_and(|v| v.is_i64());
    if !ok {
        return Err(Error::InvalidOffsets(format!(
            "Source partition {p} must have the fields cluster (string), topic (string) and partition (integer)"
        )));
    }
    match &e.offset {
        None => Ok(()),
        Some(o)
            if o.get("offset")
                .and_then(|v| v.as_i64())
                .is_some_and(|v| v >= 0) =>
        {
            Ok(())
        }
        Some(o) => Err(Error::InvalidOffsets(format!(
            "Source offset {o} for partition {p} must have a non-negative integer field offset"
        ))),
    }
}

/// `topic-0,topic-1` (Java's TopicPartition strings) into partitions; topic names may hold `-`.
fn parse_partitions(list: &str) -> Result<Vec<TopicPartition>, String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|tp| {
            let (topic, p) = tp
                .rsplit_once('-')
                .ok_or_else(|| format!("task.assigned.partitions: bad entry {tp}"))?;
            let p = p
                .parse()
                .map_err(|_| format!("task.assigned.partitions: bad entry {tp}"))?;
            Ok(TopicPartition::new(topic, p))
        })
        .collect()
}

/// Creates the worker's offsets topic on the target and loads the stored offsets, retrying
/// while the target is down. False when stopped first.
async fn prepare(
    flow: &Arc<Flow>,
    store: &Arc<OffsetStore>,
    stop: &mut watch::Receiver<bool>,
) -> Result<bool, Error> {
    let label = format!("{} worker", flow.name());
    let (admin_props, _) = translate(&flow.worker_client_props(ClientKind::Admin), &label)
        .map_err(Error::ClientSettings)?;
    let name = format!("{}|worker-admin", flow.name());
    let admin = Admin::new(
        &admin_props,
        &flow.target,
        &name,
        flow.settings.admin_timeout,
    )?;
    let w = &flow.worker_settings;
    let attempt = || async {
        ensure_compacted_topic(
            &admin,
            &w.offset_storage_topic,
            w.offset_storage_partitions,
            w.offset_storage_replication_factor,
        )
        .await?;
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.refresh())
            .await
            .expect("offsets reader")
    };
    let what = format!("cannot prepare the worker on {}", flow.target);
    if retry(&flow.name(), &what, stop, attempt).await.is_none() {
        return Ok(false);
    }
    info!(flow = %flow.name(), offsets = store.len(), topic = %w.offset_storage_topic, "loaded stored source offsets");
    Ok(true)
}

/// MirrorCheckpointConnector of one flow: one task that checkpoints every selected group.
pub struct MirrorCheckpoint {
    pub flow: Arc<Flow>,
    pub metrics: Metrics,
}

impl Connector for MirrorCheckpoint {
    fn kind(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn run(
        self: Arc<Self>,
        tasks: watch::Sender<Option<Vec<ConfigMap>>>,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'static, Result<(), Error>> {
        // As Java: no task when checkpoints are not emitted, nor without offset syncs to
        // translate through (Java's connector then fails validation; replication goes on).
        let s = &self.flow.settings;
        let wanted = s.emit_checkpoints.is_some() || s.sync_group_offsets.is_some();
        if wanted && !s.emit_offset_syncs {
            tracing::error!(
                flow = %self.flow.name(),
                "MirrorCheckpointConnector does not run: checkpoints and group offset sync need \
                 offset syncs, and emit.offset-syncs.enabled = false; replication goes on"
            );
        }
        let n = usize::from(s.emit_checkpoints.is_some() && s.emit_offset_syncs);
        fixed_tasks(vec![ConfigMap::new(); n], tasks, stop)
    }

    fn task(&self, _: usize, _: &ConfigMap, ctx: TaskContext) -> Result<TaskBody, Error> {
        let policy = ReplicationPolicy::new(&self.flow.settings.policy);
        ctx.topics
            .record(&policy.checkpoints_topic(&self.flow.source));
        let (flow, metrics) = (self.flow.clone(), self.metrics.clone());
        Ok(Box::new(move |stop: &Arc<AtomicBool>| {
            let (flow, metrics) = (flow.clone(), metrics.clone());
            run_async(stop, move |rx| async move {
                checkpoint_task::run(flow, metrics, rx)
                    .await
                    .map_err(Error::Message)
            })
        }))
    }

    fn offsets(&self) -> BoxFuture<'static, Result<Vec<OffsetEntry>, Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// MirrorHeartbeatConnector of one flow: one task emitting heartbeats to the target.
pub struct MirrorHeartbeat {
    pub flow: Arc<Flow>,
}

impl Connector for MirrorHeartbeat {
    fn kind(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn run(
        self: Arc<Self>,
        tasks: watch::Sender<Option<Vec<ConfigMap>>>,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'static, Result<(), Error>> {
        let n = usize::from(self.flow.settings.emit_heartbeats.is_some());
        fixed_tasks(vec![ConfigMap::new(); n], tasks, stop)
    }

    fn task(&self, _: usize, _: &ConfigMap, ctx: TaskContext) -> Result<TaskBody, Error> {
        let policy = ReplicationPolicy::new(&self.flow.settings.policy);
        ctx.topics.record(policy.heartbeats_topic());
        let flow = self.flow.clone();
        Ok(Box::new(move |stop: &Arc<AtomicBool>| {
            let flow = flow.clone();
            run_async(stop, move |rx| async move {
                heartbeat::run(flow, rx).await.map_err(Error::Message)
            })
        }))
    }

    fn offsets(&self) -> BoxFuture<'static, Result<Vec<OffsetEntry>, Error>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_partitions_round_trip_java_strings() {
        assert_eq!(
            parse_partitions("orders-0,my-topic-12").unwrap(),
            vec![
                TopicPartition::new("orders", 0),
                TopicPartition::new("my-topic", 12)
            ]
        );
        assert_eq!(parse_partitions("").unwrap(), vec![]);
        assert!(parse_partitions("orders").is_err());
        assert!(parse_partitions("orders-x").is_err());
    }

    #[test]
    fn mirror_offsets_are_checked_as_java_checks_them() {
        let e = |p: serde_json::Value, o: Option<serde_json::Value>| OffsetEntry {
            partition: p,
            offset: o,
        };
        let p = serde_json::json!({"cluster": "A", "topic": "t", "partition": 0});
        assert!(check_mirror_offset(&e(p.clone(), Some(serde_json::json!({"offset": 5})))).is_ok());
        assert!(check_mirror_offset(&e(p.clone(), None)).is_ok());
        assert!(check_mirror_offset(&e(p, Some(serde_json::json!({"offset": -1})))).is_err());
        assert!(check_mirror_offset(&e(serde_json::json!({"topic": "t"}), None)).is_err());
    }
}
