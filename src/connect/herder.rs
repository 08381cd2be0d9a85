//! The herder: the connectors a worker runs, with their configs, target states (started,
//! paused, stopped) and tasks, and every operation Kafka Connect's REST API offers on them.
//! A connector's job publishes task configs; the herder (re)starts the tasks whenever they
//! change. Statuses go to a [`StatusBoard`] that the REST API reads.
//!
//! Alone (connect-standalone, connect-mirror-maker) the herder's own state is the truth and it
//! runs everything. In a group (connect-distributed) every change is written to the config
//! topic and applied when it is read back, by every worker alike, and each worker runs only the
//! connectors and tasks its group membership gives it ([`Ownership`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::config_log::{ConfigLog, ConfigRecord, Snapshot, Update};
use super::connector::{BoxFuture, ConfigMap, Connector, OffsetEntry, TaskContext};
use super::membership::Ownership;
use super::plugin::{PluginInfo, Validation};
use super::status::TargetState;
use super::status::{ConnectorType, State, Status, StatusBoard, Unit};
use super::worker::{stop_all, TaskHandle};

/// Builds connector instances from their configs (the plugin registry, or MirrorMaker 2's
/// fixed set of flows).
pub trait ConnectorFactory: Send + Sync {
    /// The instance for `config`, or every problem found in it.
    fn create(&self, name: &str, config: &ConfigMap) -> Result<Arc<dyn Connector>, Vec<String>>;

    /// The connector plugins this worker offers.
    fn plugins(&self) -> Vec<PluginInfo>;

    /// Validates `config` for the plugin named `plugin`; `None` if there is no such plugin.
    fn validate(&self, plugin: &str, config: &ConfigMap) -> Option<Validation>;

    /// A connector or task config as the REST API shows it (secrets hidden, where the plugins
    /// know them).
    fn redact(&self, config: &ConfigMap) -> ConfigMap {
        config.clone()
    }
}

/// Why an operation was refused; the REST API maps each to Connect's status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HerderError {
    #[error("Connector {0} not found")]
    NotFound(String),
    #[error("Task {1} of connector {0} not found")]
    TaskNotFound(String, usize),
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Internal(String),
}

/// `ConnectorInfo`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: ConfigMap,
    pub tasks: Vec<TaskId>,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskId {
    pub connector: String,
    pub task: usize,
}

/// `TaskInfo` of `GET /connectors/{name}/tasks`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInfo {
    pub id: TaskId,
    pub config: ConfigMap,
}

/// The state of one connector or task, as `GET .../status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct UnitState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<usize>,
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// `ConnectorStateInfo`.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: UnitState,
    pub tasks: Vec<UnitState>,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
}

struct Run {
    stop: watch::Sender<bool>,
    job: JoinHandle<()>,
    watcher: JoinHandle<()>,
}

struct Entry {
    config: ConfigMap,
    instance: Arc<dyn Connector>,
    target: TargetState,
    run: Option<Run>,
    /// Increases with every start of the connector, so a stale job's task configs are ignored.
    generation: u64,
    task_configs: Vec<ConfigMap>,
    tasks: BTreeMap<usize, TaskHandle>,
    ctx: TaskContext,
}

struct Inner {
    entries: BTreeMap<String, Entry>,
    ownership: Ownership,
}

/// The connectors of one worker. Cheap to clone.
#[derive(Clone)]
pub struct Herder {
    inner: Arc<Mutex<Inner>>,
    board: StatusBoard,
    factory: Arc<dyn ConnectorFactory>,
    /// When set, connectors cannot be created, changed or deleted (connect-mirror-maker, whose
    /// connectors come from mm2.properties); the message says why.
    read_only: Option<String>,
    /// The group's config topic, for a distributed worker.
    log: Option<Arc<ConfigLog>>,
}

impl Herder {
    /// A herder that runs every connector itself.
    pub fn new(worker_id: String, factory: Arc<dyn ConnectorFactory>) -> Self {
        Herder::with_board(StatusBoard::new(worker_id), factory, None)
    }

    /// A herder reporting to `board`; with `log`, a member of a distributed group that owns
    /// nothing until the group assigns it work.
    pub fn with_board(
        board: StatusBoard,
        factory: Arc<dyn ConnectorFactory>,
        log: Option<Arc<ConfigLog>>,
    ) -> Self {
        let ownership = if log.is_some() {
            Ownership {
                generation: 0,
                partitions: None,
                slots: 1,
            }
        } else {
            Ownership::all()
        };
        Herder {
            inner: Arc::new(Mutex::new(Inner {
                entries: BTreeMap::new(),
                ownership,
            })),
            board,
            factory,
            read_only: None,
            log,
        }
    }

    /// A herder whose connectors are fixed at start.
    pub fn read_only(mut self, why: impl Into<String>) -> Self {
        self.read_only = Some(why.into());
        self
    }

    pub fn worker_id(&self) -> &str {
        self.board.worker_id()
    }

    pub fn board(&self) -> &StatusBoard {
        &self.board
    }

    pub fn factory(&self) -> &dyn ConnectorFactory {
        self.factory.as_ref()
    }

    fn check_writable(&self) -> Result<(), HerderError> {
        match &self.read_only {
            Some(why) => Err(HerderError::BadRequest(why.clone())),
            None => Ok(()),
        }
    }

    /// Writes records to the group's config topic and waits until they are applied here.
    async fn write(&self, records: Vec<ConfigRecord>) -> Result<(), HerderError> {
        let log = self.log.clone().expect("a distributed herder");
        tokio::task::spawn_blocking(move || log.write(&records))
            .await
            .map_err(|e| HerderError::Internal(e.to_string()))?
            .map_err(HerderError::Internal)
    }

    /// Deletes the configs earlier versions stored for connectors `names` under other names
    /// (see [`crate::connect::stored_names::StoredNames::legacy`]); nothing without a config
    /// topic.
    pub async fn delete_legacy_names(&self, names: Vec<String>) -> Result<(), HerderError> {
        let Some(log) = self.log.clone() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || log.delete_legacy(&names))
            .await
            .map_err(|e| HerderError::Internal(e.to_string()))?
            .map_err(HerderError::Internal)
    }

    pub async fn connectors(&self) -> Vec<String> {
        self.inner.lock().await.entries.keys().cloned().collect()
    }

    /// Creates a connector (POST /connectors), started in `initial` (KIP-980's
    /// `initial_state`; running when `None`).
    pub async fn create(
        &self,
        name: &str,
        config: ConfigMap,
        initial: Option<TargetState>,
    ) -> Result<ConnectorInfo, HerderError> {
        self.check_writable()?;
        if self.inner.lock().await.entries.contains_key(name) {
            return Err(HerderError::AlreadyExists(name.to_string()));
        }
        self.put_in(name, config, initial)
            .await
            .map(|(info, _)| info)
    }

    /// Creates or replaces a connector's config; true when it was created.
    pub async fn put_config(
        &self,
        name: &str,
        config: ConfigMap,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        self.check_writable()?;
        self.put(name, config).await
    }

    /// Changes some keys of a connector's config (PATCH, KIP-477): a `None` value removes the
    /// key, every other key keeps its value.
    pub async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, HerderError> {
        self.check_writable()?;
        let mut config = {
            let inner = self.inner.lock().await;
            inner
                .entries
                .get(name)
                .ok_or_else(|| not_found(name))?
                .config
                .clone()
        };
        for (k, v) in patch {
            match v {
                Some(v) => config.insert(k, v),
                None => config.remove(&k),
            };
        }
        Ok(self.put(name, config).await?.0)
    }

    /// Adds or replaces a connector, bypassing the read-only check (connect-mirror-maker's
    /// flows, connect-standalone's connector files).
    pub async fn put(
        &self,
        name: &str,
        config: ConfigMap,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        self.put_in(name, config, None).await
    }

    /// `put`, a connector created here starting in `initial` when given.
    async fn put_in(
        &self,
        name: &str,
        mut config: ConfigMap,
        initial: Option<TargetState>,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        validate_name(name)?;
        config.insert("name".into(), name.to_string());
        let instance = self
            .factory
            .create(name, &config)
            .map_err(|errors| HerderError::BadRequest(invalid_config(&errors)))?;
        if self.log.is_some() {
            let created = !self.inner.lock().await.entries.contains_key(name);
            // The target state first, as Java writes it: every worker then starts the
            // connector in that state, never running before it.
            let mut records: Vec<ConfigRecord> = initial
                .map(|t| ConfigRecord::TargetState(name.into(), t))
                .into_iter()
                .collect();
            records.push(ConfigRecord::Connector(name.into(), Some(config.clone())));
            self.write(records).await?;
            // Read back by this worker's reader; wait until the herder has applied it too.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                {
                    let inner = self.inner.lock().await;
                    if let Some(e) = inner.entries.get(name).filter(|e| e.config == config) {
                        return Ok((self.info_of(name, e), created));
                    }
                }
                if std::time::Instant::now() > deadline {
                    return Err(HerderError::Internal(format!(
                        "connector {name} was written but not applied within 10 s"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let mut inner = self.inner.lock().await;
        let created = match inner.entries.get_mut(name) {
            Some(entry) => {
                self.halt(name, entry).await;
                entry.config = config;
                entry.instance = instance;
                entry.task_configs.clear();
                false
            }
            None => {
                let mut entry = new_entry(config, instance);
                entry.target = initial.unwrap_or(TargetState::Started);
                inner.entries.insert(name.to_string(), entry);
                true
            }
        };
        self.reconcile(&mut inner).await;
        info!(
            connector = name,
            "connector {}",
            if created { "created" } else { "reconfigured" }
        );
        let entry = &inner.entries[name];
        Ok((self.info_of(name, entry), created))
    }

    pub async fn delete(&self, name: &str) -> Result<(), HerderError> {
        self.check_writable()?;
        if self.log.is_some() {
            self.info(name).await?;
            return self
                .write(vec![
                    ConfigRecord::Connector(name.into(), None),
                    ConfigRecord::Commit(name.into(), 0),
                ])
                .await;
        }
        let mut inner = self.inner.lock().await;
        let mut entry = inner.entries.remove(name).ok_or_else(|| not_found(name))?;
        self.halt(name, &mut entry).await;
        self.board.remove_connector(name);
        info!(connector = name, "connector deleted");
        Ok(())
    }

    pub async fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        let inner = self.inner.lock().await;
        let entry = inner.entries.get(name).ok_or_else(|| not_found(name))?;
        Ok(self.info_of(name, entry))
    }

    pub async fn config(&self, name: &str) -> Result<ConfigMap, HerderError> {
        Ok(self.info(name).await?.config)
    }

    pub async fn tasks(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError> {
        let inner = self.inner.lock().await;
        let entry = inner.entries.get(name).ok_or_else(|| not_found(name))?;
        Ok(entry
            .task_configs
            .iter()
            .enumerate()
            .map(|(task, config)| TaskInfo {
                id: TaskId {
                    connector: name.to_string(),
                    task,
                },
                config: self.factory.redact(config),
            })
            .collect())
    }

    pub async fn status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError> {
        let inner = self.inner.lock().await;
        let entry = inner.entries.get(name).ok_or_else(|| not_found(name))?;
        Ok(self.status_of(name, entry))
    }

    pub async fn task_status(&self, name: &str, id: usize) -> Result<UnitState, HerderError> {
        self.status(name)
            .await?
            .tasks
            .into_iter()
            .find(|t| t.id == Some(id))
            .ok_or(HerderError::TaskNotFound(name.to_string(), id))
    }

    pub async fn pause(&self, name: &str) -> Result<(), HerderError> {
        self.set_target(name, TargetState::Paused).await
    }

    pub async fn resume(&self, name: &str) -> Result<(), HerderError> {
        self.set_target(name, TargetState::Started).await
    }

    pub async fn stop(&self, name: &str) -> Result<(), HerderError> {
        self.set_target(name, TargetState::Stopped).await
    }

    async fn set_target(&self, name: &str, target: TargetState) -> Result<(), HerderError> {
        if self.log.is_some() {
            self.info(name).await?;
            return self
                .write(vec![ConfigRecord::TargetState(name.into(), target)])
                .await;
        }
        let mut inner = self.inner.lock().await;
        let entry = inner.entries.get_mut(name).ok_or_else(|| not_found(name))?;
        if entry.target != target {
            entry.target = target;
            info!(connector = name, "target state {target:?}");
            self.reconcile(&mut inner).await;
        }
        Ok(())
    }

    /// Restarts the connector and, with `include_tasks`, its tasks; with `only_failed`, only
    /// the failed ones. Returns the states right after the restart was requested.
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStateInfo, HerderError> {
        if self.log.is_some() {
            let before = self.status(name).await?;
            self.write(vec![ConfigRecord::RestartConnector {
                name: name.into(),
                include_tasks,
                only_failed,
            }])
            .await?;
            return Ok(planned_restart(before, include_tasks, only_failed));
        }
        let mut inner = self.inner.lock().await;
        inner.entries.get(name).ok_or_else(|| not_found(name))?;
        self.restart_owned(&mut inner, name, include_tasks, only_failed)
            .await;
        Ok(self.status_of(name, &inner.entries[name]))
    }

    pub async fn restart_task(&self, name: &str, id: usize) -> Result<(), HerderError> {
        if self.tasks(name).await?.len() <= id {
            return Err(HerderError::TaskNotFound(name.to_string(), id));
        }
        if self.log.is_some() {
            return self
                .write(vec![ConfigRecord::RestartTask(name.into(), id)])
                .await;
        }
        let mut inner = self.inner.lock().await;
        self.restart_task_owned(&mut inner, name, id).await;
        Ok(())
    }

    pub async fn topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        let inner = self.inner.lock().await;
        let entry = inner.entries.get(name).ok_or_else(|| not_found(name))?;
        Ok(entry.ctx.topics.topics())
    }

    pub async fn reset_topics(&self, name: &str) -> Result<(), HerderError> {
        let inner = self.inner.lock().await;
        let entry = inner.entries.get(name).ok_or_else(|| not_found(name))?;
        entry.ctx.topics.reset();
        Ok(())
    }

    pub async fn offsets(&self, name: &str) -> Result<Vec<OffsetEntry>, HerderError> {
        let instance = self.instance(name).await?;
        instance.offsets().await.map_err(HerderError::Internal)
    }

    /// Alters (`Some` offsets) or resets (`None`) a stopped connector's offsets (KIP-875).
    pub async fn alter_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<OffsetEntry>>,
    ) -> Result<(), HerderError> {
        let inner = self.inner.lock().await;
        let entry = inner.entries.get(name).ok_or_else(|| not_found(name))?;
        // Stopped everywhere: no task here, and no task config left for any worker.
        if entry.target != TargetState::Stopped
            || !entry.tasks.is_empty()
            || !entry.task_configs.is_empty()
        {
            return Err(HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        let instance = entry.instance.clone();
        drop(inner);
        let result = match offsets {
            Some(o) => instance.alter_offsets(o).await,
            None => instance.reset_offsets().await,
        };
        result.map_err(HerderError::BadRequest)
    }

    async fn instance(&self, name: &str) -> Result<Arc<dyn Connector>, HerderError> {
        let inner = self.inner.lock().await;
        let entry = inner.entries.get(name).ok_or_else(|| not_found(name))?;
        Ok(entry.instance.clone())
    }

    /// Stops every connector and task (blocking until their offsets are stored).
    pub async fn shutdown(&self) {
        let mut inner = self.inner.lock().await;
        let names: Vec<String> = inner.entries.keys().cloned().collect();
        for name in names {
            let entry = inner.entries.get_mut(&name).expect("listed");
            self.halt(&name, entry).await;
        }
    }

    /// Follows the group: applies the config topic's updates and the membership's ownership
    /// changes, acknowledging each ownership once its units are started or stopped.
    pub async fn follow(
        &self,
        mut updates: tokio::sync::mpsc::UnboundedReceiver<Update>,
        mut owned: watch::Receiver<Ownership>,
        acks: std::sync::mpsc::Sender<u64>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = crate::shutdown::stopped(&mut stop) => return,
                u = updates.recv() => match u {
                    Some(Update::Snapshot(s)) => self.apply_snapshot(s).await,
                    Some(Update::Restart(r)) => self.apply_restart(r).await,
                    None => return,
                },
                changed = owned.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let ownership = owned.borrow_and_update().clone();
                    let generation = ownership.generation;
                    let mut inner = self.inner.lock().await;
                    let assigned = ownership.partitions.is_some();
                    inner.ownership = ownership;
                    self.reconcile(&mut inner).await;
                    if assigned {
                        // What this worker runs after a rebalance: one line, for operators.
                        let running: Vec<String> = inner
                            .entries
                            .iter()
                            .flat_map(|(name, e)| {
                                let connector = e.run.is_some().then(|| name.clone());
                                connector.into_iter().chain(
                                    e.tasks.keys().map(move |id| format!("{name}-{id}")),
                                )
                            })
                            .collect();
                        info!(units = ?running, "running after the rebalance");
                    }
                    let _ = acks.send(generation);
                }
            }
        }
    }

    /// Makes the local state match the config topic's.
    pub(crate) async fn apply_snapshot(&self, snapshot: Snapshot) {
        let mut inner = self.inner.lock().await;
        let gone: Vec<String> = inner
            .entries
            .keys()
            .filter(|n| !snapshot.connectors.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            let mut entry = inner.entries.remove(&name).expect("listed");
            self.halt(&name, &mut entry).await;
            self.board.remove_connector(&name);
            info!(connector = %name, "connector deleted");
        }
        for (name, state) in snapshot.connectors {
            match inner.entries.get_mut(&name) {
                Some(entry) if entry.config == state.config => {
                    if entry.task_configs != state.tasks {
                        self.stop_tasks(entry).await;
                        entry.task_configs = state.tasks;
                    }
                    entry.target = state.target;
                }
                existing => {
                    let instance = match self.factory.create(&name, &state.config) {
                        Ok(i) => i,
                        Err(e) => {
                            warn!(connector = %name, "cannot create the connector: {}", e.join("; "));
                            continue;
                        }
                    };
                    match existing {
                        Some(entry) => {
                            self.halt(&name, entry).await;
                            entry.config = state.config;
                            entry.instance = instance;
                            entry.task_configs = state.tasks;
                            entry.target = state.target;
                        }
                        None => {
                            let mut entry = new_entry(state.config, instance);
                            entry.task_configs = state.tasks;
                            entry.target = state.target;
                            inner.entries.insert(name.clone(), entry);
                            info!(connector = %name, "connector created");
                        }
                    }
                }
            }
        }
        self.reconcile(&mut inner).await;
    }

    async fn apply_restart(&self, record: ConfigRecord) {
        let mut inner = self.inner.lock().await;
        match record {
            ConfigRecord::RestartConnector {
                name,
                include_tasks,
                only_failed,
            } if inner.entries.contains_key(&name) => {
                self.restart_owned(&mut inner, &name, include_tasks, only_failed)
                    .await
            }
            ConfigRecord::RestartTask(name, id) if inner.entries.contains_key(&name) => {
                self.restart_task_owned(&mut inner, &name, id).await
            }
            ConfigRecord::LoggerLevel { namespace, level } => {
                match crate::telemetry::set_level(&namespace, &level) {
                    Ok(_) => info!(logger = %namespace, %level, "log level set for the cluster"),
                    Err(e) => warn!("cluster log level for {namespace}: {e}"),
                }
            }
            _ => {}
        }
    }

    /// Sets a log level on every worker of the group (`scope=cluster`): through the config
    /// topic, which every worker applies, or here alone without one (as a standalone worker).
    pub async fn set_cluster_log_level(
        &self,
        namespace: &str,
        level: &str,
    ) -> Result<(), HerderError> {
        crate::telemetry::check_level(level).map_err(HerderError::BadRequest)?;
        if self.log.is_none() {
            return crate::telemetry::set_level(namespace, level)
                .map(|_| ())
                .map_err(HerderError::BadRequest);
        }
        self.write(vec![ConfigRecord::LoggerLevel {
            namespace: namespace.to_string(),
            level: level.to_string(),
        }])
        .await
    }

    async fn restart_owned(
        &self,
        inner: &mut Inner,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) {
        let ownership = inner.ownership.clone();
        let entry = inner.entries.get_mut(name).expect("checked");
        if entry.target != TargetState::Started {
            return;
        }
        let before = self.status_of(name, entry);
        let failed = |s: &UnitState| s.state == State::Failed;
        let first = first_unit(name);
        if ownership.owns(first) && (!only_failed || failed(&before.connector)) {
            self.board
                .set(Unit::Connector(name.into()), Status::of(State::Restarting));
            self.halt_connector(name, entry).await;
            self.start_connector(name, entry);
        }
        if include_tasks {
            for t in &before.tasks {
                let id = t.id.expect("task id");
                if ownership.owns(first + 1 + id) && (!only_failed || failed(t)) {
                    self.restart_task_of(name, entry, id).await;
                }
            }
        }
    }

    async fn restart_task_owned(&self, inner: &mut Inner, name: &str, id: usize) {
        let owns = inner.ownership.owns(first_unit(name) + 1 + id);
        let entry = inner.entries.get_mut(name).expect("checked");
        if owns && entry.target == TargetState::Started && id < entry.task_configs.len() {
            self.restart_task_of(name, entry, id).await;
        }
    }

    fn info_of(&self, name: &str, entry: &Entry) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_string(),
            config: self.factory.redact(&entry.config),
            tasks: (0..entry.task_configs.len())
                .map(|task| TaskId {
                    connector: name.to_string(),
                    task,
                })
                .collect(),
            kind: entry.instance.kind(),
        }
    }

    fn status_of(&self, name: &str, entry: &Entry) -> ConnectorStateInfo {
        let unit = |u: Unit, id: Option<usize>| {
            let (status, worker_id) = self
                .board
                .get(&u)
                .unwrap_or((Status::of(State::Unassigned), self.worker_id().to_string()));
            UnitState {
                id,
                state: status.state,
                worker_id,
                trace: status.trace,
            }
        };
        ConnectorStateInfo {
            name: name.to_string(),
            connector: unit(Unit::Connector(name.into()), None),
            tasks: (0..entry.task_configs.len())
                .map(|i| unit(Unit::Task(name.into(), i), Some(i)))
                .collect(),
            kind: entry.instance.kind(),
        }
    }

    /// Starts what this worker owns and should run, and stops the rest.
    async fn reconcile(&self, inner: &mut Inner) {
        let ownership = inner.ownership.clone();
        for (name, entry) in inner.entries.iter_mut() {
            let first = first_unit(name);
            let owns_connector = ownership.owns(first);
            match entry.target {
                TargetState::Started => {
                    if owns_connector && entry.run.is_none() {
                        self.start_connector(name, entry);
                    } else if !owns_connector && entry.run.is_some() {
                        self.halt_connector(name, entry).await;
                        self.board.forget(&Unit::Connector(name.clone()));
                    }
                    for id in 0..entry.task_configs.len() {
                        let owns = ownership.owns(first + 1 + id);
                        if owns && !entry.tasks.contains_key(&id) {
                            self.start_task(name, entry, id);
                        } else if !owns {
                            if let Some(t) = entry.tasks.remove(&id) {
                                join_blocking(vec![t]).await;
                                self.board.forget(&Unit::Task(name.clone(), id));
                            }
                        }
                    }
                }
                TargetState::Paused => {
                    self.halt(name, entry).await;
                    if owns_connector {
                        self.board
                            .set(Unit::Connector(name.clone()), Status::of(State::Paused));
                    }
                    for id in 0..entry.task_configs.len() {
                        if ownership.owns(first + 1 + id) {
                            self.board
                                .set(Unit::Task(name.clone(), id), Status::of(State::Paused));
                        }
                    }
                }
                TargetState::Stopped => {
                    self.halt(name, entry).await;
                    if owns_connector {
                        self.board
                            .set(Unit::Connector(name.clone()), Status::of(State::Stopped));
                    }
                    // A stopped connector has no tasks, as Connect writes empty task configs.
                    if !entry.task_configs.is_empty() {
                        match &self.log {
                            None => entry.task_configs.clear(),
                            Some(_) if owns_connector => {
                                let fence = entry.instance.fence_zombies(entry.task_configs.len());
                                self.publish_tasks(name, entry.generation, fence, Vec::new())
                            }
                            Some(_) => {}
                        }
                    }
                    self.board.remove_tasks_from(name, 0);
                }
            }
        }
    }

    /// Writes a connector's new task configs to the config topic, in the background, once the
    /// tasks of the current ones are fenced (retried while this run of the connector lasts).
    fn publish_tasks(
        &self,
        name: &str,
        generation: u64,
        mut fence: BoxFuture<'static, Result<(), String>>,
        configs: Vec<ConfigMap>,
    ) {
        let herder = self.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            while let Err(e) = fence.await {
                warn!(connector = %name, "cannot fence the producers of its tasks: {e} (retrying)");
                tokio::time::sleep(Duration::from_secs(5)).await;
                let inner = herder.inner.lock().await;
                match inner.entries.get(&name) {
                    Some(entry) if entry.generation == generation => {
                        fence = entry.instance.fence_zombies(entry.task_configs.len());
                    }
                    _ => return,
                }
            }
            let n = configs.len();
            let mut records: Vec<ConfigRecord> = configs
                .into_iter()
                .enumerate()
                .map(|(i, c)| ConfigRecord::Task(name.clone(), i, c))
                .collect();
            records.push(ConfigRecord::Commit(name.clone(), n));
            if let Err(e) = herder.write(records).await {
                warn!(connector = %name, "cannot write the task configs: {e}");
            }
        });
    }

    /// Starts the connector's job and a watcher that applies the task configs it publishes.
    fn start_connector(&self, name: &str, entry: &mut Entry) {
        entry.generation += 1;
        let generation = entry.generation;
        let (tasks_tx, mut tasks_rx) = watch::channel(None);
        let (stop_tx, stop_rx) = watch::channel(false);
        let reporter = self.board.reporter(Unit::Connector(name.into()));
        reporter.set(Status::of(State::Running));
        let instance = entry.instance.clone();
        let cname = name.to_string();
        let job = tokio::spawn(async move {
            if let Err(e) = instance.run(tasks_tx, stop_rx).await {
                warn!(connector = %cname, "connector failed: {e}");
                reporter.set(Status::failed(e));
            }
        });
        let herder = self.clone();
        let cname = name.to_string();
        let watcher = tokio::spawn(async move {
            while tasks_rx.changed().await.is_ok() {
                let configs = tasks_rx.borrow_and_update().clone();
                if let Some(configs) = configs {
                    herder
                        .task_configs_published(&cname, generation, configs)
                        .await;
                }
            }
        });
        entry.run = Some(Run {
            stop: stop_tx,
            job,
            watcher,
        });
    }

    async fn task_configs_published(&self, name: &str, generation: u64, configs: Vec<ConfigMap>) {
        let mut inner = self.inner.lock().await;
        let Some(entry) = inner.entries.get_mut(name) else {
            return;
        };
        if entry.generation != generation
            || entry.target != TargetState::Started
            || entry.task_configs == configs
        {
            return;
        }
        if self.log.is_some() {
            let fence = entry.instance.fence_zombies(entry.task_configs.len());
            self.publish_tasks(name, generation, fence, configs);
            return;
        }
        self.stop_tasks(entry).await;
        self.board.remove_tasks_from(name, configs.len());
        entry.task_configs = configs;
        self.reconcile(&mut inner).await;
        info!(
            connector = name,
            tasks = inner.entries[name].tasks.len(),
            "tasks started"
        );
    }

    fn start_task(&self, name: &str, entry: &mut Entry, id: usize) {
        let reporter = self.board.reporter(Unit::Task(name.into(), id));
        let config = &entry.task_configs[id];
        match entry.instance.task(id, config, entry.ctx.clone()) {
            Ok(body) => {
                let thread = format!("{name}-{id}");
                entry
                    .tasks
                    .insert(id, TaskHandle::spawn(thread, Some(reporter), body));
            }
            Err(e) => {
                warn!(connector = name, task = id, "task cannot start: {e}");
                reporter.set(Status::failed(e));
            }
        }
    }

    async fn restart_task_of(&self, name: &str, entry: &mut Entry, id: usize) {
        if id >= entry.task_configs.len() {
            return;
        }
        self.board
            .set(Unit::Task(name.into(), id), Status::of(State::Restarting));
        if let Some(handle) = entry.tasks.remove(&id) {
            join_blocking(vec![handle]).await;
        }
        self.start_task(name, entry, id);
    }

    async fn stop_tasks(&self, entry: &mut Entry) {
        let handles: Vec<TaskHandle> = std::mem::take(&mut entry.tasks).into_values().collect();
        join_blocking(handles).await;
    }

    /// Stops the connector's job.
    async fn halt_connector(&self, name: &str, entry: &mut Entry) {
        if let Some(run) = entry.run.take() {
            let _ = run.stop.send(true);
            run.watcher.abort();
            let abort = run.job.abort_handle();
            if tokio::time::timeout(Duration::from_secs(30), run.job)
                .await
                .is_err()
            {
                warn!(
                    connector = name,
                    "connector did not stop within 30 s; aborted"
                );
                abort.abort();
            }
        }
    }

    /// Stops the connector's job and its tasks.
    async fn halt(&self, name: &str, entry: &mut Entry) {
        self.halt_connector(name, entry).await;
        self.stop_tasks(entry).await;
    }
}

fn new_entry(config: ConfigMap, instance: Arc<dyn Connector>) -> Entry {
    Entry {
        config,
        instance,
        target: TargetState::Started,
        run: None,
        generation: 0,
        task_configs: Vec::new(),
        tasks: BTreeMap::new(),
        ctx: TaskContext::default(),
    }
}

/// The unit number of a connector; its task `i` is unit `first + 1 + i`. It depends on the name
/// alone (FNV-1a, the same in every process and version), so ownership changes only when the
/// group rebalances, never because another connector came or went, and a connector's tasks
/// fall on consecutive partitions, that is on different workers.
fn first_unit(name: &str) -> usize {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % (1 << 31)) as usize
}

/// The states a distributed restart request is expected to produce.
fn planned_restart(
    mut before: ConnectorStateInfo,
    include_tasks: bool,
    only_failed: bool,
) -> ConnectorStateInfo {
    let restarts = |s: &UnitState| !only_failed || s.state == State::Failed;
    if restarts(&before.connector) {
        before.connector.state = State::Restarting;
    }
    if include_tasks {
        for t in &mut before.tasks {
            if restarts(t) {
                t.state = State::Restarting;
            }
        }
    }
    before
}

async fn join_blocking(handles: Vec<TaskHandle>) {
    if !handles.is_empty() {
        let _ = tokio::task::spawn_blocking(move || stop_all(handles)).await;
    }
}

fn not_found(name: &str) -> HerderError {
    HerderError::NotFound(name.to_string())
}

fn validate_name(name: &str) -> Result<(), HerderError> {
    if name.trim().is_empty() {
        return Err(HerderError::BadRequest(
            "Connector name is required and cannot be empty".into(),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(HerderError::BadRequest(
            "Connector name cannot contain ISO control characters".into(),
        ));
    }
    Ok(())
}

/// Connect's message for a config that fails validation.
pub fn invalid_config(errors: &[String]) -> String {
    let mut msg = format!(
        "Connector configuration is invalid and contains the following {} error(s):",
        errors.len()
    );
    for e in errors {
        msg.push('\n');
        msg.push_str(e);
    }
    msg.push_str("\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`");
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_numbers_are_the_same_in_every_process() {
        // Golden values (FNV-1a 64, kept to 31 bits, computed independently): workers of one
        // group, possibly different builds during an upgrade, must agree on them.
        assert_eq!(first_unit("source-1"), 1_708_412_666);
        assert_eq!(first_unit("A->B.MirrorSourceConnector"), 132_812_592);
    }

    #[test]
    fn planned_restart_marks_only_what_restarts() {
        let unit = |id, state| UnitState {
            id,
            state,
            worker_id: "w:1".into(),
            trace: None,
        };
        let before = ConnectorStateInfo {
            name: "c".into(),
            connector: unit(None, State::Running),
            tasks: vec![unit(Some(0), State::Failed), unit(Some(1), State::Running)],
            kind: ConnectorType::Source,
        };
        let only_failed = planned_restart(before.clone(), true, true);
        assert_eq!(only_failed.connector.state, State::Running);
        assert_eq!(only_failed.tasks[0].state, State::Restarting);
        assert_eq!(only_failed.tasks[1].state, State::Running);
        let all = planned_restart(before, true, false);
        assert!(all.tasks.iter().all(|t| t.state == State::Restarting));
        assert_eq!(all.connector.state, State::Restarting);
    }
}
