//! What a source task's delivery reports update: the partitions' bookkeeping and metrics, and
//! the offset syncs that acknowledgements make due, which go out with their own producer.

use std::time::{Duration, Instant};

use tracing::warn;

use crate::kafka::context::{Ack, Acks};
use crate::kafka::producer::{Outgoing, Producer};
use crate::kafka::KafkaError;
use crate::metrics::clients::ProducerMetrics;
use crate::metrics::{PartitionMetrics, TaskMetrics};

use super::super::scheduler::now_ms;
use super::clients::Syncs;
use super::partition_ledger::{PartitionLedger, UnmatchedReport};
use super::refusal::{remedy, Refused};
use super::{DeliveryFailure, TaskError, OFFSETS_TAG, SYNCS_TAG};

/// The longest an acknowledgement waits for the offset-syncs producer to free a permit, so
/// that a sync due is not replaced. Past it, the sync is replaced (Java's rule when its permits
/// are taken), and no later one waits until the producer delivers again: a slow or unreachable
/// offset-syncs cluster never holds up replication for more than this.
const SYNC_PERMIT_WAIT: Duration = Duration::from_secs(1);
/// How long one poll of the offset-syncs producer waits while a sync waits for a permit.
const SYNC_PERMIT_POLL: Duration = Duration::from_millis(1);

/// What delivery reports update: the partitions' bookkeeping and metrics, and the offset
/// syncs they make due. Apart from the producer, so a send can serve reports while it waits.
pub(super) struct Progress {
    pub(super) flow: String,
    /// The target cluster's alias, for the remedy of a refused record.
    pub(super) target: String,
    pub(super) ledger: PartitionLedger,
    /// By partition position, as in the ledger.
    pub(super) metrics: Vec<PartitionMetrics>,
    /// Connect's metrics of the task as a whole.
    pub(super) task_metrics: TaskMetrics,
    /// The replication producer's client metrics.
    pub(super) producer_metrics: ProducerMetrics,
    pub(super) syncs: Syncs,
    /// The reports being served (kept to reuse its buffer).
    pub(super) acks: Vec<Ack>,
    pub(super) failure: Option<TaskError>,
    /// The offset-syncs producer let a wait for a permit time out, and has delivered nothing
    /// since: syncs are replaced, not waited for.
    pub(super) syncs_stalled: bool,
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
            self.producer_metrics.reported(ack.bytes as u64);
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
                if self.ledger.sync_would_replace(i, downstream) {
                    self.wait_for_sync_permit();
                }
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
                    self.fail(i, offset, source, Refused::InDelivery);
                }
            }
        }
        Ok(())
    }

    /// The target wrote partition `i`'s oldest batch in flight, its first record at
    /// `downstream` (the batch path): the ledger, the offset syncs and the metrics move on as
    /// if each of its records had been acknowledged in turn.
    pub(super) fn batch_delivered(&mut self, i: usize, downstream: i64, now: Instant, wall: i64) {
        if self.ledger.sync_would_replace(i, downstream) {
            self.wait_for_sync_permit();
        }
        let mut ack = match self.ledger.acknowledged_batch(i, downstream) {
            Ok(Some(ack)) => ack,
            Ok(None) => return,
            Err(e) => {
                self.failure.get_or_insert(e.into());
                return;
            }
        };
        while let Some(urgent) = self.ledger.span_step(i, &mut ack) {
            // An urgent sync goes out before a later one of the same batch can replace it, past
            // the outstanding limit: a batch's acknowledgement makes them due all at once.
            if urgent {
                self.send_syncs_with(true);
            }
        }
        self.metrics[i].acked_batch(u64::from(ack.records), ack.timestamp.map(|t| wall - t), now);
        self.task_metrics.written(u64::from(ack.records));
    }

    /// Keeps the first failure: the task stops with it.
    pub(super) fn fail(&mut self, i: usize, offset: i64, source: KafkaError, refused: Refused) {
        let partition = self.ledger.topic_partition(i);
        let remedy = remedy(&source, refused, &self.target, self.ledger.remote_topic(i));
        self.failure
            .get_or_insert(TaskError::Delivery(Box::new(DeliveryFailure {
                partition,
                offset,
                source,
                remedy,
            })));
    }

    /// Sends every pending sync, waiting for permits as needed: an offset commit then promotes
    /// the delayed syncs without replacing one that is due (Java's promotion would).
    pub(super) fn send_pending_syncs(&mut self) {
        if !matches!(self.syncs, Syncs::Own(..)) {
            return;
        }
        self.send_syncs();
        while self.ledger.has_pending_syncs() && !self.syncs_stalled {
            self.wait_for_sync_permit();
        }
    }

    /// Waits until the offset-syncs producer delivered a sync, freeing a permit, and sends the
    /// pending syncs; gives up after [`SYNC_PERMIT_WAIT`] (see there).
    fn wait_for_sync_permit(&mut self) {
        let Syncs::Own(producer, _) = &self.syncs else {
            return;
        };
        let deadline = Instant::now() + SYNC_PERMIT_WAIT;
        while !self.syncs_stalled {
            producer.poll(SYNC_PERMIT_POLL);
            if producer.hooks().peek() > 0 {
                break;
            }
            if Instant::now() >= deadline {
                warn!(flow = %self.flow, "the offset-syncs producer has delivered nothing for {SYNC_PERMIT_WAIT:?}; offset syncs due are replaced by later ones until it does");
                self.syncs_stalled = true;
            }
        }
        self.send_syncs();
    }

    /// Sends the offset syncs that are due with their own producer (transactional syncs wait
    /// for the commit: `Task::commit_transaction`).
    pub(super) fn send_syncs(&mut self) {
        self.send_syncs_with(false);
    }

    /// [`Progress::send_syncs`], of every sync due when `all` (beyond the outstanding limit).
    fn send_syncs_with(&mut self, all: bool) {
        let Syncs::Own(producer, topic) = &self.syncs else {
            return;
        };
        // Serve its delivery reports first: each frees a permit.
        producer.poll(Duration::ZERO);
        let delivered = producer.hooks().take();
        if delivered > 0 {
            self.syncs_stalled = false;
        }
        self.ledger.syncs_acked(delivered);
        let due = if all {
            self.ledger.take_all_syncs()
        } else {
            self.ledger.take_syncs()
        };
        for sync in due {
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
