//! Consumers of records: one that reads partitions it assigns itself (`assign()`, no group
//! membership), as MirrorSource's tasks and the checkpoints' offset-sync reader do, with the
//! offsets each fetch reports; one that reads what its consumer group gives it
//! (`subscribe()`) and commits what it consumed, as Connect's sink tasks do.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::client::create;
use super::context::LogContext;
use super::producer::Headers;
use super::props::ClientProps;
use super::topic_partition::TopicPartition;

/// Where reading a partition starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Offset(i64),
    Beginning,
    End,
}

/// A consumer of self-assigned partitions.
pub struct AssignedConsumer {
    inner: BaseConsumer<LogContext>,
}

/// A record just read; it borrows the consumer.
pub struct Polled<'a>(BorrowedMessage<'a>);

impl Polled<'_> {
    pub fn topic(&self) -> &str {
        self.0.topic()
    }
    pub fn partition(&self) -> i32 {
        self.0.partition()
    }
    pub fn offset(&self) -> i64 {
        self.0.offset()
    }
    /// Milliseconds since the epoch, when the record has a timestamp.
    pub fn timestamp(&self) -> Option<i64> {
        self.0.timestamp().to_millis()
    }
    pub fn key(&self) -> Option<&[u8]> {
        self.0.key()
    }
    pub fn value(&self) -> Option<&[u8]> {
        self.0.payload()
    }
    pub fn value_len(&self) -> usize {
        self.0.payload_len()
    }
    /// The headers in order as (name, value), borrowed: to look at them without a copy.
    pub fn header_pairs(&self) -> Vec<(&str, Option<&[u8]>)> {
        use rdkafka::message::Headers as _;
        self.0
            .headers()
            .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
            .unwrap_or_default()
    }
    /// A copy of the headers, to produce with the record.
    pub fn headers(&self) -> Option<Headers> {
        self.0.headers().map(|h| Headers(h.detach()))
    }
}

impl AssignedConsumer {
    /// Creates the consumer; `name` is its client id (unless set) and its name in logs.
    pub fn create(props: &ClientProps, name: &str) -> Result<Self, KafkaError> {
        Self::create_named(props, name, name)
    }

    /// Creates the consumer with client id `client_id` (unless set), named `log_name` in logs.
    pub fn create_named(
        props: &ClientProps,
        client_id: &str,
        log_name: &str,
    ) -> Result<Self, KafkaError> {
        let inner = create(props, client_id, LogContext::new(log_name))?;
        Ok(AssignedConsumer { inner })
    }

    /// Reads exactly these partitions from now on, each from where it says.
    pub fn assign(&self, partitions: &[(TopicPartition, StartAt)]) -> Result<(), KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for (tp, start) in partitions {
            let offset = match start {
                StartAt::Offset(o) => Offset::Offset(*o),
                StartAt::Beginning => Offset::Beginning,
                StartAt::End => Offset::End,
            };
            tpl.add_partition_offset(&tp.topic, tp.partition, offset)?;
        }
        self.inner.assign(&tpl)
    }

    /// The first offset in the log of each of `partitions` that its leader reported, asked in
    /// one request per broker. (Assigned at its beginning, a partition is looked up by
    /// librdkafka on its own, one request per partition: ten thousand at a first start.)
    /// Partitions the leaders did not answer for are left out.
    pub fn log_starts(
        &self,
        partitions: &[TopicPartition],
        timeout: Duration,
    ) -> Result<Vec<(TopicPartition, i64)>, KafkaError> {
        let mut tpl = TopicPartitionList::with_capacity(partitions.len());
        for tp in partitions {
            // A ListOffsets "timestamp" of -2 asks for the earliest offset.
            tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Beginning)?;
        }
        let found = self.inner.offsets_for_times(tpl, timeout)?;
        Ok(found
            .elements()
            .iter()
            .filter(|e| e.error().is_ok())
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) if o >= 0 => {
                    Some((TopicPartition::new(e.topic().to_string(), e.partition()), o))
                }
                _ => None,
            })
            .collect())
    }

    /// The next record, waiting up to `timeout`; `None` when there is none yet.
    pub fn poll(&self, timeout: Duration) -> Option<Result<Polled<'_>, KafkaError>> {
        self.inner.poll(timeout).map(|r| r.map(Polled))
    }

    /// The offset of the next record `tp` will get, asked of its leader.
    pub fn high_watermark(
        &self,
        tp: &TopicPartition,
        timeout: Duration,
    ) -> Result<i64, KafkaError> {
        self.inner
            .fetch_watermarks(&tp.topic, tp.partition, timeout)
            .map(|(_, high)| high)
    }

    /// The first offset still in `tp`'s log and the offset of the next record it will get,
    /// asked of its leader.
    pub fn watermarks(
        &self,
        tp: &TopicPartition,
        timeout: Duration,
    ) -> Result<(i64, i64), KafkaError> {
        self.inner
            .fetch_watermarks(&tp.topic, tp.partition, timeout)
    }

    /// The log start offset and end offset of `tp` that the last fetch reported, without
    /// asking the broker; `None` before one did. Cheap: for every gap in a partition's offsets,
    /// and for the lag metrics.
    // librdkafka caches them from each fetch response, but rust-rdkafka does not expose the call.
    #[allow(unsafe_code)]
    pub fn cached_watermarks(&self, tp: &TopicPartition) -> Option<(i64, i64)> {
        let topic = std::ffi::CString::new(tp.topic.as_str()).ok()?;
        let (mut low, mut high) = (-1_i64, -1_i64);
        // SAFETY: the client handle lives as long as `self`; `topic` is a NUL-terminated string
        // that outlives the call; `low` and `high` are valid for writes. The call only reads
        // the partition's cached state under librdkafka's own lock.
        let err = unsafe {
            rdkafka::bindings::rd_kafka_get_watermark_offsets(
                self.inner.client().native_ptr(),
                topic.as_ptr(),
                tp.partition,
                &mut low,
                &mut high,
            )
        };
        (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
            .then_some((low, high))
    }

    /// The offset of the next record this consumer will read from `tp`; `None` before it has
    /// one (nothing read yet and no offset assigned) or if `tp` is not assigned.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        let positions = self.inner.position().ok()?;
        match positions.find_partition(&tp.topic, tp.partition)?.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        }
    }
}

/// A member of the consumer group `group.id` (of its settings) that reads the partitions the
/// group gives it.
pub struct SubscribedConsumer {
    inner: BaseConsumer<LogContext>,
}

impl SubscribedConsumer {
    /// Creates the consumer; `name` is its client id (unless set) and its name in logs.
    pub fn create(props: &ClientProps, name: &str) -> Result<Self, KafkaError> {
        let inner = create(props, name, LogContext::new(name))?;
        Ok(SubscribedConsumer { inner })
    }

    /// Joins the group for `topics`; a name starting with `^` is a pattern (librdkafka's rule).
    pub fn subscribe(&self, topics: &[&str]) -> Result<(), KafkaError> {
        self.inner.subscribe(topics)
    }

    /// The next record, waiting up to `timeout`; `None` when there is none yet.
    pub fn poll(&self, timeout: Duration) -> Option<Result<Polled<'_>, KafkaError>> {
        self.inner.poll(timeout).map(|r| r.map(Polled))
    }

    /// Commits the offsets of the records consumed so far and waits for the broker to store
    /// them. Nothing consumed since the last commit is not an error.
    pub fn commit_consumed(&self) -> Result<(), KafkaError> {
        match self.inner.commit_consumer_state(CommitMode::Sync) {
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
            result => result,
        }
    }
}
