//! The workloads' data: topics on the brokers, and backlogs of JSON-like records loaded into
//! them, as a user's producers would write them (optionally compressed).

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

/// How many distinct values a backlog cycles through: enough that compression sees varied
/// data, few enough that generating them costs the load nothing.
const DISTINCT_VALUES: usize = 4096;

const NAMES: &[&str] = &[
    "Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia",
];
const WORDS: &[&str] = &[
    "shipped",
    "pending",
    "warehouse",
    "express",
    "fragile",
    "gift",
    "return",
    "priority",
    "customer",
    "requested",
    "delivery",
    "window",
    "morning",
    "evening",
    "door",
    "signature",
    "refund",
    "partial",
    "backorder",
    "invoice",
];
const STATUSES: &[&str] = &[
    "created",
    "paid",
    "packed",
    "shipped",
    "delivered",
    "returned",
];

/// One order event as JSON, of exactly `size` bytes: numbers, ids and words drawn at random, so
/// lz4 and zstd compress it about as much as real event data.
pub fn json_value(rng: &mut SmallRng, size: usize) -> Vec<u8> {
    let mut s = format!(
        "{{\"order_id\":\"{:016x}\",\"customer\":{{\"id\":{},\"name\":\"{} {}\"}},\"status\":\"{}\",\"ts\":\"2026-12-02T{:02}:{:02}:{:02}.{:03}Z\",\"items\":[",
        rng.random::<u64>(),
        rng.random_range(1..1_000_000),
        NAMES[rng.random_range(0..NAMES.len())],
        NAMES[rng.random_range(0..NAMES.len())],
        STATUSES[rng.random_range(0..STATUSES.len())],
        rng.random_range(0..24),
        rng.random_range(0..60),
        rng.random_range(0..60),
        rng.random_range(0..1000),
    );
    for i in 0..rng.random_range(1..4) {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            "{{\"sku\":\"SKU-{}\",\"qty\":{},\"price\":{:.2}}}",
            rng.random_range(1000..99999),
            rng.random_range(1..10),
            rng.random_range(1.0..500.0)
        ));
    }
    s.push_str("],\"note\":\"");
    while s.len() + 2 < size {
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
        s.push(' ');
    }
    s.truncate(size.saturating_sub(2));
    s.push_str("\"}");
    s.into_bytes()
}

/// Records of one workload: `count` values of `size` bytes spread over `partitions`.
pub struct Backlog {
    pub count: u64,
    pub size: usize,
    pub partitions: i32,
    /// The producers' and the topics' `compression.type`, or `none`.
    pub compression: &'static str,
    /// The replicators' target producer's `compression.type` (the source's, unless a workload
    /// says otherwise).
    pub target_compression: &'static str,
    /// Each record carries a header (a trace id), as records from instrumented services do.
    pub headers: bool,
    /// Records per source batch, when the producers send small batches.
    pub batch_records: Option<usize>,
}

impl Backlog {
    /// About `mb` MB of uncompressed `size`-byte records.
    pub fn of_mb(mb: f64, size: usize, partitions: i32, compression: &'static str) -> Backlog {
        Backlog {
            count: (mb * 1e6 / size as f64) as u64,
            size,
            partitions,
            compression,
            target_compression: compression,
            headers: false,
            batch_records: None,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.count * self.size as u64
    }

    /// Writes the backlog to `topic` as fast as the broker takes it; the time it took.
    pub fn load(&self, bootstrap: &str, topic: &str) -> Duration {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("linger.ms", "20")
            .set("batch.size", "1000000")
            .set("compression.type", self.compression)
            .set("queue.buffering.max.kbytes", "262144");
        if let Some(n) = self.batch_records {
            config.set("batch.num.messages", n.to_string());
        }
        let p: BaseProducer = config.create().expect("load producer");
        let mut rng = SmallRng::seed_from_u64(self.size as u64);
        let values: Vec<Vec<u8>> = (0..DISTINCT_VALUES)
            .map(|_| json_value(&mut rng, self.size))
            .collect();
        let start = Instant::now();
        for i in 0..self.count {
            let key = format!("customer-{}", i % 100_003);
            let trace = format!("{:032x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut record = BaseRecord::to(topic)
                .partition((i % self.partitions as u64) as i32)
                .key(key.as_bytes())
                .payload(&values[i as usize % DISTINCT_VALUES][..]);
            if self.headers {
                record = record.headers(OwnedHeaders::new().insert(Header {
                    key: "traceparent",
                    value: Some(trace.as_bytes()),
                }));
            }
            loop {
                match p.send(record) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        record = r;
                        p.poll(Duration::from_millis(5));
                    }
                }
            }
        }
        p.flush(Duration::from_secs(600)).expect("load flush");
        start.elapsed()
    }
}

pub fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

/// Creates a topic with a random suffix and the given topic configs; its name.
pub fn create_topic(
    bootstrap: &str,
    prefix: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> String {
    let topic = format!("{prefix}-{:x}", rand::random::<u32>());
    let mut new = NewTopic::new(&topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        new = new.set(k, v);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt
        .block_on(admin(bootstrap).create_topics(&[new], &AdminOptions::new()))
        .expect("create topic");
    for r in result {
        r.unwrap_or_else(|(t, e)| panic!("create {t}: {e}"));
    }
    topic
}

/// Deletes every topic on the cluster whose name contains one of `parts`: the runs' topics and
/// internal topics, so that a long benchmark leaves the brokers as light as it found them.
pub fn delete_topics_containing(bootstrap: &str, parts: &[&str]) {
    let admin = admin(bootstrap);
    let Ok(metadata) = admin.inner().fetch_metadata(None, Duration::from_secs(10)) else {
        return;
    };
    let names: Vec<String> = metadata
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .filter(|n| parts.iter().any(|p| n.contains(p)))
        .collect();
    if names.is_empty() {
        return;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _ = rt.block_on(admin.delete_topics(&refs, &AdminOptions::new()));
}

/// Creates `topic` with exactly this name (the copy loop's remote topic), if it is not there.
pub fn create_remote(bootstrap: &str, topic: &str, partitions: i32) {
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _ = rt
        .block_on(admin(bootstrap).create_topics(&[new], &AdminOptions::new()))
        .expect("create topic");
}

/// Reads the whole backlog from `topic` with a plain consumer: the broker's fetch rate.
pub fn fetch_all(bootstrap: &str, topic: &str, backlog: &Backlog) -> Duration {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-fetch")
        .set("enable.auto.commit", "false")
        .create()
        .expect("fetch consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..backlog.partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let start = Instant::now();
    let mut n = 0;
    while n < backlog.count {
        if let Some(m) = c.poll(Duration::from_secs(10)) {
            m.expect("fetch");
            n += 1;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1800),
            "fetch stalled at {n}/{}",
            backlog.count
        );
    }
    start.elapsed()
}
