//! Runs tasks on threads of their own, reports their status, and runs a failed task again from
//! its stored offsets after a backoff (1 s doubling to 60 s), so a replication flow heals
//! itself; the failure stays visible as FAILED with its trace until the task runs again. A
//! panicking task body counts as a failure like any error: its thread catches the panic, so a
//! task can never die while its status still says RUNNING.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{error, warn};

use super::connector::TaskBody;
use super::error::Error;
use super::panic;
use super::status::{Reporter, State, Status};

/// A task that ran this long before failing is restarted after the shortest backoff again.
const HEALTHY: Duration = Duration::from_secs(30);

/// A running task: its stop flag and thread.
pub struct TaskHandle {
    pub name: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TaskHandle {
    /// Starts `body` on a thread, again after each failure, until the stop flag is set. `body`
    /// receives the flag and must return soon after it is set.
    pub fn spawn(name: String, status: Option<Reporter>, mut body: TaskBody) -> TaskHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread_name = name.clone();
        let report = move |s: Status| {
            if let Some(r) = &status {
                r.set(s);
            }
        };
        let thread = std::thread::Builder::new()
            .name(name.chars().take(15).collect())
            .spawn(move || {
                let mut backoff = Duration::from_secs(1);
                loop {
                    report(Status::of(State::Running));
                    let started = Instant::now();
                    let result = run_caught(&mut body, &flag);
                    // A task that ran well for a while starts its backoff over.
                    if started.elapsed() >= HEALTHY {
                        backoff = Duration::from_secs(1);
                    }
                    match result {
                        Ok(()) => return,
                        // Failing while being stopped (a revoked task whose last commit is
                        // fenced by its new owner): not a failure of the task to report.
                        Err(e) if flag.load(Ordering::Relaxed) => {
                            warn!(task = %thread_name, "task stopped with an error: {e}");
                            return;
                        }
                        Err(e) => {
                            error!(task = %thread_name, "task failed: {e}; restarting in {backoff:?}");
                            report(Status::failed(e.to_string()));
                        }
                    }
                    let until = Instant::now() + backoff;
                    while Instant::now() < until {
                        if flag.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            })
            .expect("spawn task thread");
        TaskHandle {
            name,
            stop,
            thread: Some(thread),
        }
    }

    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops the task and waits for it to finish its shutdown (blocking).
    pub fn stop_and_join(mut self) {
        self.request_stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs one attempt of a task body, turning a panic into an error that carries its message.
/// An attempt that panicked is never resumed: the next one starts again from the stored
/// offsets, and whatever a body keeps across attempts (clients it rebuilds, counters) is
/// rebuilt or only advisory.
fn run_caught(body: &mut TaskBody, stop: &Arc<AtomicBool>) -> Result<(), Error> {
    panic::catch(|| body(stop)).unwrap_or_else(|message| Err(Error::Panicked(message)))
}

/// Stops every task at once, then waits for all of them (blocking).
pub fn stop_all(tasks: Vec<TaskHandle>) {
    for t in &tasks {
        t.request_stop();
    }
    for t in tasks {
        t.stop_and_join();
    }
}

/// Runs an async task body on a thread of its own with a single-threaded runtime, turning the
/// stop flag into the `watch` the async code waits on.
pub fn run_async<F, Fut>(stop: &Arc<AtomicBool>, body: F) -> Result<(), Error>
where
    F: FnOnce(tokio::sync::watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start a task runtime", e))?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let flag = stop.clone();
    let result = rt.block_on(async move {
        let watcher = async move {
            while !flag.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = tx.send(true);
            // A body waiting on an unreachable cluster is given up after a grace period: it
            // holds nothing that needs saving.
            tokio::time::sleep(Duration::from_secs(5)).await;
        };
        tokio::select! {
            r = body(rx) => r,
            _ = watcher => Ok(()),
        }
    });
    // A request to an unreachable cluster may still wait on a blocking thread; it holds
    // nothing to save, so do not wait for its timeout.
    rt.shutdown_background();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::status::{ConnectorOrTask, StatusStore};
    use std::sync::atomic::AtomicUsize;

    /// Waits until `cond` holds, failing the test with `what` after 10 s.
    fn wait_for(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A task whose first run ends with `fail` and whose later runs wait for the stop flag;
    /// returns its handle, its run counter and where its status is reported.
    fn failing_once(
        fail: impl Fn() -> Result<(), Error> + Send + 'static,
    ) -> (TaskHandle, Arc<AtomicUsize>, StatusStore, ConnectorOrTask) {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let status_store = StatusStore::new("w:1");
        let unit = ConnectorOrTask::Task("c".into(), 0);
        let h = TaskHandle::spawn(
            "t".into(),
            Some(status_store.reporter(unit.clone())),
            Box::new(move |stop: &Arc<AtomicBool>| {
                if r.fetch_add(1, Ordering::SeqCst) == 0 {
                    return fail();
                }
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(())
            }),
        );
        (h, runs, status_store, unit)
    }

    /// Checks the life of a task from `failing_once`: FAILED with `trace`, then RUNNING again
    /// in a second run, and no third run once stopped.
    fn reported_then_restarted(fail: fn() -> Result<(), Error>, trace: &str) {
        let (h, runs, status_store, unit) = failing_once(fail);
        let state = || status_store.get(&unit).map(|s| s.0);
        wait_for("FAILED", || state() == Some(Status::failed(trace)));
        assert_eq!(runs.load(Ordering::SeqCst), 1, "reported FAILED once run");
        wait_for("the second run", || runs.load(Ordering::SeqCst) == 2);
        wait_for("RUNNING", || state() == Some(Status::of(State::Running)));
        h.stop_and_join();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn failed_task_is_reported_and_restarted_until_stopped() {
        reported_then_restarted(|| Err(Error::Message("boom".into())), "boom");
    }

    #[test]
    fn panicking_task_is_reported_failed_with_its_message_and_restarted() {
        reported_then_restarted(
            || panic!("index {} out of range", 7),
            "task panicked: index 7 out of range",
        );
    }

    #[test]
    fn an_error_while_stopping_is_not_reported_as_a_failure() {
        let status_store = StatusStore::new("w:1");
        let unit = ConnectorOrTask::Task("c".into(), 0);
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        let h = TaskHandle::spawn(
            "t".into(),
            Some(status_store.reporter(unit.clone())),
            Box::new(move |stop: &Arc<AtomicBool>| {
                s.store(true, Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(Error::Message("fenced while committing".into()))
            }),
        );
        wait_for("the task to run", || started.load(Ordering::SeqCst));
        h.stop_and_join();
        assert_eq!(
            status_store.get(&unit).map(|s| s.0),
            Some(Status::of(State::Running))
        );
    }

    #[test]
    fn async_body_sees_the_stop_flag() {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            s.store(true, Ordering::Relaxed);
        });
        let r = run_async(&stop, |mut rx| async move {
            crate::shutdown::stopped(&mut rx).await;
            Ok(())
        });
        assert!(matches!(r, Ok(())), "{r:?}");
    }
}
