//! Shared test support: the Kafka clusters started by scripts/test.sh, nodes of a test's own,
//! Java MirrorMaker 2, unique names so tests run in parallel, and small rdkafka helpers.
#![allow(dead_code)] // each test target uses a different part of this module

pub mod java_peer;
pub mod kafka_node;

#[allow(unused_imports)]
pub use java_peer::JavaPeer;
#[allow(unused_imports)]
pub use kafka_node::KafkaNode;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::TopicPartitionList;

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
        return false;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    assert!(
        std::env::var_os(REQUIRE_VAR).is_none(),
        "{test}: {BROKERS_VAR} is not set, but {REQUIRE_VAR} requires the Kafka clusters"
    );
    // Written to stderr directly: the test harness captures `eprintln!` of passing tests, and
    // a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: it needs Kafka clusters and {BROKERS_VAR} is not set \
         (scripts/test.sh starts them and runs every test)"
    );
    true
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

/// Runs the `connect-mirror-maker` binary with a clean `MM2_*` environment.
pub fn mm2(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_connect-mirror-maker"));
    cmd.args(args).env("RUST_LOG", "warn");
    for (k, _) in std::env::vars() {
        if k.starts_with("MM2_") {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("runs connect-mirror-maker")
}

/// Client settings registered by `secure` for clusters that require TLS or SASL, by bootstrap
/// address.
static SECURITY: std::sync::Mutex<std::collections::BTreeMap<String, Vec<(String, String)>>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Makes every helper here use `settings` (security.protocol, sasl.*, ssl.*) for `bootstrap`.
pub fn secure(bootstrap: &str, settings: &[(&str, &str)]) {
    let settings = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    SECURITY
        .lock()
        .unwrap()
        .insert(bootstrap.to_string(), settings);
}

/// A client config for `bootstrap`, with the settings `secure` registered for it.
pub fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    if let Some(settings) = SECURITY.lock().unwrap().get(bootstrap) {
        for (k, v) in settings {
            c.set(k, v);
        }
    }
    c
}

pub fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    client(bootstrap).create().expect("admin client")
}

/// Creates a topic and waits until its metadata shows every partition.
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin = admin(bootstrap);
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let res = admin
        .create_topics(
            &[new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics");
    for r in res {
        r.unwrap_or_else(|(t, e)| panic!("create {t}: {e}"));
    }
    let consumer = consumer(bootstrap);
    wait_for(Duration::from_secs(10), || {
        consumer
            .fetch_metadata(Some(topic), Duration::from_secs(2))
            .ok()
            .and_then(|m| {
                m.topics()
                    .first()
                    .map(|t| t.partitions().len() == partitions as usize)
            })
            .unwrap_or(false)
    });
}

pub fn producer(bootstrap: &str) -> FutureProducer {
    client(bootstrap)
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// A consumer for `assign()`: librdkafka needs a group id even when it never joins the group.
pub fn consumer(bootstrap: &str) -> BaseConsumer {
    client(bootstrap)
        .set("group.id", unique("test-reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer")
}

/// A record as read back, for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub partition: i32,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp: Option<i64>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Produces `recs` to `topic`, each to its partition, and waits for every acknowledgement.
pub async fn produce(bootstrap: &str, topic: &str, recs: &[Rec]) {
    let p = producer(bootstrap);
    for r in recs {
        let mut headers = OwnedHeaders::new();
        for (k, v) in &r.headers {
            headers = headers.insert(rdkafka::message::Header {
                key: k,
                value: v.as_deref(),
            });
        }
        let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
            .partition(r.partition)
            .headers(headers);
        if let Some(k) = &r.key {
            fr = fr.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            fr = fr.payload(v.as_slice());
        }
        if let Some(ts) = r.timestamp {
            fr = fr.timestamp(ts);
        }
        p.send(fr, Duration::from_secs(10))
            .await
            .expect("delivered");
    }
}

/// Writes `n` small records (`record-<i>`) to partition 0 of `topic` without waiting for each
/// acknowledgement, then waits for all of them: a long partition quickly.
pub fn fill_topic(bootstrap: &str, topic: &str, n: usize) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let p: BaseProducer = client(bootstrap)
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    for i in 0..n {
        let value = format!("record-{i}");
        let mut record = BaseRecord::<(), str>::to(topic)
            .partition(0)
            .payload(&value);
        // A full queue: let deliveries drain, then try again.
        while let Err((_, r)) = p.send(record) {
            p.poll(Duration::from_millis(10));
            record = r;
        }
    }
    p.flush(Duration::from_secs(120))
        .expect("every record delivered");
}

/// Reads partitions `0..partitions` of `topic` from the start until `count` records arrived.
pub fn read(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    count: usize,
    timeout: Duration,
) -> Vec<Rec> {
    let c = reader(bootstrap, topic, partitions);
    poll_records(&c, topic, count, timeout)
}

/// A consumer assigned partitions `0..partitions` of `topic` from the beginning.
fn reader(bootstrap: &str, topic: &str, partitions: i32) -> BaseConsumer {
    let c = consumer(bootstrap);
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, rdkafka::Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).expect("assign");
    c
}

/// The next records `c` reads, until `count` arrived or `timeout` passed.
fn poll_records(c: &BaseConsumer, topic: &str, count: usize, timeout: Duration) -> Vec<Rec> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < count && Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(Rec {
                partition: m.partition(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                timestamp: m.timestamp().to_millis(),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            Some(Err(e)) => panic!("consume {topic}: {e}"),
            None => {}
        }
    }
    out
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

/// `n` distinct records spread over `partitions`, with keys, headers, a tombstone and timestamps.
/// The timestamps start an hour ago: Kafka deletes a segment whose records are older than
/// `retention.ms` (7 days), so records from years ago would vanish at a retention check.
pub fn sample_records(n: usize, partitions: i32) -> Vec<Rec> {
    let hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
        - 3_600_000;
    (0..n)
        .map(|i| Rec {
            partition: (i as i32) % partitions,
            key: (i % 5 != 0).then(|| format!("key-{i}").into_bytes()),
            value: (i % 7 != 3).then(|| format!("value-{i}").into_bytes()),
            timestamp: Some(hour_ago + i as i64),
            headers: vec![
                ("seq".to_string(), Some(i.to_string().into_bytes())),
                ("null-header".to_string(), None),
            ],
        })
        .collect()
}

/// A `connect-mirror-maker` running inside the test process.
pub struct Mm2 {
    stop: tokio::sync::watch::Sender<bool>,
    done: tokio::task::JoinHandle<Result<(), mm2::app::AppError>>,
    pub metrics: mm2::metrics::Metrics,
    pub http: Vec<std::net::SocketAddr>,
}

impl Mm2 {
    /// Starts the flows of an mm2.properties text.
    pub async fn start(text: &str) -> Mm2 {
        // Logs go through the test harness: shown for a failing test only.
        mm2::telemetry::init_for_tests();
        let props = mm2::config::Properties::parse(text.as_bytes()).expect("syntax");
        let cfg = mm2::config::from_properties(
            props,
            &[],
            &mm2::config::Environment::Fixed(Default::default()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (stop, rx) = tokio::sync::watch::channel(false);
        let running = mm2::app::start(cfg, rx).await.expect("starts");
        let (metrics, http) = (running.metrics.clone(), running.http.clone());
        Mm2 {
            stop,
            done: tokio::spawn(running.wait()),
            metrics,
            http,
        }
    }

    /// Stops as on SIGTERM and waits for a clean shutdown.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(Duration::from_secs(60), self.done)
            .await
            .expect("stops within 60 s")
            .expect("joins")
            .expect("stops cleanly");
    }
}

/// Two unique cluster aliases, so each test has its own remote and internal topic names.
pub fn aliases() -> (String, String) {
    let n = rand::random::<u32>();
    (format!("src{n:08x}"), format!("dst{n:08x}"))
}

/// An mm2.properties for `source->target` between the test clusters A and B, tuned for fast
/// tests.
pub fn flow_config(source: &str, target: &str, extra: &str) -> String {
    format!(
        "clusters = {source}, {target}\n\
         {source}.bootstrap.servers = {}\n\
         {target}.bootstrap.servers = {}\n\
         {source}->{target}.enabled = true\n\
         emit.heartbeats.enabled = false\n\
         {}\
         {source}.consumer.session.timeout.ms = 6000\n\
         {extra}",
        source_bootstrap(),
        target_bootstrap(),
        one_broker_settings(target),
    )
}

/// mm2.properties lines for test clusters of one broker each (replication factor 1 for every
/// topic MirrorMaker creates) and for a quick worker group on `target`.
pub fn one_broker_settings(target: &str) -> String {
    format!(
        "replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\n\
         offset.storage.replication.factor = 1\n\
         config.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\n\
         {target}.offset.flush.interval.ms = 500\n\
         {target}.session.timeout.ms = 6000\n\
         {target}.heartbeat.interval.ms = 1000\n"
    )
}

/// Whether `topic` exists; false also when the cluster does not answer in time, so it can be
/// polled.
pub fn topic_exists(bootstrap: &str, topic: &str) -> bool {
    try_topics(bootstrap).is_ok_and(|t| t.contains_key(topic))
}

/// The topics of a cluster with their partition counts.
pub fn topics(bootstrap: &str) -> std::collections::BTreeMap<String, usize> {
    try_topics(bootstrap).expect("metadata")
}

fn try_topics(bootstrap: &str) -> Result<std::collections::BTreeMap<String, usize>, KafkaError> {
    let md = consumer(bootstrap).fetch_metadata(None, Duration::from_secs(5))?;
    Ok(md
        .topics()
        .iter()
        .map(|t| (t.name().to_string(), t.partitions().len()))
        .collect())
}

/// Waits until `topic` on `bootstrap` holds `count` records over `partitions`, and returns them.
pub fn read_exactly(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    count: usize,
    timeout: Duration,
) -> Vec<Rec> {
    let deadline = Instant::now() + timeout;
    wait_for(timeout, || topics(bootstrap).contains_key(topic));
    let c = reader(bootstrap, topic, partitions);
    let got = poll_records(
        &c,
        topic,
        count,
        deadline.saturating_duration_since(Instant::now()),
    );
    assert_eq!(got.len(), count, "records in {topic}");
    // Anything the same consumer reads after `count` would be a duplicate.
    let extra = poll_records(&c, topic, 1, Duration::from_secs(2));
    assert!(
        extra.is_empty(),
        "{topic} has more than {count} records (duplicates?): {extra:?}"
    );
    got
}

/// Records of one partition, in order.
pub fn partition_of(recs: &[Rec], p: i32) -> Vec<&Rec> {
    recs.iter().filter(|r| r.partition == p).collect()
}

/// `GET path` on a local HTTP server; returns (status, body).
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    http(addr, "GET", path, None)
}

/// One HTTP/1.1 request with an optional JSON body; returns the status and the body.
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A request whose JSON answer is parsed; panics on another status than `expect`.
pub fn http_json(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    expect: u16,
) -> serde_json::Value {
    let (status, text) = http(addr, method, path, body);
    assert_eq!(status, expect, "{method} {path}: {text}");
    if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }
}

/// The class names `GET /connector-plugins` lists, in its order.
pub fn plugin_classes(addr: std::net::SocketAddr) -> Vec<String> {
    let plugins = http_json(addr, "GET", "/connector-plugins", None, 200);
    plugins
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {plugins}"))
        .iter()
        .map(|p| p["class"].as_str().unwrap().to_string())
        .collect()
}

/// A topic's config value on a cluster, as the broker describes it.
pub async fn topic_config(bootstrap: &str, topic: &str, key: &str) -> Option<String> {
    topic_config_entry(bootstrap, topic, key)
        .await
        .and_then(|e| e.value)
}

/// A config value set on the topic itself (DYNAMIC_TOPIC_CONFIG), not a broker or Kafka
/// default: what a topic-config sync writes or deletes.
pub async fn topic_override(bootstrap: &str, topic: &str, key: &str) -> Option<String> {
    topic_config_entry(bootstrap, topic, key)
        .await
        .filter(|e| e.source == rdkafka::admin::ConfigSource::DynamicTopic)
        .and_then(|e| e.value)
}

async fn topic_config_entry(
    bootstrap: &str,
    topic: &str,
    key: &str,
) -> Option<rdkafka::admin::ConfigEntry> {
    let res = admin(bootstrap)
        .describe_configs(
            &[rdkafka::admin::ResourceSpecifier::Topic(topic)],
            &AdminOptions::new(),
        )
        .await
        .expect("describe_configs");
    let r = res.into_iter().next()?.ok()?;
    r.entries.into_iter().find(|e| e.name == key)
}

/// The checkpoints of `group` in `<source>.checkpoints.internal` on `bootstrap`, in order.
pub fn checkpoints_of(
    bootstrap: &str,
    source: &str,
    group: &str,
) -> Vec<mm2::mirror::wire::Checkpoint> {
    read_raw(bootstrap, &format!("{source}.checkpoints.internal"), 0)
        .into_iter()
        .filter_map(|(k, v)| mm2::mirror::wire::Checkpoint::decode(&k?, &v?).ok())
        .filter(|c| c.group == group)
        .collect()
}

/// The last source offset MirrorSourceConnector stored for each partition of `topic` in
/// `mm2-offsets.<source>.internal` on `target`, as Java and we both write them.
pub fn stored_offsets(target: &str, source: &str, topic: &str) -> Vec<(i32, i64)> {
    use mm2::connect::offsets::{parse_offset_value, parse_source_offset_key};
    let offsets_topic = format!("mm2-offsets.{source}.internal");
    let mut last = std::collections::BTreeMap::new();
    for (k, v) in read_topic(target, &offsets_topic) {
        let Some((connector, part)) = k.as_deref().and_then(parse_source_offset_key) else {
            continue;
        };
        if connector == "MirrorSourceConnector" && part.topic == topic {
            if let Some(offset) = v.as_deref().and_then(parse_offset_value) {
                last.insert(part.partition, offset);
            }
        }
    }
    last.into_iter().collect()
}

/// Creates a checkpoints topic on `bootstrap` holding `checkpoints`, as MirrorCheckpoint writes
/// them (partition 0).
pub async fn write_checkpoints(
    bootstrap: &str,
    topic: &str,
    checkpoints: &[mm2::mirror::wire::Checkpoint],
) {
    create_topic(bootstrap, topic, 1).await;
    let p = producer(bootstrap);
    for c in checkpoints {
        let (k, v) = (c.record_key(), c.record_value());
        p.send(
            FutureRecord::to(topic).partition(0).key(&k).payload(&v),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered");
    }
}

/// Every (key, value) of partition `partition` of `topic`, from the beginning to the end.
pub fn read_raw(bootstrap: &str, topic: &str, partition: i32) -> Vec<mm2::kafka::log::LogRecord> {
    read_until_idle(bootstrap, topic, &[partition])
}

/// Every (key, value) of every partition of `topic`.
pub fn read_topic(bootstrap: &str, topic: &str) -> Vec<mm2::kafka::log::LogRecord> {
    let md = consumer(bootstrap)
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .expect("metadata");
    let partitions = md
        .topics()
        .first()
        .map(|t| t.partitions().len() as i32)
        .unwrap_or(0);
    read_until_idle(bootstrap, topic, &(0..partitions).collect::<Vec<_>>())
}

/// Reads `partitions` from the beginning with one consumer up to the end offsets they had when
/// the read began. A partition whose last offset is a transaction marker (no record to read
/// there) is done once nothing has arrived for 2 s.
fn read_until_idle(
    bootstrap: &str,
    topic: &str,
    partitions: &[i32],
) -> Vec<mm2::kafka::log::LogRecord> {
    let c = consumer(bootstrap);
    let mut tpl = TopicPartitionList::new();
    // The last offset of each partition with records.
    let mut last = std::collections::BTreeMap::new();
    for p in partitions {
        // A topic not created yet has nothing to read.
        // (A topic just created may have no leader for a moment: that is waited out.)
        let deadline = Instant::now() + Duration::from_secs(10);
        let (low, high) = match mm2::kafka::log::watermarks_when_led(&c, topic, *p, deadline) {
            Ok(w) => w,
            Err(KafkaError::MetadataFetch(RDKafkaErrorCode::UnknownPartition)) => (0, 0),
            Err(e) => panic!("watermarks of {topic}-{p}: {e}"),
        };
        if high > low {
            tpl.add_partition_offset(topic, *p, rdkafka::Offset::Beginning)
                .unwrap();
            last.insert(*p, high - 1);
        }
    }
    let mut out = Vec::new();
    if tpl.count() == 0 {
        return out;
    }
    c.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut idle_since = Instant::now();
    while !last.is_empty()
        && Instant::now() < deadline
        && idle_since.elapsed() < Duration::from_secs(2)
    {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                out.push((m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)));
                if last.get(&m.partition()).is_some_and(|l| m.offset() >= *l) {
                    last.remove(&m.partition());
                }
                idle_since = Instant::now();
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    out
}

/// Creates a source topic named after `prefix` with `partitions` and fills it with
/// `sample_records(count, partitions)`; returns the topic and the records.
pub async fn seeded_source_topic(
    prefix: &str,
    partitions: i32,
    count: usize,
) -> (String, Vec<Rec>) {
    let topic = unique(prefix);
    create_topic(&source_bootstrap(), &topic, partitions).await;
    let records = sample_records(count, partitions);
    produce(&source_bootstrap(), &topic, &records).await;
    (topic, records)
}

/// Every partition of `got` holds exactly the records of `sent` for it, in order.
pub fn assert_same_partitions(got: &[Rec], sent: &[Rec], partitions: i32) {
    for p in 0..partitions {
        assert_eq!(partition_of(got, p), partition_of(sent, p), "partition {p}");
    }
}

/// Commits `offset` for `group` on a partition, as a consumer that stopped there would (an
/// unsubscribed consumer: no group join).
pub fn commit(bootstrap: &str, group: &str, topic: &str, partition: i32, offset: i64) {
    let c: BaseConsumer = client(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, rdkafka::Offset::Offset(offset))
        .unwrap();
    c.commit(&tpl, rdkafka::consumer::CommitMode::Sync)
        .expect("commit");
}

/// The offset `group` has committed on a partition, if any.
pub fn committed(bootstrap: &str, group: &str, topic: &str, partition: i32) -> Option<i64> {
    let c: BaseConsumer = client(bootstrap).set("group.id", group).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    match c
        .committed_offsets(tpl, Duration::from_secs(5))
        .ok()?
        .find_partition(topic, partition)?
        .offset()
    {
        rdkafka::Offset::Offset(o) => Some(o),
        _ => None,
    }
}

/// A free port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A connect-standalone or connect-distributed process with its REST address.
pub struct ConnectProcess {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
}

impl ConnectProcess {
    /// Starts `binary` (a path from `env!("CARGO_BIN_EXE_...")`) on `args`, listening on
    /// `port`, and waits for its REST API.
    pub fn start(binary: &str, args: &[&std::path::Path], port: u16) -> ConnectProcess {
        let child = Command::new(binary)
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("CONNECT_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut process = ConnectProcess { child, addr };
        wait_for(Duration::from_secs(60), || {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("{binary} exited with {status} before serving REST on {addr}");
            }
            std::net::TcpStream::connect(addr).is_ok()
        });
        process
    }

    /// SIGTERM, and the exit must be clean.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        let _ = self.child.try_wait();
        assert!(status.success(), "worker exited with {status}");
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ConnectProcess {
    /// A failing test must not leave its workers running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
