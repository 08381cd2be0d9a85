//! The herder: the connectors a worker runs, with their configs, target states (started,
//! paused, stopped) and tasks, and every operation Kafka Connect's REST API offers on them.
//! A connector's job publishes task configs; the herder (re)starts the tasks whenever they
//! change. Statuses go to a [`StatusStore`] that the REST API reads.
//!
//! Alone (connect-standalone) the herder's own state is the truth and it runs everything. In a
//! group (connect-distributed, and each flow of connect-mirror-maker) every change is written
//! to the config topic and applied when it is read back, by every worker alike, and each worker
//! runs only the connectors and tasks its group membership gives it
//! ([`GroupAssignment`](crate::connect::membership::GroupAssignment)). `backend` holds the two ways.
//!
//! The connectors themselves belong to one task, the actor (`actor`), which applies changes
//! one at a time; [`Herder`] is a handle that sends it commands and answers reads from the
//! snapshot the actor publishes after each change (`view`). `plan` decides what to start
//! and stop; `lifecycle` does it; `follow` feeds a distributed worker's group to the actor.

mod actor;
mod backend;
mod follow;
mod lifecycle;
mod plan;
#[cfg(test)]
mod tests;
mod view;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::config_log::{self, ConfigLog};
use super::connector::{ConfigMap, Connector, OffsetEntry};
use super::error::Error as ConnectError;
use super::plugin_info::{PluginInfo, Validation};
use super::status::{ConnectorOrTask, StatusStore, TargetState};
use crate::metrics::worker::{RebalanceStats, Unit, WorkerSnapshot};
use actor::{Actor, Command, Reply};
use backend::{ConfigBackend, Local, Put, Topic};
use lifecycle::Ctx;
use view::{ConnectorView, View};

pub use crate::rest::dto::{ConnectorInfo, ConnectorStateInfo, TaskId, TaskInfo, UnitState};

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
#[derive(Debug, thiserror::Error)]
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
    /// A connector or store failed; [`ConnectError::is_bad_request`] says whose fault it is.
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// The connectors of one worker: a handle on the task that runs them. Cheap to clone.
#[derive(Clone)]
pub struct Herder {
    actor: mpsc::UnboundedSender<Command>,
    /// The state as of the actor's last change, for reads.
    view: watch::Receiver<Arc<View>>,
    status_store: StatusStore,
    factory: Arc<dyn ConnectorFactory>,
    /// When set, connectors cannot be created, changed or deleted through the REST API
    /// (connect-mirror-maker, whose connectors come from mm2.properties); the message says why.
    read_only: Option<String>,
    backend: Arc<dyn ConfigBackend>,
    /// A group member's client id and rebalances, for the worker metrics.
    group: Option<(String, RebalanceStats)>,
}

impl Herder {
    /// A herder that runs every connector itself.
    pub fn new(worker_id: String, factory: Arc<dyn ConnectorFactory>) -> Self {
        Herder::with_board(StatusStore::new(worker_id), factory, None)
    }

    /// A herder reporting to `status_store`; with `log`, a member of a distributed group that owns
    /// nothing until the group assigns it work. Starts the herder's task.
    pub fn with_board(
        status_store: StatusStore,
        factory: Arc<dyn ConnectorFactory>,
        log: Option<Arc<ConfigLog>>,
    ) -> Self {
        let (view_tx, view) = watch::channel(Arc::new(View::default()));
        let backend: Arc<dyn ConfigBackend> = match log {
            Some(log) => Arc::new(Topic::new(log, view.clone())),
            None => Arc::new(Local),
        };
        let (actor, commands) = mpsc::unbounded_channel();
        let state = Actor {
            entries: BTreeMap::new(),
            group_assignment: backend.initial_assignment(),
            ctx: Ctx {
                status_store: status_store.clone(),
                factory: factory.clone(),
                backend: backend.clone(),
                commands: actor.downgrade(),
            },
            view: view_tx,
        };
        tokio::spawn(state.run(commands));
        Herder {
            actor,
            view,
            status_store,
            factory,
            read_only: None,
            backend,
            group: None,
        }
    }

    /// A member of a worker group whose coordinator client is `client_id`.
    pub fn in_group(mut self, client_id: impl Into<String>) -> Self {
        self.group = Some((client_id.into(), RebalanceStats::default()));
        self
    }

    /// The rebalances of a group member.
    pub(crate) fn rebalances(&self) -> Option<&RebalanceStats> {
        self.group.as_ref().map(|(_, r)| r)
    }

    /// What this worker runs, with its states, for the worker metrics.
    pub fn worker_snapshot(&self) -> WorkerSnapshot {
        let units = self
            .status_store
            .local()
            .into_iter()
            .map(|(unit, state)| {
                let (connector, task) = match unit {
                    ConnectorOrTask::Connector(c) => (c, None),
                    ConnectorOrTask::Task(c, t) => (c, Some(t)),
                };
                Unit {
                    connector,
                    task,
                    state: state.metric_name(),
                }
            })
            .collect();
        WorkerSnapshot {
            client_id: self.group.as_ref().map(|(c, _)| c.clone()),
            units,
            rebalance: self.rebalances().map(RebalanceStats::snapshot),
        }
    }

    /// A herder whose connectors are fixed at start.
    pub fn read_only(mut self, why: impl Into<String>) -> Self {
        self.read_only = Some(why.into());
        self
    }

    pub fn worker_id(&self) -> &str {
        self.status_store.worker_id()
    }

    pub fn status_store(&self) -> &StatusStore {
        &self.status_store
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

    /// Sends the actor a command and waits for its answer.
    async fn call<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, HerderError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.actor.send(command(reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| {
            HerderError::Internal("the herder failed while applying the change".into())
        })?
    }

    /// Connector `name` as of the last change.
    fn connector(&self, name: &str) -> Result<ConnectorView, HerderError> {
        self.view
            .borrow()
            .connectors
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(name))
    }

    /// Deletes the configs earlier versions stored for connectors `names` under other names
    /// (see [`crate::connect::stored_names::StoredNames::legacy`]); nothing without a config
    /// topic.
    pub async fn delete_legacy_names(&self, names: Vec<String>) -> Result<(), HerderError> {
        self.backend.delete_legacy_names(names).await
    }

    pub async fn connectors(&self) -> Vec<String> {
        self.view.borrow().connectors.keys().cloned().collect()
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
        if self.view.borrow().connectors.contains_key(name) {
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
        self.install(name, config).await
    }

    /// Changes some keys of a connector's config (PATCH, KIP-477): a `None` value removes the
    /// key, every other key keeps its value.
    pub async fn patch_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, HerderError> {
        self.check_writable()?;
        let mut config = self.connector(name)?.config;
        for (k, v) in patch {
            match v {
                Some(v) => config.insert(k, v),
                None => config.remove(&k),
            };
        }
        Ok(self.install(name, config).await?.0)
    }

    /// Adds or replaces a connector, bypassing the read-only check: for the connectors the
    /// process itself is configured with (connect-mirror-maker's flows, connect-standalone's
    /// connector files).
    pub async fn install(
        &self,
        name: &str,
        config: ConfigMap,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        self.put_in(name, config, None).await
    }

    /// `install`, a connector created here starting in `initial` when given.
    async fn put_in(
        &self,
        name: &str,
        mut config: ConfigMap,
        initial: Option<TargetState>,
    ) -> Result<(ConnectorInfo, bool), HerderError> {
        validate_name(name)?;
        config.insert("name".into(), name.to_string());
        let instance: Arc<dyn Connector> = self
            .factory
            .create(name, &config)
            .map_err(|errors| HerderError::BadRequest(invalid_config(&errors)))?;
        let put = Put {
            name: name.to_string(),
            config,
            instance,
            initial,
        };
        self.backend.put(self, put).await
    }

    pub async fn delete(&self, name: &str) -> Result<(), HerderError> {
        self.check_writable()?;
        self.backend.delete(self, name).await
    }

    pub async fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        Ok(self.connector(name)?.info(name, self.factory()))
    }

    pub async fn config(&self, name: &str) -> Result<ConfigMap, HerderError> {
        Ok(self.info(name).await?.config)
    }

    pub async fn tasks(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError> {
        Ok(self.connector(name)?.tasks(name, self.factory()))
    }

    pub async fn status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError> {
        Ok(self.connector(name)?.status(name, &self.status_store))
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
        self.backend
            .set_target(self, name, TargetState::Paused)
            .await
    }

    pub async fn resume(&self, name: &str) -> Result<(), HerderError> {
        self.backend
            .set_target(self, name, TargetState::Started)
            .await
    }

    /// Sets the connector's target state to stopped (`PUT /connectors/{name}/stop`): its job
    /// and tasks stop and its task configs are dropped, wherever they run.
    pub async fn set_target_stopped(&self, name: &str) -> Result<(), HerderError> {
        self.backend
            .set_target(self, name, TargetState::Stopped)
            .await
    }

    /// Restarts the connector and, with `include_tasks`, its tasks; with `only_failed`, only
    /// the failed ones. Returns the states right after the restart was requested.
    pub async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStateInfo, HerderError> {
        self.backend
            .restart(self, name, include_tasks, only_failed)
            .await
    }

    pub async fn restart_task(&self, name: &str, id: usize) -> Result<(), HerderError> {
        if self.tasks(name).await?.len() <= id {
            return Err(HerderError::TaskNotFound(name.to_string(), id));
        }
        self.backend.restart_task(self, name, id).await
    }

    pub async fn topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        Ok(self.connector(name)?.ctx.topics.topics())
    }

    pub async fn reset_topics(&self, name: &str) -> Result<(), HerderError> {
        self.connector(name)?.ctx.topics.reset();
        Ok(())
    }

    pub async fn offsets(&self, name: &str) -> Result<Vec<OffsetEntry>, HerderError> {
        let instance = self.connector(name)?.instance;
        Ok(instance.offsets().await?)
    }

    /// Alters (`Some` offsets) or resets (`None`) a stopped connector's offsets (KIP-875).
    pub async fn alter_offsets(
        &self,
        name: &str,
        offsets: Option<Vec<OffsetEntry>>,
    ) -> Result<(), HerderError> {
        let connector = self.connector(name)?;
        // Stopped everywhere: no task here, and no task config left for any worker.
        if connector.target != TargetState::Stopped
            || connector.running_tasks > 0
            || !connector.task_configs.is_empty()
        {
            return Err(HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        let result = match offsets {
            Some(o) => connector.instance.alter_offsets(o).await,
            None => connector.instance.reset_offsets().await,
        };
        Ok(result?)
    }

    /// Answers once the herder has applied every command sent before: what `GET /health`
    /// waits for, as Connect's health check waits for its herder's request queue.
    pub async fn ping(&self) -> Result<(), HerderError> {
        self.call(Command::Ping).await
    }

    /// Stops every connector and task (blocking until their offsets are stored).
    pub async fn shutdown(&self) {
        let _ = self.call(Command::Shutdown).await;
    }

    /// Sets a log level on every worker of the group (`scope=cluster`): through the config
    /// topic, which every worker applies, or here alone without one (as a standalone worker).
    pub async fn set_cluster_log_level(
        &self,
        namespace: &str,
        level: &str,
    ) -> Result<(), HerderError> {
        crate::telemetry::check_level(level).map_err(HerderError::BadRequest)?;
        self.backend.set_cluster_log_level(namespace, level).await
    }
}

fn not_found(name: &str) -> HerderError {
    HerderError::NotFound(name.to_string())
}

/// The herder's task has ended (the process is shutting down).
fn stopped() -> HerderError {
    ConnectError::Stopped("the herder").into()
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
