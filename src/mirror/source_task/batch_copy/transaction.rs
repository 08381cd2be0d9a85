//! Exactly once on the batch path: the task's transactional producer, spoken over the protocol.
//! InitProducerId with the task's transactional id fences every earlier incarnation (a Java or
//! librdkafka producer with the same id included); each transaction adds its partitions
//! (AddPartitionsToTxn), holds the copied batches, the source offsets and the offset syncs that
//! go to the target, and ends with EndTxn.
//!
//! The transaction protocol is Kafka's first version (KIP-98), which every broker from 3.x to
//! 4.x accepts from clients: partitions are added explicitly, Produce stays below version 12 and
//! EndTxn below version 5, so the epoch does not change between transactions and sequences run
//! on. Kafka 4.x's second version (KIP-890: implicit adds, an epoch bump per transaction) is not
//! spoken yet.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, EndTxnRequest, FindCoordinatorRequest, InitProducerIdRequest,
    ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use crate::config::TransactionBoundary;
use crate::kafka::transaction::boundary_due;
use crate::kafka::wire::{Cluster, WireError};

const FIND_COORDINATOR_VERSION: i16 = 3;
const INIT_PRODUCER_ID_VERSION: i16 = 4;
/// Version 3 is the last a client sends (4 and later are between brokers).
const ADD_PARTITIONS_VERSION: i16 = 3;
/// Version 5 would ask for the second transaction protocol.
const END_TXN_VERSION: i16 = 4;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long coordinator requests are retried while the coordinator moves or loads.
const RETRY_FOR: Duration = Duration::from_secs(60);
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// The transaction timeout asked for (Java's producer default, `transaction.timeout.ms`).
const TRANSACTION_TIMEOUT_MS: i32 = 60_000;

/// The transactional state of one task.
#[derive(Debug)]
pub(super) struct Txn {
    id: String,
    boundary: TransactionBoundary,
    began: Option<Instant>,
    coordinator: Option<i32>,
    /// Partitions added to the open transaction.
    added: HashSet<(String, i32)>,
    /// The next sequence of the partitions written outside the copied ones (source offsets,
    /// offset syncs).
    sequences: HashMap<(String, i32), i32>,
}

impl Txn {
    pub fn new(id: String, boundary: TransactionBoundary) -> Txn {
        Txn {
            id,
            boundary,
            began: None,
            coordinator: None,
            added: HashSet::new(),
            sequences: HashMap::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn is_open(&self) -> bool {
        self.began.is_some()
    }

    /// Notes that the open transaction holds records (opens one if none is).
    pub fn begin(&mut self, now: Instant) {
        self.began.get_or_insert(now);
    }

    /// Whether the open transaction should be committed now, as on the record path.
    pub fn due(&self, now: Instant, flush_interval: Duration) -> bool {
        boundary_due(self.boundary, self.began, now, flush_interval)
    }

    /// Of `partitions`, those not yet added to the open transaction.
    pub fn missing(&self, partitions: &[(String, i32)]) -> Vec<(String, i32)> {
        let mut out: Vec<(String, i32)> = partitions
            .iter()
            .filter(|p| !self.added.contains(*p))
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The base sequence of `records` more to a partition written by the task itself.
    pub fn next_sequence(&mut self, topic: &str, partition: i32, records: i32) -> i32 {
        let seq = self
            .sequences
            .entry((topic.to_string(), partition))
            .or_insert(0);
        let base = *seq;
        *seq = ((i64::from(*seq) + i64::from(records)) % (i64::from(i32::MAX) + 1)) as i32;
        base
    }

    /// Finds the coordinator and takes the producer id and epoch of the transactional id,
    /// fencing whoever held it before (and aborting what it left open).
    pub async fn init(&mut self, cluster: &mut Cluster) -> Result<(i64, i16), WireError> {
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(self.txn_id()))
            .with_transaction_timeout_ms(TRANSACTION_TIMEOUT_MS)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let deadline = Instant::now() + RETRY_FOR;
        loop {
            let node = self.coordinator(cluster).await?;
            let r = match cluster.node(node).await {
                Ok(c) => {
                    let v = version::<InitProducerIdRequest>(&c, INIT_PRODUCER_ID_VERSION)?;
                    c.call(&request, v, REQUEST_TIMEOUT).await
                }
                Err(e) => Err(e),
            };
            let error = match r {
                Ok(r) => match WireError::from_code(r.error_code) {
                    None => return Ok((r.producer_id.0, r.producer_epoch)),
                    Some(e) => e,
                },
                Err(e) => e,
            };
            self.retry_or_fail(error, deadline).await?;
        }
    }

    /// Adds `partitions` to the open transaction.
    pub async fn add(
        &mut self,
        cluster: &mut Cluster,
        producer: (i64, i16),
        partitions: &[(String, i32)],
    ) -> Result<(), WireError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for (topic, partition) in partitions {
            match topics.iter_mut().find(|t| t.name.0.as_str() == topic) {
                Some(t) => t.partitions.push(*partition),
                None => topics.push(
                    AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(StrBytes::from_string(topic.clone())))
                        .with_partitions(vec![*partition]),
                ),
            }
        }
        // Versions up to 3 carry one transaction in the top-level fields.
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(self.txn_id())
            .with_v3_and_below_producer_id(ProducerId(producer.0))
            .with_v3_and_below_producer_epoch(producer.1)
            .with_v3_and_below_topics(topics);
        let deadline = Instant::now() + RETRY_FOR;
        loop {
            let node = self.coordinator(cluster).await?;
            let r = match cluster.node(node).await {
                Ok(c) => {
                    let v = version::<AddPartitionsToTxnRequest>(&c, ADD_PARTITIONS_VERSION)?;
                    c.call(&request, v, REQUEST_TIMEOUT).await
                }
                Err(e) => Err(e),
            };
            let error = match r {
                Ok(r) => {
                    let first = r
                        .results_by_topic_v3_and_below
                        .iter()
                        .flat_map(|t| &t.results_by_partition)
                        .map(|p| p.partition_error_code)
                        .find(|c| *c != 0)
                        .or((r.error_code != 0).then_some(r.error_code));
                    match first.and_then(WireError::from_code) {
                        None => {
                            self.added.extend(partitions.iter().cloned());
                            return Ok(());
                        }
                        Some(e) => e,
                    }
                }
                Err(e) => Err(e)?,
            };
            self.retry_or_fail(error, deadline).await?;
        }
    }

    /// Commits (or aborts) the open transaction.
    pub async fn end(
        &mut self,
        cluster: &mut Cluster,
        producer: (i64, i16),
        commit: bool,
    ) -> Result<(), WireError> {
        let request = EndTxnRequest::default()
            .with_transactional_id(self.txn_id())
            .with_producer_id(ProducerId(producer.0))
            .with_producer_epoch(producer.1)
            .with_committed(commit);
        let deadline = Instant::now() + RETRY_FOR;
        let result = loop {
            let node = self.coordinator(cluster).await?;
            let r = match cluster.node(node).await {
                Ok(c) => {
                    let v = version::<EndTxnRequest>(&c, END_TXN_VERSION)?;
                    c.call(&request, v, REQUEST_TIMEOUT).await
                }
                Err(e) => Err(e),
            };
            let error = match r {
                Ok(r) => match WireError::from_code(r.error_code) {
                    None => break Ok(()),
                    Some(e) => e,
                },
                Err(e) => e,
            };
            if let Err(e) = self.retry_or_fail(error, deadline).await {
                break Err(e);
            }
        };
        self.began = None;
        self.added.clear();
        result
    }

    /// Waits and asks again on errors the coordinator recovers from (looking it up again when
    /// it moved); any other error, or one that lasts, is returned.
    async fn retry_or_fail(
        &mut self,
        error: WireError,
        deadline: Instant,
    ) -> Result<(), WireError> {
        let moved = matches!(
            error,
            WireError::Broker(
                ResponseError::NotCoordinator | ResponseError::CoordinatorNotAvailable
            )
        ) || matches!(error, WireError::Io { .. } | WireError::Connect { .. });
        let retriable = moved
            || matches!(
                error,
                WireError::Broker(
                    ResponseError::CoordinatorLoadInProgress
                        | ResponseError::ConcurrentTransactions
                )
            );
        if !retriable || Instant::now() >= deadline {
            return Err(error);
        }
        if moved {
            self.coordinator = None;
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
        Ok(())
    }

    /// The transaction coordinator of this id, looked up when not known.
    async fn coordinator(&mut self, cluster: &mut Cluster) -> Result<i32, WireError> {
        if let Some(n) = self.coordinator {
            return Ok(n);
        }
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(self.id.clone()))
            .with_key_type(1);
        let deadline = Instant::now() + RETRY_FOR;
        loop {
            let c = cluster.any().await?;
            let v = version::<FindCoordinatorRequest>(&c, FIND_COORDINATOR_VERSION)?;
            let error = match c.call(&request, v, REQUEST_TIMEOUT).await {
                Ok(r) => match WireError::from_code(r.error_code) {
                    None => {
                        self.coordinator = Some(r.node_id.0);
                        return Ok(r.node_id.0);
                    }
                    Some(e) => e,
                },
                Err(e) => e,
            };
            let retriable = error.is_retriable()
                || matches!(
                    error,
                    WireError::Broker(ResponseError::CoordinatorNotAvailable)
                );
            if !retriable || Instant::now() >= deadline {
                return Err(error);
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }

    fn txn_id(&self) -> TransactionalId {
        TransactionalId(StrBytes::from_string(self.id.clone()))
    }
}

fn version<R: kafka_protocol::protocol::Request>(
    c: &crate::kafka::wire::Connection,
    cap: i16,
) -> Result<i16, WireError> {
    c.version::<R>(cap).ok_or_else(|| WireError::Protocol {
        broker: c.broker().to_string(),
        api: std::any::type_name::<R>(),
        reason: "no version both sides speak".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_as_the_record_path_says() {
        let now = Instant::now();
        let mut poll = Txn::new("t".into(), TransactionBoundary::Poll);
        assert!(!poll.due(now, Duration::from_secs(60)), "nothing open");
        poll.begin(now);
        assert!(poll.due(now, Duration::from_secs(60)));
        let mut every = Txn::new("t".into(), TransactionBoundary::Interval(None));
        every.begin(now);
        assert!(!every.due(now + Duration::from_secs(1), Duration::from_secs(5)));
        assert!(every.due(now + Duration::from_secs(5), Duration::from_secs(5)));
    }

    #[test]
    fn own_partitions_get_running_sequences_and_missing_ones_are_listed_once() {
        let mut t = Txn::new("t".into(), TransactionBoundary::Poll);
        assert_eq!(t.next_sequence("offsets", 3, 2), 0);
        assert_eq!(t.next_sequence("offsets", 3, 1), 2);
        assert_eq!(t.next_sequence("offsets", 4, 1), 0);
        t.added.insert(("a".into(), 0));
        let missing = t.missing(&[("a".into(), 0), ("b".into(), 1), ("b".into(), 1)]);
        assert_eq!(missing, [("b".to_string(), 1)]);
    }
}
