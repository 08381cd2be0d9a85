//! The producer of source tasks (MirrorSource and Connect's plain source tasks) and of the
//! offset store: its presets, and sending that waits while librdkafka's queue is full. The
//! transaction calls are in `transaction.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

use super::client::create;
use super::context::{DeliveryHooks, FirstFailure, Named};
use super::props::ClientProps;

/// Defaults of every producer that writes offsets: nothing acknowledged is lost, and keys land
/// where Java puts them.
pub fn offsets_defaults(props: &mut ClientProps) {
    props.set_default("acks", "all");
    // Java's partitioner, so keyed records and offset records land where Java Connect looks
    // for them.
    props.set_default("partitioner", "murmur2_random");
}

/// [`offsets_defaults`] plus idempotence, for the producers of source tasks: a retry never
/// duplicates a record.
pub fn durable_defaults(props: &mut ClientProps) {
    props.set_default("acks", "all");
    props.set_default("enable.idempotence", "true");
    offsets_defaults(props);
}

/// [`durable_defaults`] plus those of MirrorSource's replication producer, which copies
/// records as fast as the target takes them (its queue is sized by the task's share of the
/// flow's memory).
pub fn replication_defaults(props: &mut ClientProps) {
    durable_defaults(props);
    // Larger batches cost less CPU per record (librdkafka wakes its broker thread per
    // batch): 25 ms measured 8.4 CPU s/GB against 11 at 10 ms, for at most 25 ms of latency.
    props.set_default("linger.ms", "25");
    // Never drop a record because the target is slow or down: wait for it.
    props.set_default("message.timeout.ms", "0");
}

/// How long a producer waiting for room in its queue waits for delivery reports at a time.
const FULL_POLL: Duration = Duration::from_millis(100);

/// A record's headers, carried from a consumed record to the one produced.
pub struct Headers(pub(super) OwnedHeaders);

/// One record to produce. Absent fields are left to the producer (partitioner, timestamp).
pub struct Outgoing<'a> {
    pub topic: &'a str,
    pub partition: Option<i32>,
    pub key: Option<&'a [u8]>,
    /// `None`: a tombstone.
    pub value: Option<&'a [u8]>,
    pub timestamp: Option<i64>,
    pub headers: Option<Headers>,
}

impl<'a> Outgoing<'a> {
    pub fn new(topic: &'a str, key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Self {
        Outgoing {
            topic,
            partition: None,
            key,
            value,
            timestamp: None,
            headers: None,
        }
    }

    pub fn partition(self, partition: i32) -> Self {
        Outgoing {
            partition: Some(partition),
            ..self
        }
    }

    /// Milliseconds since the epoch.
    pub fn timestamp(self, timestamp: i64) -> Self {
        Outgoing {
            timestamp: Some(timestamp),
            ..self
        }
    }
}

/// What became of a record given to [`Producer::send_waiting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Queued,
    /// The queue stayed full until the task was told to stop; the record was not sent.
    Stopped,
}

/// What [`Producer::send_full`] does when librdkafka's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Fail with `QueueFull`: the caller tries again later.
    Fail,
    /// Serve delivery reports until there is room, however long that takes.
    Wait,
}

/// The error of a record that found the queue full.
pub fn queue_full() -> KafkaError {
    KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
}

/// A producer whose delivery reports go to `H`.
pub struct Producer<H: DeliveryHooks = FirstFailure> {
    pub(super) inner: BaseProducer<Named<H>>,
}

impl<H: DeliveryHooks> Producer<H> {
    /// Creates the producer; `name` is its client id (unless set) and its name in logs.
    pub fn create(props: &ClientProps, name: &str, hooks: H) -> Result<Self, KafkaError> {
        let inner = create(props, name, Named::with(name, hooks))?;
        Ok(Producer { inner })
    }

    pub fn name(&self) -> &str {
        &self.inner.context().name
    }

    pub fn hooks(&self) -> &H {
        &self.inner.context().hooks
    }

    /// Serves delivery reports (calling `H`), waiting up to `timeout` for one.
    pub fn poll(&self, timeout: Duration) {
        self.inner.poll(timeout);
    }

    /// Waits until every record sent is acknowledged or failed.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.inner.flush(timeout)
    }

    /// Queues one record; fails at once when the queue is full.
    pub fn send(&self, record: Outgoing<'_>, opaque: H::Opaque) -> Result<(), KafkaError> {
        self.inner
            .send(base_record(record, opaque))
            .map_err(|(e, _)| e)
    }

    /// Queues one record; when the queue is full, does what `full` says.
    pub fn send_full(
        &self,
        record: Outgoing<'_>,
        opaque: H::Opaque,
        full: WhenFull,
    ) -> Result<(), KafkaError> {
        match full {
            WhenFull::Fail => self.send(record, opaque),
            WhenFull::Wait => {
                let never = AtomicBool::new(false);
                self.send_waiting(record, opaque, &never, || self.poll(FULL_POLL))
                    .map(|_| ())
            }
        }
    }

    /// Queues one record, calling `wait` while the queue is full (it should serve delivery
    /// reports, which make room) unless `stop` is set.
    pub fn send_waiting(
        &self,
        record: Outgoing<'_>,
        opaque: H::Opaque,
        stop: &AtomicBool,
        mut wait: impl FnMut(),
    ) -> Result<Sent, KafkaError> {
        let mut record = base_record(record, opaque);
        loop {
            match self.inner.send(record) {
                Ok(()) => return Ok(Sent::Queued),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(Sent::Stopped);
                    }
                    record = r;
                    wait();
                }
                Err((e, _)) => return Err(e),
            }
        }
    }
}

impl Producer<FirstFailure> {
    /// The first delivery failure since the last call, which `flush` alone does not report.
    pub fn take_failure(&self) -> Option<String> {
        self.hooks().take()
    }
}

fn base_record<'a, D: rdkafka::util::IntoOpaque>(
    r: Outgoing<'a>,
    opaque: D,
) -> BaseRecord<'a, [u8], [u8], D> {
    BaseRecord {
        topic: r.topic,
        partition: r.partition,
        payload: r.value,
        key: r.key,
        timestamp: r.timestamp,
        headers: r.headers.map(|h| h.0),
        delivery_opaque: opaque,
    }
}
