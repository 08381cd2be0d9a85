//! Connect's WorkerSinkTask for plain sink tasks (FileStreamSink): consume the connector's
//! topics in the consumer group `connect-<name>`, convert key and value, hand the records to
//! the task, and commit the group's offsets after the task has flushed them. At least once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::connector::TopicTracker;
use super::converter::{Converter, SchemaAndValue};
use crate::kafka::consumer::{Polled, SubscribedConsumer};
use crate::kafka::props::ClientProps;

/// One consumed record, converted.
#[derive(Debug, Clone)]
pub struct SinkRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: SchemaAndValue,
    pub value: SchemaAndValue,
}

/// A sink task.
pub trait SinkTask: Send {
    fn put(&mut self, records: &[SinkRecord]) -> Result<(), String>;
    /// Makes everything put so far durable; the group's offsets are committed after it.
    fn flush(&mut self) -> Result<(), String>;
}

/// What a sink connector consumes: a topic list (`topics`) or a pattern (`topics.regex`).
#[derive(Debug, Clone)]
pub enum Subscription {
    Topics(Vec<String>),
    Regex(String),
}

/// Everything a sink task runs with.
pub struct SinkRunner<'a> {
    pub connector: &'a str,
    pub consumer: ClientProps,
    pub subscription: Subscription,
    pub key_converter: Converter,
    pub value_converter: Converter,
    pub flush_interval: Duration,
    pub topics: TopicTracker,
}

/// The consumer group of a sink connector, as Connect names it.
pub fn group_id(connector: &str) -> String {
    format!("connect-{connector}")
}

impl SinkRunner<'_> {
    pub fn run(&self, task: &mut dyn SinkTask, stop: &AtomicBool) -> Result<(), String> {
        let name = format!("{}|consumer", self.connector);
        let mut props = self.consumer.clone();
        props.set("group.id", group_id(self.connector), false);
        props.set("enable.auto.commit", "false", false);
        props.set_default("auto.offset.reset", "earliest");
        let consumer = SubscribedConsumer::create(&props, &name)
            .map_err(|e| format!("cannot create the consumer: {e}"))?;
        let topics: Vec<String> = match &self.subscription {
            Subscription::Topics(t) => t.clone(),
            // librdkafka takes a pattern as a topic name starting with `^`.
            Subscription::Regex(r) if r.starts_with('^') => vec![r.clone()],
            Subscription::Regex(r) => vec![format!("^{r}")],
        };
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&refs)
            .map_err(|e| format!("cannot subscribe to {topics:?}: {e}"))?;
        let mut last_flush = Instant::now();
        let mut dirty = false;
        let mut batch = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                let m = m.map_err(|e| format!("cannot consume: {e}"))?;
                batch.push(self.convert(&m)?);
                // Take what is already fetched, up to a batch.
                while batch.len() < 500 {
                    match consumer.poll(Duration::ZERO) {
                        Some(m) => batch.push(self.convert(&m.map_err(|e| e.to_string())?)?),
                        None => break,
                    }
                }
                task.put(&batch)?;
                batch.clear();
                dirty = true;
            }
            if dirty && last_flush.elapsed() >= self.flush_interval {
                self.commit(&consumer, task)?;
                dirty = false;
                last_flush = Instant::now();
            }
        }
        if dirty {
            self.commit(&consumer, task)?;
        }
        Ok(())
    }

    fn convert(&self, m: &Polled<'_>) -> Result<SinkRecord, String> {
        self.topics.record(m.topic());
        let wrap = |e: super::converter::ConvertError| {
            format!(
                "cannot convert the record at {}-{} offset {}: {e}",
                m.topic(),
                m.partition(),
                m.offset()
            )
        };
        Ok(SinkRecord {
            topic: m.topic().to_string(),
            partition: m.partition(),
            offset: m.offset(),
            key: self.key_converter.deserialize(m.key()).map_err(wrap)?,
            value: self.value_converter.deserialize(m.value()).map_err(wrap)?,
        })
    }

    fn commit(&self, consumer: &SubscribedConsumer, task: &mut dyn SinkTask) -> Result<(), String> {
        task.flush()?;
        consumer.commit_consumed().map_err(|e| {
            format!(
                "cannot commit offsets of group {}: {e}",
                group_id(self.connector)
            )
        })
    }
}
