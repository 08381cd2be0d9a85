//! rdkafka client contexts. Every client is [`Named`]: its librdkafka logs and errors go to
//! `tracing` under its name (e.g. `A->B|MirrorSourceConnector-0|replication-consumer`), through
//! the one forwarder in `client.rs` that drops repeats. What a producer needs besides its name
//! (what to do with delivery reports) is a small hooks type, so no context re-implements
//! logging.
//!
//! A client that only logs uses [`LogContext`]. A producer that needs more implements
//! [`DeliveryHooks`] on its own state and creates its client with `Named::with(name, hooks)`;
//! its code reaches the state as `client.context().hooks`.

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

/// What a producer does with each delivery report.
pub trait DeliveryHooks: Send + Sync + 'static {
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

impl<H: Send + Sync + 'static> ClientContext for Named<H> {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log(&self.name, level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&self.name, &error, reason);
    }

    // Metrics do not come from librdkafka's statistics (see `metrics::clients`); an operator
    // who sets `statistics.interval.ms` gets no report decoded and logged every interval.
    fn stats_raw(&self, _statistics: &[u8]) {}
}

impl<H: Send + Sync + 'static> ConsumerContext for Named<H> {}

impl<H: DeliveryHooks> ProducerContext for Named<H> {
    type DeliveryOpaque = H::Opaque;
    fn delivery(&self, result: &DeliveryResult<'_>, opaque: H::Opaque) {
        self.hooks.delivery(&self.name, result, opaque);
    }
}

/// Nothing but the name; as a producer's hooks, deliveries need no answer (statuses, which
/// are rewritten on change).
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
    /// The record's key and value bytes (for the producer's buffer metric).
    pub bytes: usize,
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

impl DeliveryHooks for Acks {
    type Opaque = usize;
    fn delivery(&self, _: &str, result: &DeliveryResult<'_>, tag: usize) {
        let (result, m) = match result {
            Ok(m) => (Ok(m.offset()), m),
            Err((e, m)) => (Err(e.clone()), m),
        };
        let bytes = m.key_len() + m.payload_len();
        self.0
            .lock()
            .expect("acks lock")
            .push(Ack { tag, result, bytes });
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

impl DeliveryHooks for CountedDeliveries {
    type Opaque = ();
    fn delivery(&self, client: &str, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            warn!(client = %client, "offset sync not written: {e}");
        }
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}
