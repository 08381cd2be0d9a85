//! The primitive under every Kafka-backed store (Connect's `KafkaBasedLog`): make sure a compacted
//! internal topic exists, and read a topic from the beginning to its end offsets.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::admin::{AdminError, NewTopicSpec, TopicAdmin};
use super::client::{create, LogContext};
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
    let md = consumer.fetch_metadata(Some(topic), timeout).map_err(err)?;
    let partitions = md
        .topics()
        .first()
        .map(|t| t.partitions().len() as i32)
        .unwrap_or(0);
    let mut ends = Vec::new();
    let mut tpl = TopicPartitionList::new();
    let deadline = Instant::now() + timeout;
    for p in 0..partitions {
        let (low, high) = watermarks_when_led(watermarks, topic, p, deadline).map_err(err)?;
        if high > low {
            ends.push((p, high));
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(err)?;
        }
    }
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

/// A partition's watermarks, waiting out the moments right after the topic was created (or its
/// broker restarted) when the partition has no leader yet, until `deadline`.
pub fn watermarks_when_led<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
    deadline: Instant,
) -> Result<(i64, i64), KafkaError> {
    use rdkafka::types::RDKafkaErrorCode::{
        LeaderNotAvailable, NotLeaderForPartition, UnknownTopicOrPartition,
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match consumer.fetch_watermarks(topic, partition, left) {
            Err(KafkaError::MetadataFetch(
                code @ (NotLeaderForPartition | LeaderNotAvailable | UnknownTopicOrPartition),
            )) if Instant::now() < deadline => {
                tracing::debug!("watermarks of {topic}-{partition}: {code}; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            result => return result,
        }
    }
}
