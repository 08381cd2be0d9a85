//! Kafka nodes of a test's own, for tests that kill, restart or freeze a broker: single-node
//! KRaft clusters of real Apache Kafka, prepared by `scripts/kafka.sh prepare` (ports, config,
//! format) and run by `scripts/kafka.sh run`, which becomes the node's JVM, so the child here is
//! the broker itself. The data directory outlives the process: a node killed and spawned again
//! keeps its topics, offsets, transactions and ports.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{unique, wait_until};

/// The harness script, in this checkout.
pub const KAFKA_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kafka.sh");

/// The Kafka version of the shared clusters and of `KafkaNode::start`.
pub const KAFKA_VERSION: &str = "4.3.1";

/// What `KafkaNode` waits for in its log after a start (KafkaBroker's started message).
const STARTED: &str = "Kafka Server started";

pub struct KafkaNode {
    dir: PathBuf,
    bootstrap: String,
    child: Option<Child>,
}

impl KafkaNode {
    /// A Kafka 4.3.1 node with a PLAINTEXT listener.
    pub fn start(name: &str) -> KafkaNode {
        KafkaNode::start_version(name, KAFKA_VERSION)
    }

    /// A node of another Kafka version (one `scripts/kafka/pom-VERSION.xml` describes).
    pub fn start_version(name: &str, version: &str) -> KafkaNode {
        let run = std::env::var("TEST_KAFKA_RUN").expect(
            "TEST_KAFKA_RUN is not set: run the tests with scripts/test.sh, which assembles Kafka",
        );
        let dir = Path::new(&run).join("own").join(unique(name));
        let out = Command::new("bash")
            .args([KAFKA_SH, "prepare"])
            .arg(&dir)
            .arg(version)
            .output()
            .expect("runs scripts/kafka.sh prepare");
        assert!(
            out.status.success(),
            "scripts/kafka.sh prepare {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let bootstrap = std::fs::read_to_string(dir.join("bootstrap"))
            .expect("prepared node's bootstrap")
            .trim()
            .to_string();
        let mut node = KafkaNode {
            dir,
            bootstrap,
            child: None,
        };
        node.spawn();
        node
    }

    pub fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/server.log")).unwrap_or_default()
    }

    /// Starts the node (again) and waits until it has started: its listeners are open and it
    /// serves requests.
    pub fn spawn(&mut self) {
        assert!(
            self.child.is_none(),
            "node {} already runs",
            self.dir.display()
        );
        let started_before = self.server_log().matches(STARTED).count();
        let child = Command::new("bash")
            .args([KAFKA_SH, "run"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .spawn()
            .expect("runs scripts/kafka.sh run");
        // Written for scripts/test.sh, which kills what a killed test process leaves behind.
        std::fs::write(self.dir.join("pid"), child.id().to_string()).unwrap();
        self.child = Some(child);
        let started = wait_until(Duration::from_secs(90), || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "Kafka node {} exited with {status}; its log ends:\n{}",
                    self.dir.display(),
                    tail(&self.server_log(), 30)
                );
            }
            self.server_log().matches(STARTED).count() > started_before
        });
        assert!(
            started,
            "Kafka node {} did not start in 90 s; its log ends:\n{}",
            self.dir.display(),
            tail(&self.server_log(), 30)
        );
    }

    /// SIGKILL: the broker dies at once, as in a crash; its data stays.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            super::signal(c.id(), sig);
        }
    }

    /// Freezes the broker: connections stay open and nothing is answered, as in a network
    /// partition.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }
}

impl Drop for KafkaNode {
    fn drop(&mut self) {
        self.resume();
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
