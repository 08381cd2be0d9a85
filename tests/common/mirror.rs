//! MirrorMaker 2 as a test sets it up: mm2.properties for the test clusters, the application
//! running inside the test process, and the checkpoints and source offsets it stores.

use std::time::Duration;

use rdkafka::producer::FutureRecord;

use super::{create_topic, producer, read_raw, read_topic, source_bootstrap, target_bootstrap};

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
        let cfg = app_config(text);
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

/// The application's configuration from an mm2.properties text (panics on a bad one), with
/// the logs going through the test harness: shown for a failing test only.
pub fn app_config(text: &str) -> mm2::config::Mm2Config {
    mm2::telemetry::init_for_tests();
    let props = mm2::config::Properties::parse(text.as_bytes()).expect("syntax");
    mm2::config::from_properties(
        props,
        &[],
        &mm2::config::Environment::Fixed(Default::default()),
    )
    .unwrap_or_else(|e| panic!("{e}"))
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

/// An mm2.properties for `a->b` (and not back) over `topics` and `groups`, checkpointing and
/// syncing group offsets, with every refresh, checkpoint and sync every `interval_seconds` and
/// offsets flushed every second: the short intervals Kafka's own MirrorMaker 2 tests use, which
/// both implementations run alike.
pub fn checkpointing_flow(
    a: &str,
    b: &str,
    topics: &str,
    groups: &str,
    interval_seconds: u32,
) -> String {
    let i = interval_seconds;
    format!(
        "clusters = {a}, {b}\n\
         {a}.bootstrap.servers = {}\n\
         {b}.bootstrap.servers = {}\n\
         {a}->{b}.enabled = true\n\
         {a}->{b}.topics = {topics}\n\
         {a}->{b}.groups = {groups}\n\
         {b}->{a}.enabled = false\n\
         emit.heartbeats.enabled = false\n\
         refresh.topics.interval.seconds = {i}\n\
         refresh.groups.interval.seconds = {i}\n\
         emit.checkpoints.interval.seconds = {i}\n\
         sync.group.offsets.enabled = true\n\
         sync.group.offsets.interval.seconds = {i}\n\
         sync.topic.acls.enabled = false\n\
         offset.flush.interval.ms = 1000\n\
         {}",
        source_bootstrap(),
        target_bootstrap(),
        one_broker_settings(b),
    )
}

/// Whether this run's flows copy record batches (`TEST_COPY_BATCHES=1`): scripts/test.sh runs
/// the MirrorSource suites a second time so.
pub fn copy_batches() -> bool {
    std::env::var("TEST_COPY_BATCHES").is_ok_and(|v| v == "1")
}

/// mm2.properties lines for test clusters of one broker each (replication factor 1 for every
/// topic MirrorMaker creates) and for a quick worker group on `target`, and the data path this
/// run tests ([`copy_batches`]).
pub fn one_broker_settings(target: &str) -> String {
    format!(
        "copy.batches.enabled = {}\n\
         replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\n\
         offset.storage.replication.factor = 1\n\
         config.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\n\
         {target}.offset.flush.interval.ms = 500\n\
         {target}.session.timeout.ms = 6000\n\
         {target}.heartbeat.interval.ms = 1000\n",
        copy_batches()
    )
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
