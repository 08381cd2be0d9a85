//! MirrorMaker 2 side by side: connect-mirror-maker, Java MirrorMaker 2 (with Java's defaults and
//! tuned) and a bare librdkafka copy loop, one after the other on the same backlog, the same
//! brokers and the same machine, in one run. scripts/bench.sh starts the brokers and runs it.
//!
//! Parts (BENCH_PARTS, comma-separated, default all):
//! - `throughput`: for each workload ([`workloads`]), the brokers' own produce and fetch rates,
//!   then each replicator on the backlog: records/s, MB/s, CPU seconds per GB, MB/s per core,
//!   peak RSS, and ours against Java and against the copy loop.
//! - `latency`: p50/p99/max from append on the source to receipt from the target, at 10 MB/s
//!   and at half each MirrorMaker 2's measured maximum.
//! - `far`: the source behind a 50 ms-each-way link (BENCH_FAR_BOOTSTRAP, see
//!   scripts/far-link.py), one partition and 16.
//! - `memory`: connect-mirror-maker's peak RSS with tasks.max=4 and default settings on a large
//!   backlog, with the target stopped (SIGSTOP on BENCH_TARGET_PID) for 60 s mid-way.
//! - `scale`: thousands of small topics and a thousand groups, with checkpoints and group offset
//!   sync, Java MirrorMaker 2 (defaults) then ours: the seconds from process start until every
//!   remote topic exists, every record is copied and every group is synced, the time to take up
//!   a new topic and a new group, peak RSS and CPU. Sized by BENCH_SCALE_TOPICS,
//!   BENCH_SCALE_PARTITIONS, BENCH_SCALE_RECORDS, BENCH_SCALE_GROUPS; each phase is given
//!   BENCH_SCALE_LIMIT seconds (scale.rs says more).
//!
//! BENCH_SCALE multiplies every backlog (default 1); BENCH_WORKLOADS keeps the workloads whose
//! name contains it, BENCH_REPLICATORS the replicators whose label contains it; BENCH_PROFILE=DIR records connect-mirror-maker under `perf record` there, BENCH_HEAPTRACK=DIR
//! its allocations under `heaptrack` (attached through gdb).

mod data;
mod far;
mod floor;
mod latency;
mod memory;
mod probe;
mod replicators;
mod report;
mod scale;

use std::time::{Duration, Instant};

use data::{create_topic, delete_topics_containing, Backlog};
use probe::{watch, Observed, TopicCount};
use replicators::{start, FlowSpec, Replicator};
use report::{Row, Table};

const TASKS_MAX: u32 = 4;
const ALL: [Replicator; 5] = [
    Replicator::Floor,
    Replicator::JavaDefaults,
    Replicator::JavaTuned,
    Replicator::Ours,
    Replicator::OursBatches,
];

struct Bench {
    source: String,
    target: String,
    scale: f64,
    /// Numbers the runs, so that each has its own cluster aliases.
    runs: u32,
}

struct Workload {
    name: &'static str,
    backlog: Backlog,
}

fn workloads(scale: f64) -> Vec<Workload> {
    // (name, MB at scale 1, record size, partitions, compression)
    const TABLE: [(&str, f64, usize, i32, &str); 8] = [
        ("1 KiB JSON, uncompressed", 512.0, 1024, 8, "none"),
        ("1 KiB JSON, one partition", 256.0, 1024, 1, "none"),
        ("1 KiB JSON, lz4", 512.0, 1024, 8, "lz4"),
        ("1 KiB JSON, zstd", 512.0, 1024, 8, "zstd"),
        ("100 B records", 128.0, 100, 8, "none"),
        ("100 B records, lz4", 128.0, 100, 8, "lz4"),
        ("10 KiB JSON", 512.0, 10240, 8, "none"),
        // 300 records of 1 KiB per partition.
        (
            "1,000 partitions, 300 records each",
            307.2,
            1024,
            1000,
            "none",
        ),
    ];
    let mut all: Vec<Workload> = TABLE
        .iter()
        .map(|&(name, mb, size, partitions, compression)| Workload {
            name,
            backlog: Backlog::of_mb(mb * scale, size, partitions, compression),
        })
        .collect();
    // Data as users have it: a header on every record, lz4 batches, and MirrorMaker 2's
    // default target producer (no compression).
    all.push(Workload {
        name: "1 KiB JSON + header, lz4, default producer",
        backlog: Backlog {
            headers: true,
            target_compression: "none",
            ..Backlog::of_mb(512.0 * scale, 1024, 8, "lz4")
        },
    });
    // Small source batches: producers with `linger.ms=0` send a few records at a time.
    all.push(Workload {
        name: "1 KiB JSON, lz4, batches of 10",
        backlog: Backlog {
            batch_records: Some(10),
            ..Backlog::of_mb(256.0 * scale, 1024, 8, "lz4")
        },
    });
    all
}

impl Bench {
    /// Cluster aliases of a new run, so that each run has its own remote and internal topics.
    fn aliases(&mut self) -> (String, String) {
        self.runs += 1;
        (format!("S{}", self.runs), format!("T{}", self.runs))
    }

    /// The flow of one run of `backlog` in `topic` on `source`.
    fn flow<'a>(&mut self, source: &'a str, topic: &'a str, backlog: &Backlog) -> FlowSpec<'a> {
        let (source_alias, target_alias) = self.aliases();
        FlowSpec {
            source,
            target: self.target.clone(),
            source_alias,
            target_alias,
            topic,
            partitions: backlog.partitions,
            tasks_max: TASKS_MAX,
            compression: backlog.target_compression,
            groups: None,
            extra: String::new(),
        }
    }

    /// Runs `who` on `flow` until the backlog is on the target, or for at most `deadline`
    /// once records flow; `during` sees the records so far at each look.
    fn replicate(
        &self,
        who: Replicator,
        flow: &FlowSpec,
        count: u64,
        deadline: Duration,
        during: impl FnMut(u64),
    ) -> Observed {
        let running = start(who, flow);
        let target = TopicCount::new(&self.target, &flow.remote_topic(), flow.partitions);
        let broker_cpu = || {
            std::env::var("BENCH_TARGET_PID")
                .ok()
                .and_then(|p| p.parse::<u32>().ok())
                .map(probe::cpu_seconds)
        };
        let broker_before = broker_cpu();
        let mut seen = watch(
            running.pid(),
            &target,
            count,
            Duration::from_secs(180),
            deadline,
            during,
        );
        seen.target_cpu_seconds = broker_cpu()
            .zip(broker_before)
            .map(|(after, before)| after - before);
        drop(running);
        // The run's remote and internal topics go at once: a target holding the earlier runs'
        // thousands of partitions slowed the later runs of a workload (the 1,000-partition
        // workload's last run fell from 139 to 1.3 MB/s).
        let alias = |a: &str| format!("{a}.");
        delete_topics_containing(&self.target, &[&alias(&flow.source_alias)]);
        delete_topics_containing(flow.source, &[&alias(&flow.target_alias)]);
        seen
    }

    fn throughput(&mut self, table: &mut Table) {
        let only = std::env::var("BENCH_WORKLOADS").unwrap_or_default();
        for w in workloads(self.scale) {
            if !w.name.contains(only.as_str()) {
                continue;
            }
            let b = &w.backlog;
            println!(
                "\n== {}: {} records of {} bytes ({:.0} MB) over {} partitions",
                w.name,
                b.count,
                b.size,
                b.bytes() as f64 / 1e6,
                b.partitions
            );
            let configs = [("compression.type", b.compression)];
            let configs: &[(&str, &str)] = if b.compression == "none" {
                &[]
            } else {
                &configs
            };
            let topic = create_topic(&self.source, "bench", b.partitions, configs);
            let produced = b.load(&self.source, &topic);
            let fetched = data::fetch_all(&self.source, &topic, b);
            println!(
                "brokers: produce {:.1} MB/s, fetch {:.1} MB/s",
                mb_per_s(b.bytes(), produced),
                mb_per_s(b.bytes(), fetched)
            );
            let source = self.source.clone();
            let chosen = std::env::var("BENCH_REPLICATORS").unwrap_or_default();
            for who in ALL
                .into_iter()
                .filter(|w| w.label().contains(chosen.as_str()))
            {
                let flow = self.flow(&source, &topic, b);
                let seen = self.replicate(who, &flow, b.count, Duration::from_secs(120), |_| {});
                let row = Row::new(w.name, who, b.size, &seen);
                println!("{}", row.line());
                table.push(row);
            }
            delete_topics_containing(&self.source, &[&topic, "mm2-"]);
            delete_topics_containing(&self.target, &[&topic, "mm2-"]);
        }
    }
}

fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/bench.sh"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --all-targets` runs bench targets too, without `--bench`: only build there.
    if !args.iter().any(|a| a == "--bench") {
        println!("replicate: a benchmark; run it with scripts/bench.sh");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--floor") {
        return floor::main(&args[i + 1..]);
    }
    let parts = std::env::var("BENCH_PARTS")
        .unwrap_or_else(|_| "throughput,latency,far,memory,scale".into());
    let mut bench = Bench {
        source: env("TEST_SOURCE_BOOTSTRAP"),
        target: env("TEST_TARGET_BOOTSTRAP"),
        scale: std::env::var("BENCH_SCALE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1.0),
        runs: 0,
    };
    let started = Instant::now();
    let mut table = Table::default();
    if parts.contains("throughput") {
        bench.throughput(&mut table);
        println!("\n{}", table.markdown());
    }
    if parts.contains("latency") {
        let lines = bench.latency(&table);
        println!("\n{}", lines.join("\n"));
    }
    if parts.contains("far") {
        match std::env::var("BENCH_FAR_BOOTSTRAP") {
            Ok(far) => {
                let lines = bench.far(&far);
                println!("\n{}", lines.join("\n"));
            }
            Err(_) => println!("\nfar: skipped, BENCH_FAR_BOOTSTRAP is not set"),
        }
    }
    if parts.contains("memory") {
        let lines = bench.memory(std::env::var("BENCH_TARGET_PID").ok());
        println!("\n{}", lines.join("\n"));
    }
    if parts.contains("scale") {
        let lines = bench.scale();
        println!("\n{}", lines.join("\n"));
    }
    println!("\nbenchmark took {:.0} s", started.elapsed().as_secs_f64());
}
