//! The clients of a MirrorSource task, with the settings replication needs on top of the
//! flow's: the consumer of the source partitions, the replication producer, and where offset
//! syncs go.

use crate::config::{ClientKind, Flow, OffsetSyncsLocation, Props, Side};
use crate::kafka::consumer::AssignedConsumer;
use crate::kafka::context::{Acks, CountedDeliveries};
use crate::kafka::producer::{replication_defaults, Producer};
use crate::kafka::props::{translate, ClientProps};
use crate::metrics::clients::{self as client_metrics, ConsumerMetrics, ProducerMetrics};
use crate::policy::ReplicationPolicy;

use super::buffers::Buffers;
use super::{exactly_once, TaskError};

/// Where a task's offset syncs go.
pub(super) enum Syncs {
    Off,
    /// Their own producer, to the source or the target, and the topic.
    Own(Producer<CountedDeliveries>, String),
    /// The replication producer's topic, inside each transaction (exactly once, syncs on the
    /// target).
    InTransaction(String),
}

pub(super) fn client_props(props: &Props, label: &str) -> Result<ClientProps, TaskError> {
    translate(props, label).map(|(p, _)| p).map_err(|e| {
        TaskError::Config(
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

/// The client id a client named `name` gets: the operator's `client.id`, else its name.
fn client_id<'a>(props: &'a ClientProps, name: &'a str) -> &'a str {
    props.get("client.id").unwrap_or(name)
}

/// The longest a fetch of a task of `partitions` waits at the broker for records (librdkafka's
/// `fetch.wait.max.ms`, Java's `fetch.max.wait.ms`, 500 ms there). A short wait keeps a small
/// flow's copies prompt. But librdkafka has no fetch sessions: every fetch names all the task's
/// partitions and every answer lists them all, so at thousands of idle partitions fetches
/// every 100 ms cost the consumer and the broker more than the copy. The wait grows with the
/// partitions, to Java's default.
fn fetch_wait_ms(partitions: usize) -> u64 {
    (partitions as u64 / 5).clamp(100, 500)
}

/// The consumer of the task's source partitions (assigned, never in a group), and its metrics.
pub(super) fn consumer(
    flow: &Flow,
    prefix: &str,
    partitions: usize,
) -> Result<(AssignedConsumer, ConsumerMetrics), TaskError> {
    let mut props = client_props(&flow.replication_consumer_props(), "replication consumer")?;
    // assign() needs a group id although no group is ever joined or committed to.
    props.set_default("group.id", format!("{}-mm2-source", flow.source));
    // Java's default is read_uncommitted (librdkafka's would silently skip aborted records);
    // exactly once must not copy what the source aborted.
    let isolation = if exactly_once(flow) {
        "read_committed"
    } else {
        "read_uncommitted"
    };
    props.set_default("isolation.level", isolation);
    props.set_default("enable.auto.offset.store", "false");
    Buffers::for_tasks(flow.settings.tasks_max).apply_to_consumer(&mut props);
    props.set_default("fetch.wait.max.ms", fetch_wait_ms(partitions).to_string());
    props.set("enable.partition.eof", "false", false);
    let name = format!("{prefix}|replication-consumer");
    let consumer = AssignedConsumer::create(&props, &name).map_err(|source| TaskError::Client {
        role: "replication consumer",
        source,
    })?;
    let metrics = client_metrics::global().consumer(client_id(&props, &name));
    Ok((consumer, metrics))
}

/// The producer of replicated records (and of source offsets), and its metrics; transactional
/// with `transactional_id` under exactly once.
pub(super) fn replication_producer(
    flow: &Flow,
    transactional_id: Option<&str>,
    prefix: &str,
) -> Result<(Producer<Acks>, ProducerMetrics), TaskError> {
    let mut props = client_props(
        &flow.worker_client_props(ClientKind::Producer),
        "replication producer",
    )?;
    replication_defaults(&mut props);
    Buffers::for_tasks(flow.settings.tasks_max).apply_to_producer(&mut props);
    if let Some(id) = transactional_id {
        props.set("transactional.id", id.to_string(), false);
    } else if props.get("enable.idempotence") == Some("true") {
        // A record the target refuses for good must not leave a gap that later records of its
        // partition fill: librdkafka would bump the epoch and send them anyway. This makes such
        // a refusal fatal to the producer, failing what it still holds, so the task starts
        // over from the stored offsets in order. (A transaction aborts instead.)
        props.set_default("enable.gapless.guarantee", "true");
    }
    // Connect's name for a source task's producer, with the connector named as Strimzi names
    // MirrorMaker 2's (`A->B.MirrorSourceConnector`): dashboards select it by that suffix.
    let name = format!("connector-producer-{}", prefix.replacen('|', ".", 1));
    let producer =
        Producer::create(&props, &name, Acks::default()).map_err(|source| TaskError::Client {
            role: "replication producer",
            source,
        })?;
    // librdkafka has checked the setting (a number of KiB) in creating the producer.
    let capacity = props
        .get("queue.buffering.max.kbytes")
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024);
    let metrics = client_metrics::global().producer(client_id(&props, &name), capacity);
    Ok((producer, metrics))
}

/// Where the flow's offset syncs go; `in_transaction` when the replication producer is
/// transactional (syncs on the target then go in its transactions).
pub(super) fn syncs(flow: &Flow, in_transaction: bool, prefix: &str) -> Result<Syncs, TaskError> {
    let policy = ReplicationPolicy::new(&flow.settings.policy);
    if !flow.settings.emit_offset_syncs {
        return Ok(Syncs::Off);
    }
    if in_transaction && flow.settings.offset_syncs_location == OffsetSyncsLocation::Target {
        return Ok(Syncs::InTransaction(
            policy.offset_syncs_topic(&flow.source),
        ));
    }
    let (side, other) = match flow.settings.offset_syncs_location {
        OffsetSyncsLocation::Source => (Side::Source, &flow.target),
        OffsetSyncsLocation::Target => (Side::Target, &flow.source),
    };
    let props = client_props(
        &flow.client_props(side, ClientKind::Producer),
        "offset-syncs producer",
    )?;
    let name = format!("{prefix}|offset-syncs-{}-producer", side.as_str());
    let producer =
        Producer::create(&props, &name, CountedDeliveries::default()).map_err(|source| {
            TaskError::Client {
                role: "offset-syncs producer",
                source,
            }
        })?;
    Ok(Syncs::Own(producer, policy.offset_syncs_topic(other)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetches_wait_longer_as_a_task_has_more_partitions() {
        let waits: Vec<u64> = [1, 500, 1_000, 2_500, 10_000].map(fetch_wait_ms).to_vec();
        assert_eq!(waits, [100, 100, 200, 500, 500]);
    }
}
