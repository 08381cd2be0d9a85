//! Where a herder's changes take effect. Alone (connect-standalone) the herder's own state is
//! the truth: a change is applied at once. In a group (connect-distributed, connect-mirror-maker's
//! flows) it is written to the config topic and applied when read back, by every worker alike.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;

use super::config_log::{ConfigLog, ConfigRecord};
use super::view::View;
use super::{Command, Herder, HerderError};
use crate::connect::connector::{BoxFuture, ConfigMap, Connector};
use crate::connect::error::Error;
use crate::connect::membership::GroupAssignment;
use crate::connect::status::{State, TargetState};
use crate::rest::dto::{ConnectorInfo, ConnectorStateInfo, UnitState};

/// A connector config to add or replace, its instance already built from it.
pub(super) struct Put {
    pub name: String,
    pub config: ConfigMap,
    pub instance: Arc<dyn Connector>,
    /// The target state of a connector created by it (`None`: started).
    pub initial: Option<TargetState>,
}

/// New task configs a connector's job published (empty: a stopped connector's).
pub(super) struct Publish {
    pub name: String,
    /// The start of the connector's job that published them.
    pub generation: u64,
    pub instance: Arc<dyn Connector>,
    /// How many task configs the connector has now.
    pub current: usize,
    pub configs: Vec<ConfigMap>,
}

type Done<'a, T = ()> = BoxFuture<'a, Result<T, HerderError>>;

/// How each kind of change takes effect.
pub(super) trait ConfigBackend: Send + Sync {
    /// What this worker owns before it hears from any group.
    fn initial_assignment(&self) -> GroupAssignment;

    /// Adds or replaces a connector; the connector as it is then, and whether it was created.
    fn put<'a>(&'a self, herder: &'a Herder, put: Put) -> Done<'a, (ConnectorInfo, bool)>;

    fn delete<'a>(&'a self, herder: &'a Herder, name: &'a str) -> Done<'a>;

    fn set_target<'a>(&'a self, herder: &'a Herder, name: &'a str, target: TargetState)
        -> Done<'a>;

    /// Restarts a connector; the states right after the restart was requested.
    fn restart<'a>(
        &'a self,
        herder: &'a Herder,
        name: &'a str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Done<'a, ConnectorStateInfo>;

    fn restart_task<'a>(&'a self, herder: &'a Herder, name: &'a str, id: usize) -> Done<'a>;

    /// Sets a log level on every worker that shares this configuration.
    fn set_cluster_log_level<'a>(&'a self, namespace: &'a str, level: &'a str) -> Done<'a>;

    /// Deletes configs earlier versions stored under other names.
    fn delete_legacy_names(&self, names: Vec<String>) -> Done<'static>;

    /// Called by the actor when a connector's task configs change: the configs to apply now,
    /// or `None` when they take effect once read back.
    fn publish_tasks(&self, publish: Publish) -> Option<Vec<ConfigMap>>;
}

/// Applies every change at once: this worker is alone and runs everything.
pub(super) struct Local;

impl ConfigBackend for Local {
    fn initial_assignment(&self) -> GroupAssignment {
        GroupAssignment::all()
    }

    fn put<'a>(&'a self, herder: &'a Herder, put: Put) -> Done<'a, (ConnectorInfo, bool)> {
        Box::pin(async move {
            let name = put.name.clone();
            let created = herder
                .call(|reply| Command::Put {
                    name: put.name,
                    config: put.config,
                    instance: put.instance,
                    initial: put.initial,
                    reply,
                })
                .await?;
            Ok((herder.info(&name).await?, created))
        })
    }

    fn delete<'a>(&'a self, herder: &'a Herder, name: &'a str) -> Done<'a> {
        let name = name.to_string();
        Box::pin(herder.call(|reply| Command::Delete { name, reply }))
    }

    fn set_target<'a>(
        &'a self,
        herder: &'a Herder,
        name: &'a str,
        target: TargetState,
    ) -> Done<'a> {
        let name = name.to_string();
        Box::pin(herder.call(move |reply| Command::SetTarget {
            name,
            target,
            reply,
        }))
    }

    fn restart<'a>(
        &'a self,
        herder: &'a Herder,
        name: &'a str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Done<'a, ConnectorStateInfo> {
        Box::pin(async move {
            herder
                .call(|reply| Command::Restart {
                    name: name.to_string(),
                    include_tasks,
                    only_failed,
                    reply,
                })
                .await?;
            herder.status(name).await
        })
    }

    fn restart_task<'a>(&'a self, herder: &'a Herder, name: &'a str, id: usize) -> Done<'a> {
        let name = name.to_string();
        Box::pin(herder.call(move |reply| Command::RestartTask { name, id, reply }))
    }

    fn set_cluster_log_level<'a>(&'a self, namespace: &'a str, level: &'a str) -> Done<'a> {
        let result = crate::telemetry::set_level(namespace, level)
            .map(|_| ())
            .map_err(HerderError::BadRequest);
        Box::pin(async move { result })
    }

    fn delete_legacy_names(&self, _: Vec<String>) -> Done<'static> {
        Box::pin(async { Ok(()) })
    }

    fn publish_tasks(&self, publish: Publish) -> Option<Vec<ConfigMap>> {
        Some(publish.configs)
    }
}

/// How long a change written to the config topic may take to be applied by this worker.
const APPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes every change to the group's config topic; the herder applies it when its reader
/// hands it back (see `follow`).
pub(super) struct Topic {
    log: Arc<ConfigLog>,
    /// The herder's state, to see a write applied and a connector's job still current.
    view: watch::Receiver<Arc<View>>,
}

impl Topic {
    pub fn new(log: Arc<ConfigLog>, view: watch::Receiver<Arc<View>>) -> Self {
        Topic { log, view }
    }

    /// Writes records to the config topic and waits until this worker's reader read them.
    async fn write(&self, records: Vec<ConfigRecord>) -> Result<(), HerderError> {
        Ok(self.log.write(records).await?)
    }

    /// Waits until the herder applied connector `name`'s `config`.
    async fn applied(
        &self,
        herder: &Herder,
        name: &str,
        config: &ConfigMap,
    ) -> Result<ConnectorInfo, HerderError> {
        let applied = |v: &View| v.connectors.get(name).is_some_and(|c| &c.config == config);
        let Some(view) = self.view_when(applied).await? else {
            return Err(HerderError::Internal(format!(
                "connector {name} was written but not applied within 10 s"
            )));
        };
        view.connectors
            .get(name)
            .map(|c| c.info(name, herder.factory()))
            .ok_or_else(super::stopped)
    }

    /// Waits until the herder's state satisfies `cond`, so that a read after a change on this
    /// worker sees it (as Java's answers once its herder has read the change back). The change
    /// is already durable: a herder busy for longer (stopping a stubborn connector takes up to
    /// 30 s) applies it later, and the caller is not told it failed.
    async fn until_view(&self, cond: impl Fn(&View) -> bool) -> Result<(), HerderError> {
        self.view_when(cond).await.map(|_| ())
    }

    /// The herder's state once it satisfies `cond`; `None` if it does not within
    /// `APPLY_TIMEOUT`, an error if the herder has stopped.
    async fn view_when(
        &self,
        cond: impl Fn(&View) -> bool,
    ) -> Result<Option<Arc<View>>, HerderError> {
        let mut view = self.view.clone();
        let applied = async move { view.wait_for(|v| cond(v)).await.map(|v| v.clone()) };
        match tokio::time::timeout(APPLY_TIMEOUT, applied).await {
            Ok(Ok(view)) => Ok(Some(view)),
            Ok(Err(_)) => Err(super::stopped()),
            Err(_) => Ok(None),
        }
    }
}

impl ConfigBackend for Topic {
    fn initial_assignment(&self) -> GroupAssignment {
        // Nothing until the group assigns this worker work.
        GroupAssignment {
            generation: 0,
            partitions: None,
            tokens: 1,
        }
    }

    fn put<'a>(&'a self, herder: &'a Herder, put: Put) -> Done<'a, (ConnectorInfo, bool)> {
        Box::pin(async move {
            let created = !self.view.borrow().connectors.contains_key(&put.name);
            // The target state first, as Java writes it: every worker then starts the
            // connector in that state, never running before it.
            let mut records: Vec<ConfigRecord> = put
                .initial
                .map(|t| ConfigRecord::TargetState(put.name.clone(), t))
                .into_iter()
                .collect();
            records.push(ConfigRecord::Connector(
                put.name.clone(),
                Some(put.config.clone()),
            ));
            self.write(records).await?;
            // Read back by this worker's reader; wait until the herder has applied it too.
            let info = self.applied(herder, &put.name, &put.config).await?;
            Ok((info, created))
        })
    }

    fn delete<'a>(&'a self, herder: &'a Herder, name: &'a str) -> Done<'a> {
        Box::pin(async move {
            herder.info(name).await?;
            self.write(vec![
                ConfigRecord::Connector(name.into(), None),
                ConfigRecord::Commit(name.into(), 0),
            ])
            .await?;
            self.until_view(|v| !v.connectors.contains_key(name)).await
        })
    }

    fn set_target<'a>(
        &'a self,
        herder: &'a Herder,
        name: &'a str,
        target: TargetState,
    ) -> Done<'a> {
        Box::pin(async move {
            herder.info(name).await?;
            self.write(vec![ConfigRecord::TargetState(name.into(), target)])
                .await?;
            // Gone meanwhile (deleted by another worker) counts as applied: nothing to steer.
            self.until_view(|v| v.connectors.get(name).is_none_or(|c| c.target == target))
                .await
        })
    }

    fn restart<'a>(
        &'a self,
        herder: &'a Herder,
        name: &'a str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Done<'a, ConnectorStateInfo> {
        Box::pin(async move {
            let before = herder.status(name).await?;
            self.write(vec![ConfigRecord::RestartConnector {
                name: name.into(),
                include_tasks,
                only_failed,
            }])
            .await?;
            Ok(planned_restart(before, include_tasks, only_failed))
        })
    }

    fn restart_task<'a>(&'a self, _: &'a Herder, name: &'a str, id: usize) -> Done<'a> {
        Box::pin(self.write(vec![ConfigRecord::RestartTask(name.into(), id)]))
    }

    fn set_cluster_log_level<'a>(&'a self, namespace: &'a str, level: &'a str) -> Done<'a> {
        Box::pin(self.write(vec![ConfigRecord::LoggerLevel {
            namespace: namespace.to_string(),
            level: level.to_string(),
        }]))
    }

    fn delete_legacy_names(&self, names: Vec<String>) -> Done<'static> {
        let log = self.log.clone();
        Box::pin(async move { Ok(log.delete_legacy(names).await?) })
    }

    fn publish_tasks(&self, publish: Publish) -> Option<Vec<ConfigMap>> {
        let fence = publish.instance.fence_zombies(publish.current);
        let (log, view) = (self.log.clone(), self.view.clone());
        tokio::spawn(publish_when_fenced(log, view, publish, fence));
        None
    }
}

/// Writes a connector's new task configs to the config topic once the tasks of the current
/// ones are fenced (retried while this run of the connector lasts).
async fn publish_when_fenced(
    log: Arc<ConfigLog>,
    view: watch::Receiver<Arc<View>>,
    publish: Publish,
    mut fence: BoxFuture<'static, Result<(), Error>>,
) {
    let Publish {
        name,
        generation,
        configs,
        ..
    } = publish;
    while let Err(e) = fence.await {
        warn!(connector = %name, "cannot fence the producers of its tasks: {e} (retrying)");
        tokio::time::sleep(Duration::from_secs(5)).await;
        let current = view.borrow().connectors.get(&name).and_then(|c| {
            (c.generation == generation).then(|| c.instance.fence_zombies(c.task_configs.len()))
        });
        match current {
            Some(f) => fence = f,
            None => return,
        }
    }
    let n = configs.len();
    let mut records: Vec<ConfigRecord> = configs
        .into_iter()
        .enumerate()
        .map(|(i, c)| ConfigRecord::Task(name.clone(), i, c))
        .collect();
    records.push(ConfigRecord::Commit(name.clone(), n));
    if let Err(e) = log.write(records).await {
        warn!(connector = %name, "cannot write the task configs: {e}");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::status::ConnectorType;

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
