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

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;
use tracing::{debug, info, warn};

use super::connector::{OffsetEntry, TopicTracker};
use super::converter::{Converter, SchemaAndValue};
use super::offsets::OffsetStore;
use crate::config::TransactionBoundary;
use crate::kafka::client::{create, DeliveryContext};
use crate::kafka::props::ClientProps;

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
    fn poll(&mut self) -> Result<Vec<SourceRecord>, String>;
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
pub struct TaskProducer(BaseProducer<DeliveryContext>);

impl SourceRunner<'_> {
    /// Creates the task's producer; with exactly once it first fences every earlier
    /// incarnation of the task (waiting while the cluster is unreachable). Then it reads the
    /// stored offsets again, so a task that moved here starts where its last owner stopped.
    /// `None` if stopped first.
    pub fn open(&self, stop: &AtomicBool) -> Result<Option<TaskProducer>, String> {
        let name = format!("{}|producer", self.connector);
        let mut props = self.producer.clone();
        props.set_default("acks", "all");
        props.set_default("enable.idempotence", "true");
        // Java's partitioner, for keyed records and for offset records alike.
        props.set_default("partitioner", "murmur2_random");
        if let Some(t) = &self.transactions {
            props.set("transactional.id", t.id.clone(), false);
        }
        let producer: BaseProducer<DeliveryContext> =
            create(&props, &name, DeliveryContext::new(name.clone()))
                .map_err(|e| format!("cannot create the producer: {e}"))?;
        if let Some(t) = &self.transactions {
            if !init_transactions(&producer, &t.id, stop)? {
                return Ok(None);
            }
        }
        self.offsets.refresh()?;
        Ok(Some(TaskProducer(producer)))
    }

    /// Runs `task` until `stop` is set, then commits what it sent. An error fails the task.
    pub fn run(
        &self,
        producer: TaskProducer,
        task: &mut dyn SourceTask,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let producer = producer.0;
        let mut pending: HashMap<String, OffsetEntry> = HashMap::new();
        // When the last flush ran (at least once) or the open transaction began (exactly once).
        let mut since = Instant::now();
        let mut open = false;
        while !stop.load(Ordering::Relaxed) {
            let records = task.poll()?;
            if records.is_empty() {
                std::thread::sleep(Duration::from_millis(50));
            } else if self.transactions.is_some() && !open {
                producer
                    .begin_transaction()
                    .map_err(|e| format!("cannot begin a transaction: {e}"))?;
                (open, since) = (true, Instant::now());
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
            match &self.transactions {
                None if since.elapsed() >= self.flush_interval => {
                    self.flush(&producer, &mut pending)?;
                    since = Instant::now();
                }
                Some(t) if open && self.boundary_reached(t, since) => {
                    self.commit_transaction(&producer, t, &mut pending)?;
                    open = false;
                }
                _ => {}
            }
        }
        match &self.transactions {
            None => self.flush(&producer, &mut pending),
            Some(t) if open => self.commit_transaction(&producer, t, &mut pending),
            Some(_) => Ok(()),
        }
    }

    fn boundary_reached(&self, t: &Transactions, began: Instant) -> bool {
        match t.boundary {
            TransactionBoundary::Poll => true,
            TransactionBoundary::Interval(every) => {
                began.elapsed() >= every.unwrap_or(self.flush_interval)
            }
        }
    }

    fn send(
        &self,
        producer: &BaseProducer<DeliveryContext>,
        r: &SourceRecord,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let key = self
            .key_converter
            .serialize(&r.key)
            .map_err(|e| e.to_string())?;
        let value = self
            .value_converter
            .serialize(&r.value)
            .map_err(|e| e.to_string())?;
        self.topics.record(&r.topic);
        send(producer, &r.topic, key.as_deref(), value.as_deref(), stop)
    }

    /// Waits for every record sent, then stores the offsets they reached.
    fn flush(
        &self,
        producer: &BaseProducer<DeliveryContext>,
        pending: &mut HashMap<String, OffsetEntry>,
    ) -> Result<(), String> {
        producer
            .flush(Duration::from_secs(60))
            .map_err(|e| format!("records not acknowledged: {e}"))?;
        delivered(producer)?;
        if pending.is_empty() {
            return Ok(());
        }
        let entries: Vec<OffsetEntry> = pending.drain().map(|(_, e)| e).collect();
        self.offsets.write(self.connector, &entries)
    }

    /// Adds the offsets to the open transaction and commits it. A failure aborts it and fails
    /// the task, which starts again (fencing this producer) from the last committed offsets.
    fn commit_transaction(
        &self,
        producer: &BaseProducer<DeliveryContext>,
        t: &Transactions,
        pending: &mut HashMap<String, OffsetEntry>,
    ) -> Result<(), String> {
        let entries: Vec<OffsetEntry> = pending.drain().map(|(_, e)| e).collect();
        let result = (|| {
            if !entries.is_empty() {
                let topic = self
                    .offsets
                    .topic()
                    .ok_or("exactly once needs the offsets topic of a distributed worker")?;
                let never = AtomicBool::new(false);
                for e in &entries {
                    let (key, value) = OffsetStore::record(self.connector, e);
                    send(producer, topic, Some(&key), value.as_deref(), &never)?;
                }
            }
            producer
                .commit_transaction(Duration::from_secs(60))
                .map_err(|e| {
                    // librdkafka only says how many records failed; say why the first did.
                    producer.poll(Duration::ZERO);
                    match producer.context().take_failure() {
                        Some(first) => format!("cannot commit: {e}; the first failure: {first}"),
                        None => format!("cannot commit: {e}"),
                    }
                })?;
            delivered(producer)
        })();
        match result {
            Ok(()) => {
                debug!(transactional_id = %t.id, offsets = ?entries, "committed");
                self.offsets.remember(self.connector, &entries);
                Ok(())
            }
            Err(e) => {
                warn!(transactional_id = %t.id, "aborting the transaction: {e}");
                let _ = producer.abort_transaction(Duration::from_secs(10));
                Err(format!("the transaction of {} was aborted: {e}", t.id))
            }
        }
    }
}

/// Sends one record, waiting while the producer's queue is full (unless stopped).
fn send(
    producer: &BaseProducer<DeliveryContext>,
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    stop: &AtomicBool,
) -> Result<(), String> {
    loop {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                if !stop.load(Ordering::Relaxed) =>
            {
                producer.poll(Duration::from_millis(100));
            }
            Err((e, _)) => return Err(format!("cannot send to {topic}: {e}")),
        }
    }
}

/// The first delivery failure since the last check, which `flush` alone does not report.
fn delivered(producer: &BaseProducer<DeliveryContext>) -> Result<(), String> {
    match producer.context().take_failure() {
        Some(e) => Err(format!("a record was not delivered: {e}")),
        None => Ok(()),
    }
}

/// Fences earlier producers of `id`; waits while the cluster is unreachable. False if stopped
/// first.
fn init_transactions(
    producer: &BaseProducer<DeliveryContext>,
    id: &str,
    stop: &AtomicBool,
) -> Result<bool, String> {
    while !stop.load(Ordering::Relaxed) {
        match producer.init_transactions(Duration::from_secs(10)) {
            Ok(()) => {
                info!(transactional_id = %id, "fenced earlier producers of this task");
                return Ok(true);
            }
            Err(KafkaError::Transaction(e)) if e.is_retriable() => {
                warn!("initializing transactions of {id}: {e} (retrying)");
            }
            Err(e) => return Err(format!("cannot initialize transactions of {id}: {e}")),
        }
    }
    Ok(false)
}
