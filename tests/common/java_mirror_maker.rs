//! Java MirrorMaker 2 itself (dedicated mode, `org.apache.kafka.connect.mirror.MirrorMaker`, the
//! main class of Kafka's connect-mirror-maker.sh), from the Kafka 4.3.1 jars scripts/kafka.sh
//! assembled, run as the reference peer beside ours.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::kafka_node::{tail, KAFKA_SH};
use super::TempFile;

pub struct JavaMirrorMaker {
    child: Child,
    /// Holds mm2.properties; the JVM's logs go to `server.log` beside it.
    dir: TempFile,
}

impl JavaMirrorMaker {
    /// Starts Java MirrorMaker 2 on an mm2.properties text, with `args` after the file (such as
    /// `--clusters B`). It runs until stopped or dropped.
    pub fn start(mm2_properties: &str, args: &[&str]) -> JavaMirrorMaker {
        let dir = TempFile::new("mm2.properties", mm2_properties);
        let child = Command::new("bash")
            .args([KAFKA_SH, "mirror-maker"])
            .arg(dir.dir())
            .arg(&dir.path)
            .args(args)
            // A modest heap: brokers and tests share this machine.
            .env("MM2_JAVA_HEAP", "-Xms256m -Xmx1g")
            .stdin(Stdio::null())
            .spawn()
            .expect("runs scripts/kafka.sh mirror-maker");
        JavaMirrorMaker { child, dir }
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

    /// SIGTERM: MirrorMaker's shutdown hook stops its connectors and commits their offsets.
    /// It must exit within 60 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let exited = super::wait_until(std::time::Duration::from_secs(60), || !self.running());
        assert!(
            exited,
            "Java MirrorMaker 2 did not stop within 60 s of SIGTERM; its log ends:\n{}",
            self.log_tail(40)
        );
    }
}

impl Drop for JavaMirrorMaker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- Java MirrorMaker 2, last lines of its log:\n{}",
                self.log_tail(60)
            );
        }
    }
}
