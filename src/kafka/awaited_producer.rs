//! A producer whose every record is awaited until the target acknowledges it or refuses it, for
//! the few records a flow writes on a schedule (heartbeats, checkpoints): the caller learns
//! about each one. A batch of them can be in flight together ([`AwaitedProducer::send_all`]).

use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::client::create;
use super::context::LogContext;
use super::producer::Outgoing;
use super::props::ClientProps;

pub struct AwaitedProducer {
    inner: FutureProducer<LogContext>,
}

impl AwaitedProducer {
    /// Creates the producer: `client_id` is its client id (unless set), `log_name` its name in
    /// logs.
    pub fn create(
        props: &ClientProps,
        client_id: &str,
        log_name: &str,
    ) -> Result<Self, KafkaError> {
        let inner = create(props, client_id, LogContext::new(log_name))?;
        Ok(AwaitedProducer { inner })
    }

    /// Sends `record` and waits for its delivery report; while the queue is full, waits up to
    /// `queue_timeout` for room.
    pub async fn send(
        &self,
        record: Outgoing<'_>,
        queue_timeout: Duration,
    ) -> Result<(), KafkaError> {
        self.inner
            .send(future_record(record), queue_timeout)
            .await
            .map(|_| ())
            .map_err(|(e, _)| e)
    }

    /// Sends every record, all of them in flight together (queued in this order), and waits for
    /// all their delivery reports; each record's outcome, in order.
    pub async fn send_all(
        &self,
        records: Vec<Outgoing<'_>>,
        queue_timeout: Duration,
    ) -> Vec<Result<(), KafkaError>> {
        let sends = records.into_iter().map(|r| async move {
            self.inner
                .send(future_record(r), queue_timeout)
                .await
                .map(|_| ())
                .map_err(|(e, _)| e)
        });
        futures_util::future::join_all(sends).await
    }
}

fn future_record(record: Outgoing<'_>) -> FutureRecord<'_, [u8], [u8]> {
    FutureRecord {
        topic: record.topic,
        partition: record.partition,
        payload: record.value,
        key: record.key,
        timestamp: record.timestamp,
        headers: record.headers.map(|h| h.0),
    }
}
