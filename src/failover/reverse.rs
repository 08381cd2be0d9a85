//! Translating back: where a group that read a remote topic (`A.orders` on B) resumes on the
//! original topic (`orders` on A). Java's checkpoints cannot say: the reverse flow's offset
//! syncs never cover `A.orders`, which it must not replicate back (a loop), so its
//! MirrorCheckpointTask emits nothing for it. The forward flow's offset syncs pair each upstream
//! offset of `orders` with the downstream offset its record got in `A.orders`, which is what
//! is needed: read them the other way round.

pub use crate::mirror::flow_state::SyncPoint;

/// The upstream offset to resume at for a group whose next record on the remote partition is
/// `downstream`, from that partition's syncs (in the order written); `None` when no sync is at
/// or before it.
///
/// The latest sync at or before `downstream` wins (after a restart the same upstream record
/// can have been copied twice, to a later downstream offset). If the group is exactly at the
/// sync, that record is its next; if past it, the synced record was consumed, and the group
/// resumes right after it. The records between that sync and `downstream` that it consumed
/// too are read again: at least once, never a record skipped.
pub fn reverse_translate(syncs: &[SyncPoint], downstream: i64) -> Option<i64> {
    let best = syncs
        .iter()
        .filter(|s| s.down <= downstream)
        .max_by_key(|s| (s.down, s.up))?;
    Some(if best.down == downstream {
        best.up
    } else {
        best.up + 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syncs(pairs: &[(i64, i64)]) -> Vec<SyncPoint> {
        pairs
            .iter()
            .map(|&(up, down)| SyncPoint { up, down })
            .collect()
    }

    #[test]
    fn a_group_at_a_sync_resumes_at_its_record_and_past_one_right_after_it() {
        let s = syncs(&[(0, 0), (100, 100), (200, 200)]);
        assert_eq!(reverse_translate(&s, 100), Some(100));
        assert_eq!(reverse_translate(&s, 150), Some(101));
        assert_eq!(reverse_translate(&s, 500), Some(201));
        assert_eq!(reverse_translate(&s, 0), Some(0));
    }

    #[test]
    fn offsets_that_differ_and_records_copied_twice_are_followed() {
        // The remote topic started later (downstream offsets lower), and upstream 50 was copied
        // again at 60 after a restart.
        let s = syncs(&[(40, 0), (50, 10), (50, 60), (90, 100)]);
        assert_eq!(reverse_translate(&s, 30), Some(51));
        assert_eq!(reverse_translate(&s, 60), Some(50));
        assert_eq!(reverse_translate(&s, 99), Some(51));
        assert_eq!(reverse_translate(&s, 100), Some(90));
    }

    #[test]
    fn nothing_before_the_first_sync_is_translated() {
        let s = syncs(&[(40, 10)]);
        assert_eq!(reverse_translate(&s, 5), None);
        assert_eq!(reverse_translate(&[], 5), None);
    }
}
