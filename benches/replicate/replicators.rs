//! The replicators compared, each started as its own process on one flow: the bare librdkafka
//! copy loop (this benchmark's `--floor` mode), Java MirrorMaker 2 (dedicated mode, with
//! Java's defaults or tuned), and connect-mirror-maker, the latter two on the same
//! mm2.properties.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Replicator {
    Floor,
    JavaDefaults,
    JavaTuned,
    Ours,
    /// connect-mirror-maker with `copy.batches.enabled = true`.
    OursBatches,
}

impl Replicator {
    pub fn label(self) -> &'static str {
        match self {
            Replicator::Floor => "bare librdkafka copy loop",
            Replicator::JavaDefaults => "Java MirrorMaker 2, defaults",
            Replicator::JavaTuned => "Java MirrorMaker 2, tuned",
            Replicator::Ours => "connect-mirror-maker",
            Replicator::OursBatches => "connect-mirror-maker, batch path",
        }
    }

    /// Whether this is connect-mirror-maker, on either path.
    pub fn is_ours(self) -> bool {
        matches!(self, Replicator::Ours | Replicator::OursBatches)
    }
}

/// One flow from the source to the target, copying one topic.
pub struct FlowSpec<'a> {
    pub source: &'a str,
    pub target: String,
    /// Cluster aliases of this run: distinct per run, so each writes its own remote topic and
    /// internal topics.
    pub source_alias: String,
    pub target_alias: String,
    pub topic: &'a str,
    pub partitions: i32,
    pub tasks_max: u32,
    /// The target producer's `compression.type`.
    pub compression: &'static str,
    /// Consumer groups to checkpoint and sync to the target (a `groups` regex), or none:
    /// replication only.
    pub groups: Option<String>,
    /// Extra mm2.properties lines.
    pub extra: String,
}

impl FlowSpec<'_> {
    pub fn remote_topic(&self) -> String {
        format!("{}.{}", self.source_alias, self.topic)
    }

    /// The mm2.properties both MirrorMaker 2s run: replication only (no heartbeats; checkpoints
    /// and group sync only for [`FlowSpec::groups`]), single-replica internal topics for
    /// one-node clusters.
    pub fn mm2_properties(&self, tuned_java: bool) -> String {
        let (s, t) = (&self.source_alias, &self.target_alias);
        let groups = self.groups.is_some();
        let mut text = format!(
            "clusters = {s}, {t}\n{s}.bootstrap.servers = {}\n{t}.bootstrap.servers = {}\n\
             {s}->{t}.enabled = true\n{s}->{t}.topics = {}\n\
             emit.heartbeats.enabled = false\nemit.checkpoints.enabled = {groups}\n\
             sync.group.offsets.enabled = {groups}\nsync.topic.acls.enabled = false\n\
             replication.factor = 1\noffset-syncs.topic.replication.factor = 1\n\
             heartbeats.topic.replication.factor = 1\ncheckpoints.topic.replication.factor = 1\n\
             offset.storage.replication.factor = 1\nconfig.storage.replication.factor = 1\n\
             status.storage.replication.factor = 1\ntasks.max = {}\n\
             {t}.producer.compression.type = {}\n",
            self.source, self.target, self.topic, self.tasks_max, self.compression
        );
        if let Some(groups) = &self.groups {
            text.push_str(&format!("{s}->{t}.groups = {groups}\n"));
        }
        if tuned_java {
            // What a Java user tunes first: larger batches, sent less often.
            text.push_str(&format!(
                "{t}.producer.batch.size = 524288\n{t}.producer.linger.ms = 25\n"
            ));
        }
        text.push_str(&self.extra);
        text
    }
}

/// A replicator's process; killed when dropped (runs use distinct aliases, so nothing is left
/// for a clean stop to save).
pub struct Running {
    pub child: Child,
    dir: PathBuf,
    /// `perf record` attached to connect-mirror-maker, when BENCH_PROFILE names a folder.
    perf: Option<Child>,
    /// `heaptrack` attached to connect-mirror-maker, when BENCH_HEAPTRACK names a folder.
    heaptrack: Option<Child>,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(perf) = &mut self.perf {
            // SIGINT: perf writes its file and exits.
            let _ = Command::new("kill")
                .args(["-INT", &perf.id().to_string()])
                .status();
            let _ = perf.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(heaptrack) = &mut self.heaptrack {
            // It writes its file once the process it watches is gone.
            let _ = heaptrack.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mm2-bench-{:x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `who` on `flow`.
pub fn start(who: Replicator, flow: &FlowSpec) -> Running {
    let dir = run_dir();
    let child = match who {
        Replicator::Floor => Command::new(std::env::current_exe().unwrap())
            .args(["--bench", "--floor", flow.source, &flow.target, flow.topic])
            .arg(flow.remote_topic())
            .arg(flow.partitions.to_string())
            .arg(flow.compression)
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the copy loop"),
        Replicator::JavaDefaults | Replicator::JavaTuned => {
            let path = write(&dir, &flow.mm2_properties(who == Replicator::JavaTuned));
            java(&dir, &path)
        }
        Replicator::Ours | Replicator::OursBatches => {
            let mut text = flow.mm2_properties(false);
            if who == Replicator::OursBatches {
                text.push_str("copy.batches.enabled = true\n");
            }
            text.push_str(&format!("listeners = http://127.0.0.1:{}\n", free_port()));
            // BENCH_OURS_EXTRA: more lines for ours, `{s}` and `{t}` standing for the aliases.
            if let Ok(extra) = std::env::var("BENCH_OURS_EXTRA") {
                let extra = extra
                    .replace("{s}", &flow.source_alias)
                    .replace("{t}", &flow.target_alias);
                text.push_str(&extra.replace("\\n", "\n"));
                text.push('\n');
            }
            let path = write(&dir, &text);
            Command::new(env!("CARGO_BIN_EXE_connect-mirror-maker"))
                .arg(&path)
                // BENCH_OURS_LOG: its log filter (warn by default), e.g. info.
                .env(
                    "RUST_LOG",
                    std::env::var("BENCH_OURS_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn connect-mirror-maker")
        }
    };
    let perf = match (who, std::env::var("BENCH_PROFILE")) {
        (w, Ok(folder)) if w.is_ours() => Some(profile(child.id(), &folder, &flow.source_alias)),
        _ => None,
    };
    let heaptrack = match (who, std::env::var("BENCH_HEAPTRACK")) {
        (w, Ok(folder)) if w.is_ours() => Some(heaptrack(child.id(), &folder, &flow.source_alias)),
        _ => None,
    };
    Running {
        child,
        dir,
        perf,
        heaptrack,
    }
}

/// `heaptrack` attached to `pid` (through gdb, so from just after its start), into
/// FOLDER/heaptrack-ALIAS.*: what holds memory, by call stack (`heaptrack_print`).
fn heaptrack(pid: u32, folder: &str, alias: &str) -> Child {
    std::fs::create_dir_all(folder).unwrap();
    Command::new("heaptrack")
        .arg("-o")
        .arg(Path::new(folder).join(format!("heaptrack-{alias}")))
        .arg("-p")
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn heaptrack")
}

/// `perf record` with call graphs on `pid`, into FOLDER/perf-ALIAS.data.
fn profile(pid: u32, folder: &str, alias: &str) -> Child {
    std::fs::create_dir_all(folder).unwrap();
    Command::new("perf")
        .args([
            "record",
            "-e",
            "cpu-clock",
            "-F",
            "199",
            "--call-graph",
            "dwarf,16384",
            "-p",
        ])
        .arg(pid.to_string())
        .arg("-o")
        .arg(Path::new(folder).join(format!("perf-{alias}.data")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn perf record")
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("mm2.properties");
    std::fs::write(&path, text).unwrap();
    path
}

/// Java MirrorMaker 2 through scripts/kafka.sh, which execs the JVM (so the child's pid is the
/// JVM's) with the heap Kafka's connect-mirror-maker.sh sets, -Xms256m -Xmx2g.
fn java(dir: &Path, properties: &Path) -> Child {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kafka.sh");
    Command::new("bash")
        .arg(script)
        .arg("mirror-maker")
        .arg(dir)
        .arg(properties)
        .env("MM2_JAVA_HEAP", "-Xms256m -Xmx2g")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn Java MirrorMaker 2")
}
