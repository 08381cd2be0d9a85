//! Connect's WorkerSourceTask for plain source tasks (FileStreamSource): poll records, convert
//! key and value, produce them, and store the source offsets of everything the brokers
//! acknowledged at each flush. Delivery is at least once: a crash replays what came after the
//! last flush.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use serde_json::Value;

use super::connector::{OffsetEntry, TopicTracker};
use super::converter::{Converter, SchemaAndValue};
use super::offsets::OffsetStore;
use crate::kafka::client::{create, LogContext};
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
}

struct Ctx {
    log: LogContext,
    failed: Mutex<Option<KafkaError>>,
}

impl ClientContext for Ctx {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        self.log.log(level, fac, msg);
    }
}

impl ProducerContext for Ctx {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed
                .lock()
                .expect("failed lock")
                .get_or_insert(e.clone());
        }
    }
}

impl SourceRunner<'_> {
    /// Runs `task` until `stop` is set, then flushes. An error fails the task.
    pub fn run(&self, task: &mut dyn SourceTask, stop: &AtomicBool) -> Result<(), String> {
        let name = format!("{}|producer", self.connector);
        let mut props = self.producer.clone();
        props.set_default("acks", "all");
        props.set_default("enable.idempotence", "true");
        let ctx = Ctx {
            log: LogContext::new(name.clone()),
            failed: Mutex::new(None),
        };
        let producer: BaseProducer<Ctx> =
            create(&props, &name, ctx).map_err(|e| format!("cannot create the producer: {e}"))?;
        let mut pending: HashMap<String, OffsetEntry> = HashMap::new();
        let mut last_flush = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let records = task.poll()?;
            if records.is_empty() {
                std::thread::sleep(Duration::from_millis(50));
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
            if last_flush.elapsed() >= self.flush_interval {
                self.commit(&producer, &mut pending)?;
                last_flush = Instant::now();
            }
        }
        self.commit(&producer, &mut pending)
    }

    fn send(
        &self,
        producer: &BaseProducer<Ctx>,
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
        loop {
            let mut record = BaseRecord::<[u8], [u8]>::to(&r.topic);
            if let Some(k) = &key {
                record = record.key(&k[..]);
            }
            if let Some(v) = &value {
                record = record.payload(&v[..]);
            }
            match producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                    if !stop.load(Ordering::Relaxed) =>
                {
                    producer.poll(Duration::from_millis(100));
                }
                Err((e, _)) => return Err(format!("cannot send to {}: {e}", r.topic)),
            }
        }
    }

    /// Waits for every record sent, then stores the offsets they reached.
    fn commit(
        &self,
        producer: &BaseProducer<Ctx>,
        pending: &mut HashMap<String, OffsetEntry>,
    ) -> Result<(), String> {
        producer
            .flush(Duration::from_secs(60))
            .map_err(|e| format!("records not acknowledged: {e}"))?;
        if let Some(e) = producer
            .context()
            .failed
            .lock()
            .expect("failed lock")
            .take()
        {
            return Err(format!("a record was not delivered: {e}"));
        }
        if pending.is_empty() {
            return Ok(());
        }
        let entries: Vec<OffsetEntry> = pending.drain().map(|(_, e)| e).collect();
        self.offsets.write(self.connector, &entries)
    }
}
