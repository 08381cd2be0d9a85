//! Shared test support: the Kafka clusters started by scripts/test.sh, nodes of a test's own,
//! Java MirrorMaker 2, unique names so tests run in parallel, temporary files and polling, curl
//! and a throwaway PKI for the REST API's TLS.
//! The helpers of each kind live in a module of their own, all re-exported here so that a test
//! takes them with `use common::*;`.
#![allow(dead_code)] // each test target uses a different part of this module

pub mod curl;
pub mod http;
pub mod java_peer;
pub mod kafka;
pub mod kafka_node;
pub mod mirror;
pub mod pki;
pub mod process;
pub mod process_log;
pub mod read;
pub mod rest;

#[allow(unused_imports)]
pub use curl::*;
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use java_peer::JavaPeer;
#[allow(unused_imports)]
pub use kafka::*;
#[allow(unused_imports)]
pub use kafka_node::KafkaNode;
#[allow(unused_imports)]
pub use mirror::*;
#[allow(unused_imports)]
pub use pki::Pki;
#[allow(unused_imports)]
pub use process::*;
#[allow(unused_imports)]
pub use process_log::ProcessLog;
#[allow(unused_imports)]
pub use read::*;
#[allow(unused_imports)]
pub use rest::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The source cluster's PLAINTEXT bootstrap address (cluster A of scripts/test.sh).
pub fn source_bootstrap() -> String {
    env_var("TEST_SOURCE_BOOTSTRAP")
}

/// The target cluster's PLAINTEXT bootstrap address (cluster B of scripts/test.sh).
pub fn target_bootstrap() -> String {
    env_var("TEST_TARGET_BOOTSTRAP")
}

/// A third cluster (C of scripts/test.sh), for aggregation.
pub fn third_bootstrap() -> String {
    env_var("TEST_THIRD_BOOTSTRAP")
}

/// The variable whose absence means the Kafka clusters of scripts/test.sh are not configured.
const BROKERS_VAR: &str = "TEST_SOURCE_BOOTSTRAP";

/// Set by scripts/test.sh when the clusters run, so that a test can never skip there.
const REQUIRE_VAR: &str = "TEST_REQUIRE_BROKERS";

/// Whether the calling test must skip because no Kafka clusters are configured: then it says so
/// on stderr, naming the test and how to run it. Where the clusters are required (scripts/test.sh
/// sets TEST_REQUIRE_BROKERS), a missing cluster fails the test instead of skipping it.
pub fn brokers_missing() -> bool {
    if std::env::var_os(BROKERS_VAR).is_some() {
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(sweep_remote_heartbeats);
        return false;
    }
    skip_unless_required(
        &format!("{BROKERS_VAR} is not set"),
        "the Kafka clusters",
        &format!(
            "it needs Kafka clusters and {BROKERS_VAR} is not set \
             (scripts/test.sh starts them and runs every test)"
        ),
    );
    true
}

/// Deletes the remote heartbeats topics (`X.heartbeats`, `X.Y.heartbeats`, ...) of the shared
/// clusters, once per test binary, before its first test (cargo runs test binaries one after
/// the other, and every test of a binary waits here).
///
/// MirrorMaker 2 replicates every heartbeats topic whatever the topic filter (Java's rule), and
/// each test flows under aliases of its own, so the cycle check never stops them: a flow A->B
/// copies each of A's heartbeats topics to B under its alias, a flow B->A then copies all of
/// those back, and so on. Over the suite their number grows geometrically (2,700 on one
/// cluster), until a broker of 512 MiB runs out of heap. No test reads another's.
fn sweep_remote_heartbeats() {
    let clusters: Vec<String> = [source_bootstrap(), target_bootstrap()]
        .into_iter()
        .chain(std::env::var("TEST_THIRD_BOOTSTRAP").ok())
        .collect();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            for bootstrap in &clusters {
                let remote: Vec<String> = kafka::topics(bootstrap)
                    .into_keys()
                    .filter(|t| t.ends_with(".heartbeats"))
                    .collect();
                for chunk in remote.chunks(500) {
                    let names: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    let deleted = kafka::admin(bootstrap)
                        .delete_topics(&names, &rdkafka::admin::AdminOptions::new())
                        .await;
                    if let Err(e) = deleted {
                        eprintln!("deleting remote heartbeats topics on {bootstrap}: {e}");
                    }
                }
            }
        });
    })
    .join()
    .expect("sweep thread");
}

/// Says on stderr that the calling test is skipped, and `why`; or, where scripts/test.sh
/// requires everything it sets up (TEST_REQUIRE_BROKERS), fails the test because `absent`.
pub fn skip_unless_required(absent: &str, required: &str, why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    assert!(
        std::env::var_os(REQUIRE_VAR).is_none(),
        "{test}: {absent}, but {REQUIRE_VAR} requires {required}"
    );
    // Written to stderr directly: the test harness captures `eprintln!` of passing tests, and
    // a skip must be seen.
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
}

/// Returns from the calling test when no Kafka clusters are configured (see `brokers_missing`).
/// The first line of every test that needs a broker, so plain `cargo test` runs the broker-free
/// tier and reports the rest as skipped.
#[allow(unused_macros)] // test targets that need no broker do not use it
macro_rules! require_brokers {
    () => {
        if $crate::common::brokers_missing() {
            return;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use require_brokers;

/// A variable scripts/test.sh sets.
pub fn env_var(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the tests with scripts/test.sh, which starts the Kafka clusters"
        )
    })
}

/// A name no other test uses: `prefix-<random>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

/// A file in a fresh temporary directory, removed when dropped.
pub struct TempFile {
    pub path: PathBuf,
    dir: PathBuf,
}

impl TempFile {
    pub fn new(name: &str, contents: &str) -> TempFile {
        let dir = std::env::temp_dir().join(unique("mm2-test"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        TempFile { path, dir }
    }

    /// The temporary directory holding the file.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `cond` until it holds or `timeout` passes; whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// Polls `cond` until it holds, panicking after `timeout`.
pub fn wait_for(timeout: Duration, cond: impl FnMut() -> bool) {
    assert!(
        wait_until(timeout, cond),
        "condition not met within {timeout:?}"
    );
}

/// A free port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Appends `lines` to the file at `path`, creating it if need be: the input of a file source.
pub fn append<S: AsRef<str>>(path: &Path, lines: impl IntoIterator<Item = S>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{}", l.as_ref()).unwrap();
    }
}
