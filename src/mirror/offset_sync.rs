//! When to emit offset syncs, by the rules of Java's `OffsetSyncWriter` (Kafka 3.7+):
//! - a partition's first record, a record that would leave translation `offset.lag.max`
//!   records stale, an upstream gap and a downstream rewind each make a sync *pending*: it goes
//!   out as soon as a permit is free, at most [`MAX_OUTSTANDING`] being unacknowledged;
//! - any other record makes its position *delayed*, published when the next offset commit
//!   promotes every delayed sync to pending;
//! - each partition has at most one pending and one delayed sync: a newer one replaces the older
//!   (keeping its place in line), an urgent one drops the delayed one;
//! - pending syncs leave in the order their partitions became pending, as Java's
//!   `LinkedHashMap` gives them.
//!
//! Java calls its sender after every acknowledged record, and its permits come back from the
//! producer's own thread, so a burst of acknowledgements still meets freed permits. The task here
//! serves acknowledgements in batches; [`OffsetSyncWriter::would_replace`] tells it when a
//! pending sync is about to be replaced, so that it can wait for a permit first (see
//! `source_task::progress`).

use std::collections::VecDeque;

/// Outstanding (unacknowledged) offset-sync sends per task: Java's `MAX_OUTSTANDING_OFFSET_SYNCS`.
pub const MAX_OUTSTANDING: usize = 10;

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

impl PartitionState {
    /// Notes an acknowledged record; true when its sync must not wait for the next commit.
    fn urgent(&mut self, upstream: i64, downstream: i64, max_lag: i64) -> bool {
        let urgent = self.last_sync_downstream == -1
            || downstream - (self.last_sync_downstream + 1) >= max_lag
            || upstream - self.previous_upstream != 1
            || downstream < self.previous_downstream;
        if urgent {
            self.last_sync_downstream = downstream;
        }
        self.previous_upstream = upstream;
        self.previous_downstream = downstream;
        urgent
    }
}

/// At most one sync per partition, in the order the partitions were put (a replaced sync keeps
/// its partition's place; a removed one loses it), as a `LinkedHashMap` keyed by partition.
/// Removal is O(1): the line keeps stale entries, told apart by a per-slot generation.
#[derive(Debug)]
struct SyncLine {
    slots: Vec<Option<(PendingSync, u64)>>,
    line: VecDeque<(usize, u64)>,
    generation: u64,
    len: usize,
}

impl SyncLine {
    fn new(partitions: usize) -> Self {
        SyncLine {
            slots: vec![None; partitions],
            line: VecDeque::new(),
            generation: 0,
            len: 0,
        }
    }

    fn put(&mut self, sync: PendingSync) {
        match &mut self.slots[sync.position] {
            Some((s, _)) => *s = sync,
            slot @ None => {
                self.generation += 1;
                *slot = Some((sync, self.generation));
                self.line.push_back((sync.position, self.generation));
                self.len += 1;
            }
        }
    }

    fn contains(&self, position: usize) -> bool {
        self.slots[position].is_some()
    }

    fn remove(&mut self, position: usize) -> Option<PendingSync> {
        let (sync, _) = self.slots[position].take()?;
        self.len -= 1;
        if self.len == 0 {
            self.line.clear();
        }
        Some(sync)
    }

    fn pop_front(&mut self) -> Option<PendingSync> {
        while let Some((position, generation)) = self.line.pop_front() {
            if matches!(self.slots[position], Some((_, g)) if g == generation) {
                return self.remove(position);
            }
        }
        None
    }

    fn is_empty(&self) -> bool {
        self.len == 0
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
    pending: SyncLine,
    delayed: SyncLine,
    outstanding: usize,
}

impl OffsetSyncWriter {
    pub fn new(partitions: usize, max_lag: i64) -> Self {
        OffsetSyncWriter {
            max_lag,
            state: vec![PartitionState::default(); partitions],
            pending: SyncLine::new(partitions),
            delayed: SyncLine::new(partitions),
            outstanding: 0,
        }
    }

    /// Called for every record the target acknowledged, in order per partition. Returns true
    /// when the sync must go out now.
    pub fn record(&mut self, position: usize, upstream: i64, downstream: i64) -> bool {
        let urgent = self.state[position].urgent(upstream, downstream, self.max_lag);
        let sync = PendingSync {
            position,
            upstream,
            downstream,
        };
        if urgent {
            self.delayed.remove(position);
            self.pending.put(sync);
        } else {
            self.delayed.put(sync);
        }
        urgent
    }

    /// Where, in a run of `len` acknowledged records whose upstream and downstream offsets both
    /// count up by one from `upstream` and `downstream`, the first one is whose sync would be
    /// urgent; `None` when none is. Changes nothing. Within such a run only the first record
    /// can meet the gap and rewind rules; the later ones only the lag rule.
    pub fn first_urgent_in_run(
        &self,
        position: usize,
        upstream: i64,
        downstream: i64,
        len: u32,
    ) -> Option<u32> {
        let mut state = self.state[position];
        if state.urgent(upstream, downstream, self.max_lag) {
            return Some(0);
        }
        // The record at `j` is urgent once `downstream + j - (last sync + 1) >= max_lag`.
        let at = state
            .last_sync_downstream
            .saturating_add(1)
            .saturating_add(self.max_lag)
            .saturating_sub(downstream);
        (at >= 1 && at < i64::from(len)).then_some(at as u32)
    }

    /// Notes an acknowledged record that follows on from the last one and whose sync is known
    /// not to be urgent, without queueing it (a later record of its run will be).
    pub fn advance(&mut self, position: usize, upstream: i64, downstream: i64) {
        let state = &mut self.state[position];
        state.previous_upstream = upstream;
        state.previous_downstream = downstream;
    }

    /// Whether recording this acknowledgement now would replace a sync of the partition that
    /// is due and not yet sent because every permit is taken: translation would lose that sync
    /// for good. Changes nothing.
    pub fn would_replace(&self, position: usize, upstream: i64, downstream: i64) -> bool {
        // A copy: peeking must not change the partition's state.
        let mut state = self.state[position];
        self.outstanding >= MAX_OUTSTANDING
            && self.pending.contains(position)
            && state.urgent(upstream, downstream, self.max_lag)
    }

    /// At each offset commit: publish the latest position of every partition.
    pub fn promote_delayed(&mut self) {
        while let Some(sync) = self.delayed.pop_front() {
            self.pending.put(sync);
        }
    }

    /// The syncs to send now, within the outstanding limit; the rest stay pending.
    pub fn take(&mut self) -> Vec<PendingSync> {
        let mut out = Vec::new();
        while self.outstanding < MAX_OUTSTANDING {
            let Some(sync) = self.pending.pop_front() else {
                break;
            };
            self.outstanding += 1;
            out.push(sync);
        }
        out
    }

    /// Every pending sync, whatever is outstanding: the batch path's, whose acknowledgement of
    /// a whole batch makes several urgent at once (each would otherwise replace the one before
    /// it, or wait for the sync producer's round trip).
    pub fn take_all(&mut self) -> Vec<PendingSync> {
        let mut out = Vec::new();
        while let Some(sync) = self.pending.pop_front() {
            self.outstanding += 1;
            out.push(sync);
        }
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

    /// A run recorded through `first_urgent_in_run` and `advance` emits exactly what recording
    /// each of its records would.
    #[test]
    fn runs_emit_what_their_records_would() {
        for (lag, runs) in [
            (100, vec![(0i64, 1000u32), (1000, 5), (1200, 300)]),
            (0, vec![(5, 3), (9, 1)]),
            (7, vec![(0, 1), (1, 20), (30, 6)]),
        ] {
            let mut one = OffsetSyncWriter::new(1, lag);
            let mut urgent_one = Vec::new();
            let mut down = 0;
            for (first, n) in &runs {
                for k in 0..i64::from(*n) {
                    if one.record(0, first + k, down) {
                        urgent_one.push((first + k, down));
                    }
                    down += 1;
                }
            }
            let mut run = OffsetSyncWriter::new(1, lag);
            let mut urgent_run = Vec::new();
            let mut down = 0;
            for (first, n) in &runs {
                let mut k = 0;
                while k < *n {
                    let (u, d, left) = (first + i64::from(k), down, n - k);
                    let step = match run.first_urgent_in_run(0, u, d, left) {
                        Some(j) => j + 1,
                        None => left,
                    };
                    let j = i64::from(step) - 1;
                    if j > 0 {
                        run.advance(0, u + j - 1, d + j - 1);
                    }
                    if run.record(0, u + j, d + j) {
                        urgent_run.push((u + j, d + j));
                    }
                    k += step;
                    down += i64::from(step);
                }
            }
            assert_eq!(urgent_run, urgent_one, "lag {lag}");
            run.promote_delayed();
            one.promote_delayed();
            assert_eq!(emitted(&mut run), emitted(&mut one), "lag {lag}");
        }
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

    /// Each partition's emitted (upstream, downstream) stream, from what `take` returned.
    fn by_partition(sent: &[PendingSync], partitions: usize) -> Vec<Vec<i64>> {
        let mut out = vec![Vec::new(); partitions];
        for s in sent {
            out[s.position].push(s.upstream);
        }
        out
    }

    #[test]
    fn a_burst_with_acknowledgements_held_back_keeps_the_latest_per_partition() {
        // Java's rules: every record of two partitions is urgent (offset.lag.max = 0), the
        // sender runs after each record, and no sync is acknowledged during the burst.
        let mut w = OffsetSyncWriter::new(2, 0);
        let mut sent = Vec::new();
        for o in 0..20 {
            for p in 0..2 {
                w.record(p, o, o);
                sent.extend(w.take());
            }
        }
        // The first ten take the permits, alternating as they came.
        let first: Vec<(usize, i64)> = sent.iter().map(|s| (s.position, s.upstream)).collect();
        assert_eq!(
            first,
            vec![
                (0, 0),
                (1, 0),
                (0, 1),
                (1, 1),
                (0, 2),
                (1, 2),
                (0, 3),
                (1, 3),
                (0, 4),
                (1, 4)
            ]
        );
        // The rest replaced each other: one pending sync per partition, the latest.
        for _ in 0..MAX_OUTSTANDING {
            w.acked();
        }
        sent.extend(w.take());
        assert_eq!(
            by_partition(&sent, 2),
            vec![vec![0, 1, 2, 3, 4, 19], vec![0, 1, 2, 3, 4, 19]]
        );
        assert!(!w.has_pending());
    }

    #[test]
    fn waiting_for_a_permit_when_told_keeps_every_urgent_sync() {
        // The task's use: before recording an acknowledgement that would replace an unsent
        // urgent sync, it waits until the producer acknowledged one (here: at once).
        let mut w = OffsetSyncWriter::new(2, 2);
        let mut sent = Vec::new();
        let mut waits = 0;
        for o in 0..=100 {
            for p in 0..2 {
                if w.would_replace(p, o, o) {
                    waits += 1;
                    w.acked();
                    sent.extend(w.take());
                }
                w.record(p, o, o);
                sent.extend(w.take());
            }
        }
        // The producer catches up before the next offset commit promotes the delayed syncs.
        for _ in 0..MAX_OUTSTANDING {
            w.acked();
        }
        sent.extend(w.take());
        w.promote_delayed();
        sent.extend(w.take());
        // offset.lag.max = 2: a sync every third record, and the last position at the commit.
        let every_third: Vec<i64> = (0..100).step_by(3).chain([100]).collect();
        assert_eq!(
            by_partition(&sent, 2),
            vec![every_third.clone(), every_third]
        );
        assert!(waits > 0, "the burst outran the permits");
    }

    #[test]
    fn would_replace_only_an_unsent_sync_with_an_urgent_one() {
        let mut w = OffsetSyncWriter::new(MAX_OUTSTANDING + 1, 5);
        for p in 0..MAX_OUTSTANDING {
            w.record(p, 0, 0);
        }
        assert_eq!(w.take().len(), MAX_OUTSTANDING, "every permit taken");
        let last = MAX_OUTSTANDING;
        assert!(!w.would_replace(last, 0, 0), "nothing pending to replace");
        w.record(last, 0, 0);
        assert!(w.has_pending());
        assert!(
            !w.would_replace(last, 1, 1),
            "a delayed record replaces nothing"
        );
        assert!(w.would_replace(last, 7, 7), "an upstream gap is urgent");
        assert!(
            w.would_replace(last, 1, 6),
            "so is translation lagging offset.lag.max"
        );
        w.acked();
        assert!(!w.would_replace(last, 7, 7), "a permit is free");
        assert!(!w.would_replace(0, 7, 7), "partition 0's sync was sent");
    }

    #[test]
    fn pending_syncs_leave_in_the_order_their_partitions_became_due() {
        let mut w = OffsetSyncWriter::new(3, 100);
        // Delayed first (not urgent), in the order 2, 0; then partition 1 urgent.
        for p in [2, 0, 1] {
            w.record(p, 0, 0);
        }
        let first: Vec<usize> = w.take().iter().map(|s| s.position).collect();
        assert_eq!(
            first,
            vec![2, 0, 1],
            "first records are urgent, in arrival order"
        );
        w.record(2, 1, 1);
        w.record(0, 1, 1);
        w.record(2, 2, 2); // replaces 2's delayed sync, keeping its place
        w.record(1, 5, 5); // urgent: gap
        w.promote_delayed();
        let next: Vec<(usize, i64)> = w.take().iter().map(|s| (s.position, s.upstream)).collect();
        assert_eq!(next, vec![(1, 5), (2, 2), (0, 1)]);
    }
}
