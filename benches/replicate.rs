//! Replication throughput between the two local brokers (started by scripts/bench.sh).
//!
//! For each record size it loads a backlog into a source topic, measures the brokers' own produce
//! and fetch rates with rdkafka (the ceiling), then runs the `connect-mirror-maker` binary on the
//! backlog and prints records/s, MB/s, CPU seconds of our process per GB, MB/s per core of our
//! process, and peak RSS. Sizes: BENCH_MB (default 1024) of 1 KiB records, then BENCH_SMALL_MB
//! (default 128) of 100-byte records. Last, end-to-end latency at a moderate load
//! (BENCH_LATENCY_RATE records/s of 1 KiB, default 1000, for 20 s, one partition): p50, p99 and
//! max from each record's source timestamp to its arrival, on the broker alone and through
//! connect-mirror-maker.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const PARTITIONS: i32 = 8;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/bench.sh"))
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn produce(bootstrap: &str, topic: &str, count: u64, size: usize) -> Duration {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.kbytes", "262144")
        .create()
        .expect("producer");
    let value = vec![b'x'; size];
    let start = Instant::now();
    for i in 0..count {
        let key = i.to_be_bytes();
        let mut rec = BaseRecord::to(topic)
            .partition((i % PARTITIONS as u64) as i32)
            .key(&key[..])
            .payload(&value[..]);
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    rec = r;
                    p.poll(Duration::from_millis(5));
                }
            }
        }
    }
    p.flush(Duration::from_secs(600)).expect("flush");
    start.elapsed()
}

fn fetch(bootstrap: &str, topic: &str, count: u64) -> Duration {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-fetch")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let start = Instant::now();
    let mut n = 0;
    while n < count {
        if let Some(Ok(_)) = c.poll(Duration::from_secs(10)) {
            n += 1;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1800),
            "fetch stalled at {n}/{count}"
        );
    }
    start.elapsed()
}

fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// Sum of `record_count` over the flow's partitions, from GET /metrics.
fn replicated(addr: &str) -> u64 {
    http_get(addr, "/metrics")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("kafka_connect_mirror_source_connector_record_count{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// utime + stime in seconds, and peak RSS in MiB, of a process.
fn usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0);
    (cpu, hwm_kb / 1024.0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(size: usize, total_mb: u64, a: &str, b: &str) {
    let count = total_mb * 1_000_000 / size as u64;
    let bytes = count * size as u64;
    let topic = create_topic(a, &format!("bench-{size}"), PARTITIONS);
    println!(
        "\n== {count} records of {size} bytes ({:.0} MB) over {PARTITIONS} partitions",
        mb(bytes)
    );
    let t = produce(a, &topic, count, size);
    let produce_rate = mb(bytes) / t.as_secs_f64();
    println!(
        "broker produce (rdkafka → source):  {:>9.0} records/s {:>8.1} MB/s",
        count as f64 / t.as_secs_f64(),
        produce_rate
    );
    let t = fetch(a, &topic, count);
    let fetch_rate = mb(bytes) / t.as_secs_f64();
    println!(
        "broker fetch   (source → rdkafka):  {:>9.0} records/s {:>8.1} MB/s",
        count as f64 / t.as_secs_f64(),
        fetch_rate
    );

    // Wall time and CPU time both count from the spawn, startup included: an upper bound on
    // cost. Completion is seen through the metrics, published every second.
    let mm2 = Mm2::spawn(a, b, &topic);
    let start = Instant::now();
    loop {
        let n = replicated(&mm2.addr);
        if n >= count {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1800),
            "replication stalled at {n}/{count}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let secs = start.elapsed().as_secs_f64();
    let (cpu, rss) = usage(mm2.child.id());
    let cpu = cpu.max(0.01);
    let rate = mb(bytes) / secs;
    drop(mm2);
    println!("replication (connect-mirror-maker): {:>9.0} records/s {:>8.1} MB/s  ({secs:.1} s from process start)", count as f64 / secs, rate);
    println!(
        "  our process: {cpu:.1} CPU s = {:.2} CPU s/GB, {:.0} MB/s per core, peak RSS {rss:.0} MiB",
        cpu / (bytes as f64 / 1e9),
        mb(bytes) / cpu
    );
    println!(
        "  ratio to the brokers' limit: {:.0}% of min(produce, fetch)",
        100.0 * rate / produce_rate.min(fetch_rate)
    );
}

fn create_topic(bootstrap: &str, prefix: &str, partitions: i32) -> String {
    let topic = format!("{prefix}-{:x}", rand::random::<u32>());
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(admin.create_topics(
        &[NewTopic::new(
            &topic,
            partitions,
            TopicReplication::Fixed(1),
        )],
        &AdminOptions::new(),
    ))
    .unwrap();
    topic
}

/// The release binary replicating one topic; stopped with SIGTERM when dropped.
struct Mm2 {
    child: Child,
    addr: String,
    dir: std::path::PathBuf,
}

impl Mm2 {
    fn spawn(a: &str, b: &str, topic: &str) -> Mm2 {
        let port = free_port();
        let config = format!(
            "clusters = S, T\nS.bootstrap.servers = {a}\nT.bootstrap.servers = {b}\nS->T.enabled = true\nS->T.topics = {topic}\n\
             emit.heartbeats.enabled = false\nreplication.factor = 1\noffset-syncs.topic.replication.factor = 1\n\
             offset.storage.replication.factor = 1\nconfig.storage.replication.factor = 1\n\
             status.storage.replication.factor = 1\ncheckpoints.topic.replication.factor = 1\n\
             tasks.max = 2\nlisteners = http://127.0.0.1:{port}\n"
        );
        let dir = std::env::temp_dir().join(format!("mm2-bench-{:x}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mm2.properties");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_connect-mirror-maker"))
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn connect-mirror-maker");
        Mm2 {
            child,
            addr: format!("127.0.0.1:{port}"),
            dir,
        }
    }
}

impl Drop for Mm2 {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Produces `total` 1 KiB records to `topic` at `rate` per second over `partitions`, while
/// `consumer` (assigned to where they arrive) measures source timestamp to arrival, in ms.
fn measure_latency(
    a: &str,
    topic: &str,
    partitions: i32,
    rate: u64,
    total: u64,
    consumer: &BaseConsumer,
) -> Vec<i64> {
    let (a2, topic2) = (a.to_string(), topic.to_string());
    let producer = std::thread::spawn(move || {
        let p: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &a2)
            .set("linger.ms", "1")
            .create()
            .unwrap();
        let value = vec![b'x'; 1024];
        let start = Instant::now();
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&topic2)
                .partition((i % partitions as u64) as i32)
                .payload(&value[..]);
            let _ = p.send(rec);
            p.poll(Duration::ZERO);
        }
        p.flush(Duration::from_secs(30)).unwrap();
    });
    let mut lat = Vec::with_capacity(total as usize);
    let deadline = Instant::now() + Duration::from_secs(total / rate + 60);
    while (lat.len() as u64) < total && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            if let Some(ts) = rdkafka::message::Message::timestamp(&m).to_millis() {
                lat.push(now - ts);
            }
        }
    }
    producer.join().unwrap();
    lat.sort_unstable();
    lat
}

fn latency_consumer(bootstrap: &str, topic: &str, partitions: i32) -> BaseConsumer {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-latency")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("consumer");
    let deadline = Instant::now() + Duration::from_secs(60);
    while c
        .fetch_metadata(Some(topic), Duration::from_secs(1))
        .map(|m| m.topics()[0].partitions().len())
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < deadline, "{topic} not created");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::End).unwrap();
    }
    c.assign(&tpl).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    c
}

fn percentiles(what: &str, lat: &[i64]) {
    let pct = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(-1)
    };
    println!(
        "{what}: p50 {} ms, p99 {} ms, max {} ms over {} records",
        pct(0.5),
        pct(0.99),
        lat.last().copied().unwrap_or(-1),
        lat.len()
    );
}

/// End-to-end latency at a steady, moderate rate: first the broker alone (produce to A, consume
/// from A), then through connect-mirror-maker (produce to A, consume the remote topic from B).
fn latency(a: &str, b: &str, rate: u64, secs: u64, partitions: i32) {
    println!(
        "\n== latency: {rate} records/s of 1024 bytes for {secs} s over {partitions} partition(s)"
    );
    let total = rate * secs;
    let topic = create_topic(a, "bench-latency-direct", partitions);
    let c = latency_consumer(a, &topic, partitions);
    percentiles(
        "broker alone (A → consumer)      ",
        &measure_latency(a, &topic, partitions, rate, total, &c),
    );
    let topic = create_topic(a, "bench-latency", partitions);
    let mm2 = Mm2::spawn(a, b, &topic);
    let c = latency_consumer(b, &format!("S.{topic}"), partitions);
    percentiles(
        "through connect-mirror-maker (A → B)",
        &measure_latency(a, &topic, partitions, rate, total, &c),
    );
    drop(mm2);
}

fn main() {
    // `cargo test --all-targets` runs bench targets too, without `--bench`: only build there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("replicate: a benchmark; run it with scripts/bench.sh");
        return;
    }
    let (a, b) = (env("TEST_SOURCE_BOOTSTRAP"), env("TEST_TARGET_BOOTSTRAP"));
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    // A size or rate of 0 skips that part.
    for (size, mb) in [
        (1024, number("BENCH_MB", 1024)),
        (100, number("BENCH_SMALL_MB", 128)),
    ] {
        if mb > 0 {
            run(size, mb, &a, &b);
        }
    }
    let rate = number("BENCH_LATENCY_RATE", 1000);
    if rate > 0 {
        latency(&a, &b, rate, 20, 1);
    }
}
