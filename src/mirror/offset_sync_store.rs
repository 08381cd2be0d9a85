//! Offset translation (`OffsetSyncStore`): for every source partition, a sparse index of up to 64
//! offset syncs whose spacing grows with age (power-of-two buckets), so groups far behind can
//! still be translated. Translation never goes past what was replicated: a group ahead of a sync
//! is placed at most one record past it (at least once after a failover).

use std::collections::HashMap;

use super::wire::OffsetSync;

const SLOTS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sync {
    upstream: i64,
    downstream: i64,
}

/// Slot `i` holds the newest known sync at least `2^(i-1)` offsets older than the latest one
/// (slot 0), so the index stays dense near the head and grows sparse with age; when no sync is
/// that old, the oldest one left is kept (the first sync ever seen is never dropped).
fn respace(old: &[Sync; SLOTS], latest: Sync) -> [Sync; SLOTS] {
    let mut out = [latest; SLOTS];
    // Older syncs, newest first, without duplicates.
    let mut older = old
        .iter()
        .copied()
        .filter(|c| c.upstream < latest.upstream)
        .peekable();
    let mut last = latest;
    for (i, slot) in out.iter_mut().enumerate().skip(1) {
        let target = latest.upstream.saturating_sub(1i64 << (i - 1).min(62));
        let mut chosen = None;
        while let Some(c) = older.next() {
            if c.upstream >= last.upstream {
                continue; // a duplicate of the previous slot
            }
            if c.upstream <= target || older.peek().is_none() {
                chosen = Some(c);
                break;
            }
        }
        if let Some(c) = chosen {
            last = c;
        }
        *slot = last;
    }
    out
}

/// The translation index of every source partition.
#[derive(Debug, Default)]
pub struct OffsetSyncStore {
    syncs: HashMap<(String, i32), [Sync; SLOTS]>,
    /// False while the initial read of the sync topic is in progress.
    read_to_end: bool,
    /// Whether history read during the initial load is indexed (true when the previous
    /// checkpoints were loaded, so stale translations are filtered by monotonicity).
    keep_history: bool,
}

impl OffsetSyncStore {
    /// A store that indexes the whole history while loading when `keep_history`, or only the
    /// latest sync per partition (Kafka 3.5's behaviour, used when previous checkpoints could
    /// not be read).
    pub fn new(keep_history: bool) -> Self {
        OffsetSyncStore {
            syncs: HashMap::new(),
            read_to_end: false,
            keep_history,
        }
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
            upstream: sync.upstream_offset,
            downstream: sync.downstream_offset,
        };
        let clear = !self.read_to_end && !self.keep_history;
        match self.syncs.get_mut(&(sync.topic.clone(), sync.partition)) {
            None => {
                self.syncs
                    .insert((sync.topic.clone(), sync.partition), [s; SLOTS]);
            }
            Some(slots) => {
                // Older offsets are invalid after an upstream rewind; overwrite everything.
                if clear || slots[0].upstream > s.upstream {
                    *slots = [s; SLOTS];
                    return;
                }
                *slots = respace(slots, s);
            }
        }
    }

    /// Translates a source group offset to the target: `None` when no sync is known (or the
    /// initial read is not finished), `Some(-1)` when the offset is older than every stored sync.
    pub fn translate_downstream(&self, topic: &str, partition: i32, upstream: i64) -> Option<i64> {
        if !self.read_to_end {
            return None;
        }
        let slots = self.syncs.get(&(topic.to_string(), partition))?;
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
        if sync.upstream > upstream {
            return Some(-1);
        }
        Some(sync.downstream + i64::from(upstream != sync.upstream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(up: i64, down: i64) -> OffsetSync {
        OffsetSync {
            topic: "t".into(),
            partition: 0,
            upstream_offset: up,
            downstream_offset: down,
        }
    }

    fn store(syncs: &[(i64, i64)]) -> OffsetSyncStore {
        let mut s = OffsetSyncStore::new(true);
        s.set_read_to_end();
        for (u, d) in syncs {
            s.add(&sync(*u, *d));
        }
        s
    }

    #[test]
    fn nothing_before_the_initial_read_or_without_syncs() {
        let mut s = OffsetSyncStore::new(true);
        s.add(&sync(10, 5));
        assert_eq!(s.translate_downstream("t", 0, 10), None);
        s.set_read_to_end();
        assert_eq!(s.translate_downstream("t", 1, 10), None);
        assert_eq!(s.translate_downstream("t", 0, 10), Some(5));
    }

    #[test]
    fn translation_is_exact_at_a_sync_and_one_past_it_otherwise() {
        let s = store(&[(100, 200)]);
        assert_eq!(s.translate_downstream("t", 0, 100), Some(200));
        assert_eq!(
            s.translate_downstream("t", 0, 150),
            Some(201),
            "never past what was replicated"
        );
        assert_eq!(
            s.translate_downstream("t", 0, 99),
            Some(-1),
            "older than any sync"
        );
    }

    #[test]
    fn older_syncs_are_kept_sparsely_for_groups_far_behind() {
        let syncs: Vec<(i64, i64)> = (0..10_000).map(|i| (i * 10, i * 10)).collect();
        let s = store(&syncs);
        // A group near the head translates exactly; one far behind still gets a translation
        // at or before its position, never after it.
        assert_eq!(s.translate_downstream("t", 0, 99_990), Some(99_990));
        for group in [0, 5, 1_000, 50_000, 99_000] {
            let t = s.translate_downstream("t", 0, group).unwrap();
            assert!(
                t >= 0 && t <= group + 1,
                "group at {group} translated to {t}"
            );
        }
        assert_eq!(
            s.translate_downstream("t", 0, 0),
            Some(0),
            "the first sync is kept forever"
        );
    }

    #[test]
    fn recent_syncs_survive_a_jump() {
        let mut syncs: Vec<(i64, i64)> = (0..=99).step_by(11).map(|u| (u, u)).collect();
        syncs.extend([(286, 286), (297, 297), (299, 299)]);
        let s = store(&syncs);
        assert_eq!(
            s.translate_downstream("t", 0, 295),
            Some(287),
            "the sync just before the group is kept"
        );
        assert_eq!(s.translate_downstream("t", 0, 150), Some(100));
        assert_eq!(s.translate_downstream("t", 0, 5), Some(1));
    }

    #[test]
    fn upstream_rewind_clears_the_index() {
        let s = store(&[(100, 100), (200, 200), (50, 300)]);
        assert_eq!(s.translate_downstream("t", 0, 60), Some(301));
        assert_eq!(s.translate_downstream("t", 0, 150), Some(301));
        assert_eq!(s.translate_downstream("t", 0, 40), Some(-1));
    }

    #[test]
    fn without_history_only_the_latest_sync_survives_the_initial_read() {
        let mut s = OffsetSyncStore::new(false);
        s.add(&sync(0, 0));
        s.add(&sync(100, 100));
        s.set_read_to_end();
        assert_eq!(s.translate_downstream("t", 0, 50), Some(-1));
        assert_eq!(s.translate_downstream("t", 0, 100), Some(100));
    }

    #[test]
    fn translation_is_monotonic_for_a_fixed_state() {
        let syncs: Vec<(i64, i64)> = (0..500).map(|i| (i * 3, i * 2)).collect();
        let s = store(&syncs);
        let mut last = -1;
        for up in 0..1500 {
            let t = s.translate_downstream("t", 0, up).unwrap();
            assert!(t >= last, "{up}: {t} < {last}");
            last = t;
        }
    }
}
