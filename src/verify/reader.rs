//! Reads one stretch of one partition as digests, streaming: the consumer's fetch buffers and
//! the comparison's look-ahead are all that is held, never the partition.

use std::time::{Duration, Instant};

use crate::kafka::consumer::{AssignedConsumer, StartAt};
use crate::kafka::props::ClientProps;
use crate::kafka::topic_partition::TopicPartition;
use crate::kafka::KafkaError;

use super::diff::{Digested, RecordStream};
use super::digest::RecordDigest;

/// Why a partition could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// `at` names the cluster and the partition.
    #[error("reading {at}: {source}")]
    Kafka {
        at: String,
        #[source]
        source: KafkaError,
    },
    #[error("reading {at}: no record for {idle:?} at offset {offset}, before the end {end}")]
    Stalled {
        at: String,
        offset: i64,
        end: i64,
        idle: Duration,
    },
}

/// The records of `[start, end)` of one partition, as digests, in offset order.
pub struct PartitionStream {
    consumer: AssignedConsumer,
    cluster: String,
    tp: TopicPartition,
    end: i64,
    /// The offset after the last record read.
    next: i64,
    idle: Duration,
    /// Records read, for progress lines.
    pub read: u64,
}

/// The low and high watermarks of a partition.
pub fn watermarks(
    props: &ClientProps,
    tp: &TopicPartition,
    timeout: Duration,
) -> Result<(i64, i64), KafkaError> {
    let consumer = AssignedConsumer::create(&reader_props(props), "mm2-verify-watermarks")?;
    consumer.watermarks(tp, timeout)
}

fn reader_props(props: &ClientProps) -> ClientProps {
    let mut props = props.clone();
    props.set_default("group.id", "mm2-verify");
    props.set("enable.auto.commit", "false", false);
    props.set("enable.partition.eof", "true", false);
    // A start below the log start (records deleted meanwhile) reads from the log start.
    props.set("auto.offset.reset", "earliest", false);
    props
}

impl PartitionStream {
    /// Opens `[start, end)` of `tp` on `cluster`.
    pub fn open(
        props: &ClientProps,
        cluster: &str,
        tp: TopicPartition,
        start: i64,
        end: i64,
        idle: Duration,
    ) -> Result<Self, ReadError> {
        let err = |source| ReadError::Kafka {
            at: format!("{cluster} {tp}"),
            source,
        };
        let consumer = AssignedConsumer::create(&reader_props(props), "mm2-verify").map_err(err)?;
        if start < end {
            consumer
                .assign(&[(tp.clone(), StartAt::Offset(start))])
                .map_err(err)?;
        }
        Ok(PartitionStream {
            consumer,
            cluster: cluster.to_string(),
            tp,
            end,
            next: start,
            idle,
            read: 0,
        })
    }
}

impl RecordStream for PartitionStream {
    type Error = ReadError;

    fn next_record(&mut self) -> Result<Option<Digested>, ReadError> {
        let mut last_progress = Instant::now();
        while self.next < self.end {
            match self.consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    if m.offset() < self.next {
                        continue;
                    }
                    self.next = m.offset() + 1;
                    if m.offset() >= self.end {
                        break;
                    }
                    self.read += 1;
                    let d = RecordDigest::of(m.key(), m.value(), m.header_pairs(), m.timestamp());
                    return Ok(Some((m.offset(), d)));
                }
                // At the partition's end: nothing up to `end` is left (the rest of the offsets
                // are transaction markers or aborted records).
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    if let Some(p) = self.consumer.position(&self.tp) {
                        if p >= self.end {
                            break;
                        }
                    }
                }
                Some(Err(source)) => {
                    return Err(ReadError::Kafka {
                        at: format!("{} {}", self.cluster, self.tp),
                        source,
                    })
                }
                None => {
                    if let Some(p) = self.consumer.position(&self.tp) {
                        if p >= self.end {
                            break;
                        }
                        if p > self.next {
                            self.next = p;
                            last_progress = Instant::now();
                        }
                    }
                    if last_progress.elapsed() > self.idle {
                        return Err(ReadError::Stalled {
                            at: format!("{} {}", self.cluster, self.tp),
                            offset: self.next,
                            end: self.end,
                            idle: self.idle,
                        });
                    }
                }
            }
        }
        self.next = self.next.max(self.end);
        Ok(None)
    }
}
