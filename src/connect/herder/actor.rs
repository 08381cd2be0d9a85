//! The task that owns the herder's connectors: it applies one command at a time (so changes
//! never interleave) and publishes a [`View`] after each, which REST reads use instead of
//! waiting for it. A command may take long (stopping a connector waits up to 30 s, stopping a
//! task until it stored its offsets); only later commands wait for it.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info};

use super::config_log::{ConfigRecord, Snapshot};
use super::lifecycle::{join_blocking, Ctx, Entry};
use super::plan::{plan, Action, Desired, Running};
use super::view::{self, View};
use super::{not_found, HerderError};
use crate::connect::connector::{ConfigMap, Connector};
use crate::connect::membership::GroupAssignment;
use crate::connect::panic;
use crate::connect::status::{ConnectorOrTask, State, Status, TargetState};

/// Where the actor sends a command's outcome.
pub(super) type Reply<T = ()> = oneshot::Sender<Result<T, HerderError>>;

/// What the actor is asked to do.
pub(super) enum Command {
    /// Adds or replaces a connector; answers whether it was created.
    Put {
        name: String,
        config: ConfigMap,
        instance: Arc<dyn Connector>,
        initial: Option<TargetState>,
        reply: Reply<bool>,
    },
    Delete {
        name: String,
        reply: Reply,
    },
    SetTarget {
        name: String,
        target: TargetState,
        reply: Reply,
    },
    Restart {
        name: String,
        include_tasks: bool,
        only_failed: bool,
        reply: Reply,
    },
    RestartTask {
        name: String,
        id: usize,
        reply: Reply,
    },
    /// A running connector's job published task configs.
    TasksPublished {
        name: String,
        generation: u64,
        configs: Vec<ConfigMap>,
    },
    /// Stops every connector and task here.
    Shutdown(Reply),
    /// Answers at once: the health check's proof that the actor is not stuck in a command.
    Ping(Reply),
    /// What a distributed worker follows.
    Group(GroupCommand, Reply),
}

/// What a distributed worker learns from its group.
pub(super) enum GroupCommand {
    /// The config topic's state, read back.
    ApplySnapshot(Snapshot),
    /// A restart request or cluster log level read back from the config topic.
    ApplyRestart(ConfigRecord),
    /// The group gave this worker a new assignment.
    Assign(GroupAssignment),
}

pub(super) struct Actor {
    pub entries: BTreeMap<String, Entry>,
    pub group_assignment: GroupAssignment,
    pub ctx: Ctx,
    pub view: watch::Sender<Arc<View>>,
}

impl Actor {
    /// Applies commands until every sender is gone.
    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        while let Some(command) = commands.recv().await {
            self.handle_guarded(command).await;
            self.publish();
        }
    }

    /// Handles a command; a panic in it (a plugin's, say) fails that command alone, whose
    /// caller sees its reply dropped, and the herder goes on with the next.
    async fn handle_guarded(&mut self, command: Command) {
        if let Err(message) = panic::catch_async(self.handle(command)).await {
            error!("a herder command panicked: {message}");
        }
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Put {
                name,
                config,
                instance,
                initial,
                reply,
            } => {
                let created = self.put(&name, config, instance, initial).await;
                self.answer(reply, Ok(created));
            }
            Command::Delete { name, reply } => {
                let result = self.delete(&name).await;
                self.answer(reply, result);
            }
            Command::SetTarget {
                name,
                target,
                reply,
            } => {
                let result = self.set_target(&name, target).await;
                self.answer(reply, result);
            }
            Command::Restart {
                name,
                include_tasks,
                only_failed,
                reply,
            } => {
                let result = self.restart(&name, include_tasks, only_failed).await;
                self.answer(reply, result);
            }
            Command::RestartTask { name, id, reply } => {
                self.restart_task(&name, id).await;
                self.answer(reply, Ok(()));
            }
            Command::TasksPublished {
                name,
                generation,
                configs,
            } => {
                self.task_configs_published(&name, generation, configs)
                    .await
            }
            Command::Ping(reply) => {
                let _ = reply.send(Ok(()));
            }
            Command::Shutdown(reply) => {
                self.halt_all().await;
                self.answer(reply, Ok(()));
            }
            Command::Group(command, reply) => {
                match command {
                    GroupCommand::ApplySnapshot(s) => self.apply_snapshot(s).await,
                    GroupCommand::ApplyRestart(r) => self.apply_restart(r).await,
                    GroupCommand::Assign(o) => self.assign(o).await,
                }
                self.answer(reply, Ok(()));
            }
        }
    }

    async fn halt_all(&mut self) {
        for (name, entry) in self.entries.iter_mut() {
            entry.halt(name).await;
        }
    }

    /// Publishes the view, then answers: whoever asked reads the state after the change.
    fn answer<T>(&self, reply: Reply<T>, result: Result<T, HerderError>) {
        self.publish();
        let _ = reply.send(result);
    }

    fn publish(&self) {
        let connectors = self
            .entries
            .iter()
            .map(|(name, entry)| (name.clone(), entry.view()))
            .collect();
        self.view.send_replace(Arc::new(View { connectors }));
    }

    async fn put(
        &mut self,
        name: &str,
        config: ConfigMap,
        instance: Arc<dyn Connector>,
        initial: Option<TargetState>,
    ) -> bool {
        let created = match self.entries.get_mut(name) {
            Some(entry) => {
                entry.halt(name).await;
                entry.config = config;
                entry.instance = instance;
                entry.task_configs.clear();
                false
            }
            None => {
                let mut entry = Entry::new(config, instance);
                entry.target = initial.unwrap_or(TargetState::Started);
                self.entries.insert(name.to_string(), entry);
                true
            }
        };
        self.reconcile().await;
        info!(
            connector = name,
            "connector {}",
            if created { "created" } else { "reconfigured" }
        );
        created
    }

    pub async fn delete(&mut self, name: &str) -> Result<(), HerderError> {
        let mut entry = self.entries.remove(name).ok_or_else(|| not_found(name))?;
        entry.halt(name).await;
        self.ctx.status_store.remove_connector(name);
        info!(connector = name, "connector deleted");
        Ok(())
    }

    async fn set_target(&mut self, name: &str, target: TargetState) -> Result<(), HerderError> {
        let entry = self.entries.get_mut(name).ok_or_else(|| not_found(name))?;
        if entry.target != target {
            entry.target = target;
            info!(connector = name, "target state {target:?}");
            self.reconcile().await;
        }
        Ok(())
    }

    /// Restarts what this worker owns of the connector: its job, and with `include_tasks` its
    /// tasks; with `only_failed`, only the failed ones. Nothing unless it is started.
    pub async fn restart(
        &mut self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<(), HerderError> {
        let entry = self.entries.get_mut(name).ok_or_else(|| not_found(name))?;
        if entry.target != TargetState::Started {
            return Ok(());
        }
        let (ctx, group_assignment) = (&self.ctx, &self.group_assignment);
        let kind = entry.instance.kind();
        let before = view::status(name, entry.task_configs.len(), kind, &ctx.status_store);
        let restarts = |state: State| !only_failed || state == State::Failed;
        if group_assignment.owns_connector(name) && restarts(before.connector.state) {
            ctx.status_store.set(
                ConnectorOrTask::Connector(name.into()),
                Status::of(State::Restarting),
            );
            entry.halt_connector(name).await;
            ctx.start_connector(name, entry);
        }
        if include_tasks {
            for (id, task) in before.tasks.iter().enumerate() {
                if group_assignment.owns_task(name, id) && restarts(task.state) {
                    ctx.restart_task_of(name, entry, id).await;
                }
            }
        }
        Ok(())
    }

    /// Restarts task `id` if this worker runs it and its connector is started.
    pub async fn restart_task(&mut self, name: &str, id: usize) {
        let owns = self.group_assignment.owns_task(name, id);
        let Some(entry) = self.entries.get_mut(name) else {
            return;
        };
        if owns && entry.target == TargetState::Started && id < entry.task_configs.len() {
            self.ctx.restart_task_of(name, entry, id).await;
        }
    }

    async fn task_configs_published(
        &mut self,
        name: &str,
        generation: u64,
        configs: Vec<ConfigMap>,
    ) {
        let Some(entry) = self.entries.get_mut(name) else {
            return;
        };
        if entry.generation != generation
            || entry.target != TargetState::Started
            || entry.task_configs == configs
        {
            return;
        }
        let Some(configs) = self
            .ctx
            .backend
            .publish_tasks(publish(name, entry, configs))
        else {
            return;
        };
        entry.stop_tasks().await;
        self.ctx.status_store.remove_tasks_from(name, configs.len());
        entry.task_configs = configs;
        self.reconcile().await;
        info!(
            connector = name,
            tasks = self.entries.get(name).map_or(0, |e| e.tasks.len()),
            "tasks started"
        );
    }

    /// Starts what this worker owns and should run, and stops the rest.
    pub async fn reconcile(&mut self) {
        let desired: BTreeMap<String, Desired> = self
            .entries
            .iter()
            .map(|(name, e)| {
                let want = Desired {
                    target: e.target,
                    tasks: e.task_configs.len(),
                };
                (name.clone(), want)
            })
            .collect();
        let running: BTreeMap<String, Running> = self
            .entries
            .iter()
            .map(|(name, e)| {
                let now = Running {
                    connector: e.runs_connector(),
                    tasks: e.tasks.keys().copied().collect(),
                };
                (name.clone(), now)
            })
            .collect();
        for action in plan(&desired, &running, &self.group_assignment) {
            self.execute(action).await;
        }
    }

    async fn execute(&mut self, action: Action) {
        let ctx = &self.ctx;
        let Some(entry) = self.entries.get_mut(action.connector()) else {
            return;
        };
        match action {
            Action::StartConnector(name) => ctx.start_connector(&name, entry),
            Action::ReleaseConnector(name) => {
                entry.halt_connector(&name).await;
                ctx.status_store.forget(&ConnectorOrTask::Connector(name));
            }
            Action::StartTask(name, id) => ctx.start_task(&name, entry, id),
            Action::ReleaseTask(name, id) => {
                if let Some(t) = entry.tasks.remove(&id) {
                    join_blocking(vec![t]).await;
                    ctx.status_store.forget(&ConnectorOrTask::Task(name, id));
                }
            }
            Action::Park {
                name,
                state,
                connector,
                tasks,
            } => {
                entry.halt(&name).await;
                if connector {
                    ctx.status_store
                        .set(ConnectorOrTask::Connector(name.clone()), Status::of(state));
                }
                for id in tasks {
                    ctx.status_store
                        .set(ConnectorOrTask::Task(name.clone(), id), Status::of(state));
                }
            }
            Action::RetireTasks(name) => {
                if let Some(configs) = ctx.backend.publish_tasks(publish(&name, entry, Vec::new()))
                {
                    entry.task_configs = configs;
                }
            }
            Action::ForgetTasks(name) => ctx.status_store.remove_tasks_from(&name, 0),
        }
    }
}

/// A request to make `configs` the connector's task configs.
fn publish(name: &str, entry: &Entry, configs: Vec<ConfigMap>) -> super::backend::Publish {
    super::backend::Publish {
        name: name.to_string(),
        generation: entry.generation,
        instance: entry.instance.clone(),
        current: entry.task_configs.len(),
        configs,
    }
}
