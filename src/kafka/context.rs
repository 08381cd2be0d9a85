//! rdkafka client contexts. Every client is [`Named`]: its librdkafka logs and errors go to
//! `tracing` under its name (e.g. `A->B|MirrorSourceConnector-0|replication-consumer`), through
//! the one forwarder in `client.rs` that drops repeats. What a client needs besides its name
//! (delivery reports, statistics) is a small hooks type, so no context re-implements logging.
//!
//! A client that only logs uses [`LogContext`]. One that needs more implements [`ClientHooks`]
//! (and [`DeliveryHooks`] for a producer) on its own state and creates its client with
//! `Named::with(name, hooks)`; its code reaches the state as `client.context().hooks`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::util::IntoOpaque;
use rdkafka::ClientContext;
use tracing::warn;

use super::client::{client_error, log};
use super::stats::ClientStats;
use super::topic_partition::TopicPartition;

/// What a client context does besides naming its client in logs. Everything has a default, so
/// a plain client needs `impl ClientHooks for MyHooks {}` (or `()`).
pub trait ClientHooks: Send + Sync + 'static {
    /// librdkafka's statistics, every `statistics.interval.ms` (if set).
    fn stats(&self, _client: &str, _stats: &ClientStats) {}
}

/// What a producer does with each delivery report.
pub trait DeliveryHooks: ClientHooks {
    /// Passed with each record and handed back with its report.
    type Opaque: IntoOpaque;
    fn delivery(&self, client: &str, result: &DeliveryResult<'_>, opaque: Self::Opaque);
}

/// A client's context: its name, for logs, and its hooks.
#[derive(Debug, Clone)]
pub struct Named<H = ()> {
    pub name: String,
    pub hooks: H,
}

impl<H> Named<H> {
    pub fn with(name: impl Into<String>, hooks: H) -> Self {
        Named {
            name: name.into(),
            hooks,
        }
    }
}

impl<H: ClientHooks> ClientContext for Named<H> {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log(&self.name, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&self.name, &error, reason);
    }

    // Decoded here, not by rust-rdkafka: only the fields used (see `kafka::stats`).
    fn stats_raw(&self, statistics: &[u8]) {
        let Some(stats) = ClientStats::decode(statistics) else {
            return warn!(client = %self.name, "librdkafka's statistics could not be read");
        };
        crate::metrics::clients::global().observe(&stats);
        self.hooks.stats(&self.name, &stats);
    }
}

impl<H: ClientHooks> ConsumerContext for Named<H> {}

impl<H: DeliveryHooks> ProducerContext for Named<H> {
    type DeliveryOpaque = H::Opaque;
    fn delivery(&self, result: &DeliveryResult<'_>, opaque: H::Opaque) {
        self.hooks.delivery(&self.name, result, opaque);
    }
}

/// Nothing but the name; as a producer's hooks, deliveries need no answer (statuses, which
/// are rewritten on change).
impl ClientHooks for () {}

impl DeliveryHooks for () {
    type Opaque = ();
    fn delivery(&self, _: &str, _: &DeliveryResult<'_>, _: ()) {}
}

/// A context that names a client in logs and carries nothing else.
pub type LogContext = Named<()>;

impl Named<()> {
    pub fn new(name: impl Into<String>) -> Self {
        Named::with(name, ())
    }
}

/// Keeps a producer's first delivery failure until it is taken: `flush` alone does not report
/// one.
#[derive(Default)]
pub struct FirstFailure(Mutex<Option<String>>);

impl FirstFailure {
    /// The first delivery failure since the last call.
    pub fn take(&self) -> Option<String> {
        self.0.lock().expect("failed lock").take()
    }
}

impl ClientHooks for FirstFailure {}

impl DeliveryHooks for FirstFailure {
    type Opaque = ();
    fn delivery(&self, _: &str, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.0
                .lock()
                .expect("failed lock")
                .get_or_insert_with(|| e.to_string());
        }
    }
}

/// A producer context that remembers its first delivery failure.
pub type DeliveryContext = Named<FirstFailure>;

impl Named<FirstFailure> {
    pub fn new(name: impl Into<String>) -> Self {
        Named::with(name, FirstFailure::default())
    }

    /// The first delivery failure since the last call.
    pub fn take_failure(&self) -> Option<String> {
        self.hooks.take()
    }
}

/// One delivery report of a record sent with a tag.
#[derive(Debug)]
pub struct Ack {
    pub tag: usize,
    /// The record's offset in the target partition, or why it was not written.
    pub result: Result<i64, KafkaError>,
}

/// Collects delivery reports, with the tag each record was sent with, until the sending thread
/// takes them: it serves them in batches and needs no lock of its own.
#[derive(Default)]
pub struct Acks(Mutex<Vec<Ack>>);

impl Acks {
    /// Swaps the reports received so far into `into` (which should be empty), so neither
    /// buffer is reallocated in the steady state.
    pub fn swap_into(&self, into: &mut Vec<Ack>) {
        std::mem::swap(into, &mut self.0.lock().expect("acks lock"));
    }
}

impl ClientHooks for Acks {}

impl DeliveryHooks for Acks {
    type Opaque = usize;
    fn delivery(&self, _: &str, result: &DeliveryResult<'_>, tag: usize) {
        let result = match result {
            Ok(m) => Ok(m.offset()),
            Err((e, _)) => Err(e.clone()),
        };
        self.0.lock().expect("acks lock").push(Ack { tag, result });
    }
}

/// Counts delivery reports; a failure is only logged (offset syncs: a lost one is replaced by
/// a later one, as in Java).
#[derive(Default)]
pub struct CountedDeliveries(AtomicUsize);

impl CountedDeliveries {
    /// How many reports came since the last call.
    pub fn take(&self) -> usize {
        self.0.swap(0, Ordering::Relaxed)
    }

    /// How many reports came since the last [`take`](Self::take), leaving them counted.
    pub fn peek(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl ClientHooks for CountedDeliveries {}

impl DeliveryHooks for CountedDeliveries {
    type Opaque = ();
    fn delivery(&self, client: &str, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            warn!(client = %client, "offset sync not written: {e}");
        }
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Keeps each partition's end offset from librdkafka's statistics (for the lag metric).
#[derive(Default)]
pub struct EndOffsets(Mutex<HashMap<TopicPartition, i64>>);

impl EndOffsets {
    pub fn snapshot(&self) -> HashMap<TopicPartition, i64> {
        self.0.lock().expect("stats lock").clone()
    }
}

impl ClientHooks for EndOffsets {
    fn stats(&self, _: &str, stats: &ClientStats) {
        let mut high = self.0.lock().expect("stats lock");
        for (topic, t) in &stats.topics {
            for (p, part) in &t.partitions {
                if *p >= 0 && part.hi_offset >= 0 {
                    high.insert(TopicPartition::new(topic.clone(), *p), part.hi_offset);
                }
            }
        }
    }
}
