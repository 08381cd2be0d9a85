//! Clients of the test clusters: client settings (with `secure` ones), topics, producing
//! records, committed group offsets and topic configs.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::TopicPartitionList;

use super::{source_bootstrap, unique, wait_for};

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
    create_topic_with(bootstrap, topic, partitions, &[]).await;
}

/// Creates a topic with topic configs (`cleanup.policy`, `max.message.bytes`...) and waits
/// until its metadata shows every partition.
pub async fn create_topic_with(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) {
    let admin = admin(bootstrap);
    let new = configs.iter().fold(
        NewTopic::new(topic, partitions, TopicReplication::Fixed(1)),
        |new, (k, v)| new.set(k, v),
    );
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
    consumer_config(bootstrap).create().expect("consumer")
}

/// The settings of `consumer`.
pub fn consumer_config(bootstrap: &str) -> ClientConfig {
    let mut c = client(bootstrap);
    c.set("group.id", unique("test-reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    c
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
        p.send(future_record(topic, r), Duration::from_secs(10))
            .await
            .expect("delivered");
    }
}

/// `r` as a record for `topic`: its partition, key, value, timestamp and headers.
pub fn future_record<'a>(topic: &'a str, r: &'a Rec) -> FutureRecord<'a, [u8], [u8]> {
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
    fr
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

/// Records of one partition, in order.
pub fn partition_of(recs: &[Rec], p: i32) -> Vec<&Rec> {
    recs.iter().filter(|r| r.partition == p).collect()
}

/// A topic's config value on a cluster, as the broker describes it. A topic the broker cannot
/// describe (one that does not exist) fails the test.
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
    let resource = res
        .into_iter()
        .next()
        .expect("one resource described")
        .unwrap_or_else(|e| panic!("config of topic {topic}: {e:?}"));
    resource.entries.into_iter().find(|e| e.name == key)
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
