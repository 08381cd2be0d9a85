//! When to emit offset syncs (`OffsetSyncWriter`, Kafka 3.7+/4.0 rules): immediately for the first
//! record of a partition, when translation would be `offset.lag.max` records stale, after an
//! upstream gap or a downstream rewind; otherwise the latest position is kept as "delayed" and
//! published at the next offset commit. At most [`MAX_OUTSTANDING`] syncs per task are in
//! flight.

use std::collections::BTreeMap;

/// Outstanding (unacknowledged) offset-sync sends allowed per task. Java allows 10, but frees a
/// permit on every acknowledgement as it arrives; this task serves acknowledgements in batches,
/// so a larger window keeps a burst from replacing syncs that translation needs.
pub const MAX_OUTSTANDING: usize = 100;

/// One sync for the partition at `position` in the task's assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingSync {
    pub position: usize,
    pub upstream: i64,
    pub downstream: i64,
}

#[derive(Debug, Clone, Copy)]
struct PartitionState {
    previous_upstream: i64,
    previous_downstream: i64,
    last_sync_downstream: i64,
}

impl Default for PartitionState {
    fn default() -> Self {
        PartitionState {
            previous_upstream: -1,
            previous_downstream: -1,
            last_sync_downstream: -1,
        }
    }
}

/// The per-task offset-sync decision state. Pure logic: the caller sends what [`take`] returns
/// and reports each acknowledgement with [`acked`].
///
/// [`take`]: OffsetSyncWriter::take
/// [`acked`]: OffsetSyncWriter::acked
#[derive(Debug)]
pub struct OffsetSyncWriter {
    max_lag: i64,
    state: Vec<PartitionState>,
    pending: BTreeMap<usize, PendingSync>,
    delayed: BTreeMap<usize, PendingSync>,
    outstanding: usize,
}

impl OffsetSyncWriter {
    pub fn new(partitions: usize, max_lag: i64) -> Self {
        OffsetSyncWriter {
            max_lag,
            state: vec![PartitionState::default(); partitions],
            pending: BTreeMap::new(),
            delayed: BTreeMap::new(),
            outstanding: 0,
        }
    }

    /// Called for every record the target acknowledged, in order per partition. Returns true
    /// when the sync must go out now.
    pub fn record(&mut self, position: usize, upstream: i64, downstream: i64) -> bool {
        let s = &mut self.state[position];
        let emit_now = s.last_sync_downstream == -1
            || downstream - (s.last_sync_downstream + 1) >= self.max_lag
            || upstream - s.previous_upstream != 1
            || downstream < s.previous_downstream;
        if emit_now {
            s.last_sync_downstream = downstream;
        }
        s.previous_upstream = upstream;
        s.previous_downstream = downstream;
        let sync = PendingSync {
            position,
            upstream,
            downstream,
        };
        if emit_now {
            self.delayed.remove(&position);
            self.pending.insert(position, sync);
        } else {
            self.delayed.insert(position, sync);
        }
        emit_now
    }

    /// At each offset commit: publish the latest position of every partition.
    pub fn promote_delayed(&mut self) {
        let delayed = std::mem::take(&mut self.delayed);
        for (position, sync) in delayed {
            self.pending.insert(position, sync);
        }
    }

    /// The syncs to send now, within the outstanding limit; the rest stay pending.
    pub fn take(&mut self) -> Vec<PendingSync> {
        let room = MAX_OUTSTANDING.saturating_sub(self.outstanding);
        let positions: Vec<usize> = self.pending.keys().copied().take(room).collect();
        let out: Vec<PendingSync> = positions
            .iter()
            .filter_map(|s| self.pending.remove(s))
            .collect();
        self.outstanding += out.len();
        out
    }

    /// One sent sync was acknowledged (or failed; failures are only logged, as in Java).
    pub fn acked(&mut self) {
        self.outstanding = self.outstanding.saturating_sub(1);
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(w: &mut OffsetSyncWriter) -> Vec<(i64, i64)> {
        let out: Vec<(i64, i64)> = w
            .take()
            .iter()
            .map(|s| (s.upstream, s.downstream))
            .collect();
        for _ in &out {
            w.acked();
        }
        out
    }

    #[test]
    fn first_record_then_every_lag_max_plus_one() {
        let mut w = OffsetSyncWriter::new(1, 100);
        let mut syncs = Vec::new();
        for i in 0..250 {
            w.record(0, i, i);
            syncs.extend(emitted(&mut w));
        }
        assert_eq!(syncs, vec![(0, 0), (101, 101), (202, 202)]);
        w.promote_delayed();
        assert_eq!(emitted(&mut w), vec![(249, 249)]);
    }

    #[test]
    fn gaps_and_rewinds_emit_immediately() {
        let mut w = OffsetSyncWriter::new(1, 100);
        w.record(0, 10, 0);
        assert_eq!(emitted(&mut w), vec![(10, 0)]);
        w.record(0, 11, 1);
        assert!(emitted(&mut w).is_empty());
        w.record(0, 15, 2); // upstream gap (compaction, transaction markers)
        assert_eq!(emitted(&mut w), vec![(15, 2)]);
        w.record(0, 16, 0); // downstream rewind: target topic recreated
        assert_eq!(emitted(&mut w), vec![(16, 0)]);
    }

    #[test]
    fn zero_lag_max_syncs_every_record() {
        let mut w = OffsetSyncWriter::new(1, 0);
        for i in 0..5 {
            w.record(0, i, i);
            assert_eq!(emitted(&mut w), vec![(i, i)]);
        }
    }

    #[test]
    fn outstanding_sends_are_bounded_and_latest_per_partition_wins() {
        let n = MAX_OUTSTANDING + 2;
        let mut w = OffsetSyncWriter::new(n, 0);
        for position in 0..n {
            w.record(position, 0, 0);
            w.record(position, 1, 1);
        }
        let first = w.take();
        assert_eq!(first.len(), MAX_OUTSTANDING);
        assert!(
            first.iter().all(|s| s.upstream == 1),
            "a newer pending sync replaces an older one"
        );
        assert!(w.take().is_empty());
        w.acked();
        assert_eq!(w.take().len(), 1);
        assert!(w.has_pending());
    }
}
