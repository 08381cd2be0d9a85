//! Starting and stopping one connector's job and tasks on this worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::warn;

use super::actor::Command;
use super::backend::ConfigBackend;
use super::view::ConnectorView;
use super::ConnectorFactory;
use crate::connect::connector::{ConfigMap, Connector, TaskContext};
use crate::connect::panic;
use crate::connect::status::{ConnectorOrTask, State, Status, StatusStore, TargetState};
use crate::connect::worker::{stop_all, TaskHandle};

/// A connector job running here, with the watcher that reports its task configs.
struct Run {
    stop: watch::Sender<bool>,
    job: JoinHandle<()>,
    watcher: JoinHandle<()>,
}

/// One connector of the herder and what of it runs here.
pub(super) struct Entry {
    pub config: ConfigMap,
    pub instance: Arc<dyn Connector>,
    pub target: TargetState,
    run: Option<Run>,
    /// Increases with every start of the connector, so a stale job's task configs are ignored.
    pub generation: u64,
    pub task_configs: Vec<ConfigMap>,
    pub tasks: BTreeMap<usize, TaskHandle>,
    pub ctx: TaskContext,
}

impl Entry {
    pub fn new(config: ConfigMap, instance: Arc<dyn Connector>) -> Self {
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

    pub fn runs_connector(&self) -> bool {
        self.run.is_some()
    }

    pub fn view(&self) -> ConnectorView {
        ConnectorView {
            config: self.config.clone(),
            instance: self.instance.clone(),
            target: self.target,
            generation: self.generation,
            task_configs: self.task_configs.clone(),
            running_tasks: self.tasks.len(),
            ctx: self.ctx.clone(),
        }
    }

    /// Stops the connector's job; one that ignores its stop signal is aborted after 30 s.
    pub async fn halt_connector(&mut self, name: &str) {
        if let Some(run) = self.run.take() {
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

    /// Stops every task of the connector running here, waiting until they finished.
    pub async fn stop_tasks(&mut self) {
        let handles: Vec<TaskHandle> = std::mem::take(&mut self.tasks).into_values().collect();
        join_blocking(handles).await;
    }

    /// Stops the connector's job and its tasks.
    pub async fn halt(&mut self, name: &str) {
        self.halt_connector(name).await;
        self.stop_tasks().await;
    }
}

/// What starting connectors and tasks needs besides their entry.
pub(super) struct Ctx {
    pub status_store: StatusStore,
    pub factory: Arc<dyn ConnectorFactory>,
    pub backend: Arc<dyn ConfigBackend>,
    /// Where a connector's watcher sends the task configs it publishes. Weak, so that the
    /// actor ends once every `Herder` handle is gone.
    pub commands: mpsc::WeakUnboundedSender<Command>,
}

impl Ctx {
    /// Starts the connector's job and a watcher that hands the task configs it publishes to
    /// the actor.
    pub fn start_connector(&self, name: &str, entry: &mut Entry) {
        entry.generation += 1;
        let generation = entry.generation;
        let (tasks_tx, mut tasks_rx) = watch::channel(None);
        let (stop_tx, stop_rx) = watch::channel(false);
        let reporter = self
            .status_store
            .reporter(ConnectorOrTask::Connector(name.into()));
        reporter.set(Status::of(State::Running));
        let instance = entry.instance.clone();
        let cname = name.to_string();
        let job = tokio::spawn(async move {
            // A panicking connector is FAILED like a failing one, not left RUNNING with no job.
            let failure = match panic::catch_async(instance.run(tasks_tx, stop_rx)).await {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e.to_string(),
                Err(message) => format!("connector panicked: {message}"),
            };
            warn!(connector = %cname, "connector failed: {failure}");
            reporter.set(Status::failed(failure));
        });
        let commands = self.commands.clone();
        let name = name.to_string();
        let watcher = tokio::spawn(async move {
            while tasks_rx.changed().await.is_ok() {
                let configs = tasks_rx.borrow_and_update().clone();
                let (Some(configs), Some(commands)) = (configs, commands.upgrade()) else {
                    continue;
                };
                let _ = commands.send(Command::TasksPublished {
                    name: name.clone(),
                    generation,
                    configs,
                });
            }
        });
        entry.run = Some(Run {
            stop: stop_tx,
            job,
            watcher,
        });
    }

    /// Starts task `id`; one that cannot be built (an error, or a panic in the plugin) is
    /// reported failed.
    pub fn start_task(&self, name: &str, entry: &mut Entry, id: usize) {
        let reporter = self
            .status_store
            .reporter(ConnectorOrTask::Task(name.into(), id));
        let config = &entry.task_configs[id];
        // The trace of a task that cannot be built: the plugin's error, or what it panicked with.
        let built = panic::catch(|| entry.instance.task(id, config, entry.ctx.clone()))
            .and_then(|r| r.map_err(|e| e.to_string()));
        match built {
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

    pub async fn restart_task_of(&self, name: &str, entry: &mut Entry, id: usize) {
        if id >= entry.task_configs.len() {
            return;
        }
        self.status_store.set(
            ConnectorOrTask::Task(name.into(), id),
            Status::of(State::Restarting),
        );
        if let Some(handle) = entry.tasks.remove(&id) {
            join_blocking(vec![handle]).await;
        }
        self.start_task(name, entry, id);
    }
}

/// Stops tasks on a blocking thread: each one stores its offsets before it ends.
pub(super) async fn join_blocking(handles: Vec<TaskHandle>) {
    if !handles.is_empty() {
        let _ = tokio::task::spawn_blocking(move || stop_all(handles)).await;
    }
}
