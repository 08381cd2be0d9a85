//! What the runtime needs of a connector: a long-running job that decides the task configs,
//! and a way to build each task. Plugins (FileStream, Mirror) implement [`Connector`]; the
//! herder runs them without knowing which they are.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::error::Error;
use super::status::ConnectorType;

/// A boxed future that can move between threads.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A connector or task configuration, as Connect stores it: a string map.
pub type ConfigMap = BTreeMap<String, String>;

/// The body of a task: run on its own thread until the stop flag is set. An error fails the
/// task; the worker reports it and runs the body again after a backoff.
pub type TaskBody = Box<dyn FnMut(&Arc<AtomicBool>) -> Result<(), Error> + Send>;

/// A running connector instance.
pub trait Connector: Send + Sync {
    fn kind(&self) -> ConnectorType;

    /// Runs the connector's own work (watching topics, groups, files) until `stop`, publishing
    /// each new list of task configs on `tasks`. Returning `Err` fails the connector.
    fn run(
        self: Arc<Self>,
        tasks: watch::Sender<Option<Vec<ConfigMap>>>,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'static, Result<(), Error>>;

    /// Builds task `id` from the config the connector published for it.
    fn task(&self, id: usize, config: &ConfigMap, ctx: TaskContext) -> Result<TaskBody, Error>;

    /// Fences every producer of the connector's first `tasks` tasks (Connect's zombie fencing,
    /// KIP-618), before a new generation of task configs is written, so that no task of the
    /// old generation can commit beside the new one. A no-op unless its tasks write in
    /// transactions.
    fn fence_zombies(&self, _tasks: usize) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }

    /// The connector's stored offsets (KIP-875).
    fn offsets(&self) -> BoxFuture<'static, Result<Vec<OffsetEntry>, Error>> {
        Box::pin(async { Err(Error::NotSupported("store offsets")) })
    }

    /// Writes offsets for some partitions (`None` removes one); the connector is stopped.
    fn alter_offsets(&self, _: Vec<OffsetEntry>) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async { Err(Error::NotSupported("support altering offsets")) })
    }

    /// Removes every stored offset; the connector is stopped.
    fn reset_offsets(&self) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async { Err(Error::NotSupported("support resetting offsets")) })
    }
}

/// The job of a connector whose task configs never change: publishes them, then waits to be
/// stopped.
pub fn fixed_tasks(
    configs: Vec<ConfigMap>,
    tasks: watch::Sender<Option<Vec<ConfigMap>>>,
    mut stop: watch::Receiver<bool>,
) -> BoxFuture<'static, Result<(), Error>> {
    Box::pin(async move {
        let _ = tasks.send(Some(configs));
        crate::shutdown::stopped(&mut stop).await;
        Ok(())
    })
}

/// One partition's offset in KIP-875's shape: `{"partition":{..},"offset":{..}}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OffsetEntry {
    pub partition: serde_json::Value,
    pub offset: Option<serde_json::Value>,
}

/// What the worker gives each task besides its config.
#[derive(Clone, Default)]
pub struct TaskContext {
    /// The connector's active topics (KIP-558), for `GET /connectors/{name}/topics`.
    pub topics: TopicTracker,
}

/// The topics a connector has produced to or consumed from since it was created or reset.
#[derive(Debug, Clone, Default)]
pub struct TopicTracker {
    inner: Arc<Mutex<BTreeSet<String>>>,
}

impl TopicTracker {
    pub fn record(&self, topic: &str) {
        let mut set = self.inner.lock().expect("topics lock");
        if !set.contains(topic) {
            set.insert(topic.to_string());
        }
    }

    pub fn topics(&self) -> Vec<String> {
        self.inner
            .lock()
            .expect("topics lock")
            .iter()
            .cloned()
            .collect()
    }

    pub fn reset(&self) {
        self.inner.lock().expect("topics lock").clear();
    }
}
