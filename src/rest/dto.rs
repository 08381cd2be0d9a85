//! The JSON shapes of Kafka Connect's REST API that describe connectors: `ConnectorInfo`,
//! `TaskInfo` and `ConnectorStateInfo`, as the herder answers them.

use serde::Serialize;

use crate::connect::connector::ConfigMap;
use crate::connect::status::{ConnectorType, State};

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
