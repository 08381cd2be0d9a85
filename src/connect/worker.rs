//! Runs source tasks on threads of their own and restarts a failed task from its stored offsets
//! after a backoff, as Connect's worker does with a task that the operator restarts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::error;

/// A running task: its stop flag and thread.
pub struct TaskHandle {
    pub name: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TaskHandle {
    /// Starts `body` on a thread, again and again after failures (1 s, doubling to 60 s), until
    /// the stop flag is set. `body` receives the flag and must return soon after it is set.
    pub fn spawn<E, F>(name: String, body: F) -> TaskHandle
    where
        E: std::fmt::Display,
        F: Fn(Arc<AtomicBool>) -> Result<(), E> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread_name = name.clone();
        let thread = std::thread::Builder::new()
            .name(name.chars().take(15).collect())
            .spawn(move || {
                let mut backoff = Duration::from_secs(1);
                loop {
                    match body(flag.clone()) {
                        Ok(()) => return,
                        Err(e) => error!(task = %thread_name, "task failed: {e}; restarting in {backoff:?}"),
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

/// Stops every task at once, then waits for all of them (blocking).
pub fn stop_all(tasks: Vec<TaskHandle>) {
    for t in &tasks {
        t.request_stop();
    }
    for t in tasks {
        t.stop_and_join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn failed_task_is_restarted_until_stopped() {
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let h = TaskHandle::spawn("t".into(), move |stop: Arc<AtomicBool>| {
            if r.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err("boom");
            }
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(())
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while runs.load(Ordering::SeqCst) < 2 {
            assert!(Instant::now() < deadline, "not restarted");
            std::thread::sleep(Duration::from_millis(20));
        }
        h.stop_and_join();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
