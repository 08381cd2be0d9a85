//! What the benchmark observes from outside: a process's CPU time and peak memory (from /proc),
//! and how many records have reached topics (the sum of their end offsets, one batched
//! ListOffsets request per look).

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// utime + stime of all of a process's threads, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / 100.0
}

/// Peak resident memory (VmHWM) of a process, in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Counts the records on topics by their end offsets (no transactions in these runs, so the
/// end offset of a partition is its record count).
pub struct TopicCount {
    consumer: BaseConsumer,
    query: TopicPartitionList,
}

impl TopicCount {
    pub fn new(bootstrap: &str, topic: &str, partitions: i32) -> TopicCount {
        TopicCount::of(bootstrap, &[topic.to_string()], partitions)
    }

    /// All of `topics`, each of `partitions` partitions, in one query.
    pub fn of(bootstrap: &str, topics: &[String], partitions: i32) -> TopicCount {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "bench-count")
            .create()
            .expect("count consumer");
        let mut query = TopicPartitionList::new();
        for topic in topics {
            for p in 0..partitions {
                // An offset query for timestamp -1 answers each partition's end offset.
                query.add_partition_offset(topic, p, Offset::End).unwrap();
            }
        }
        TopicCount { consumer, query }
    }

    /// Each partition's end offset, for the partitions that answered; none while the topics do
    /// not exist yet.
    pub fn ends(&self) -> Vec<(String, i32, i64)> {
        match self
            .consumer
            .offsets_for_times(self.query.clone(), Duration::from_secs(5))
        {
            Ok(list) => list
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(n) if e.error().is_ok() => {
                        Some((e.topic().to_string(), e.partition(), n))
                    }
                    _ => None,
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The records on the topics now; 0 while they do not exist yet.
    pub fn now(&self) -> u64 {
        self.ends().iter().map(|&(_, _, n)| n as u64).sum()
    }
}

/// A run seen from outside: from the first record on the target to the last, how long it took
/// and how much CPU the process spent (its start-up, before any record, excluded: Java's JIT
/// and connector start would otherwise dominate small backlogs).
pub struct Observed {
    pub records: u64,
    pub seconds: f64,
    pub cpu_seconds: f64,
    pub peak_rss_mib: f64,
    /// What the target broker's JVM spent meanwhile, when its pid is known.
    pub target_cpu_seconds: Option<f64>,
}

/// Looks at `target` every 100 ms until it holds `count` records, or `deadline` passed since
/// the first record, then reports the process's run. `during` is called at each look with the
/// records so far (the memory run stops the target for a while through it). Panics after
/// `limit` without progress.
pub fn watch(
    pid: u32,
    target: &TopicCount,
    count: u64,
    limit: Duration,
    deadline: Duration,
    mut during: impl FnMut(u64),
) -> Observed {
    let mut first: Option<(Instant, f64, u64)> = None;
    let mut last_progress = (Instant::now(), 0);
    let mut peak = 0f64;
    loop {
        let n = target.now();
        let now = Instant::now();
        peak = peak.max(peak_rss_mib(pid));
        if n > 0 && first.is_none() {
            first = Some((now, cpu_seconds(pid), n));
        }
        let late = first.is_some_and(|(t0, _, _)| now.duration_since(t0) >= deadline);
        if n >= count || late {
            let (t0, cpu0, n0) = first.expect("records arrived");
            // Records that arrived before the first look count for nothing.
            return Observed {
                records: n - n0,
                seconds: now.duration_since(t0).as_secs_f64().max(0.001),
                cpu_seconds: (cpu_seconds(pid) - cpu0).max(0.01),
                peak_rss_mib: peak.max(peak_rss_mib(pid)),
                target_cpu_seconds: None,
            };
        }
        if n > last_progress.1 {
            last_progress = (now, n);
        }
        assert!(
            now.duration_since(last_progress.0) < limit,
            "no progress for {limit:?}: {n} of {count} records on the target"
        );
        during(n);
        std::thread::sleep(Duration::from_millis(100));
    }
}
