//! What a source task's delivery reports update: the partitions' bookkeeping and metrics, and
//! the offset syncs that acknowledgements make due, which go out with their own producer.

use std::time::Instant;

use tracing::warn;

use crate::kafka::context::{Ack, Acks};
use crate::kafka::producer::{Outgoing, Producer};
use crate::kafka::KafkaError;
use crate::metrics::{PartitionMetrics, TaskMetrics};

use super::super::scheduler::now_ms;
use super::clients::Syncs;
use super::partition_ledger::{PartitionLedger, UnmatchedReport};
use super::{TaskError, OFFSETS_TAG, SYNCS_TAG};

/// What delivery reports update: the partitions' bookkeeping and metrics, and the offset
/// syncs they make due. Apart from the producer, so a send can serve reports while it waits.
pub(super) struct Progress {
    pub(super) flow: String,
    pub(super) ledger: PartitionLedger,
    /// By partition position, as in the ledger.
    pub(super) metrics: Vec<PartitionMetrics>,
    /// Connect's metrics of the task as a whole.
    pub(super) task_metrics: TaskMetrics,
    pub(super) syncs: Syncs,
    /// The reports being served (kept to reuse its buffer).
    pub(super) acks: Vec<Ack>,
    pub(super) failure: Option<TaskError>,
}

impl Progress {
    /// Serves the delivery reports received so far.
    pub(super) fn drain_acks(&mut self, producer: &Producer<Acks>) {
        producer.hooks().swap_into(&mut self.acks);
        let (now, wall) = (Instant::now(), now_ms());
        let mut acks = std::mem::take(&mut self.acks);
        for ack in acks.drain(..) {
            if ack.tag == OFFSETS_TAG || ack.tag == SYNCS_TAG {
                if let Err(e) = ack.result {
                    warn!(flow = %self.flow, "writing source offsets or offset syncs: {e}");
                }
                continue;
            }
            if let Err(e) = self.delivered(ack, now, wall) {
                self.failure.get_or_insert(e.into());
            }
        }
        self.acks = acks;
    }

    /// One replicated record's report; nothing after a lost record may count as replicated.
    fn delivered(&mut self, ack: Ack, now: Instant, wall: i64) -> Result<(), UnmatchedReport> {
        let i = ack.tag;
        match ack.result {
            Ok(downstream) => {
                let Some(acked) = self.ledger.acknowledged(i, downstream)? else {
                    return Ok(());
                };
                self.metrics[i].acked(acked.timestamp.map(|t| wall - t), now);
                self.task_metrics.written(1);
                // Send an urgent sync at once, as Java does after each acknowledgement,
                // before a later urgent one of the same partition replaces it.
                if acked.sync_now {
                    self.send_syncs();
                }
            }
            Err(source) => {
                if let Some(offset) = self.ledger.rejected(i)? {
                    self.fail(i, offset, source);
                }
            }
        }
        Ok(())
    }

    /// Keeps the first failure: the task stops with it.
    pub(super) fn fail(&mut self, i: usize, offset: i64, source: KafkaError) {
        let partition = self.ledger.topic_partition(i);
        self.failure.get_or_insert(TaskError::Delivery {
            partition,
            offset,
            source,
        });
    }

    /// Sends the offset syncs that are due with their own producer (transactional syncs wait
    /// for the commit: `Task::commit_transaction`).
    pub(super) fn send_syncs(&mut self) {
        let Syncs::Own(producer, topic) = &self.syncs else {
            return;
        };
        self.ledger.syncs_acked(producer.hooks().take());
        for sync in self.ledger.take_syncs() {
            let s = sync.as_ref();
            let (key, value) = (s.record_key(), s.record_value());
            let record = Outgoing::new(topic, Some(&key), Some(&value)).partition(0);
            if let Err(e) = producer.send(record, ()) {
                warn!(flow = %self.flow, "offset sync not sent: {e}");
                self.ledger.syncs_acked(1);
            }
        }
    }
}
