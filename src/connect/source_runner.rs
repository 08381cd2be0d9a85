//! Connect's WorkerSourceTask for plain source tasks (FileStreamSource): poll records, convert
//! key and value, produce them, and store their source offsets.
//!
//! At least once (the default): the offsets of everything the brokers acknowledged are stored
//! at each flush, so a crash replays what came after the last flush.
//!
//! Exactly once (`exactly.once.source.support=enabled` on a distributed worker, KIP-618): the
//! producer is transactional with the task's own id, `<group.id>-<connector>-<task>`, so a task
//! that starts fences every earlier incarnation of itself, wherever it runs; a zombie's next
//! commit fails. Each transaction holds the records of one poll (`transaction.boundary=poll`)
//! or of an interval (`interval`) and their offsets, written to the offsets topic by the same
//! producer. The task reads its stored offsets only after fencing, with read_committed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::debug;

use super::connector::{OffsetEntry, TopicTracker};
use super::converter::{ConvertError, Converter, SchemaAndValue};
use super::error::Error;
use super::offsets::{OffsetStore, ProduceOffsetsError};
use crate::config::TransactionBoundary;
use crate::kafka::producer::{durable_defaults, queue_full, Outgoing, Producer, Sent, WhenFull};
use crate::kafka::props::ClientProps;
use crate::kafka::transaction::{CommitPolicy, Transaction, TransactionError};
use crate::kafka::KafkaError;

/// How long a flush or a commit waits for the brokers to acknowledge every record.
const ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// A commit is not retried: its failure fails the task, which starts again and fences this
/// producer.
const COMMIT: CommitPolicy = CommitPolicy {
    timeout: ACK_TIMEOUT,
    retry_for: Duration::ZERO,
};
/// How long a producer whose queue is full waits for acknowledgements at a time.
const FULL_POLL: Duration = Duration::from_millis(100);
/// How long the loop sleeps when the task had nothing to give.
const IDLE: Duration = Duration::from_millis(50);

/// Why a source task stopped with an error; the herder reports it and restarts the task.
#[derive(Debug, thiserror::Error)]
pub enum SourceRunError {
    #[error("cannot create the producer: {0}")]
    Producer(#[source] KafkaError),
    #[error(transparent)]
    Transaction(#[from] TransactionError),
    /// Re-reading the stored offsets before the task starts.
    #[error(transparent)]
    ReadOffsets(Error),
    /// Storing the offsets of a flush (at least once).
    #[error(transparent)]
    WriteOffsets(Error),
    /// The task's own failure.
    #[error(transparent)]
    Task(Error),
    #[error("{0}")]
    Convert(#[from] ConvertError),
    #[error("cannot send to {topic}: {source}")]
    Send {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error(transparent)]
    ProduceOffsets(#[from] ProduceOffsetsError),
    #[error("records not acknowledged: {0}")]
    Unacknowledged(#[source] KafkaError),
    #[error("a record was not delivered: {0}")]
    Undelivered(String),
    /// librdkafka only says how many records failed; `first` says why the first did.
    #[error("cannot commit: {source}{}", first.as_ref().map(|f| format!("; the first failure: {f}")).unwrap_or_default())]
    Commit {
        #[source]
        source: Box<TransactionError>,
        first: Option<String>,
    },
    #[error("the transaction of {id} was aborted: {source}")]
    Aborted {
        id: String,
        #[source]
        source: Box<SourceRunError>,
    },
}

/// One record a source task produced.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// The source partition (`{"filename": ..}`) and the offset after this record; `None`
    /// when the source has no offsets (stdin).
    pub partition: Value,
    pub offset: Option<Value>,
    pub topic: String,
    pub key: SchemaAndValue,
    pub value: SchemaAndValue,
}

/// A source task: returns what is available now (possibly nothing) without blocking long.
pub trait SourceTask: Send {
    fn poll(&mut self) -> Result<Vec<SourceRecord>, Error>;
}

/// Everything a source task runs with.
pub struct SourceRunner<'a> {
    pub connector: &'a str,
    pub producer: ClientProps,
    pub key_converter: Converter,
    pub value_converter: Converter,
    pub offsets: Arc<OffsetStore>,
    pub flush_interval: Duration,
    pub topics: TopicTracker,
    /// Set when the task writes exactly once.
    pub transactions: Option<Transactions>,
}

/// How an exactly-once task writes.
#[derive(Debug, Clone)]
pub struct Transactions {
    /// `<group.id>-<connector>-<task>`, Connect's transactional id of the task.
    pub id: String,
    pub boundary: TransactionBoundary,
}

/// The producer of a running task, created by [`SourceRunner::open`].
pub struct TaskProducer(Producer);

impl SourceRunner<'_> {
    /// Creates the task's producer; with exactly once it first fences every earlier
    /// incarnation of the task (waiting while the cluster is unreachable). Then it reads the
    /// stored offsets again, so a task that moved here starts where its last owner stopped.
    /// `None` if stopped first.
    pub fn open(&self, stop: &AtomicBool) -> Result<Option<TaskProducer>, SourceRunError> {
        let name = format!("{}|producer", self.connector);
        let mut props = self.producer.clone();
        durable_defaults(&mut props);
        if let Some(t) = &self.transactions {
            props.set("transactional.id", t.id.clone(), false);
        }
        let producer = Producer::create(&props, &name, Default::default())
            .map_err(SourceRunError::Producer)?;
        if let Some(t) = &self.transactions {
            if !producer.init_transactions(&t.id, stop)? {
                return Ok(None);
            }
        }
        self.offsets
            .refresh()
            .map_err(SourceRunError::ReadOffsets)?;
        Ok(Some(TaskProducer(producer)))
    }

    /// Runs `task` until `stop` is set, then commits what it sent. An error fails the task.
    pub fn run(
        &self,
        producer: TaskProducer,
        task: &mut dyn SourceTask,
        stop: &AtomicBool,
    ) -> Result<(), SourceRunError> {
        let producer = producer.0;
        let mut pending: HashMap<String, OffsetEntry> = HashMap::new();
        let mut txn = self
            .transactions
            .as_ref()
            .map(|t| Transaction::new(t.id.clone(), t.boundary));
        let mut last_flush = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let records = task.poll().map_err(SourceRunError::Task)?;
            if records.is_empty() {
                std::thread::sleep(IDLE);
            } else if let Some(t) = &mut txn {
                t.begin(&producer)?;
            }
            for r in records {
                self.send(&producer, &r, stop)?;
                if let Some(offset) = r.offset {
                    pending.insert(
                        r.partition.to_string(),
                        OffsetEntry {
                            partition: r.partition,
                            offset: Some(offset),
                        },
                    );
                }
            }
            producer.poll(Duration::ZERO);
            match &mut txn {
                None if last_flush.elapsed() >= self.flush_interval => {
                    self.flush(&producer, &mut pending)?;
                    last_flush = Instant::now();
                }
                Some(t) if t.due(Instant::now(), self.flush_interval) => {
                    self.commit_transaction(&producer, t, &mut pending, stop)?;
                }
                _ => {}
            }
        }
        match &mut txn {
            None => self.flush(&producer, &mut pending),
            Some(t) if t.is_open() => self.commit_transaction(&producer, t, &mut pending, stop),
            Some(_) => Ok(()),
        }
    }

    fn send(
        &self,
        producer: &Producer,
        r: &SourceRecord,
        stop: &AtomicBool,
    ) -> Result<(), SourceRunError> {
        let key = self.key_converter.serialize(&r.key)?;
        let value = self.value_converter.serialize(&r.value)?;
        self.topics.record(&r.topic);
        let record = Outgoing::new(&r.topic, key.as_deref(), value.as_deref());
        let send_error = |source| SourceRunError::Send {
            topic: r.topic.clone(),
            source,
        };
        match producer.send_waiting(record, (), stop, || producer.poll(FULL_POLL)) {
            Ok(Sent::Queued) => Ok(()),
            // Stopped while the queue was full: the task fails, as the record is lost.
            Ok(Sent::Stopped) => Err(send_error(queue_full())),
            Err(e) => Err(send_error(e)),
        }
    }

    /// Waits for every record sent, then stores the offsets they reached.
    fn flush(
        &self,
        producer: &Producer,
        pending: &mut HashMap<String, OffsetEntry>,
    ) -> Result<(), SourceRunError> {
        producer
            .flush(ACK_TIMEOUT)
            .map_err(SourceRunError::Unacknowledged)?;
        delivered(producer)?;
        if pending.is_empty() {
            return Ok(());
        }
        let entries: Vec<OffsetEntry> = pending.drain().map(|(_, e)| e).collect();
        self.offsets
            .write(self.connector, &entries)
            .map_err(SourceRunError::WriteOffsets)
    }

    /// Adds the offsets to the open transaction and commits it. A failure aborts it and fails
    /// the task, which starts again (fencing this producer) from the last committed offsets.
    fn commit_transaction(
        &self,
        producer: &Producer,
        txn: &mut Transaction,
        pending: &mut HashMap<String, OffsetEntry>,
        stop: &AtomicBool,
    ) -> Result<(), SourceRunError> {
        let entries: Vec<OffsetEntry> = pending.drain().map(|(_, e)| e).collect();
        let result = (|| {
            // Offsets wait for room in the queue even when stopping: they belong to records
            // already in the transaction.
            let produced =
                self.offsets
                    .produce(producer, (), WhenFull::Wait, self.connector, &entries)?;
            producer
                .commit_transaction(txn.id(), COMMIT, stop)
                .map_err(|source| {
                    producer.poll(Duration::ZERO);
                    SourceRunError::Commit {
                        source: Box::new(source),
                        first: producer.take_failure(),
                    }
                })?;
            delivered(producer)?;
            Ok(produced)
        })();
        let id = txn.id().to_string();
        let produced =
            txn.settle(producer, stop, result)
                .map_err(|source| SourceRunError::Aborted {
                    id,
                    source: Box::new(source),
                })?;
        debug!(transactional_id = %txn.id(), offsets = ?entries, "committed");
        self.offsets.cache_produced(produced);
        Ok(())
    }
}

/// The first delivery failure since the last check, which `flush` alone does not report.
fn delivered(producer: &Producer) -> Result<(), SourceRunError> {
    match producer.take_failure() {
        Some(e) => Err(SourceRunError::Undelivered(e)),
        None => Ok(()),
    }
}
