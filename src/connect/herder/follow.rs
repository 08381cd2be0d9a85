//! A distributed worker following its group: the config topic's state and requests as they are
//! read back, and the assignments the group membership hands out.

use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::actor::{Actor, Command, GroupCommand};
use super::config_log::{ConfigRecord, ConnectorState, Snapshot, Update};
use super::lifecycle::Entry;
use super::Herder;
use crate::connect::membership::GroupAssignment;

impl Herder {
    /// Follows the group: applies the config topic's updates and the membership's assignment
    /// changes, acknowledging each assignment once its units are started or stopped.
    pub async fn follow(
        &self,
        mut updates: mpsc::UnboundedReceiver<Update>,
        mut owned: watch::Receiver<GroupAssignment>,
        acks: std::sync::mpsc::Sender<u64>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let command = tokio::select! {
                _ = crate::shutdown::stopped(&mut stop) => return,
                u = updates.recv() => match u {
                    Some(Update::Snapshot(s)) => GroupCommand::ApplySnapshot(s),
                    Some(Update::Restart(r)) => GroupCommand::ApplyRestart(r),
                    None => return,
                },
                changed = owned.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    GroupCommand::Assign(owned.borrow_and_update().clone())
                }
            };
            let generation = match &command {
                GroupCommand::Assign(o) => Some(o.generation),
                _ => None,
            };
            let assigned = match &command {
                GroupCommand::Assign(o) => Some(o.partitions.is_some()),
                _ => None,
            };
            if let (Some(false), Some(r)) = (assigned, self.rebalances()) {
                r.started();
            }
            if self
                .call(|reply| Command::Group(command, reply))
                .await
                .is_err()
            {
                return;
            }
            if let (Some(true), Some(r)) = (assigned, self.rebalances()) {
                r.completed();
            }
            if let Some(generation) = generation {
                let _ = acks.send(generation);
            }
        }
    }

    /// Makes the local state match the config topic's.
    pub(crate) async fn apply_snapshot(&self, snapshot: Snapshot) {
        let _ = self
            .call(|reply| Command::Group(GroupCommand::ApplySnapshot(snapshot), reply))
            .await;
    }
}

impl Actor {
    pub(super) async fn apply_snapshot(&mut self, snapshot: Snapshot) {
        let gone: Vec<String> = self
            .entries
            .keys()
            .filter(|n| !snapshot.connectors.contains_key(*n))
            .cloned()
            .collect();
        for name in gone {
            let _ = self.delete(&name).await;
        }
        for (name, state) in snapshot.connectors {
            self.apply_connector(&name, state).await;
        }
        self.reconcile().await;
    }

    /// Takes one connector's config, target state and task configs from the config topic.
    async fn apply_connector(&mut self, name: &str, state: ConnectorState) {
        if let Some(entry) = self.entries.get_mut(name) {
            if entry.config == state.config {
                if entry.task_configs != state.tasks {
                    entry.stop_tasks().await;
                    entry.task_configs = state.tasks;
                }
                entry.target = state.target;
                return;
            }
        }
        let instance = match self.ctx.factory.create(name, &state.config) {
            Ok(i) => i,
            Err(e) => {
                warn!(connector = %name, "cannot create the connector: {}", e.join("; "));
                return;
            }
        };
        match self.entries.get_mut(name) {
            Some(entry) => {
                entry.halt(name).await;
                entry.config = state.config;
                entry.instance = instance;
                entry.task_configs = state.tasks;
                entry.target = state.target;
            }
            None => {
                let mut entry = Entry::new(state.config, instance);
                entry.task_configs = state.tasks;
                entry.target = state.target;
                self.entries.insert(name.to_string(), entry);
                info!(connector = %name, "connector created");
            }
        }
    }

    pub(super) async fn apply_restart(&mut self, record: ConfigRecord) {
        match record {
            ConfigRecord::RestartConnector {
                name,
                include_tasks,
                only_failed,
            } => {
                // A request for a connector this worker does not know is for nobody.
                let _ = self.restart(&name, include_tasks, only_failed).await;
            }
            ConfigRecord::RestartTask(name, id) => self.restart_task(&name, id).await,
            ConfigRecord::LoggerLevel { namespace, level } => {
                match crate::telemetry::set_level(&namespace, &level) {
                    Ok(_) => info!(logger = %namespace, %level, "log level set for the cluster"),
                    Err(e) => warn!("cluster log level for {namespace}: {e}"),
                }
            }
            _ => {}
        }
    }

    pub(super) async fn assign(&mut self, group_assignment: GroupAssignment) {
        let assigned = group_assignment.partitions.is_some();
        self.group_assignment = group_assignment;
        self.reconcile().await;
        if assigned {
            // What this worker runs after a rebalance: one line, for operators.
            let running: Vec<String> = self
                .entries
                .iter()
                .flat_map(|(name, e)| {
                    let connector = e.runs_connector().then(|| name.clone());
                    connector
                        .into_iter()
                        .chain(e.tasks.keys().map(move |id| format!("{name}-{id}")))
                })
                .collect();
            info!(units = ?running, "running after the rebalance");
        }
    }
}
