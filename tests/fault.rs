//! Fault injection. A stream of numbered records is replicated from a source cluster A to a
//! target cluster B by several connect-mirror-maker processes while, at seeded random moments,
//! workers are killed with SIGKILL and started again and brokers are killed and started again
//! (and, where a plan says so, one worker is killed for good). Then, per partition, the target
//! must hold every record of the source, in order (read with read_committed in exactly-once
//! mode); in exactly-once mode none may be there twice, in at-least-once mode the duplicates are
//! counted.
//!
//! After every fault the test waits until every partition moves again and records how long
//! that took (the recovery time); it also samples the workers' memory while the target is down.
//!
//! The brokers are this test's own Apache Kafka nodes (`common::KafkaNode`), killed with SIGKILL
//! and started again on the same data directory and ports.
//!
//! `FAULT_SEED` picks the random moments (default: a fixed seed, so a failure can be re-run);
//! `FAULT_LOG` sets the workers' log filter (default `info`).

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::TopicPartitionList;

use common::{free_port, one_broker_settings, KafkaNode, Launch, TempFile};

const TOPIC: &str = "numbers";
const PARTITIONS: i32 = 4;
/// How long a fault may keep any partition from moving before the run fails.
const RECOVERY_LIMIT: Duration = Duration::from_secs(120);

/// The two fault runs share the machine's two cores: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A connect-mirror-maker process; its log goes to a file, shown if the run fails.
struct Worker {
    config: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Worker {
    fn start(config: &Path, log: PathBuf) -> Worker {
        let mut w = Worker {
            config: config.to_path_buf(),
            port: free_port(),
            log,
            child: None,
        };
        w.spawn();
        w
    }

    fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let level = std::env::var("FAULT_LOG").unwrap_or_else(|_| "info".into());
        let child = Launch::mirror_maker()
            .arg(&self.config)
            .env("MM2_LISTENERS", format!("http://127.0.0.1:{}", self.port))
            .log_level(&level)
            .spawn_to(Stdio::null(), log);
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Resident memory in KiB (VmRSS), if running.
    fn rss_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The workers of a run; if the run fails, the end of each one's log is printed.
struct Workers(Vec<Worker>);

impl Drop for Workers {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for (i, w) in self.0.iter().enumerate() {
            let log = std::fs::read_to_string(&w.log).unwrap_or_default();
            let kept = std::env::temp_dir().join(format!("fault-worker-{i}.log"));
            let _ = std::fs::write(&kept, &log);
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "--- worker {i}, last lines of its log (all of it in {}):",
                kept.display()
            );
            for l in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{l}");
            }
        }
    }
}

/// Writes numbered records round robin over the partitions until told to stop, at a steady
/// rate. Each value is `<partition>:<n>` padded to 100 bytes, n counting per partition.
fn load(bootstrap: String, rate: u64, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "0")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let started = Instant::now();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let due = started.elapsed().as_millis() as u64 * rate / 1000;
        while n < due {
            let p = (n % PARTITIONS as u64) as i32;
            let value = format!("{p}:{:010}:{}", n / PARTITIONS as u64, "x".repeat(80));
            let record = BaseRecord::<(), _>::to(TOPIC).partition(p).payload(&value);
            match producer.send(record) {
                Ok(()) => n += 1,
                Err(_) => {
                    // The queue is full: the source is down; wait for it.
                    producer.poll(Duration::from_millis(100));
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
            }
        }
        sent.store(n, Ordering::Relaxed);
        producer.poll(Duration::from_millis(10));
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    sent.store(n, Ordering::Relaxed);
}

/// Watches the end offsets of the remote topic on the target.
struct Monitor {
    bootstrap: String,
    topic: String,
    consumer: BaseConsumer,
}

impl Monitor {
    fn new(bootstrap: String, topic: String) -> Monitor {
        let consumer = Self::consumer(&bootstrap);
        Monitor {
            bootstrap,
            topic,
            consumer,
        }
    }

    fn consumer(bootstrap: &str) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "fault-monitor")
            .create()
            .unwrap()
    }

    /// The end offset of each partition, or `None` while they cannot be read. A failure
    /// replaces the client, whose metadata may hold on to a topic it once found missing.
    fn ends(&mut self) -> Option<Vec<i64>> {
        let ends: Option<Vec<i64>> = (0..PARTITIONS)
            .map(|p| {
                self.consumer
                    .fetch_watermarks(&self.topic, p, Duration::from_secs(2))
                    .ok()
                    .map(|(_, h)| h)
            })
            .collect();
        if ends.is_none() {
            std::thread::sleep(Duration::from_millis(200));
            self.consumer = Self::consumer(&self.bootstrap);
        }
        ends
    }
}

/// Waits until every partition of the remote topic has grown past `before`; returns how long
/// that took from `since`.
fn recovered(target: &mut Monitor, before: &[i64], since: Instant) -> Duration {
    loop {
        if let Some(now) = target.ends() {
            if now.iter().zip(before).all(|(n, b)| n > b) {
                return since.elapsed();
            }
        }
        if since.elapsed() >= RECOVERY_LIMIT {
            dump_config_topic(&target.bootstrap);
            panic!("replication did not recover within {RECOVERY_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Prints the workers' config topic (offset, key, value size), to see which connector and task
/// configs a worker started after the failure could read.
fn dump_config_topic(bootstrap: &str) {
    let topic = "mm2-configs.A.internal";
    let consumer = Monitor::consumer(bootstrap);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    if let Ok((low, high)) = consumer.fetch_watermarks(topic, 0, Duration::from_secs(5)) {
        println!("--- {topic}: watermarks {low}..{high}");
    }
    let mut idle = Instant::now();
    while idle.elapsed() < Duration::from_secs(3) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
            println!("  {} {key} ({} bytes)", m.offset(), m.payload_len());
            idle = Instant::now();
        }
    }
}

/// Every value of one partition, from the beginning until nothing arrives for 3 s. A record
/// at an offset already read is skipped: a log holds one record per offset, and a consumer that
/// reconnects may be handed a batch again.
fn read_partition(bootstrap: &str, topic: &str, p: i32, isolation: &str) -> Vec<Read> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "fault-verifier")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, p, rdkafka::Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut next = 0;
    let mut idle = Instant::now();
    while idle.elapsed() < Duration::from_secs(3) {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if m.offset() >= next {
                    next = m.offset() + 1;
                    out.push(Read {
                        offset: m.offset(),
                        timestamp: m.timestamp().to_millis().unwrap_or(0),
                        value: m.payload().unwrap_or_default().to_vec(),
                    });
                }
                idle = Instant::now();
            }
            Some(Err(e)) => panic!("reading {topic}-{p}: {e}"),
            None => {}
        }
    }
    out
}

/// One record read back.
struct Read {
    offset: i64,
    timestamp: i64,
    value: Vec<u8>,
}

/// What a run found.
struct Outcome {
    records: usize,
    duplicates: usize,
}

/// Compares each partition of the remote topic with the source's: every source record present,
/// in order of first appearance, and nothing else. Returns the counts.
fn verify(source: &str, target: &str, remote: &str, isolation: &str, t0_ms: i64) -> Outcome {
    let (mut records, mut duplicates) = (0, 0);
    for p in 0..PARTITIONS {
        let sent: Vec<Vec<u8>> = read_partition(source, TOPIC, p, "read_uncommitted")
            .into_iter()
            .map(|r| r.value)
            .collect();
        let got = read_partition(target, remote, p, isolation);
        let mut seen = std::collections::HashSet::new();
        let mut runs: Vec<(i64, i64, i64)> = Vec::new(); // (first offset, last offset, time)
        let mut firsts: Vec<&Vec<u8>> = Vec::new();
        for r in &got {
            if seen.insert(r.value.as_slice()) {
                firsts.push(&r.value);
            } else {
                match runs.last_mut() {
                    Some(run) if run.1 + 1 >= r.offset - 1 && r.offset > run.1 => run.1 = r.offset,
                    _ => runs.push((r.offset, r.offset, r.timestamp - t0_ms)),
                }
            }
        }
        // Where duplicates sit on the target, and when their records were written to the
        // source (seconds into the run), to match them with the faults printed above.
        for (first, last, ms) in runs.iter().take(12) {
            println!(
                "  partition {p}: duplicates at offsets {first}..={last}, written to the source {:.1}s into the run",
                *ms as f64 / 1000.0
            );
        }
        let got: Vec<&Vec<u8>> = got.iter().map(|r| &r.value).collect();
        let lost = sent.iter().filter(|v| !seen.contains(v.as_slice())).count();
        assert_eq!(
            lost,
            0,
            "partition {p}: {lost} of {} source records are not on the target",
            sent.len()
        );
        assert!(
            firsts.len() == sent.len() && firsts.iter().zip(&sent).all(|(a, b)| *a == b),
            "partition {p}: the target holds other records, or in another order"
        );
        records += sent.len();
        duplicates += got.len() - firsts.len();
    }
    Outcome {
        records,
        duplicates,
    }
}

/// One fault run's settings.
struct Plan {
    exactly_once: bool,
    workers: usize,
    tasks: usize,
    kills: usize,
    target_restarts: usize,
    source_restarts: usize,
    /// Whether one worker is killed for good at the end.
    kill_for_good: bool,
    min_records: u64,
    rate: u64,
}

fn config(source: &KafkaNode, target: &KafkaNode, exactly_once: bool, tasks: usize) -> String {
    let eos = if exactly_once {
        "B.exactly.once.source.support = enabled\n"
    } else {
        ""
    };
    format!(
        "clusters = A, B\n\
         A.bootstrap.servers = {}\n\
         B.bootstrap.servers = {}\n\
         A->B.enabled = true\n\
         A->B.topics = {TOPIC}\n\
         tasks.max = {tasks}\n\
         emit.heartbeats.enabled = false\n\
         emit.checkpoints.enabled = false\n\
         sync.group.offsets.enabled = false\n\
         refresh.topics.interval.seconds = 5\n\
         {}{eos}",
        source.bootstrap(),
        target.bootstrap(),
        one_broker_settings("B"),
    )
}

fn run(plan: Plan) -> Outcome {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let seed: u64 = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261122);
    let mut rng = StdRng::seed_from_u64(seed + plan.exactly_once as u64);
    let mode = if plan.exactly_once {
        "exactly once"
    } else {
        "at least once"
    };
    println!("fault run ({mode}), seed {seed}");
    let mut source = KafkaNode::start("fault-a");
    let mut target = KafkaNode::start("fault-b");
    let admin_create = |bootstrap: &str| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(common::create_topic(bootstrap, TOPIC, PARTITIONS));
    };
    admin_create(&source.bootstrap());
    let config_file = TempFile::new(
        "mm2.properties",
        &config(&source, &target, plan.exactly_once, plan.tasks),
    );
    let mut workers = Workers(
        (0..plan.workers)
            .map(|i| {
                Worker::start(
                    &config_file.path,
                    config_file.dir().join(format!("worker-{i}.log")),
                )
            })
            .collect(),
    );
    let remote = format!("A.{TOPIC}");

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let loader = {
        let (bootstrap, stop, sent) = (source.bootstrap(), stop.clone(), sent.clone());
        std::thread::spawn(move || load(bootstrap, plan.rate, stop, sent))
    };
    let started = Instant::now();
    let t0_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut monitor = Monitor::new(target.bootstrap(), remote.clone());
    let zero = vec![-1; PARTITIONS as usize];
    let first = recovered(&mut monitor, &zero, started);
    println!("  replication started after {first:.1?}");

    // The faults, in a random order with random pauses between them.
    let mut faults: Vec<&str> = std::iter::repeat_n("kill", plan.kills)
        .chain(std::iter::repeat_n("target", plan.target_restarts))
        .chain(std::iter::repeat_n("source", plan.source_restarts))
        .collect();
    for i in (1..faults.len()).rev() {
        faults.swap(i, rng.random_range(0..=i));
    }
    let mut longest = (Duration::ZERO, String::new());
    let mut peak_rss_outage = 0u64;
    let mut note = |what: String, took: Duration| {
        println!("  {what}: moving again after {took:.1?}");
        if took > longest.0 {
            longest = (took, what);
        }
    };
    for (n, fault) in faults.iter().enumerate() {
        std::thread::sleep(Duration::from_millis(rng.random_range(500..3000)));
        let before = loop {
            if let Some(e) = monitor.ends() {
                break e;
            }
        };
        let at = Instant::now();
        match *fault {
            "kill" => {
                let i = rng.random_range(0..workers.0.len());
                // Started again before or after the group drops the dead member
                // (session.timeout.ms is 6 s).
                let down = Duration::from_millis(rng.random_range(1000..9000));
                println!("  fault {n}: SIGKILL of worker {i}");
                workers.0[i].kill();
                std::thread::sleep(down);
                workers.0[i].spawn();
                let took = recovered(&mut monitor, &before, at);
                note(
                    format!(
                        "fault {n}: SIGKILL of worker {i} at {:.1?}, restarted {down:.1?} later",
                        at.duration_since(started)
                    ),
                    took,
                );
            }
            "target" => {
                let down = Duration::from_millis(rng.random_range(2000..6000));
                println!("  fault {n}: killing the target broker");
                target.kill();
                let until = Instant::now() + down;
                while Instant::now() < until {
                    let rss: u64 = workers.0.iter().filter_map(Worker::rss_kib).sum();
                    peak_rss_outage = peak_rss_outage.max(rss);
                    std::thread::sleep(Duration::from_millis(100));
                }
                target.spawn();
                let took = recovered(&mut monitor, &before, at);
                note(
                    format!(
                        "fault {n}: target broker killed at {:.1?} and started {down:.1?} later",
                        at.duration_since(started)
                    ),
                    took,
                );
            }
            "source" => {
                let down = Duration::from_millis(rng.random_range(2000..6000));
                println!("  fault {n}: killing the source broker");
                source.kill();
                std::thread::sleep(down);
                source.spawn();
                let took = recovered(&mut monitor, &before, at);
                note(
                    format!(
                        "fault {n}: source broker killed at {:.1?} and started {down:.1?} later",
                        at.duration_since(started)
                    ),
                    took,
                );
            }
            _ => unreachable!(),
        }
    }
    if plan.kill_for_good {
        // One worker dies for good: the others take over its work.
        let before = monitor.ends().expect("target up");
        let at = Instant::now();
        let i = rng.random_range(0..workers.0.len());
        workers.0[i].kill();
        let took = recovered(&mut monitor, &before, at);
        note(format!("SIGKILL of worker {i} for good"), took);
    }
    while sent.load(Ordering::Relaxed) < plan.min_records {
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    loader.join().unwrap();
    let produced = sent.load(Ordering::Relaxed);

    // Everything on the target: wait until its end offsets stop moving for a while.
    let mut last = monitor.ends();
    let mut still = Instant::now();
    while still.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(500));
        let now = monitor.ends();
        if now != last {
            last = now;
            still = Instant::now();
        }
    }
    let isolation = if plan.exactly_once {
        "read_committed"
    } else {
        "read_uncommitted"
    };
    let outcome = verify(
        &source.bootstrap(),
        &target.bootstrap(),
        &remote,
        isolation,
        t0_ms,
    );
    let kills = plan.kills + usize::from(plan.kill_for_good);
    println!(
        "fault run ({mode}): {} records produced, {} on the source, all on the target in order, \
         {} duplicated; {kills} SIGKILLs of {} workers, {} target and {} source broker restarts \
         in {:.0?}; longest recovery {:.1?} ({}); {}",
        produced,
        outcome.records,
        outcome.duplicates,
        plan.workers,
        plan.target_restarts,
        plan.source_restarts,
        started.elapsed(),
        longest.0,
        longest.1,
        if plan.target_restarts > 0 {
            format!(
                "peak memory of all workers while the target was down {} MiB",
                peak_rss_outage / 1024
            )
        } else {
            "the target was never down".to_string()
        },
    );
    for w in &mut workers.0 {
        w.kill();
    }
    outcome
}

/// Exactly-once mode under 20 kills, a target and a source broker restart, and a worker killed
/// for good: nothing lost, in order, and nothing duplicated under read_committed.
#[test]
fn exactly_once_mode_survives_kills_and_a_broker_restart() {
    common::require_brokers!();
    let outcome = run(Plan {
        exactly_once: true,
        workers: 3,
        tasks: PARTITIONS as usize,
        kills: 20,
        target_restarts: 1,
        source_restarts: 1,
        kill_for_good: true,
        min_records: 200_000,
        rate: 1500,
    });
    assert!(outcome.records >= 200_000);
    assert_eq!(
        outcome.duplicates, 0,
        "records duplicated on the target under read_committed"
    );
}

#[test]
fn at_least_once_loses_nothing_and_counts_duplicates() {
    common::require_brokers!();
    let outcome = run(Plan {
        exactly_once: false,
        workers: 2,
        tasks: PARTITIONS as usize,
        kills: 6,
        target_restarts: 1,
        source_restarts: 1,
        kill_for_good: false,
        min_records: 30_000,
        rate: 1500,
    });
    assert!(outcome.records >= 30_000);
}
