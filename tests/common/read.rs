//! Reading topics back, with one consumer that surfaces every consumer error: until a number
//! of records arrived (`read`, `read_exactly`), or up to the end offsets the partitions had
//! when the read began (`read_records`, `read_raw`, `read_topic`, `read_log`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::TopicPartitionList;

use super::{consumer_config, topics, wait_for, Rec};

/// How long a read to the end offsets may take before it fails.
const READ_TO_END: Duration = Duration::from_secs(30);

/// A consumer of one topic that reports reaching the end of a partition (so a partition whose
/// last offset is a transaction marker, with no record there, is known to be read through).
struct Reader {
    consumer: BaseConsumer,
    topic: String,
}

/// What one poll of a `Reader` brought.
enum Polled<'a> {
    Record(BorrowedMessage<'a>),
    /// The partition has been read up to its current end.
    End(i32),
}

impl Reader {
    fn new(bootstrap: &str, topic: &str) -> Reader {
        let consumer = consumer_config(bootstrap)
            .set("enable.partition.eof", "true")
            .create()
            .expect("consumer");
        Reader {
            consumer,
            topic: topic.to_string(),
        }
    }

    /// Reads `partitions` from the beginning.
    fn assign(&self, partitions: impl IntoIterator<Item = i32>) {
        let mut tpl = TopicPartitionList::new();
        for p in partitions {
            tpl.add_partition_offset(&self.topic, p, rdkafka::Offset::Beginning)
                .unwrap();
        }
        self.consumer.assign(&tpl).expect("assign");
    }

    /// What arrives within `timeout`, if anything; a consumer error fails the test.
    fn poll(&self, timeout: Duration) -> Option<Polled<'_>> {
        match self.consumer.poll(timeout)? {
            Ok(m) => Some(Polled::Record(m)),
            Err(KafkaError::PartitionEOF(p)) => Some(Polled::End(p)),
            Err(e) => panic!("consume {}: {e}", self.topic),
        }
    }

    /// The next records, until `count` arrived or `timeout` passed.
    fn records(&self, count: usize, timeout: Duration) -> Vec<Rec> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < count && Instant::now() < deadline {
            if let Some(Polled::Record(m)) = self.poll(Duration::from_millis(200)) {
                out.push(rec(&m));
            }
        }
        out
    }

    /// Every record of `partitions` up to the end offsets they have now, with its offset.
    /// Records written since are not part of the read.
    fn to_end(&self, partitions: &[i32]) -> Vec<(i64, Rec)> {
        let topic = &self.topic;
        // The last offset of each partition with records.
        let mut last = BTreeMap::new();
        for p in partitions {
            // A topic not created yet has nothing to read.
            // (A topic just created may have no leader for a moment: that is waited out.)
            let deadline = Instant::now() + Duration::from_secs(10);
            let w = mm2::kafka::log::watermarks_when_led(&self.consumer, topic, *p, deadline);
            let (low, high) = match w {
                Ok(w) => w,
                Err(KafkaError::MetadataFetch(RDKafkaErrorCode::UnknownPartition)) => (0, 0),
                Err(e) => panic!("watermarks of {topic}-{p}: {e}"),
            };
            if high > low {
                last.insert(*p, high - 1);
            }
        }
        let mut out = Vec::new();
        if last.is_empty() {
            return out;
        }
        self.assign(last.keys().copied());
        let deadline = Instant::now() + READ_TO_END;
        while !last.is_empty() {
            assert!(
                Instant::now() < deadline,
                "{topic}: not read up to the end offsets within {READ_TO_END:?}, \
                 partitions left (last offset): {last:?}"
            );
            match self.poll(Duration::from_millis(100)) {
                Some(Polled::Record(m)) => {
                    let Some(&end) = last.get(&m.partition()) else {
                        continue;
                    };
                    if m.offset() <= end {
                        out.push((m.offset(), rec(&m)));
                    }
                    if m.offset() >= end {
                        last.remove(&m.partition());
                    }
                }
                Some(Polled::End(p)) => {
                    last.remove(&p);
                }
                None => {}
            }
        }
        out
    }
}

fn rec(m: &BorrowedMessage<'_>) -> Rec {
    Rec {
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
    }
}

/// Reads partitions `0..partitions` of `topic` from the start until `count` records arrived.
pub fn read(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    count: usize,
    timeout: Duration,
) -> Vec<Rec> {
    let r = Reader::new(bootstrap, topic);
    r.assign(0..partitions);
    r.records(count, timeout)
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
    let r = Reader::new(bootstrap, topic);
    r.assign(0..partitions);
    let got = r.records(count, deadline.saturating_duration_since(Instant::now()));
    assert_eq!(got.len(), count, "records in {topic}");
    // Anything the same consumer reads after `count` would be a duplicate.
    let extra = r.records(1, Duration::from_secs(2));
    assert!(
        extra.is_empty(),
        "{topic} has more than {count} records (duplicates?): {extra:?}"
    );
    got
}

/// Every record of partitions `0..partitions` of `topic`, up to their end offsets.
pub fn read_records(bootstrap: &str, topic: &str, partitions: i32) -> Vec<Rec> {
    let partitions: Vec<i32> = (0..partitions).collect();
    let r = Reader::new(bootstrap, topic);
    r.to_end(&partitions).into_iter().map(|(_, r)| r).collect()
}

/// Every (key, value) of partition `partition` of `topic`, from the beginning to the end.
pub fn read_raw(bootstrap: &str, topic: &str, partition: i32) -> Vec<mm2::kafka::log::LogRecord> {
    key_values(Reader::new(bootstrap, topic).to_end(&[partition]))
}

/// Every (key, value) of every partition of `topic`.
pub fn read_topic(bootstrap: &str, topic: &str) -> Vec<mm2::kafka::log::LogRecord> {
    let r = Reader::new(bootstrap, topic);
    let md = r
        .consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .expect("metadata");
    let partitions = md
        .topics()
        .first()
        .map(|t| t.partitions().len() as i32)
        .unwrap_or(0);
    key_values(r.to_end(&(0..partitions).collect::<Vec<_>>()))
}

fn key_values(read: Vec<(i64, Rec)>) -> Vec<mm2::kafka::log::LogRecord> {
    read.into_iter().map(|(_, r)| (r.key, r.value)).collect()
}

/// The committed values of a one-partition topic in offset order (read_committed, librdkafka's
/// default), each offset once: a batch handed out twice would not hide a duplicate write.
pub fn read_log(bootstrap: &str, topic: &str) -> Vec<String> {
    let mut log = BTreeMap::new();
    for (offset, r) in Reader::new(bootstrap, topic).to_end(&[0]) {
        let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
        if log.insert(offset, value).is_some() {
            eprintln!("offset {offset} of {topic} read twice");
        }
    }
    log.into_values().collect()
}
