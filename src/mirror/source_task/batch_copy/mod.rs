//! The batch path of MirrorSource tasks (`copy.batches.enabled`): record batches fetched from
//! the source leaders and produced to the target leaders as they are, over the Kafka protocol
//! directly. Only a batch's header is rewritten (the target producer's id, epoch and sequence,
//! and the CRC); batches the target would refuse or rebuild are re-encoded (`select`).
//!
//! Everything else is the record path's: the ledger, offset syncs by Java's rules (a batch is
//! walked as its records would be), source offsets in Connect's format, written by the task's
//! librdkafka producer, and the metrics under the same names.
//!
//! Delivery: at least once, with an idempotent producer, so retries never duplicate or reorder
//! within a run; the source is read with read_committed, so aborted transactions and their
//! markers are never copied. Exactly once (`exactly.once.source.support = enabled`): the
//! producer is transactional (`transaction`), with the record path's transactional id and
//! transaction boundaries, and the source offsets and target-side offset syncs go in the same
//! transactions.

mod copier;
pub mod pipeline;
pub mod select;
mod transaction;

use crate::config::{ClientKind, Flow};
use crate::kafka::wire::{Security, WireError};
use crate::metrics::clients as client_metrics;

use super::buffers::Buffers;
use super::clients::client_props;
use super::{SourceTaskSpec, Task, TaskDeps, TaskError};
use crate::kafka::record_batch::Codec;

/// Whether a flow's source tasks take the batch path.
pub fn enabled(flow: &Flow) -> bool {
    flow.settings.copy_batches
}

/// What the batch path reads of the flow's settings.
#[derive(Debug, Clone)]
pub(super) struct BatchSettings {
    source: Security,
    target: Security,
    /// Re-encoded batches' codec: the target producer's `compression.type`.
    codec: Codec,
    /// The bytes fetched and not yet acknowledged that a task may hold.
    budget: usize,
    fetch_max_bytes: usize,
    partition_max_bytes: usize,
    fetch_wait_ms: i32,
    /// `auto.offset.reset = latest` for partitions with no stored offset.
    reset_latest: bool,
}

impl BatchSettings {
    fn of(flow: &Flow, prefix: &str) -> Result<BatchSettings, TaskError> {
        let consumer = client_props(&flow.replication_consumer_props(), "replication consumer")?;
        let producer = client_props(
            &flow.worker_client_props(ClientKind::Producer),
            "replication producer",
        )?;
        let buffers = Buffers::for_tasks(flow.settings.tasks_max);
        let budget = (buffers.prefetch + buffers.producer) as usize;
        let number = |key: &str, default: usize| {
            consumer
                .get(key)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(default)
        };
        let fetch_max_bytes = number("fetch.max.bytes", budget / 2).min(budget);
        Ok(BatchSettings {
            source: Security::from_props(&consumer, &format!("{prefix}|batch-fetcher"))?,
            target: Security::from_props(&producer, &format!("{prefix}|batch-producer"))?,
            codec: copier::codec(
                producer
                    .get("compression.type")
                    .or_else(|| producer.get("compression.codec")),
            ),
            budget,
            fetch_max_bytes,
            partition_max_bytes: number("max.partition.fetch.bytes", 1 << 20).min(fetch_max_bytes),
            fetch_wait_ms: number("fetch.wait.max.ms", 500) as i32,
            reset_latest: consumer
                .get("auto.offset.reset")
                .is_some_and(|v| v.eq_ignore_ascii_case("latest")),
        })
    }
}

/// Runs a task on the batch path until it is stopped or fails. Blocking: its own thread.
pub fn run(spec: SourceTaskSpec, deps: TaskDeps) -> Result<(), TaskError> {
    let flow = spec.flow.clone();
    let prefix = format!("{}|{}-{}", flow.name(), spec.connector, spec.task);
    let settings = BatchSettings::of(&flow, &prefix)?;
    let consumer_metrics =
        client_metrics::global().consumer(&format!("{prefix}|replication-consumer"));
    let mut task = Task::new(spec, deps, &prefix, consumer_metrics)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TaskError::Config(format!("starting the batch path's runtime: {e}")))?;
    let result = runtime.block_on(async {
        let mut copier = copier::Copier::start(&mut task, settings).await?;
        copier.run().await
    });
    task.shutdown();
    tracing::info!(flow = %flow.name(), task = task.spec.task, "source task stopped");
    result
}

impl From<WireError> for TaskError {
    fn from(e: WireError) -> Self {
        TaskError::Wire(e)
    }
}
