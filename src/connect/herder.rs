//! The herder: the connectors a worker runs, with their configs, target states (started,
//! paused, stopped) and tasks, and every operation Kafka Connect's REST API offers on them.
//! A connector's job publishes task configs; the herder (re)starts the tasks whenever they
//! change. Statuses go to a [`StatusBoard`] that the REST API reads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::connector::{ConfigMap, Connector, OffsetEntry, TaskContext};
use super::plugin::{PluginInfo, Validation};
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
}

/// What the operator asked a connector to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
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
    tasks: Vec<Option<TaskHandle>>,
    ctx: TaskContext,
}

/// The connectors of one worker. Cheap to clone.
#[derive(Clone)]
pub struct Herder {
    inner: Arc<Mutex<BTreeMap<String, Entry>>>,
    board: StatusBoard,
    worker_id: String,
    factory: Arc<dyn ConnectorFactory>,
    /// When set, connectors cannot be created, changed or deleted (connect-mirror-maker, whose
    /// connectors come from mm2.properties); the message says why.
    read_only: Option<String>,
}

impl Herder {
    pub fn new(worker_id: String, factory: Arc<dyn ConnectorFactory>) -> Self {
        Herder {
            inner: Arc::default(),
            board: StatusBoard::default(),
            worker_id,
            factory,
            read_only: None,
        }
    }

    /// A herder whose connectors are fixed at start.
    pub fn read_only(mut self, why: impl Into<String>) -> Self {
        self.read_only = Some(why.into());
        self
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
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

    pub async fn connectors(&self) -> Vec<String> {
        self.inner.lock().await.keys().cloned().collect()
    }

    /// Creates a connector (POST /connectors).
    pub async fn create(
        &self,
        name: &str,
        config: ConfigMap,
    ) -> Result<ConnectorInfo, HerderError> {
        self.check_writable()?;
        if self.inner.lock().await.contains_key(name) {
            return Err(HerderError::AlreadyExists(name.to_string()));
        }
        self.put(name, config).await.map(|(info, _)| info)
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

    /// Adds a connector at start, bypassing the read-only check (connect-mirror-maker's flows,
    /// connect-standalone's connector files).
    pub async fn put(
        &self,
        name: &str,
        mut config: ConfigMap,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        validate_name(name)?;
        config.insert("name".into(), name.to_string());
        let instance = self
            .factory
            .create(name, &config)
            .map_err(|errors| HerderError::BadRequest(invalid_config(&errors)))?;
        let mut map = self.inner.lock().await;
        let created = match map.get_mut(name) {
            Some(entry) => {
                self.halt(name, entry, true).await;
                entry.config = config;
                entry.instance = instance;
                entry.task_configs.clear();
                false
            }
            None => {
                map.insert(
                    name.to_string(),
                    Entry {
                        config,
                        instance,
                        target: TargetState::Started,
                        run: None,
                        generation: 0,
                        task_configs: Vec::new(),
                        tasks: Vec::new(),
                        ctx: TaskContext::default(),
                    },
                );
                true
            }
        };
        let entry = map.get_mut(name).expect("just inserted");
        self.apply_target(name, entry).await;
        info!(
            connector = name,
            "connector {}",
            if created { "created" } else { "reconfigured" }
        );
        Ok((self.info_of(name, entry), created))
    }

    pub async fn delete(&self, name: &str) -> Result<(), HerderError> {
        self.check_writable()?;
        let mut map = self.inner.lock().await;
        let mut entry = map
            .remove(name)
            .ok_or_else(|| HerderError::NotFound(name.to_string()))?;
        self.halt(name, &mut entry, true).await;
        self.board.remove_connector(name);
        info!(connector = name, "connector deleted");
        Ok(())
    }

    pub async fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        let map = self.inner.lock().await;
        let entry = map.get(name).ok_or_else(|| not_found(name))?;
        Ok(self.info_of(name, entry))
    }

    pub async fn config(&self, name: &str) -> Result<ConfigMap, HerderError> {
        Ok(self.info(name).await?.config)
    }

    pub async fn tasks(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError> {
        let map = self.inner.lock().await;
        let entry = map.get(name).ok_or_else(|| not_found(name))?;
        Ok(entry
            .task_configs
            .iter()
            .enumerate()
            .map(|(task, config)| TaskInfo {
                id: TaskId {
                    connector: name.to_string(),
                    task,
                },
                config: config.clone(),
            })
            .collect())
    }

    pub async fn status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError> {
        let map = self.inner.lock().await;
        let entry = map.get(name).ok_or_else(|| not_found(name))?;
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
        let mut map = self.inner.lock().await;
        let entry = map.get_mut(name).ok_or_else(|| not_found(name))?;
        if entry.target != target {
            entry.target = target;
            self.apply_target(name, entry).await;
            info!(connector = name, "target state {target:?}");
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
        let mut map = self.inner.lock().await;
        let entry = map.get_mut(name).ok_or_else(|| not_found(name))?;
        let before = self.status_of(name, entry);
        if entry.target == TargetState::Started {
            let failed = |s: &UnitState| s.state == State::Failed;
            if !only_failed || failed(&before.connector) {
                self.board
                    .set(Unit::Connector(name.into()), Status::of(State::Restarting));
                self.halt(name, entry, false).await;
                self.start_connector(name, entry);
            }
            if include_tasks {
                for t in &before.tasks {
                    let id = t.id.expect("task id");
                    if !only_failed || failed(t) {
                        self.restart_task_of(name, entry, id).await;
                    }
                }
            }
        }
        Ok(self.status_of(name, entry))
    }

    pub async fn restart_task(&self, name: &str, id: usize) -> Result<(), HerderError> {
        let mut map = self.inner.lock().await;
        let entry = map.get_mut(name).ok_or_else(|| not_found(name))?;
        if id >= entry.task_configs.len() {
            return Err(HerderError::TaskNotFound(name.to_string(), id));
        }
        if entry.target == TargetState::Started {
            self.restart_task_of(name, entry, id).await;
        }
        Ok(())
    }

    pub async fn topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        let map = self.inner.lock().await;
        let entry = map.get(name).ok_or_else(|| not_found(name))?;
        Ok(entry.ctx.topics.topics())
    }

    pub async fn reset_topics(&self, name: &str) -> Result<(), HerderError> {
        let map = self.inner.lock().await;
        let entry = map.get(name).ok_or_else(|| not_found(name))?;
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
        let map = self.inner.lock().await;
        let entry = map.get(name).ok_or_else(|| not_found(name))?;
        if entry.target != TargetState::Stopped || entry.tasks.iter().any(Option::is_some) {
            return Err(HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        let instance = entry.instance.clone();
        drop(map);
        let result = match offsets {
            Some(o) => instance.alter_offsets(o).await,
            None => instance.reset_offsets().await,
        };
        result.map_err(HerderError::BadRequest)
    }

    async fn instance(&self, name: &str) -> Result<Arc<dyn Connector>, HerderError> {
        let map = self.inner.lock().await;
        let entry = map.get(name).ok_or_else(|| not_found(name))?;
        Ok(entry.instance.clone())
    }

    /// Stops every connector and task (blocking until their offsets are stored).
    pub async fn shutdown(&self) {
        let mut map = self.inner.lock().await;
        let names: Vec<String> = map.keys().cloned().collect();
        for name in names {
            let entry = map.get_mut(&name).expect("listed");
            self.halt(&name, entry, true).await;
        }
    }

    fn info_of(&self, name: &str, entry: &Entry) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_string(),
            config: entry.config.clone(),
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
        let unit = |status: Option<Status>, id: Option<usize>| {
            let status = status.unwrap_or(Status::of(State::Unassigned));
            UnitState {
                id,
                state: status.state,
                worker_id: self.worker_id.clone(),
                trace: status.trace,
            }
        };
        ConnectorStateInfo {
            name: name.to_string(),
            connector: unit(self.board.get(&Unit::Connector(name.into())), None),
            tasks: (0..entry.task_configs.len())
                .map(|i| unit(self.board.get(&Unit::Task(name.into(), i)), Some(i)))
                .collect(),
            kind: entry.instance.kind(),
        }
    }

    /// Makes the running state match the target state.
    async fn apply_target(&self, name: &str, entry: &mut Entry) {
        match entry.target {
            TargetState::Started => {
                if entry.run.is_none() {
                    self.start_connector(name, entry);
                }
            }
            TargetState::Paused => {
                self.halt(name, entry, true).await;
                self.board
                    .set(Unit::Connector(name.into()), Status::of(State::Paused));
                for i in 0..entry.task_configs.len() {
                    self.board
                        .set(Unit::Task(name.into(), i), Status::of(State::Paused));
                }
            }
            TargetState::Stopped => {
                self.halt(name, entry, true).await;
                // A stopped connector has no tasks, as Connect writes empty task configs.
                entry.task_configs.clear();
                self.board.remove_tasks_from(name, 0);
                self.board
                    .set(Unit::Connector(name.into()), Status::of(State::Stopped));
            }
        }
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
                    herder.apply_task_configs(&cname, generation, configs).await;
                }
            }
        });
        entry.run = Some(Run {
            stop: stop_tx,
            job,
            watcher,
        });
    }

    async fn apply_task_configs(&self, name: &str, generation: u64, configs: Vec<ConfigMap>) {
        let mut map = self.inner.lock().await;
        let Some(entry) = map.get_mut(name) else {
            return;
        };
        if entry.generation != generation || entry.target != TargetState::Started {
            return;
        }
        let running = entry.tasks.len() == configs.len() && entry.tasks.iter().all(Option::is_some);
        if running && entry.task_configs == configs {
            return;
        }
        self.stop_tasks(entry).await;
        self.board.remove_tasks_from(name, configs.len());
        entry.task_configs = configs;
        entry.tasks = (0..entry.task_configs.len()).map(|_| None).collect();
        for id in 0..entry.task_configs.len() {
            self.start_task(name, entry, id);
        }
        info!(connector = name, tasks = entry.tasks.len(), "tasks started");
    }

    fn start_task(&self, name: &str, entry: &mut Entry, id: usize) {
        let unit = Unit::Task(name.into(), id);
        let reporter = self.board.reporter(unit);
        let config = &entry.task_configs[id];
        match entry.instance.task(id, config, entry.ctx.clone()) {
            Ok(body) => {
                let thread = format!("{name}-{id}");
                entry.tasks[id] = Some(TaskHandle::spawn(thread, Some(reporter), body));
            }
            Err(e) => {
                warn!(connector = name, task = id, "task cannot start: {e}");
                reporter.set(Status::failed(e));
            }
        }
    }

    async fn restart_task_of(&self, name: &str, entry: &mut Entry, id: usize) {
        if id >= entry.tasks.len() {
            return;
        }
        self.board
            .set(Unit::Task(name.into(), id), Status::of(State::Restarting));
        if let Some(handle) = entry.tasks[id].take() {
            join_blocking(vec![handle]).await;
        }
        self.start_task(name, entry, id);
    }

    async fn stop_tasks(&self, entry: &mut Entry) {
        let handles: Vec<TaskHandle> = entry.tasks.drain(..).flatten().collect();
        join_blocking(handles).await;
    }

    /// Stops the connector's job and, with `tasks`, its tasks.
    async fn halt(&self, name: &str, entry: &mut Entry, tasks: bool) {
        if let Some(run) = entry.run.take() {
            let _ = run.stop.send(true);
            run.watcher.abort();
            if tokio::time::timeout(Duration::from_secs(30), run.job)
                .await
                .is_err()
            {
                warn!(connector = name, "connector did not stop within 30 s");
            }
        }
        if tasks {
            self.stop_tasks(entry).await;
        }
    }
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
