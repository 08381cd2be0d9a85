//! The herder against a fake connector plugin, without Kafka: a standalone herder's operations
//! and that reads never wait for a connector that is stopping.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::*;
use crate::connect::connector::{BoxFuture, TaskBody, TaskContext};
use crate::connect::error::Error;
use crate::connect::status::{ConnectorOrTask, ConnectorType, State};

/// What the test sees of its fake connectors.
#[derive(Default)]
struct Probe {
    /// Starts of a connector job.
    runs: AtomicUsize,
    /// A stubborn connector received its stop signal.
    stop_seen: AtomicBool,
    /// Lets a stubborn connector's job end.
    release: Notify,
    /// Runs of task bodies.
    body_runs: AtomicUsize,
}

struct Fake(Arc<Probe>);

impl ConnectorFactory for Fake {
    fn create(&self, _: &str, config: &ConfigMap) -> Result<Arc<dyn Connector>, Vec<String>> {
        if config.contains_key("invalid") {
            return Err(vec!["invalid: not allowed".into()]);
        }
        let tasks = config.get("tasks.max").map_or(Ok(1), |n| n.parse());
        Ok(Arc::new(FakeConnector {
            tasks: tasks.map_err(|_| vec!["tasks.max: not a number".to_string()])?,
            stubborn: config.contains_key("stubborn"),
            panics: config.contains_key("panics"),
            job_panics: config.contains_key("job.panics"),
            body_panics_once: config.contains_key("body.panics.once"),
            probe: self.0.clone(),
        }))
    }

    fn plugins(&self) -> Vec<PluginInfo> {
        Vec::new()
    }

    fn validate(&self, _: &str, _: &ConfigMap) -> Option<Validation> {
        None
    }
}

/// Publishes `tasks` task configs, then runs until stopped; a stubborn one only ends once the
/// probe releases it.
struct FakeConnector {
    tasks: usize,
    stubborn: bool,
    /// Building a task panics (a plugin bug).
    panics: bool,
    /// The connector's job panics once it has published its task configs.
    job_panics: bool,
    /// A task body panics the first time it runs.
    body_panics_once: bool,
    probe: Arc<Probe>,
}

impl Connector for FakeConnector {
    fn kind(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn run(
        self: Arc<Self>,
        tasks: watch::Sender<Option<Vec<ConfigMap>>>,
        mut stop: watch::Receiver<bool>,
    ) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async move {
            self.probe.runs.fetch_add(1, Ordering::SeqCst);
            let configs = (0..self.tasks)
                .map(|i| ConfigMap::from([("task".to_string(), i.to_string())]))
                .collect();
            let _ = tasks.send(Some(configs));
            assert!(!self.job_panics, "connector bug");
            crate::shutdown::stopped(&mut stop).await;
            if self.stubborn {
                self.probe.stop_seen.store(true, Ordering::SeqCst);
                self.probe.release.notified().await;
            }
            Ok(())
        })
    }

    fn task(&self, _: usize, _: &ConfigMap, _: TaskContext) -> Result<TaskBody, Error> {
        assert!(!self.panics, "a plugin bug");
        let (probe, panics_once) = (self.probe.clone(), self.body_panics_once);
        Ok(Box::new(move |stop: &Arc<AtomicBool>| {
            let first = probe.body_runs.fetch_add(1, Ordering::SeqCst) == 0;
            assert!(!(panics_once && first), "body bug");
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        }))
    }
}

fn herder() -> (Herder, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let herder = Herder::new("w:1".into(), Arc::new(Fake(probe.clone())));
    (herder, probe)
}

fn config(pairs: &[(&str, &str)]) -> ConfigMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The connector's state and its tasks' states.
async fn states(herder: &Herder, name: &str) -> (State, Vec<State>) {
    states_of(&herder.status(name).await.expect("status"))
}

fn states_of(s: &ConnectorStateInfo) -> (State, Vec<State>) {
    (s.connector.state, s.tasks.iter().map(|t| t.state).collect())
}

/// Waits (up to 5 s) until connector `name` shows `want`, failing with what it shows.
async fn wait_for_states(herder: &Herder, name: &str, want: (State, Vec<State>)) {
    wait_until_status(herder, name, |s| states_of(s) == want).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_connector_runs_its_published_tasks() {
    let (herder, probe) = herder();
    let info = herder
        .create("c", config(&[("tasks.max", "2")]), None)
        .await
        .unwrap();
    assert_eq!(info.name, "c");
    assert_eq!(info.config["name"], "c", "the name is part of the config");
    let running = (State::Running, vec![State::Running, State::Running]);
    wait_for_states(&herder, "c", running).await;
    assert_eq!(herder.tasks("c").await.unwrap().len(), 2);
    assert_eq!(herder.connectors().await, vec!["c".to_string()]);
    assert_eq!(probe.runs.load(Ordering::SeqCst), 1);
    herder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_stop_set_the_target_state() {
    let (herder, _) = herder();
    herder
        .create("c", config(&[("tasks.max", "2")]), None)
        .await
        .unwrap();
    let running = (State::Running, vec![State::Running, State::Running]);
    wait_for_states(&herder, "c", running.clone()).await;
    herder.pause("c").await.unwrap();
    let paused = (State::Paused, vec![State::Paused, State::Paused]);
    assert_eq!(
        states(&herder, "c").await,
        paused,
        "paused once pause returns"
    );
    herder.resume("c").await.unwrap();
    wait_for_states(&herder, "c", running).await;
    herder.set_target_stopped("c").await.unwrap();
    assert_eq!(states(&herder, "c").await, (State::Stopped, vec![]));
    assert!(herder.info("c").await.unwrap().tasks.is_empty());
    let unknown = herder.pause("nope").await;
    assert!(
        matches!(&unknown, Err(HerderError::NotFound(n)) if n == "nope"),
        "{unknown:?}"
    );
    herder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_starts_in_its_initial_state() {
    let (herder, probe) = herder();
    herder
        .create("c", config(&[]), Some(TargetState::Stopped))
        .await
        .unwrap();
    assert_eq!(states(&herder, "c").await, (State::Stopped, vec![]));
    assert_eq!(probe.runs.load(Ordering::SeqCst), 0, "never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_runs_the_connector_again() {
    let (herder, probe) = herder();
    herder.create("c", config(&[]), None).await.unwrap();
    wait_for_states(&herder, "c", (State::Running, vec![State::Running])).await;
    let after = herder.restart("c", true, false).await.unwrap();
    assert_eq!(after.connector.state, State::Running);
    assert_eq!(probe.runs.load(Ordering::SeqCst), 2);
    herder.restart_task("c", 0).await.unwrap();
    let unknown = herder.restart_task("c", 1).await;
    assert!(
        matches!(&unknown, Err(HerderError::TaskNotFound(n, 1)) if n == "c"),
        "{unknown:?}"
    );
    // Only failed units: nothing failed, so nothing restarts.
    herder.restart("c", true, true).await.unwrap();
    assert_eq!(probe.runs.load(Ordering::SeqCst), 2);
    herder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_stops_and_forgets_the_connector() {
    let (herder, _) = herder();
    herder.create("c", config(&[]), None).await.unwrap();
    wait_for_states(&herder, "c", (State::Running, vec![State::Running])).await;
    herder.delete("c").await.unwrap();
    assert!(herder.connectors().await.is_empty());
    let gone = |r: Result<(), HerderError>| matches!(r, Err(HerderError::NotFound(n)) if n == "c");
    assert!(gone(herder.info("c").await.map(|_| ())));
    assert!(gone(herder.delete("c").await));
    assert!(herder
        .status_store()
        .get(&ConnectorOrTask::Task("c".into(), 0))
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_checked() {
    let (herder, _) = herder();
    herder.create("c", config(&[]), None).await.unwrap();
    let again = herder.create("c", config(&[]), None).await;
    assert!(matches!(again, Err(HerderError::AlreadyExists(n)) if n == "c"));
    let invalid = herder.create("d", config(&[("invalid", "")]), None).await;
    assert!(matches!(invalid, Err(HerderError::BadRequest(m)) if m.contains("1 error(s)")));
    let unnamed = herder.create(" ", config(&[]), None).await;
    assert!(matches!(unnamed, Err(HerderError::BadRequest(_))));
    // Offsets change only once the connector is stopped.
    let running = herder.alter_offsets("c", None).await;
    assert!(matches!(running, Err(HerderError::BadRequest(m)) if m.contains("STOPPED")));
    // Stopped, the connector's own answer comes back typed: this one keeps no offsets.
    herder.set_target_stopped("c").await.unwrap();
    let unsupported = herder.alter_offsets("c", None).await;
    assert!(
        matches!(
            &unsupported,
            Err(HerderError::Connect(e @ Error::NotSupported(_))) if e.is_bad_request()
        ),
        "{unsupported:?}"
    );
    herder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_herder_still_installs_its_own_connectors() {
    let (herder, _) = herder();
    let herder = herder.read_only("fixed by the properties file");
    let refused = herder.put_config("c", config(&[])).await;
    assert!(matches!(
        refused,
        Err(HerderError::BadRequest(m)) if m == "fixed by the properties file"
    ));
    let (_, created) = herder.install("c", config(&[])).await.unwrap();
    assert!(created);
    let (_, created) = herder
        .install("c", config(&[("tasks.max", "2")]))
        .await
        .unwrap();
    assert!(!created, "replaced");
    let two = (State::Running, vec![State::Running, State::Running]);
    wait_for_states(&herder, "c", two).await;
    herder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_read_returns_while_a_connector_stop_is_in_progress() {
    let (herder, probe) = herder();
    herder
        .create("c", config(&[("stubborn", "")]), None)
        .await
        .unwrap();
    wait_for_states(&herder, "c", (State::Running, vec![State::Running])).await;
    let pausing = tokio::spawn({
        let herder = herder.clone();
        async move { herder.pause("c").await }
    });
    while !probe.stop_seen.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The connector is stopping and will not finish until released: reads still answer.
    let read = async {
        let status = herder.status("c").await.unwrap();
        let info = herder.info("c").await.unwrap();
        (status, info, herder.connectors().await)
    };
    let (status, info, names) = tokio::time::timeout(Duration::from_secs(1), read)
        .await
        .expect("reads do not wait for the stop");
    assert_eq!(status.name, "c");
    assert_eq!(info.tasks.len(), 1);
    assert_eq!(names, vec!["c".to_string()]);
    assert!(!pausing.is_finished(), "the stop is still in progress");
    probe.release.notify_one();
    pausing.await.unwrap().unwrap();
    assert_eq!(
        states(&herder, "c").await,
        (State::Paused, vec![State::Paused])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_panics_while_built_fails_alone() {
    let (herder, _) = herder();
    herder
        .create("p", config(&[("panics", "")]), None)
        .await
        .unwrap();
    wait_for_states(&herder, "p", (State::Running, vec![State::Failed])).await;
    let trace = herder.task_status("p", 0).await.unwrap().trace;
    assert_eq!(trace.as_deref(), Some("a plugin bug"));
    herder.create("c", config(&[]), None).await.unwrap();
    wait_for_states(&herder, "c", (State::Running, vec![State::Running])).await;
    herder.pause("c").await.unwrap();
    assert_eq!(
        states(&herder, "c").await,
        (State::Paused, vec![State::Paused])
    );
    assert_eq!(
        herder.connectors().await,
        vec!["c".to_string(), "p".to_string()]
    );
    herder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_whose_job_panics_is_failed_with_the_panic() {
    let (herder, _) = herder();
    herder
        .create("j", config(&[("job.panics", "")]), None)
        .await
        .unwrap();
    let s = wait_until_status(&herder, "j", |s| s.connector.state == State::Failed).await;
    assert_eq!(
        s.connector.trace.as_deref(),
        Some("connector panicked: connector bug")
    );
    herder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_panics_is_failed_then_running_again() {
    let (herder, probe) = herder();
    herder
        .create("t", config(&[("body.panics.once", "")]), None)
        .await
        .unwrap();
    let s = wait_until_status(&herder, "t", |s| {
        s.tasks.first().is_some_and(|t| t.state == State::Failed)
    })
    .await;
    assert_eq!(s.tasks[0].trace.as_deref(), Some("task panicked: body bug"));
    // Restarted after the first backoff (1 s), as a task failing with an error is.
    wait_for_states(&herder, "t", (State::Running, vec![State::Running])).await;
    wait_until_status(&herder, "t", |_| {
        probe.body_runs.load(Ordering::SeqCst) == 2
    })
    .await;
    herder.shutdown().await;
}

/// Waits (up to 5 s) until the status of `name` satisfies `cond`, and returns it.
async fn wait_until_status(
    herder: &Herder,
    name: &str,
    cond: impl Fn(&ConnectorStateInfo) -> bool,
) -> ConnectorStateInfo {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let s = herder.status(name).await.expect("status");
        if cond(&s) {
            return s;
        }
        assert!(tokio::time::Instant::now() < deadline, "{name} stays {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_is_acknowledged_once_applied() {
    let (herder, _) = herder();
    herder
        .create("c", config(&[("tasks.max", "2")]), None)
        .await
        .unwrap();
    let running = (State::Running, vec![State::Running, State::Running]);
    wait_for_states(&herder, "c", running.clone()).await;
    let (_updates_tx, updates) = mpsc::unbounded_channel();
    let (owned_tx, owned) = watch::channel(crate::connect::membership::GroupAssignment::all());
    let (acks_tx, acks) = std::sync::mpsc::channel();
    let (stop_tx, stop) = watch::channel(false);
    let following = tokio::spawn({
        let herder = herder.clone();
        async move { herder.follow(updates, owned, acks_tx, stop).await }
    });
    // A revocation: everything stops here before the acknowledgement.
    owned_tx.send_replace(crate::connect::membership::GroupAssignment {
        generation: 1,
        partitions: None,
        tokens: 1,
    });
    let ack = tokio::task::spawn_blocking(move || {
        let ack = acks.recv_timeout(Duration::from_secs(5));
        (ack, acks)
    });
    let (ack, acks) = ack.await.unwrap();
    assert_eq!(ack, Ok(1));
    let unassigned = (
        State::Unassigned,
        vec![State::Unassigned, State::Unassigned],
    );
    assert_eq!(states(&herder, "c").await, unassigned);
    // Assigned again: it runs again.
    owned_tx.send_replace(crate::connect::membership::GroupAssignment {
        generation: 2,
        ..crate::connect::membership::GroupAssignment::all()
    });
    let ack = tokio::task::spawn_blocking(move || acks.recv_timeout(Duration::from_secs(5)));
    assert_eq!(ack.await.unwrap(), Ok(2));
    wait_for_states(&herder, "c", running).await;
    stop_tx.send_replace(true);
    following.await.unwrap();
    herder.shutdown().await;
}
