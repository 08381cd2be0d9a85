//! The reference peer beside ours, from the Kafka 4.3.1 jars scripts/kafka.sh assembled: Java
//! MirrorMaker 2 itself (dedicated mode, `org.apache.kafka.connect.mirror.MirrorMaker`, the main
//! class of Kafka's connect-mirror-maker.sh), or a Java Connect worker (ConnectDistributed)
//! that runs MirrorMaker 2's connectors as plugins.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::kafka_node::{tail, KAFKA_SH};
use super::TempFile;

pub struct JavaPeer {
    child: Child,
    /// Holds the properties file; the JVM's logs go to `server.log` beside it.
    dir: TempFile,
}

impl JavaPeer {
    /// Starts Java MirrorMaker 2 on an mm2.properties text, with `args` after the file (such as
    /// `--clusters B`). It runs until stopped or dropped.
    pub fn mirror_maker(mm2_properties: &str, args: &[&str]) -> JavaPeer {
        JavaPeer::spawn("mirror-maker", "mm2.properties", mm2_properties, args)
    }

    /// Starts a Java Connect worker (ConnectDistributed) on a worker properties text.
    pub fn connect_distributed(worker_properties: &str) -> JavaPeer {
        JavaPeer::spawn(
            "connect-distributed",
            "worker.properties",
            worker_properties,
            &[],
        )
    }

    fn spawn(command: &str, file: &str, text: &str, args: &[&str]) -> JavaPeer {
        let dir = TempFile::new(file, text);
        let child = Command::new("bash")
            .args([KAFKA_SH, command])
            .arg(dir.dir())
            .arg(&dir.path)
            .args(args)
            // A modest heap: brokers and tests share this machine.
            .env("MM2_JAVA_HEAP", "-Xms256m -Xmx1g")
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("runs scripts/kafka.sh {command}: {e}"));
        JavaPeer { child, dir }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.dir().join("server.log")
    }

    /// The end of its log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(
            &std::fs::read_to_string(self.log_path()).unwrap_or_default(),
            lines,
        )
    }

    /// Whether the JVM still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM: the shutdown hook stops the connectors and commits their offsets.
    /// It must exit within 60 s.
    pub fn stop(mut self) {
        if self.running() {
            super::signal(self.child.id(), "-TERM");
        }
        let exited = super::wait_until(std::time::Duration::from_secs(60), || !self.running());
        assert!(
            exited,
            "the Java peer did not stop within 60 s of SIGTERM; its log ends:\n{}",
            self.log_tail(40)
        );
    }
}

impl Drop for JavaPeer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- the Java peer, last lines of its log:\n{}",
                self.log_tail(60)
            );
        }
    }
}
