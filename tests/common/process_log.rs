//! The stderr of a process a test starts, collected as it comes, so that a test waits for a
//! line the process logs instead of for a fixed time.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Everything a process has logged so far, and the thread that reads it.
pub struct ProcessLog {
    text: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl ProcessLog {
    /// Reads `stderr` line by line until it closes; each line is kept and also echoed to the
    /// test's own stderr, where the harness shows it when the test fails.
    pub fn collect(stderr: impl Read + Send + 'static, label: &str) -> ProcessLog {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        let label = label.to_string();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                eprintln!("[{label}] {line}");
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        ProcessLog {
            text,
            reader: Some(reader),
        }
    }

    /// Whether the log holds every one of `parts`, not necessarily on one line.
    pub fn contains_all(&self, parts: &[&str]) -> bool {
        let text = self.text.lock().unwrap();
        parts.iter().all(|p| text.contains(p))
    }

    /// How many times `part` occurs in the log.
    pub fn count(&self, part: &str) -> usize {
        self.text.lock().unwrap().matches(part).count()
    }

    /// Waits until the log holds every one of `parts`, panicking with the log after `timeout`.
    pub fn wait_for(&self, parts: &[&str], timeout: Duration) {
        let seen = super::wait_until(timeout, || self.contains_all(parts));
        assert!(seen, "the log never showed {parts:?}:\n{}", self.text());
    }

    /// Waits until `part` occurs more than `times` times, panicking with the log after `timeout`.
    pub fn wait_for_more(&self, part: &str, times: usize, timeout: Duration) {
        let seen = super::wait_until(timeout, || self.count(part) > times);
        assert!(
            seen,
            "the log never showed {part:?} more than {times} times:\n{}",
            self.text()
        );
    }

    /// The log so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// The whole log of a process that has exited: waits for the reader to reach the end.
    pub fn finish(mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.text()
    }
}
