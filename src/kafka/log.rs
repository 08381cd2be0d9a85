//! The primitive under every Kafka-backed store (Connect's `KafkaBasedLog`): make sure a compacted
//! internal topic exists, read a topic from the beginning to its end offsets, follow it
//! ([`Tail`]), and write to it ([`LogWriter`], [`LogPublisher`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::admin::{AdminError, NewTopicSpec, TopicAdmin};
use super::client::{client_error, create, LogContext};
use super::props::ClientProps;

/// One record of a log: key and value (a `None` value is a tombstone).
pub type LogRecord = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("reading `{topic}`: {source}")]
    Kafka {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("reading `{topic}`: not at its end offsets after {timeout:?}")]
    Timeout { topic: String, timeout: Duration },
    #[error("cannot write to {topic}: {source}")]
    Write {
        topic: String,
        #[source]
        source: KafkaError,
    },
}

/// Creates a compacted topic unless it exists. Errors only if creation fails for another reason.
pub async fn ensure_compacted_topic(
    admin: &impl TopicAdmin,
    name: &str,
    partitions: i32,
    replication_factor: i16,
) -> Result<(), AdminError> {
    let spec = NewTopicSpec {
        name: name.to_string(),
        partitions,
        replication_factor: replication_factor as i32,
        configs: vec![("cleanup.policy".into(), "compact".into())],
    };
    for (topic, result) in admin.create_topics(&[spec]).await? {
        if let Err(message) = result {
            return Err(AdminError::Other {
                what: "creating an internal topic",
                cluster: admin.cluster().to_string(),
                message: format!("`{topic}`: {message}"),
            });
        }
    }
    Ok(())
}

/// Reads every partition of `topic` from the beginning up to the end offsets it had when the
/// read started, in offset order per partition. Blocking.
///
/// With `isolation.level=read_committed` the end is still the high watermark, not the last
/// stable offset: the read waits for the transactions open when it started to end, so that a
/// record committed after another task's open transaction is not missed.
pub fn read_to_end(
    props: &ClientProps,
    name: &str,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<LogRecord>, LogError> {
    let err = |source| LogError::Kafka {
        topic: topic.to_string(),
        source,
    };
    let mut props = props.clone();
    props.set_default("group.id", format!("{name}-reader"));
    props.set("enable.auto.commit", "false", false);
    props.set("enable.partition.eof", "false", false);
    let consumer: BaseConsumer<LogContext> =
        create(&props, name, LogContext::new(name)).map_err(err)?;
    let committed = props
        .get("isolation.level")
        .is_some_and(|v| v == "read_committed");
    let uncommitted: Option<BaseConsumer<LogContext>> = if committed {
        let mut props = props.clone();
        props.set("isolation.level", "read_uncommitted", false);
        Some(create(&props, name, LogContext::new(name)).map_err(err)?)
    } else {
        None
    };
    let watermarks = uncommitted.as_ref().unwrap_or(&consumer);
    let deadline = Instant::now() + timeout;
    let (ends, tpl) = end_offsets(&consumer, watermarks, topic, deadline).map_err(err)?;
    let mut out = Vec::new();
    if ends.is_empty() {
        return Ok(out);
    }
    consumer.assign(&tpl).map_err(err)?;
    loop {
        while let Some(m) = consumer.poll(Duration::from_millis(50)) {
            let m = m.map_err(err)?;
            out.push((m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)));
        }
        let position = consumer.position().map_err(err)?;
        let done = ends.iter().all(|(p, high)| {
            matches!(position.find_partition(topic, *p).map(|e| e.offset()), Some(Offset::Offset(o)) if o >= *high)
        });
        if done {
            return Ok(out);
        }
        if Instant::now() > deadline {
            return Err(LogError::Timeout {
                topic: topic.to_string(),
                timeout,
            });
        }
    }
}

/// The end offset of every non-empty partition of `topic` (`watermarks` reads them), and
/// those partitions from their beginnings, to assign.
fn end_offsets<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    watermarks: &BaseConsumer<C>,
    topic: &str,
    deadline: Instant,
) -> Result<(Vec<(i32, i64)>, TopicPartitionList), KafkaError> {
    let partitions = partition_count_when_known(consumer, topic, deadline)?;
    let mut ends = Vec::new();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let (low, high) = watermarks_when_led(watermarks, topic, p, deadline)?;
        if high > low {
            ends.push((p, high));
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        }
    }
    Ok((ends, tpl))
}

/// How long a topic that the metadata does not know is waited for: one that another client
/// just created shows within milliseconds; one that does not exist reads as empty.
const TOPIC_APPEARS: Duration = Duration::from_secs(2);

/// The partition count of `topic`, waiting out the moments right after another client created
/// it, when this broker's metadata does not know it yet (at most [`TOPIC_APPEARS`], and never
/// past `deadline`); 0 for a topic that does not exist.
fn partition_count_when_known<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    deadline: Instant,
) -> Result<i32, KafkaError> {
    let wait_until = deadline.min(Instant::now() + TOPIC_APPEARS);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let md = consumer.fetch_metadata(Some(topic), left)?;
        let Some(t) = md.topics().first() else {
            return Ok(0);
        };
        match t.error() {
            Some(e) if Instant::now() < wait_until => {
                tracing::debug!("metadata of {topic}: {e:?}; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => return Ok(t.partitions().len() as i32),
        }
    }
}

/// A partition's watermarks, waiting out the moments right after the topic was created (or its
/// broker restarted) when the partition has no leader yet, or is not in this client's metadata
/// yet, until `deadline`.
pub fn watermarks_when_led<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
    deadline: Instant,
) -> Result<(i64, i64), KafkaError> {
    use rdkafka::types::RDKafkaErrorCode::{
        LeaderNotAvailable, NotLeaderForPartition, UnknownPartition, UnknownTopicOrPartition,
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match consumer.fetch_watermarks(topic, partition, left) {
            Err(KafkaError::MetadataFetch(
                code @ (NotLeaderForPartition
                | LeaderNotAvailable
                | UnknownTopicOrPartition
                | UnknownPartition),
            )) if Instant::now() < deadline => {
                tracing::debug!("watermarks of {topic}-{partition}: {code}; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            result => return result,
        }
    }
}

/// One record of a followed log, with where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct TailRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// Which partitions of a log to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitions {
    /// Partition 0 alone (a config topic, which has one).
    First,
    /// Every partition the topic has when the tail opens.
    All,
}

/// Follows a log from the beginning of its partitions, on the caller's thread. Consumer errors
/// are logged (once a minute each) and the tail reads on: librdkafka recovers from them.
pub struct Tail {
    consumer: BaseConsumer<LogContext>,
    name: String,
    topic: String,
}

impl Tail {
    /// Assigns `partitions` of `topic` from their beginnings; `name` names the client in logs.
    pub fn open(
        props: &ClientProps,
        name: &str,
        topic: &str,
        partitions: Partitions,
    ) -> Result<Tail, LogError> {
        let err = |source| LogError::Kafka {
            topic: topic.to_string(),
            source,
        };
        let mut props = props.clone();
        props.set_default("group.id", format!("{topic}-reader"));
        props.set("enable.auto.commit", "false", false);
        let consumer: BaseConsumer<LogContext> =
            create(&props, name, LogContext::new(name)).map_err(err)?;
        let count = match partitions {
            Partitions::First => 1,
            Partitions::All => {
                let deadline = Instant::now() + Duration::from_secs(30);
                partition_count_when_known(&consumer, topic, deadline).map_err(err)?
            }
        };
        let mut tpl = TopicPartitionList::new();
        for p in 0..count {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(err)?;
        }
        consumer.assign(&tpl).map_err(err)?;
        Ok(Tail {
            consumer,
            name: name.to_string(),
            topic: topic.to_string(),
        })
    }

    /// The offset the next record of `partition` will get (its high watermark), waiting out a
    /// partition without a leader until `deadline`.
    pub fn end(&self, partition: i32, deadline: Instant) -> Result<i64, LogError> {
        watermarks_when_led(&self.consumer, &self.topic, partition, deadline)
            .map(|(_, high)| high)
            .map_err(|source| LogError::Kafka {
                topic: self.topic.clone(),
                source,
            })
    }

    /// The next record, waiting up to `timeout`; `None` if none came.
    pub fn poll(&self, timeout: Duration) -> Option<TailRecord> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.consumer.poll(left)? {
                Ok(m) => {
                    return Some(TailRecord {
                        partition: m.partition(),
                        offset: m.offset(),
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec),
                    })
                }
                Err(e) => {
                    let reason = format!("cannot read {}: {e}", self.topic);
                    client_error(&self.name, &e, &reason);
                    if left.is_zero() {
                        return None;
                    }
                }
            }
        }
    }
}

/// A producer's context that keeps the offset of the last record delivered, or the first
/// failure, until taken.
struct LastOffset {
    log: LogContext,
    result: Mutex<Option<Result<i64, KafkaError>>>,
}

impl ClientContext for LastOffset {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        self.log.log(level, fac, msg);
    }
}

impl ProducerContext for LastOffset {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        let r = match r {
            Ok(m) => Ok(m.offset()),
            Err((e, _)) => Err(e.clone()),
        };
        let mut slot = self.result.lock().expect("result lock");
        if !matches!(&*slot, Some(Err(_))) {
            *slot = Some(r);
        }
    }
}

/// Writes records to a log and tells where the last one was stored.
pub struct LogWriter {
    topic: String,
    producer: Mutex<BaseProducer<LastOffset>>,
}

impl LogWriter {
    /// A writer to `topic` (acks from all replicas, idempotent unless `props` say otherwise).
    pub fn open(props: &ClientProps, name: &str, topic: &str) -> Result<LogWriter, LogError> {
        let mut props = props.clone();
        props.set_default("acks", "all");
        props.set_default("enable.idempotence", "true");
        let ctx = LastOffset {
            log: LogContext::new(name),
            result: Mutex::new(None),
        };
        let producer = create(&props, name, ctx).map_err(|source| LogError::Write {
            topic: topic.to_string(),
            source,
        })?;
        Ok(LogWriter {
            topic: topic.to_string(),
            producer: Mutex::new(producer),
        })
    }

    /// Writes `records` (key, value; `None` a tombstone) in order and waits until they are
    /// stored; the offset of the last, or -1 for none. Blocking.
    pub fn write(&self, records: &[(String, Option<Vec<u8>>)]) -> Result<i64, LogError> {
        let err = |source| LogError::Write {
            topic: self.topic.clone(),
            source,
        };
        let producer = self.producer.lock().expect("producer lock");
        *producer.context().result.lock().expect("result lock") = None;
        for (key, value) in records {
            let mut rec = BaseRecord::<str, [u8]>::to(&self.topic).key(key.as_str());
            if let Some(v) = value {
                rec = rec.payload(&v[..]);
            }
            producer.send(rec).map_err(|(e, _)| err(e))?;
        }
        producer.flush(Duration::from_secs(30)).map_err(err)?;
        let last = producer
            .context()
            .result
            .lock()
            .expect("result lock")
            .take();
        last.unwrap_or(Ok(-1)).map_err(err)
    }
}

/// Sends records to a log without waiting for them (statuses, which are rewritten on every
/// change).
pub struct LogPublisher {
    topic: String,
    producer: ThreadedProducer<LogContext>,
}

impl LogPublisher {
    pub fn open(props: &ClientProps, name: &str, topic: &str) -> Result<LogPublisher, KafkaError> {
        let mut props = props.clone();
        props.set_default("acks", "all");
        Ok(LogPublisher {
            topic: topic.to_string(),
            producer: create(&props, name, LogContext::new(name))?,
        })
    }

    /// Queues one record; a full queue drops it.
    pub fn send(&self, key: &str, value: &[u8]) {
        let _ = self.producer.send(
            BaseRecord::<str, [u8]>::to(&self.topic)
                .key(key)
                .payload(value),
        );
    }
}
