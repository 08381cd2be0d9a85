//! Connector and task states as Kafka Connect reports them (`GET /connectors/{name}/status`),
//! kept on a status store that running connectors and tasks write to and the REST API reads. In a
//! distributed group the status store also holds what the other workers published in the status
//! topic, and publishes this worker's changes there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Connect's states, spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Failed,
    Restarting,
    Stopped,
}

impl State {
    /// The state as Connect's `status` metric attribute spells it.
    pub fn metric_name(self) -> &'static str {
        match self {
            State::Unassigned => "unassigned",
            State::Running => "running",
            State::Paused => "paused",
            State::Failed => "failed",
            State::Restarting => "restarting",
            State::Stopped => "stopped",
        }
    }
}

/// What the operator asked a connector to be, spelled as in the config topic's
/// `target-state-<name>` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

/// `source` or `sink`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
}

/// One state with the failure that caused it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    pub trace: Option<String>,
}

impl Status {
    pub fn of(state: State) -> Self {
        Status { state, trace: None }
    }

    pub fn failed(trace: impl Into<String>) -> Self {
        Status {
            state: State::Failed,
            trace: Some(trace.into()),
        }
    }
}

/// What a connector or task is, for the status store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConnectorOrTask {
    Connector(String),
    Task(String, usize),
}

/// This worker's own statuses, and the latest each unit has from other workers: a unit this
/// worker stopped shows its new owner's status again.
#[derive(Default)]
struct Maps {
    local: HashMap<ConnectorOrTask, Status>,
    remote: HashMap<ConnectorOrTask, (Status, String)>,
}

/// Sends this worker's status changes to the rest of the group.
pub type Publisher = Arc<dyn Fn(&ConnectorOrTask, &Status) + Send + Sync>;

/// The current status of every connector and task, with the worker that reported it. Cheap
/// to clone; shared between the herder, the task threads and the REST API.
#[derive(Clone)]
pub struct StatusStore {
    inner: Arc<Mutex<Maps>>,
    worker_id: String,
    publisher: Option<Publisher>,
}

impl StatusStore {
    pub fn new(worker_id: impl Into<String>) -> Self {
        StatusStore {
            inner: Arc::default(),
            worker_id: worker_id.into(),
            publisher: None,
        }
    }

    pub fn with_publisher(mut self, publisher: Publisher) -> Self {
        self.publisher = Some(publisher);
        self
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Records (and publishes) a status of a unit this worker runs.
    pub fn set(&self, unit: ConnectorOrTask, status: Status) {
        let mut maps = self.inner.lock().expect("status lock");
        if maps.local.get(&unit) == Some(&status) {
            return;
        }
        if let Some(p) = &self.publisher {
            p(&unit, &status);
        }
        maps.local.insert(unit, status);
    }

    /// Records a status another worker published.
    pub fn apply_remote(&self, unit: ConnectorOrTask, status: Status, worker_id: String) {
        if worker_id != self.worker_id {
            let mut maps = self.inner.lock().expect("status lock");
            maps.remote.insert(unit, (status, worker_id));
        }
    }

    /// Forgets this worker's status of a unit it no longer runs, without publishing: its new
    /// owner reports it (publishing UNASSIGNED could arrive after the new owner's RUNNING).
    pub fn forget(&self, unit: &ConnectorOrTask) {
        self.inner.lock().expect("status lock").local.remove(unit);
    }

    /// The states of the units this worker runs.
    pub fn local(&self) -> Vec<(ConnectorOrTask, State)> {
        let maps = self.inner.lock().expect("status lock");
        maps.local
            .iter()
            .map(|(u, s)| (u.clone(), s.state))
            .collect()
    }

    /// The status and the worker that reported it.
    pub fn get(&self, unit: &ConnectorOrTask) -> Option<(Status, String)> {
        let maps = self.inner.lock().expect("status lock");
        match maps.local.get(unit) {
            Some(s) => Some((s.clone(), self.worker_id.clone())),
            None => maps.remote.get(unit).cloned(),
        }
    }

    /// Forgets a connector and its tasks.
    pub fn remove_connector(&self, name: &str) {
        let of = |u: &ConnectorOrTask| match u {
            ConnectorOrTask::Connector(n) | ConnectorOrTask::Task(n, _) => n == name,
        };
        let mut maps = self.inner.lock().expect("status lock");
        maps.local.retain(|u, _| !of(u));
        maps.remote.retain(|u, _| !of(u));
    }

    /// Forgets the tasks of a connector from `from` on.
    pub fn remove_tasks_from(&self, name: &str, from: usize) {
        let gone = |u: &ConnectorOrTask| matches!(u, ConnectorOrTask::Task(n, i) if n == name && *i >= from);
        let mut maps = self.inner.lock().expect("status lock");
        maps.local.retain(|u, _| !gone(u));
        maps.remote.retain(|u, _| !gone(u));
    }

    /// A handle through which one unit reports its own status.
    pub fn reporter(&self, unit: ConnectorOrTask) -> Reporter {
        Reporter {
            status_store: self.clone(),
            unit,
        }
    }
}

/// Reports the status of one connector or task.
#[derive(Clone)]
pub struct Reporter {
    status_store: StatusStore,
    unit: ConnectorOrTask,
}

impl Reporter {
    pub fn set(&self, status: Status) {
        self.status_store.set(self.unit.clone(), status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_spelled_as_connect_spells_them() {
        let all = [
            State::Unassigned,
            State::Running,
            State::Paused,
            State::Failed,
            State::Restarting,
            State::Stopped,
        ];
        let json = serde_json::to_string(&all).unwrap();
        assert_eq!(
            json,
            r#"["UNASSIGNED","RUNNING","PAUSED","FAILED","RESTARTING","STOPPED"]"#
        );
        assert_eq!(
            serde_json::to_string(&ConnectorType::Sink).unwrap(),
            r#""sink""#
        );
    }

    #[test]
    fn removing_a_connector_forgets_its_tasks_only() {
        let status_store = StatusStore::new("w:1");
        status_store.set(
            ConnectorOrTask::Connector("a".into()),
            Status::of(State::Running),
        );
        status_store.set(
            ConnectorOrTask::Task("a".into(), 0),
            Status::of(State::Running),
        );
        status_store.set(ConnectorOrTask::Task("a".into(), 1), Status::failed("boom"));
        status_store.set(
            ConnectorOrTask::Task("b".into(), 0),
            Status::of(State::Running),
        );
        status_store.remove_tasks_from("a", 1);
        assert!(status_store
            .get(&ConnectorOrTask::Task("a".into(), 1))
            .is_none());
        assert!(status_store
            .get(&ConnectorOrTask::Task("a".into(), 0))
            .is_some());
        status_store.remove_connector("a");
        assert!(status_store
            .get(&ConnectorOrTask::Connector("a".into()))
            .is_none());
        assert!(status_store
            .get(&ConnectorOrTask::Task("b".into(), 0))
            .is_some());
    }

    #[test]
    fn remote_statuses_never_override_this_workers_own() {
        let status_store = StatusStore::new("w:1");
        let u = ConnectorOrTask::Task("a".into(), 0);
        status_store.apply_remote(u.clone(), Status::of(State::Running), "w:2".into());
        assert_eq!(status_store.get(&u).unwrap().1, "w:2");
        status_store.apply_remote(u.clone(), Status::failed("old"), "w:1".into());
        assert_eq!(status_store.get(&u).unwrap().0, Status::of(State::Running));
        status_store.set(u.clone(), Status::of(State::Paused));
        assert_eq!(
            status_store.get(&u).unwrap(),
            (Status::of(State::Paused), "w:1".into())
        );
        status_store.forget(&u);
        assert_eq!(
            status_store.get(&u).unwrap(),
            (Status::of(State::Running), "w:2".into())
        );
    }
}
