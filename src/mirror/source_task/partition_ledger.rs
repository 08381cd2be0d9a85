//! The bookkeeping of a source task's assigned partitions, without I/O: which records are in
//! flight to the target, which source offset each partition has reached (acknowledged) and
//! which it has stored, records lost to retention between runs, and the offset syncs that
//! acknowledgements make due.
//!
//! Its rules are the task's delivery guarantee:
//! - a partition's offset advances only over records the target acknowledged, in send order;
//! - once a record of a partition failed, nothing after it counts, and nothing after it is sent
//!   (the task fails and starts again from the stored offset), so the target never holds a
//!   partition's records out of order;
//! - the offset to store is never beyond the acknowledged one.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::connect::offsets::MirrorPartition;
use crate::kafka::TopicPartition;

use super::super::offset_sync::OffsetSyncWriter;
use super::super::wire::OffsetSync;

/// A delivery report of a partition with no record in flight. The task sends a record and
/// notes it in flight before it next serves delivery reports, and librdkafka reports each
/// record once, so this means a broken invariant: the task fails rather than guess.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a delivery report for {0} that has no record in flight")]
pub struct UnmatchedReport(pub TopicPartition);

/// A record the target acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    pub offset: i64,
    /// The record's timestamp (for the latency metric).
    pub timestamp: Option<i64>,
    /// An offset sync must be sent at once (translation would lag otherwise).
    pub sync_now: bool,
}

/// What is in flight to the target: one record (the record path), or a batch of the batch
/// path with the runs of source offsets it carries.
#[derive(Debug)]
struct InFlight {
    first: i64,
    last: i64,
    timestamp: Option<i64>,
    /// A batch's runs of contiguous source offsets; `None` for one record.
    runs: Option<Box<[(i64, u32)]>>,
}

/// A batch the target acknowledged, walked run by run for its offset syncs
/// ([`PartitionLedger::span_step`]).
#[derive(Debug)]
pub struct SpanAck {
    runs: Box<[(i64, u32)]>,
    run: usize,
    /// Records of the current run already recorded.
    done: u32,
    /// The downstream offset of the next record to record.
    downstream: i64,
    /// The batch's records and largest timestamp (for the metrics).
    pub records: u32,
    pub timestamp: Option<i64>,
}

/// One assigned partition.
#[derive(Debug)]
struct PartitionState {
    source: MirrorPartition,
    remote_topic: Arc<str>,
    /// Records (or batches) sent and not yet acknowledged, in send order.
    in_flight: VecDeque<InFlight>,
    acked: Option<i64>,
    /// The timestamp of the last record acknowledged (for the lag in seconds).
    acked_timestamp: Option<i64>,
    stored: Option<i64>,
    /// The offset the next record read should have: after the stored offset at start, then
    /// after the last record sent. `None` until known (nothing stored).
    next_expected: Option<i64>,
    /// The offset of a record the target will not get: nothing from it on may count as
    /// replicated, and nothing more of the partition is sent.
    failed_at: Option<i64>,
}

/// The task's partitions, by their position in the assignment (`i` below).
#[derive(Debug)]
pub struct PartitionLedger {
    partitions: Vec<PartitionState>,
    /// topic → partition number → position.
    index: HashMap<String, Vec<Option<usize>>>,
    /// `None` when the task emits no offset syncs.
    syncs: Option<OffsetSyncWriter>,
}

impl PartitionLedger {
    /// `partitions` with their remote topics; `offset_lag_max` when offset syncs are emitted.
    pub fn new(partitions: Vec<(MirrorPartition, Arc<str>)>, offset_lag_max: Option<i64>) -> Self {
        let mut index: HashMap<String, Vec<Option<usize>>> = HashMap::new();
        for (i, (p, _)) in partitions.iter().enumerate() {
            let n = p.partition as usize;
            let parts = index.entry(p.topic.clone()).or_default();
            if parts.len() <= n {
                parts.resize(n + 1, None);
            }
            parts[n] = Some(i);
        }
        let syncs = offset_lag_max.map(|lag| OffsetSyncWriter::new(partitions.len(), lag));
        let partitions = partitions
            .into_iter()
            .map(|(source, remote_topic)| PartitionState {
                source,
                remote_topic,
                in_flight: VecDeque::new(),
                acked: None,
                acked_timestamp: None,
                stored: None,
                next_expected: None,
                failed_at: None,
            })
            .collect();
        PartitionLedger {
            partitions,
            index,
            syncs,
        }
    }

    pub fn len(&self) -> usize {
        self.partitions.len()
    }

    /// The position of an assigned partition; `None` when it is not this task's (a stale fetch
    /// after reassignment).
    pub fn position(&self, topic: &str, partition: i32) -> Option<usize> {
        let n = usize::try_from(partition).ok()?;
        self.index.get(topic)?.get(n).copied().flatten()
    }

    pub fn source(&self, i: usize) -> &MirrorPartition {
        &self.partitions[i].source
    }

    pub fn topic_partition(&self, i: usize) -> TopicPartition {
        let s = &self.partitions[i].source;
        TopicPartition::new(s.topic.clone(), s.partition)
    }

    pub fn remote_topic(&self, i: usize) -> &Arc<str> {
        &self.partitions[i].remote_topic
    }

    /// Starts partition `i` after its stored offset (none: nothing stored yet, or an offset
    /// that cannot be used, see `continuity::start_after`).
    pub fn resume_after(&mut self, i: usize, stored: Option<i64>) {
        let p = &mut self.partitions[i];
        p.acked = stored;
        p.stored = stored;
        p.next_expected = stored.map(|o| o + 1);
    }

    /// The offset the next record of partition `i` should have, when known.
    pub fn expected(&self, i: usize) -> Option<i64> {
        self.partitions[i].next_expected
    }

    /// Whether a record of partition `i` failed: nothing more of it may be sent.
    pub fn is_failed(&self, i: usize) -> bool {
        self.partitions[i].failed_at.is_some()
    }

    pub fn stored(&self, i: usize) -> Option<i64> {
        self.partitions[i].stored
    }

    /// The source offset replication of partition `i` continues at (for the lag metric).
    pub fn next_offset(&self, i: usize) -> i64 {
        self.partitions[i].acked.map_or(0, |a| a + 1)
    }

    /// A record was queued for the target; call before serving delivery reports again.
    pub fn sent(&mut self, i: usize, offset: i64, timestamp: Option<i64>) {
        let p = &mut self.partitions[i];
        p.in_flight.push_back(InFlight {
            first: offset,
            last: offset,
            timestamp,
            runs: None,
        });
        p.next_expected = Some(offset + 1);
    }

    /// A batch carrying `runs` of source offsets (contiguous ones, in order) was sent.
    pub fn sent_batch(&mut self, i: usize, runs: &[(i64, u32)], timestamp: Option<i64>) {
        let (Some(first), Some(&(last_run, n))) = (runs.first(), runs.last()) else {
            return;
        };
        let last = last_run + i64::from(n) - 1;
        let p = &mut self.partitions[i];
        p.in_flight.push_back(InFlight {
            first: first.0,
            last,
            timestamp,
            runs: Some(runs.into()),
        });
        p.next_expected = Some(last + 1);
    }

    /// The target acknowledged partition `i`'s oldest batch in flight, its first record at
    /// `downstream`. `None` once the partition has failed; otherwise walk the returned batch
    /// with [`PartitionLedger::span_step`] for its offset syncs.
    pub fn acknowledged_batch(
        &mut self,
        i: usize,
        downstream: i64,
    ) -> Result<Option<SpanAck>, UnmatchedReport> {
        let sent = self.pop(i)?;
        let p = &mut self.partitions[i];
        if p.failed_at.is_some_and(|f| sent.first >= f) {
            return Ok(None);
        }
        p.acked = Some(sent.last);
        p.acked_timestamp = sent.timestamp;
        let runs = sent
            .runs
            .unwrap_or_else(|| vec![(sent.first, 1)].into_boxed_slice());
        let records = runs.iter().map(|(_, n)| n).sum();
        Ok(Some(SpanAck {
            runs,
            run: 0,
            done: 0,
            downstream,
            records,
            timestamp: sent.timestamp,
        }))
    }

    /// Records an acknowledged batch's offsets for the syncs up to and including the next one
    /// whose sync is urgent (or to its end). `Some(true)` when that sync must go out now, before
    /// the next step; `None` once the batch is done. As if each record were acknowledged in
    /// turn, at the cost of one step per sync.
    pub fn span_step(&mut self, i: usize, ack: &mut SpanAck) -> Option<bool> {
        let &(first, n) = ack.runs.get(ack.run)?;
        let Some(w) = &mut self.syncs else {
            ack.run = ack.runs.len();
            return None;
        };
        let (u, d, left) = (first + i64::from(ack.done), ack.downstream, n - ack.done);
        let step = match w.first_urgent_in_run(i, u, d, left) {
            Some(j) => j + 1,
            None => left,
        };
        let j = i64::from(step) - 1;
        if j > 0 {
            w.advance(i, u + j - 1, d + j - 1);
        }
        let urgent = w.record(i, u + j, d + j);
        ack.done += step;
        ack.downstream += i64::from(step);
        if ack.done == n {
            ack.run += 1;
            ack.done = 0;
        }
        Some(urgent)
    }

    /// The record of partition `i` at `offset` will not be sent (the producer refused it, or
    /// a data loss stops the partition): the records sent before it still count once
    /// acknowledged, nothing from it on does.
    pub fn poison(&mut self, i: usize, offset: i64) {
        let p = &mut self.partitions[i];
        p.failed_at = Some(p.failed_at.map_or(offset, |f| f.min(offset)));
    }

    /// Whether acknowledging partition `i`'s oldest record in flight at `downstream` would
    /// replace an offset sync that is due and not yet sent (every permit taken).
    pub fn sync_would_replace(&self, i: usize, downstream: i64) -> bool {
        let (Some(w), Some(sent)) = (&self.syncs, self.partitions[i].in_flight.front()) else {
            return false;
        };
        w.would_replace(i, sent.first, downstream)
    }

    /// The target acknowledged the oldest record in flight of partition `i`, at `downstream`.
    /// `None` once the partition has failed.
    pub fn acknowledged(
        &mut self,
        i: usize,
        downstream: i64,
    ) -> Result<Option<Acked>, UnmatchedReport> {
        let InFlight {
            last: offset,
            timestamp,
            ..
        } = self.pop(i)?;
        let p = &mut self.partitions[i];
        if p.failed_at.is_some_and(|f| offset >= f) {
            return Ok(None);
        }
        p.acked = Some(offset);
        p.acked_timestamp = timestamp;
        let sync_now = match &mut self.syncs {
            Some(w) => w.record(i, offset, downstream),
            None => false,
        };
        Ok(Some(Acked {
            offset,
            timestamp,
            sync_now,
        }))
    }

    /// The target rejected the oldest record in flight of partition `i`: the partition fails.
    /// Returns its source offset unless the partition had failed already.
    pub fn rejected(&mut self, i: usize) -> Result<Option<i64>, UnmatchedReport> {
        let offset = self.pop(i)?.first;
        let p = &mut self.partitions[i];
        let first = p.failed_at.is_none();
        p.failed_at = Some(p.failed_at.map_or(offset, |f| f.min(offset)));
        Ok(first.then_some(offset))
    }

    fn pop(&mut self, i: usize) -> Result<InFlight, UnmatchedReport> {
        self.partitions[i]
            .in_flight
            .pop_front()
            .ok_or_else(|| UnmatchedReport(self.topic_partition(i)))
    }

    /// Partition `i`'s records in flight and the timestamps of the oldest of them and of the
    /// last one acknowledged (for the lag metrics).
    pub fn outstanding(&self, i: usize) -> (usize, Option<i64>, Option<i64>) {
        let p = &self.partitions[i];
        let oldest = p.in_flight.front().and_then(|s| s.timestamp);
        (p.in_flight.len(), oldest, p.acked_timestamp)
    }

    /// How many records are in flight over all partitions.
    pub fn in_flight(&self) -> usize {
        self.partitions.iter().map(|p| p.in_flight.len()).sum()
    }

    /// The partitions whose acknowledged offset is not stored yet, with that offset.
    pub fn offsets_to_store(&self) -> Vec<(usize, i64)> {
        self.partitions
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.acked.filter(|a| Some(*a) != p.stored).map(|a| (i, a)))
            .collect()
    }

    /// `offset` (one [`PartitionLedger::offsets_to_store`] returned) is stored.
    pub fn mark_stored(&mut self, i: usize, offset: i64) {
        self.partitions[i].stored = Some(offset);
    }

    /// The offset syncs to send now (within the outstanding limit).
    pub fn take_syncs(&mut self) -> Vec<OffsetSync> {
        self.syncs_to_send(false)
    }

    /// Every offset sync due, beyond the outstanding limit (see `OffsetSyncWriter::take_all`).
    pub fn take_all_syncs(&mut self) -> Vec<OffsetSync> {
        self.syncs_to_send(true)
    }

    fn syncs_to_send(&mut self, all: bool) -> Vec<OffsetSync> {
        let Some(w) = &mut self.syncs else {
            return Vec::new();
        };
        let due = if all { w.take_all() } else { w.take() };
        due.into_iter()
            .map(|s| {
                let source = &self.partitions[s.position].source;
                OffsetSync {
                    topic: source.topic.clone(),
                    partition: source.partition,
                    upstream_offset: s.upstream,
                    downstream_offset: s.downstream,
                }
            })
            .collect()
    }

    /// `n` sent offset syncs were acknowledged (or failed, which is only logged).
    pub fn syncs_acked(&mut self, n: usize) {
        if let Some(w) = &mut self.syncs {
            for _ in 0..n {
                w.acked();
            }
        }
    }

    /// Whether a sync is due and not sent yet (every permit was taken).
    pub fn has_pending_syncs(&self) -> bool {
        self.syncs.as_ref().is_some_and(|w| w.has_pending())
    }

    /// At an offset commit: the latest position of every partition becomes a sync to send.
    pub fn promote_delayed_syncs(&mut self) {
        if let Some(w) = &mut self.syncs {
            w.promote_delayed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(partitions: &[(&str, i32)], lag_max: Option<i64>) -> PartitionLedger {
        let parts = partitions
            .iter()
            .map(|(t, p)| {
                let source = MirrorPartition {
                    cluster: "A".into(),
                    partition: *p,
                    topic: (*t).into(),
                };
                (source, Arc::from(format!("A.{t}")))
            })
            .collect();
        PartitionLedger::new(parts, lag_max)
    }

    fn ack(l: &mut PartitionLedger, i: usize, downstream: i64) -> Option<i64> {
        l.acknowledged(i, downstream).unwrap().map(|a| a.offset)
    }

    /// A batch acknowledged at once moves the partition and emits the syncs its records would,
    /// one step per urgent sync; a failed partition's batches count for nothing.
    #[test]
    fn batches_move_on_as_their_records_would() {
        let mut l = ledger(&[("t", 0)], Some(100));
        l.sent_batch(0, &[(10, 250)], Some(7));
        l.sent_batch(0, &[(260, 2), (270, 1)], Some(8));
        assert_eq!(l.in_flight(), 2);
        assert_eq!(l.expected(0), Some(271));
        let mut a = l.acknowledged_batch(0, 1000).unwrap().unwrap();
        assert_eq!((a.records, a.timestamp), (250, Some(7)));
        let steps: Vec<bool> = std::iter::from_fn(|| l.span_step(0, &mut a)).collect();
        // The first record, then every offset.lag.max + 1: downstream 1000, 1101, 1202.
        assert_eq!(steps, [true, true, true, false]);
        assert_eq!(l.offsets_to_store(), [(0, 259)]);
        let synced: Vec<(i64, i64)> = l
            .take_syncs()
            .iter()
            .map(|s| (s.upstream_offset, s.downstream_offset))
            .collect();
        assert_eq!(synced.last(), Some(&(212, 1202)));
        let mut b = l.acknowledged_batch(0, 1250).unwrap().unwrap();
        let steps: Vec<bool> = std::iter::from_fn(|| l.span_step(0, &mut b)).collect();
        // A gap in the upstream offsets (259 to 260 is none; 261 to 270 is) is urgent.
        assert_eq!(steps, [false, true]);
        assert_eq!(l.offsets_to_store(), [(0, 270)]);
        l.sent_batch(0, &[(271, 5)], None);
        l.poison(0, 271);
        assert!(l.acknowledged_batch(0, 1300).unwrap().is_none());
        assert!(
            l.acknowledged_batch(0, 1301).is_err(),
            "nothing left in flight"
        );
    }

    #[test]
    fn positions_follow_the_assignment() {
        let l = ledger(&[("orders", 3), ("orders", 0), ("users", 1)], None);
        assert_eq!(l.len(), 3);
        assert_eq!(l.position("orders", 3), Some(0));
        assert_eq!(l.position("orders", 0), Some(1));
        assert_eq!(l.position("users", 1), Some(2));
        assert_eq!(l.position("orders", 1), None, "not assigned");
        assert_eq!(l.position("orders", 9), None);
        assert_eq!(l.position("users", -1), None);
        assert_eq!(l.position("other", 0), None);
        assert_eq!(l.remote_topic(2).as_ref(), "A.users");
        assert_eq!(l.topic_partition(0).to_string(), "orders-3");
    }

    #[test]
    fn acknowledgements_advance_in_send_order_per_partition() {
        let mut l = ledger(&[("a", 0), ("b", 0)], None);
        for o in 10..13 {
            l.sent(0, o, Some(1000 + o));
        }
        l.sent(1, 7, None);
        assert_eq!(l.in_flight(), 4);
        // Partitions are acknowledged in any order relative to each other.
        assert_eq!(ack(&mut l, 1, 0), Some(7));
        let a = l.acknowledged(0, 100).unwrap().unwrap();
        assert_eq!((a.offset, a.timestamp), (10, Some(1010)));
        assert_eq!(ack(&mut l, 0, 101), Some(11));
        assert_eq!(l.offsets_to_store(), vec![(0, 11), (1, 7)]);
        assert_eq!(l.next_offset(0), 12);
        assert_eq!(l.in_flight(), 1);
    }

    #[test]
    fn nothing_after_a_failed_record_counts() {
        let mut l = ledger(&[("a", 0), ("b", 0)], Some(0));
        for o in 0..4 {
            l.sent(0, o, None);
        }
        l.sent(1, 0, None);
        assert_eq!(ack(&mut l, 0, 0), Some(0));
        assert_eq!(l.rejected(0), Ok(Some(1)), "the first failure is reported");
        assert_eq!(
            ack(&mut l, 0, 2),
            None,
            "a later acknowledgement does not count"
        );
        assert_eq!(l.rejected(0), Ok(None), "nor does a later failure");
        assert_eq!(
            l.in_flight(),
            1,
            "reports are still matched to their records"
        );
        assert_eq!(ack(&mut l, 1, 0), Some(0), "other partitions go on");
        assert_eq!(l.offsets_to_store(), vec![(0, 0), (1, 0)]);
        l.mark_stored(0, 0);
        l.mark_stored(1, 0);
        assert!(l.offsets_to_store().is_empty());
        assert_eq!(
            l.next_offset(0),
            1,
            "replication resumes at the failed record"
        );
    }

    #[test]
    fn a_record_that_was_never_queued_stops_its_partition_after_those_sent_before_it() {
        let mut l = ledger(&[("a", 0)], None);
        l.sent(0, 5, None);
        l.sent(0, 6, None);
        l.poison(0, 7);
        assert!(l.is_failed(0));
        assert_eq!(ack(&mut l, 0, 0), Some(5), "sent before the refused record");
        assert_eq!(ack(&mut l, 0, 1), Some(6));
        assert_eq!(
            l.offsets_to_store(),
            vec![(0, 6)],
            "resumes at the refused record"
        );
    }

    #[test]
    fn a_report_without_a_record_is_an_error_not_a_panic() {
        let mut l = ledger(&[("a", 2)], None);
        let err = l.acknowledged(0, 0).unwrap_err();
        assert_eq!(err, UnmatchedReport(TopicPartition::new("a", 2)));
        assert_eq!(
            err.to_string(),
            "a delivery report for a-2 that has no record in flight"
        );
        assert!(l.rejected(0).is_err());
    }

    #[test]
    fn the_expected_offset_follows_the_stored_one_then_each_record_sent() {
        let mut l = ledger(&[("a", 0), ("b", 0)], None);
        l.resume_after(0, Some(41));
        l.resume_after(1, None);
        assert_eq!(l.stored(0), Some(41));
        assert_eq!(l.next_offset(0), 42);
        assert_eq!(l.expected(0), Some(42));
        assert_eq!(l.expected(1), None, "nothing stored, nothing expected");
        l.sent(0, 45, None);
        assert_eq!(l.expected(0), Some(46));
        l.sent(1, 1000, None);
        assert_eq!(l.expected(1), Some(1001));
        assert!(l.offsets_to_store().is_empty(), "nothing new acknowledged");
    }

    #[test]
    fn a_failed_partition_is_known_as_failed() {
        let mut l = ledger(&[("a", 0), ("b", 0)], None);
        l.sent(0, 0, None);
        assert!(!l.is_failed(0));
        assert_eq!(l.rejected(0), Ok(Some(0)));
        assert!(l.is_failed(0));
        assert!(!l.is_failed(1));
        l.poison(1, 3);
        assert!(l.is_failed(1));
    }

    #[test]
    fn stored_never_passes_acknowledged() {
        let mut l = ledger(&[("a", 0)], None);
        l.resume_after(0, Some(4));
        for o in 5..8 {
            l.sent(0, o, None);
        }
        assert!(
            l.offsets_to_store().is_empty(),
            "in flight is not acknowledged"
        );
        ack(&mut l, 0, 0);
        assert_eq!(l.offsets_to_store(), vec![(0, 5)]);
        l.mark_stored(0, 5);
        assert_eq!(l.stored(0), Some(5));
        assert!(l.offsets_to_store().is_empty());
        ack(&mut l, 0, 1);
        ack(&mut l, 0, 2);
        assert_eq!(l.offsets_to_store(), vec![(0, 7)]);
    }

    #[test]
    fn acknowledgements_make_offset_syncs_due() {
        let mut l = ledger(&[("a", 0), ("b", 1)], Some(100));
        l.resume_after(0, Some(9));
        for o in 10..13 {
            l.sent(0, o, None);
        }
        let first = l.acknowledged(0, 0).unwrap().unwrap();
        assert!(
            first.sync_now,
            "the first record of a partition syncs at once"
        );
        assert!(!l.acknowledged(0, 1).unwrap().unwrap().sync_now);
        assert!(!l.acknowledged(0, 2).unwrap().unwrap().sync_now);
        let now = l.take_syncs();
        assert_eq!(
            now,
            vec![OffsetSync {
                topic: "a".into(),
                partition: 0,
                upstream_offset: 10,
                downstream_offset: 0
            }]
        );
        l.syncs_acked(now.len());
        assert!(l.take_syncs().is_empty(), "the rest waits for a commit");
        l.promote_delayed_syncs();
        let latest: Vec<(i64, i64)> = l
            .take_syncs()
            .iter()
            .map(|s| (s.upstream_offset, s.downstream_offset))
            .collect();
        assert_eq!(latest, vec![(12, 2)]);
    }

    #[test]
    fn without_offset_syncs_nothing_is_due() {
        let mut l = ledger(&[("a", 0)], None);
        l.sent(0, 0, None);
        assert!(!l.acknowledged(0, 0).unwrap().unwrap().sync_now);
        l.promote_delayed_syncs();
        assert!(l.take_syncs().is_empty());
        l.syncs_acked(3);
    }
}
