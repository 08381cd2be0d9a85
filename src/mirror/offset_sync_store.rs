//! Offset translation (`OffsetSyncStore`), with the effect of Java's store since Kafka 3.6
//! (KAFKA-14666, KAFKA-15905): for every source partition, 64 slots of offset syncs whose
//! spacing grows exponentially back from the newest one, so a group D records behind the head
//! re-reads about D records after a failover, never more than a small factor of it.
//! Translation never goes past what was replicated: a group ahead of a sync is placed at most
//! one record past it (at least once after a failover).
//!
//! Slot `i` of a partition obeys four rules, each checked between neighbours (which makes them
//! hold for every pair):
//! - A: slot 0 is the newest sync;
//! - B: slot `j` (j > i) is recent enough for its place: `up[i] <= up[j] + 2^j - 2^i`;
//! - C: distinct neighbours are apart: `up[i] >= up[i+1] + 2^max(i-2, 0)`;
//! - D: the last slot keeps the oldest sync still usable (the first after a rewind or after
//!   the initial read).
//!
//! Syncs are compared by identity, not by their offsets: the same offsets written twice are two
//! syncs, as they are two records of the sync topic. This decides which slots are duplicates
//! and so which syncs survive, exactly as Java's reference comparison does.
//!
//! Beyond Java: the groups' offsets known when a round of syncs is read are *watched*. Each
//! sync read on the way keeps its translation of a watched offset when better than the slots'.
//! A burst of syncs read at once otherwise leaves only the sparse slots, and a group a few
//! hundred records behind the head would translate to wherever they happen to fall (Java, which
//! reads its syncs as they come, has the same loss when its checkpoint round comes late).

use std::collections::{BTreeMap, HashMap};

use super::wire::OffsetSync;

/// One slot per bit of an offset.
const SLOTS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Sync {
    /// Which record of the sync topic this is (the order it was added in).
    id: u64,
    upstream: i64,
    downstream: i64,
}

impl Sync {
    fn same(self, other: Sync) -> bool {
        self.id == other.id
    }
}

/// `2^bit` as a Java long: `2^63` wraps to the most negative value, and the bounds below are
/// computed with wrapping arithmetic, as Java computes them.
fn pow2(bit: usize) -> i64 {
    1i64.wrapping_shl(bit as u32)
}

/// Rule B for slots `i < j`: the sync in slot `j` is recent enough to sit behind slot `i`.
fn recent_enough(at_i: Sync, at_j: Sync, i: usize, j: usize) -> bool {
    let bound = at_j.upstream.wrapping_add(pow2(j)).wrapping_sub(pow2(i));
    at_i.same(at_j) || bound < 0 || at_i.upstream <= bound
}

/// Rule C for slot `i` and the sync after it: far enough apart to be worth two slots.
fn apart(at_i: Sync, after: Sync, i: usize) -> bool {
    let bound = after.upstream.wrapping_add(pow2(i.saturating_sub(2)));
    at_i.same(after) || (bound >= 0 && at_i.upstream >= bound)
}

/// Puts `latest` into slot 0 and repairs rule B from there on, replacing a slot that became too
/// old with the oldest earlier sync that fits (kept for as long as possible) or else with the
/// sync that moved into the slot before. Stops at the first slot that still fits: the slots
/// after it fit as well.
fn insert(slots: &mut [Sync; SLOTS], latest: Sync) {
    let before = *slots;
    // The sync a slot that no longer fits gets, and the next earlier sync to consider for it.
    let mut replacement = latest;
    let mut candidate = 0;
    slots[0] = latest;
    for slot in 1..SLOTS {
        let previous = slot - 1;
        loop {
            let old = before[candidate];
            let fits_here = recent_enough(slots[previous], old, previous, slot);
            let apart_from_previous = apart(slots[previous], old, previous);
            let apart_from_next = slot + 1 >= SLOTS || apart(old, slots[slot + 1], slot);
            // The same sync in the next earlier slot: nothing new to consider there.
            let repeated = candidate + 1 < SLOTS && before[candidate + 1].same(old);
            let promote = fits_here && apart_from_previous && apart_from_next;
            if promote {
                replacement = old;
            }
            // Too close to the slot before, it fits no later slot either.
            let skip = repeated || !apart_from_previous;
            if promote || skip {
                candidate += 1;
            }
            // A candidate never comes from a slot after the one being filled.
            if !(skip && candidate < slot) {
                break;
            }
        }
        if recent_enough(slots[previous], slots[slot], previous, slot) {
            break;
        }
        slots[slot] = replacement;
    }
}

/// A partition's slots, kept as runs of the same sync: most slots repeat their neighbour (one
/// sync fills all 64 at first, and the spacing keeps a handful of distinct ones), so a run-length
/// copy takes some 32 bytes per distinct sync where the array takes 1.5 KiB. At 10,000
/// partitions the arrays alone were the largest allocation of the process (25 MiB).
#[derive(Debug, Clone)]
struct Slots(Box<[(Sync, u8)]>);

impl Slots {
    fn filled(sync: Sync) -> Slots {
        Slots(Box::new([(sync, SLOTS as u8)]))
    }

    fn pack(slots: &[Sync; SLOTS]) -> Slots {
        let mut runs: Vec<(Sync, u8)> = Vec::new();
        for s in slots {
            match runs.last_mut() {
                Some((last, n)) if last.same(*s) => *n += 1,
                _ => runs.push((*s, 1)),
            }
        }
        Slots(runs.into_boxed_slice())
    }

    fn unpack(&self) -> [Sync; SLOTS] {
        let mut slots = [self.0[0].0; SLOTS];
        let mut i = 0;
        for (sync, n) in self.0.iter() {
            for slot in &mut slots[i..i + usize::from(*n)] {
                *slot = *sync;
            }
            i += usize::from(*n);
        }
        slots
    }

    fn newest(&self) -> Sync {
        self.0[0].0
    }
}

/// The translation index of every source partition.
#[derive(Debug, Default)]
pub struct OffsetSyncStore {
    syncs: HashMap<(String, i32), Slots>,
    /// Syncs added so far: the identity of the next one.
    added: u64,
    /// False while the initial read of the sync topic is in progress.
    read_to_end: bool,
    /// Whether history read during the initial load is indexed (true when the previous
    /// checkpoints were loaded, so stale translations are filtered by monotonicity).
    keep_history: bool,
    /// Watched upstream offsets of each partition, with the best translation a sync gave each
    /// since it was watched (or since the last rewind).
    watched: HashMap<(String, i32), BTreeMap<i64, Option<i64>>>,
}

impl OffsetSyncStore {
    /// A store that indexes the whole history while loading when `keep_history`, or only the
    /// latest sync per partition (Java's `initializationMustReadToEnd`, used when previous
    /// checkpoints could not be read).
    pub fn new(keep_history: bool) -> Self {
        OffsetSyncStore {
            syncs: HashMap::new(),
            added: 0,
            read_to_end: false,
            keep_history,
            watched: HashMap::new(),
        }
    }

    /// Watches these source (topic, partition, offset)s from now on, instead of those watched
    /// before; an offset watched before keeps its best translation.
    pub fn watch(&mut self, offsets: impl IntoIterator<Item = (String, i32, i64)>) {
        let mut watched: HashMap<(String, i32), BTreeMap<i64, Option<i64>>> = HashMap::new();
        for (topic, partition, upstream) in offsets {
            let key = (topic, partition);
            let best = self
                .watched
                .get(&key)
                .and_then(|m| m.get(&upstream).copied())
                .flatten();
            watched.entry(key).or_default().insert(upstream, best);
        }
        self.watched = watched;
    }

    /// The initial read reached the end of the sync topic: translations may be served.
    pub fn set_read_to_end(&mut self) {
        self.read_to_end = true;
    }

    pub fn is_read_to_end(&self) -> bool {
        self.read_to_end
    }

    /// Adds one sync read from the sync topic, in order.
    pub fn add(&mut self, sync: &OffsetSync) {
        let s = Sync {
            id: self.added,
            upstream: sync.upstream_offset,
            downstream: sync.downstream_offset,
        };
        self.added += 1;
        let only_latest = !self.read_to_end && !self.keep_history;
        let key = (sync.topic.clone(), sync.partition);
        let restart = match self.syncs.get_mut(&key) {
            None => {
                self.syncs.insert(key.clone(), Slots::filled(s));
                true
            }
            // After an upstream rewind older syncs translate wrongly: start again from this one.
            Some(slots) if only_latest || s.upstream < slots.newest().upstream => {
                *slots = Slots::filled(s);
                true
            }
            Some(slots) => {
                let mut all = slots.unpack();
                insert(&mut all, s);
                *slots = Slots::pack(&all);
                false
            }
        };
        if let Some(watched) = self.watched.get_mut(&key) {
            if restart {
                watched.values_mut().for_each(|best| *best = None);
            }
            if !only_latest {
                for (upstream, best) in watched.range_mut(s.upstream..) {
                    let down = s.downstream + i64::from(*upstream != s.upstream);
                    *best = Some(best.map_or(down, |b| b.max(down)));
                }
            }
        }
    }

    /// Translates a source group offset to the target: `None` when no sync is known (or the
    /// initial read is not finished), `Some(-1)` when the offset is older than every stored sync.
    pub fn translate_downstream(&self, topic: &str, partition: i32, upstream: i64) -> Option<i64> {
        if !self.read_to_end {
            return None;
        }
        let slots = self.syncs.get(&(topic.to_string(), partition))?.unpack();
        let oldest = slots[SLOTS - 1];
        let sync = if oldest.upstream > upstream {
            oldest
        } else {
            slots
                .iter()
                .copied()
                .find(|s| s.upstream <= upstream)
                .unwrap_or(oldest)
        };
        let watched = self
            .watched
            .get(&(topic.to_string(), partition))
            .and_then(|m| m.get(&upstream).copied())
            .flatten();
        if sync.upstream > upstream {
            return Some(watched.unwrap_or(-1));
        }
        let sparse = sync.downstream + i64::from(upstream != sync.upstream);
        Some(watched.map_or(sparse, |w| w.max(sparse)))
    }
}

#[cfg(test)]
mod tests {
    //! The scenarios of Apache Kafka's OffsetSyncStoreTest, their inputs and expected outputs
    //! taken as facts about Java's store.
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn sync(up: i64, down: i64) -> OffsetSync {
        OffsetSync {
            topic: "t".into(),
            partition: 0,
            upstream_offset: up,
            downstream_offset: down,
        }
    }

    /// A store whose initial read has ended (Java's `start(true)` with nothing to read), fed
    /// `syncs`.
    fn store(syncs: &[(i64, i64)]) -> OffsetSyncStore {
        let mut s = OffsetSyncStore::new(false);
        s.set_read_to_end();
        for (u, d) in syncs {
            s.add(&sync(*u, *d));
        }
        s
    }

    fn slots(s: &OffsetSyncStore) -> [Sync; SLOTS] {
        s.syncs[&("t".to_string(), 0)].unpack()
    }

    fn translate(s: &OffsetSyncStore, up: i64) -> Option<i64> {
        s.translate_downstream("t", 0, up)
    }

    /// Rules B and C between every pair of slots.
    fn assert_spacing(s: &OffsetSyncStore) {
        let slots = slots(s);
        for j in 0..SLOTS {
            for i in 0..j {
                let (at_i, at_j) = (slots[i].upstream, slots[j].upstream);
                if at_i == at_j {
                    continue;
                }
                let low = at_j.wrapping_add(pow2(i.saturating_sub(2)));
                if low < 0 {
                    continue;
                }
                assert!(at_i >= low, "rule C({i},{j}): {at_i} < {low}");
                let high = at_j.wrapping_add(pow2(j)).wrapping_sub(pow2(i));
                if high < 0 {
                    continue;
                }
                assert!(at_i <= high, "rule B({i},{j}): {at_i} > {high}");
            }
        }
    }

    /// Java's assertSparseSync: `sync` is stored, and the sync before it is `previous` (-1: none).
    fn assert_sparse(s: &OffsetSyncStore, sync: i64, previous: i64) {
        let before = if previous == -1 { -1 } else { previous + 1 };
        assert_eq!(
            translate(s, sync - 1),
            Some(before),
            "{} (just before {sync})",
            sync - 1
        );
        assert_eq!(translate(s, sync), Some(sync), "{sync}");
        assert_eq!(translate(s, sync + 1), Some(sync + 1), "{}", sync + 1);
        assert_eq!(translate(s, sync + 2), Some(sync + 1), "{}", sync + 2);
    }

    fn distinct(s: &OffsetSyncStore) -> usize {
        let slots = slots(s);
        1 + (1..SLOTS).filter(|&i| !slots[i].same(slots[i - 1])).count()
    }

    #[test]
    fn translation_is_exact_at_a_sync_and_one_past_it_otherwise() {
        let mut s = store(&[(100, 200)]);
        assert_eq!(
            translate(&s, 150),
            Some(201),
            "never past what was replicated"
        );
        s.add(&sync(150, 251));
        assert_eq!(translate(&s, 150), Some(251));
        assert_eq!(translate(&s, 5), Some(-1), "older than any sync");
        // The downstream offsets reset.
        s.add(&sync(200, 10));
        assert_eq!(translate(&s, 200), Some(10));
        // The upstream offsets reset.
        s.add(&sync(20, 20));
        assert_eq!(translate(&s, 20), Some(20));
    }

    #[test]
    fn nothing_before_the_initial_read_or_without_syncs() {
        let mut s = OffsetSyncStore::new(false);
        for up in [0, 100, 200] {
            assert_eq!(translate(&s, up), None);
        }
        s.add(&sync(100, 200));
        for up in [0, 100, 200] {
            assert_eq!(translate(&s, up), None, "during the initial read");
        }
        s.set_read_to_end();
        assert_eq!(translate(&s, 0), Some(-1));
        assert_eq!(translate(&s, 100), Some(200));
        assert_eq!(translate(&s, 200), Some(201));
        assert_eq!(s.translate_downstream("t", 1, 0), None, "no syncs");
    }

    /// Java's testPastOffsetTranslation: the initial read keeps only its last sync.
    #[test]
    fn syncs_far_back_are_kept_with_exponential_spacing() {
        let mut s = OffsetSyncStore::new(false);
        for up in (0..=1000).step_by(10) {
            s.add(&sync(up, up));
            assert_spacing(&s);
        }
        s.set_read_to_end();
        assert_sparse(&s, 1000, -1);
        for up in (1010..=10_000).step_by(10) {
            s.add(&sync(up, up));
            assert_spacing(&s);
        }
        // The last sync of the initial read stays: nothing before it translates.
        assert_sparse(&s, 1000, -1);
        for (sync, previous) in [
            (4840, 1000),
            (6760, 4840),
            (8680, 6760),
            (9160, 8680),
            (9640, 9160),
            (9880, 9640),
            (9940, 9880),
            (9970, 9940),
            (9990, 9970),
            (10_000, 9990),
        ] {
            assert_sparse(&s, sync, previous);
        }
        assert_rewind_clears_the_history(&mut s);
    }

    /// An upstream rewind (sync 1500 -> 11000 after 10000) leaves only the new sync.
    fn assert_rewind_clears_the_history(s: &mut OffsetSyncStore) {
        s.add(&sync(1500, 11_000));
        assert_spacing(s);
        assert_eq!(translate(s, 1499), Some(-1));
        assert_eq!(translate(s, 1500), Some(11_000));
        assert_eq!(translate(s, 2000), Some(11_001));
    }

    /// Java's testPastOffsetTranslationWithoutInitializationReadToEnd: the initial read keeps
    /// its history (the previous checkpoints were read); sync 1000 arrives twice.
    #[test]
    fn history_of_the_initial_read_is_kept_when_checkpoints_were_read() {
        let mut s = OffsetSyncStore::new(true);
        for up in (0..=1000).step_by(10) {
            s.add(&sync(up, up));
            assert_spacing(&s);
        }
        s.set_read_to_end();
        assert_sparse(&s, 480, 0);
        assert_sparse(&s, 720, 480);
        assert_sparse(&s, 1000, 990);
        for up in (1000..=10_000).step_by(10) {
            s.add(&sync(up, up));
            assert_spacing(&s);
        }
        for (sync, previous) in [
            (3840, 0),
            (7680, 3840),
            (8640, 7680),
            (9120, 8640),
            (9600, 9120),
            (9840, 9600),
            (9900, 9840),
            (9960, 9900),
            (9990, 9960),
            (10_000, 9990),
        ] {
            assert_sparse(&s, sync, previous);
        }
        assert_rewind_clears_the_history(&mut s);
    }

    /// Feeds syncs at `first` and then `steps` apart; after each, the newest and the first sync
    /// are kept and at most `max_expired` distinct syncs were dropped (Java's
    /// assertSyncSpacingHasBoundedExpirations).
    fn assert_bounded_expirations(
        first: i64,
        steps: impl Iterator<Item = i64>,
        max_expired: usize,
    ) {
        let mut s = store(&[(first, first)]);
        let (mut offset, mut last_count) = (first, 1);
        for step in steps {
            offset += step;
            assert!(offset >= 0, "the test overflowed");
            s.add(&sync(offset, offset));
            let kept = slots(&s);
            assert_eq!(kept[0].upstream, offset, "rule A");
            assert_eq!(kept[SLOTS - 1].upstream, first, "rule D");
            let count = distinct(&s);
            let expired = last_count + 1 - count;
            assert!(
                expired <= max_expired,
                "{expired} syncs expired at {offset} (at most {max_expired})"
            );
            last_count = count;
        }
    }

    #[test]
    fn consistently_spaced_syncs_expire_at_most_one_at_a_time() {
        let iterations = 100;
        let mut step: i64 = 1;
        while step < i64::MAX / iterations {
            for first in 0..30 {
                assert_bounded_expirations(
                    first,
                    std::iter::repeat_n(step, iterations as usize),
                    1,
                );
            }
            step = step * 2 + 1;
        }
    }

    #[test]
    fn randomly_spaced_syncs_expire_a_bounded_number_at_a_time() {
        let mut rng = StdRng::seed_from_u64(0);
        let iterations = 1 << 10;
        for n in 1..(64 - 10) {
            // Steps that differ by at most n bits expire at most n + 2 syncs at once.
            let spread = 1i64 << n;
            let steps: Vec<i64> = (0..iterations)
                .map(|_| rng.random_range(0..spread))
                .collect();
            assert_bounded_expirations(0, steps.into_iter(), n + 2);
            // Also with a larger minimum step, as offset.lag.max gives.
            let lag = 1i64 << 16;
            let steps: Vec<i64> = (0..iterations)
                .map(|_| rng.random_range(lag..lag + spread))
                .collect();
            assert_bounded_expirations(0, steps.into_iter(), n + 2);
        }
    }

    #[test]
    fn a_dropped_sync_expires_at_most_two() {
        let mut rng = StdRng::seed_from_u64(0);
        let steps: Vec<i64> = (0..10_000)
            .map(|_| if rng.random_bool(0.5) { 200 } else { 100 })
            .collect();
        assert_bounded_expirations(0, steps.into_iter(), 2);
    }

    /// Groups far behind the head re-read about their lag, not the partition: syncs every
    /// offset.lag.max + 1 records, as MirrorSource writes them for a gap-free topic. 1,000
    /// records with offset.lag.max = 10 and a group at 800: Java's store gives 705. 100,000
    /// records with offset.lag.max = 100 and a group 5,000 behind the head: 93,729.
    #[test]
    fn a_group_far_behind_rereads_about_its_lag() {
        for (records, step, group, want) in [(1000, 11, 800, 705), (100_000, 101, 95_000, 93_729)] {
            let syncs: Vec<(i64, i64)> = (0..records).step_by(step).map(|u| (u, u)).collect();
            assert_eq!(translate(&store(&syncs), group), Some(want));
        }
    }

    #[test]
    fn translation_is_monotonic_for_a_fixed_state() {
        let syncs: Vec<(i64, i64)> = (0..500).map(|i| (i * 3, i * 2)).collect();
        let s = store(&syncs);
        let mut last = -1;
        for up in 0..1500 {
            let t = translate(&s, up).unwrap();
            assert!(t >= last, "{up}: {t} < {last}");
            last = t;
        }
    }

    #[test]
    fn a_watched_offset_keeps_the_best_translation_a_burst_passed_by() {
        // Syncs every 11 records up to 990, then 999, read in one go after the initial read.
        let burst: Vec<i64> = (0..=990).step_by(11).chain([999]).collect();
        let read = |watch: bool| {
            let mut s = OffsetSyncStore::new(false);
            s.set_read_to_end();
            if watch {
                s.watch([("t".to_string(), 0, 600), ("t".to_string(), 0, 880)]);
            }
            for up in &burst {
                s.add(&sync(*up, *up));
            }
            s
        };
        let sparse = read(false);
        let watched = read(true);
        assert_eq!(
            translate(&watched, 600),
            Some(595),
            "one past the sync at 594"
        );
        assert_eq!(translate(&watched, 880), Some(880), "a sync at 880 itself");
        assert!(
            translate(&sparse, 600).unwrap() < 595,
            "the slots alone have lost the syncs near 600: {:?}",
            translate(&sparse, 600)
        );
        assert_eq!(
            translate(&watched, 700),
            translate(&sparse, 700),
            "an offset not watched translates by the slots"
        );
    }

    #[test]
    fn watching_again_keeps_the_best_of_offsets_still_watched_and_a_rewind_forgets_it() {
        let mut s = OffsetSyncStore::new(false);
        s.set_read_to_end();
        s.watch([("t".to_string(), 0, 50)]);
        for up in [0, 45, 60, 100, 200, 400, 800] {
            s.add(&sync(up, up));
        }
        assert_eq!(translate(&s, 50), Some(46));
        s.watch([("t".to_string(), 0, 50), ("t".to_string(), 0, 70)]);
        assert_eq!(translate(&s, 50), Some(46), "kept across rounds");
        s.watch([("t".to_string(), 0, 70)]);
        s.watch([("t".to_string(), 0, 50)]);
        assert_ne!(
            translate(&s, 50),
            Some(46),
            "forgotten once not watched (the slots no longer hold 45)"
        );
        s.add(&sync(40, 1000)); // upstream rewind: the topic was recreated
        s.add(&sync(45, 1005));
        assert_eq!(translate(&s, 50), Some(1006), "only syncs after the rewind");
    }

    #[test]
    fn syncs_of_the_initial_read_are_not_watched_without_history() {
        let mut s = OffsetSyncStore::new(false);
        s.watch([("t".to_string(), 0, 50)]);
        s.add(&sync(45, 45));
        s.add(&sync(900, 900));
        s.set_read_to_end();
        assert_eq!(
            translate(&s, 50),
            Some(-1),
            "only the latest sync is loaded"
        );
    }
}
