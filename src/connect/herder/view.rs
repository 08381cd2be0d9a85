//! The herder's state as REST reads see it: a copy the actor publishes after every change, so a
//! read never waits for a connector that is stopping or a rebalance in progress.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::connect::connector::{ConfigMap, Connector, TaskContext};
use crate::connect::status::{
    ConnectorOrTask, ConnectorType, State, Status, StatusStore, TargetState,
};
use crate::rest::dto::{ConnectorInfo, ConnectorStateInfo, TaskId, TaskInfo, UnitState};

use super::ConnectorFactory;

/// Every connector of the herder, as of its last change.
#[derive(Clone, Default)]
pub struct View {
    pub connectors: BTreeMap<String, ConnectorView>,
}

/// One connector, as of the herder's last change.
#[derive(Clone)]
pub struct ConnectorView {
    pub config: ConfigMap,
    pub instance: Arc<dyn Connector>,
    pub target: TargetState,
    /// Which start of the connector's job this is (see `Entry::generation`).
    pub generation: u64,
    pub task_configs: Vec<ConfigMap>,
    /// How many of its tasks run on this worker.
    pub running_tasks: usize,
    pub ctx: TaskContext,
}

impl ConnectorView {
    pub fn info(&self, name: &str, factory: &dyn ConnectorFactory) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_string(),
            config: factory.redact(&self.config),
            tasks: (0..self.task_configs.len())
                .map(|task| TaskId {
                    connector: name.to_string(),
                    task,
                })
                .collect(),
            kind: self.instance.kind(),
        }
    }

    pub fn tasks(&self, name: &str, factory: &dyn ConnectorFactory) -> Vec<TaskInfo> {
        self.task_configs
            .iter()
            .enumerate()
            .map(|(task, config)| TaskInfo {
                id: TaskId {
                    connector: name.to_string(),
                    task,
                },
                config: factory.redact(config),
            })
            .collect()
    }

    /// The connector's and its tasks' states on `status_store`.
    pub fn status(&self, name: &str, status_store: &StatusStore) -> ConnectorStateInfo {
        status(
            name,
            self.task_configs.len(),
            self.instance.kind(),
            status_store,
        )
    }
}

/// The states on `status_store` of connector `name` and its first `tasks` tasks; unassigned where
/// nobody reported one.
pub fn status(
    name: &str,
    tasks: usize,
    kind: ConnectorType,
    status_store: &StatusStore,
) -> ConnectorStateInfo {
    let unit = |u: ConnectorOrTask, id: Option<usize>| {
        let (status, worker_id) = status_store.get(&u).unwrap_or((
            Status::of(State::Unassigned),
            status_store.worker_id().to_string(),
        ));
        UnitState {
            id,
            state: status.state,
            worker_id,
            trace: status.trace,
        }
    };
    ConnectorStateInfo {
        name: name.to_string(),
        connector: unit(ConnectorOrTask::Connector(name.into()), None),
        tasks: (0..tasks)
            .map(|i| unit(ConnectorOrTask::Task(name.into(), i), Some(i)))
            .collect(),
        kind,
    }
}
