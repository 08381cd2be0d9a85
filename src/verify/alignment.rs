//! Where a source partition and its copy correspond: the offset syncs pair an upstream offset
//! with the downstream offset its copy got, and the stored source offset is the last upstream
//! record the target acknowledged. From them, the stretch to compare and, for `--sample`, the
//! windows that can be skipped because both of their ends map exactly.

pub use crate::mirror::flow_state::SyncPoint;

/// The syncs still meaningful of a partition's syncs in the order written: an upstream rewind
/// (a sync below the previous one) makes the earlier ones meaningless, as in OffsetSyncStore.
pub fn since_last_rewind(mut points: Vec<SyncPoint>) -> Vec<SyncPoint> {
    let rewind = points
        .windows(2)
        .rposition(|w| w[1].up < w[0].up)
        .map_or(0, |i| i + 1);
    points.drain(..rewind);
    points
}

/// What is known of one partition before reading it.
#[derive(Debug, Clone)]
pub struct Positions {
    /// The partition's offset syncs in the order they were written, from the last upstream
    /// rewind on.
    pub syncs: Vec<SyncPoint>,
    /// The last upstream offset the target acknowledged (MirrorSourceConnector's stored offset).
    pub stored: i64,
    /// The first offsets still in each log.
    pub source_low: i64,
    pub target_low: i64,
}

/// One stretch read and compared in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub up_start: i64,
    /// Exclusive.
    pub up_end: i64,
    pub down_start: i64,
    /// Exclusive, when known exactly; `None` reads to the target's end as the read started.
    pub down_end: Option<i64>,
    /// The first upstream offset past the stored offset: from there on, the stretch is the
    /// tail, where a source record without a copy is not yet replicated.
    pub replicated_end: i64,
    /// The target's tail is checked: the run reads the source to its end and the target to its
    /// end, and a target record that copies no source record is extra.
    pub check_tail: bool,
    /// The target's log start lies past the copy of `up_start` and it is not known exactly
    /// which source record its first record copies: source records before the first match are
    /// counted as deleted on the target.
    pub leading_deleted: bool,
}

/// The comparison of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The first upstream and downstream offsets that correspond, as the syncs tell.
    pub anchor: SyncPoint,
    /// Exclusive: one past the stored offset.
    pub up_end: i64,
    /// Source records before the anchor, still in the source but not compared.
    pub unverified_before: i64,
    /// Source records from the anchor on whose copies are known to lie below the target's log
    /// start (deleted by the target's retention, as the source's own retention deletes).
    pub deleted_on_target: i64,
    pub windows: u64,
    pub windows_compared: u64,
    pub runs: Vec<Run>,
}

/// Where comparing starts: the oldest sync still within the source's log. A sync pairs one
/// record with its copy, so it is exact; the syncs topic is compacted, though, and may keep only
/// the latest one. When the source still starts at offset 0 and that sync maps 1:1 (`up ==
/// down`, which is what a clean run onto a fresh remote topic gives), the start of both logs is
/// taken as the anchor instead, so that the whole partition is compared.
pub fn anchor(p: &Positions) -> Option<SyncPoint> {
    let first = p
        .syncs
        .iter()
        .copied()
        .filter(|s| s.up >= p.source_low)
        .min_by_key(|s| s.up)
        .or_else(|| p.syncs.iter().copied().max_by_key(|s| s.up))?;
    // The target's log start plays no part here: where it lies past the anchor's copy, reading
    // starts from `past_target_log_start` instead.
    if p.source_low == 0 && first.up == first.down {
        return Some(SyncPoint { up: 0, down: 0 });
    }
    Some(first)
}

/// Where reading starts when the target's log start lies past the copy of `anchor`. The
/// target's retention deletes whole segments on its own clock, so its log start is not where
/// the source's is, and the copies below it are gone, not lost: comparing from the anchor would
/// name every one of them missing (issue 18's flake, with `retention.ms` set on a remote topic
/// whose records were an hour old). The start is the latest upstream offset known to be copied
/// at or below the target's log start: a sync, or a point inside a stretch between two syncs
/// that maps 1:1. The flag says whether its copy is exactly at the log start, so that both
/// sides can be read in step; otherwise the records before the first match are counted as
/// deleted.
pub fn past_target_log_start(
    anchor: SyncPoint,
    syncs: &[SyncPoint],
    target_low: i64,
) -> (SyncPoint, bool) {
    if anchor.down >= target_low {
        return (anchor, true);
    }
    let mut points: Vec<SyncPoint> = std::iter::once(anchor)
        .chain(syncs.iter().copied().filter(|s| s.up > anchor.up))
        .collect();
    points.sort_by_key(|s| (s.up, s.down));
    let mut best = anchor;
    for s in &points {
        if s.down <= target_low && s.up >= best.up {
            best = *s;
        }
    }
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let one_to_one = b.down - a.down == b.up - a.up;
        if one_to_one && a.down <= target_low && target_low <= b.down {
            let up = a.up + (target_low - a.down);
            if up >= best.up {
                best = SyncPoint {
                    up,
                    down: target_low,
                };
            }
        }
    }
    (best, best.down == target_low)
}

/// The plan for one partition, comparing the windows of `window` upstream offsets that
/// `compares(index)` selects. A window left out must lie inside a stretch between two syncs
/// that maps 1:1 (as many downstream as upstream offsets), so both of its ends are known
/// exactly and reading can jump over it; any other window is compared whatever the sample.
/// With `tail_to` (the source's end offset), the last run goes on past the stored offset to the
/// source's end and to the target's, to find target records no source record accounts for.
/// `None` when nothing was replicated past the anchor yet.
pub fn plan(
    p: &Positions,
    window: u64,
    compares: impl Fn(u64) -> bool,
    tail_to: Option<i64>,
) -> Option<Plan> {
    let anchor = anchor(p)?;
    let up_end = p.stored + 1;
    if up_end <= anchor.up {
        return None;
    }
    let (start, exact) = past_target_log_start(anchor, &p.syncs, p.target_low);
    let window = window.max(1) as i64;
    // Zero when the target deleted the copies of everything stored.
    let windows = ((up_end - start.up).max(0) + window - 1) / window;
    // Stretches with both ends exactly mapped: [a.up, b.up] -> [a.down, b.down], 1:1.
    let mut points: Vec<SyncPoint> = exact
        .then_some(start)
        .into_iter()
        .chain(p.syncs.iter().copied().filter(|s| s.up > start.up))
        .collect();
    points.sort_by_key(|s| s.up);
    let exact_stretches: Vec<(SyncPoint, SyncPoint)> = points
        .windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|(a, b)| b.down - a.down == b.up - a.up)
        .collect();
    let mapped = |start: i64, end: i64| {
        exact_stretches
            .iter()
            .find(|(a, b)| a.up <= start && end <= b.up)
            .map(|(a, _)| a.down - a.up)
    };
    let down_start = start.down.max(p.target_low);
    let mut runs: Vec<Run> = Vec::new();
    let mut open: Option<Run> = None;
    let mut compared = 0;
    for i in 0..windows {
        let w_start = start.up + i * window;
        let end = (w_start + window).min(up_end);
        let skip = !compares(i as u64) && end < up_end && mapped(w_start, end).is_some();
        if skip {
            if let Some(mut run) = open.take() {
                let shift = mapped(w_start, end).expect("checked");
                run.up_end = w_start;
                run.down_end = Some(w_start + shift);
                runs.push(run);
            }
            continue;
        }
        compared += 1;
        if open.is_none() {
            let down = if i == 0 {
                down_start
            } else {
                w_start
                    + mapped(w_start, end)
                        .or_else(|| mapped(w_start, w_start))
                        .expect("after a skip")
            };
            open = Some(Run {
                up_start: w_start,
                up_end,
                down_start: down,
                down_end: None,
                replicated_end: up_end,
                check_tail: false,
                leading_deleted: i == 0 && !exact,
            });
        }
    }
    runs.extend(open);
    if let Some(tail_to) = tail_to {
        // The last window is never skipped, so the last run reads to the target's end.
        match runs.last_mut() {
            Some(last) if last.down_end.is_none() => {
                last.up_end = last.up_end.max(tail_to);
                last.check_tail = true;
            }
            _ => runs.push(Run {
                up_start: start.up,
                up_end: tail_to.max(start.up),
                down_start,
                down_end: None,
                replicated_end: up_end,
                check_tail: true,
                leading_deleted: !exact,
            }),
        }
    }
    Some(Plan {
        anchor,
        up_end,
        unverified_before: (anchor.up - p.source_low).max(0),
        deleted_on_target: (start.up.min(up_end) - anchor.up).max(0),
        windows: windows as u64,
        windows_compared: compared,
        runs,
    })
}

/// The tail of a partition with no stored offset, checked (the flow is stopped or
/// `--include-tail`): nothing on the target is accounted for, so the whole target partition is
/// the tail, compared with the source from where the syncs pair them, or else from both logs'
/// starts.
pub fn tail_only(p: &Positions, tail_to: i64) -> Run {
    let (start, exact) = match anchor(p) {
        Some(a) => past_target_log_start(a, &p.syncs, p.target_low),
        None => (
            SyncPoint {
                up: p.source_low,
                down: p.target_low,
            },
            true,
        ),
    };
    Run {
        up_start: start.up,
        up_end: tail_to.max(start.up),
        down_start: start.down.max(p.target_low),
        down_end: None,
        replicated_end: start.up,
        check_tail: true,
        leading_deleted: !exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_before_the_last_upstream_rewind_are_dropped() {
        let points = |pairs: &[(i64, i64)]| -> Vec<SyncPoint> {
            pairs
                .iter()
                .map(|&(up, down)| SyncPoint { up, down })
                .collect()
        };
        let kept = since_last_rewind(points(&[
            (10, 0),
            (20, 10),
            (5, 30),
            (15, 40),
            (2, 50),
            (9, 60),
        ]));
        assert_eq!(kept, points(&[(2, 50), (9, 60)]));
        let steady = points(&[(10, 0), (10, 5), (20, 10)]);
        assert_eq!(since_last_rewind(steady.clone()), steady);
        assert!(since_last_rewind(Vec::new()).is_empty());
    }

    fn pos(syncs: &[(i64, i64)], stored: i64, lows: (i64, i64)) -> Positions {
        Positions {
            syncs: syncs
                .iter()
                .map(|&(up, down)| SyncPoint { up, down })
                .collect(),
            stored,
            source_low: lows.0,
            target_low: lows.1,
        }
    }

    #[test]
    fn a_clean_run_is_compared_from_the_start_in_one_stretch() {
        let p = plan(&pos(&[(0, 0), (99, 99)], 99, (0, 0)), 10, |_| true, None).unwrap();
        assert_eq!(p.anchor, SyncPoint { up: 0, down: 0 });
        assert_eq!(
            (p.windows, p.windows_compared, p.unverified_before),
            (10, 10, 0)
        );
        assert_eq!(
            p.runs,
            vec![Run {
                up_start: 0,
                up_end: 100,
                down_start: 0,
                down_end: None,
                replicated_end: 100,
                check_tail: false,
                leading_deleted: false,
            }]
        );
        // Only the latest sync left by compaction: still the whole partition.
        let p = plan(&pos(&[(90, 90)], 99, (0, 0)), 10, |_| true, None).unwrap();
        assert_eq!(p.anchor, SyncPoint { up: 0, down: 0 });
    }

    #[test]
    fn without_a_1_to_1_history_the_oldest_sync_in_the_log_is_the_start() {
        let p = plan(
            &pos(&[(10, 3), (50, 45), (90, 86)], 99, (20, 0)),
            10,
            |_| true,
            None,
        )
        .unwrap();
        assert_eq!(p.anchor, SyncPoint { up: 50, down: 45 });
        assert_eq!(p.unverified_before, 30);
        // Records deleted from the target: the read starts at its log start, and source records
        // before the first match are counted as deleted there.
        let p = plan(&pos(&[(0, 0)], 9, (0, 2)), 10, |_| true, None).unwrap();
        assert_eq!((p.runs[0].up_start, p.runs[0].down_start), (0, 2));
        assert!(p.runs[0].leading_deleted);
        assert!(plan(&pos(&[], 9, (0, 0)), 10, |_| true, None).is_none());
        assert!(plan(&pos(&[(10, 10)], 9, (0, 0)), 10, |_| true, None).is_some());
        assert!(plan(&pos(&[(10, 11)], 9, (0, 0)), 10, |_| true, None).is_none());
    }

    #[test]
    fn sampling_skips_only_windows_whose_ends_map_exactly() {
        // 1:1 up to 60, three duplicates before 100, then 1:1 again.
        let p = pos(&[(0, 0), (60, 60), (100, 103), (110, 113)], 119, (0, 0));
        let p = plan(&p, 10, |i| i == 2, None).unwrap();
        // Windows 0..6 and 10 lie in 1:1 stretches and may be skipped; 6..10 may not, nor may
        // the last one, whose end is the stored offset.
        let run = |up_start, up_end, down_start, down_end| Run {
            up_start,
            up_end,
            down_start,
            down_end,
            replicated_end: 120,
            check_tail: false,
            leading_deleted: false,
        };
        assert_eq!(
            p.runs,
            vec![
                run(20, 30, 20, Some(30)),
                run(60, 100, 60, Some(103)),
                run(110, 120, 113, None)
            ]
        );
        assert_eq!(p.windows_compared, 6);
        // A stretch that does not map 1:1 is always compared.
        let q = pos(&[(0, 0), (60, 63)], 69, (0, 0));
        let q = plan(&q, 10, |_| false, None).unwrap();
        assert_eq!(q.windows_compared, 7);
        assert_eq!(q.runs.len(), 1);
    }

    /// Issue 18's flake: the remote topic's retention (`retention.ms` of an hour, records an
    /// hour old) deleted its first segment between two runs. Partition 0 held copies of 0..19,
    /// a foreign record at 20, then copies of 20..24 at 21..25, and its log started at 21;
    /// partition 1 held copies of 0..19 and its log started at 20. Comparing from the anchor
    /// named every early record missing.
    #[test]
    fn copies_deleted_below_the_target_log_start_are_not_read_as_missing() {
        let p = plan(
            &pos(&[(0, 0), (19, 19), (20, 21), (24, 25)], 24, (0, 21)),
            10,
            |_| true,
            None,
        )
        .unwrap();
        assert_eq!(p.anchor, SyncPoint { up: 0, down: 0 });
        assert_eq!(p.deleted_on_target, 20);
        assert_eq!(p.runs.len(), 1);
        let r = &p.runs[0];
        assert_eq!(
            (r.up_start, r.down_start, r.leading_deleted),
            (20, 21, false)
        );
        assert_eq!(p.windows, 1);
        // Inside a 1:1 stretch the log start maps exactly.
        let p = plan(&pos(&[(0, 0), (19, 19)], 19, (0, 7)), 10, |_| true, None).unwrap();
        let r = &p.runs[0];
        assert_eq!((r.up_start, r.down_start, r.leading_deleted), (7, 7, false));
        assert_eq!(p.deleted_on_target, 7);
        // Past every sync it does not: from the last sync below it, counting what has no copy.
        let p = plan(&pos(&[(0, 0), (19, 19)], 19, (0, 20)), 10, |_| true, None).unwrap();
        let r = &p.runs[0];
        assert_eq!(
            (r.up_start, r.down_start, r.leading_deleted),
            (19, 20, true)
        );
        assert_eq!(p.deleted_on_target, 19);
        // A target log start below the anchor's copy changes nothing.
        let p = plan(
            &pos(&[(50, 45), (90, 85)], 99, (20, 10)),
            10,
            |_| true,
            None,
        )
        .unwrap();
        assert_eq!((p.runs[0].up_start, p.runs[0].down_start), (50, 45));
        assert_eq!(p.deleted_on_target, 0);
    }

    #[test]
    fn the_tail_is_read_to_both_ends_only_when_asked() {
        let p = plan(
            &pos(&[(0, 0), (19, 19)], 19, (0, 0)),
            10,
            |_| true,
            Some(30),
        )
        .unwrap();
        let last = p.runs.last().unwrap();
        assert_eq!(
            (last.up_end, last.replicated_end, last.check_tail),
            (30, 20, true)
        );
        assert_eq!(last.down_end, None);
        // Sampled: the tail joins the last window, which is always compared.
        let p = plan(
            &pos(&[(0, 0), (99, 99)], 99, (0, 0)),
            10,
            |_| false,
            Some(99),
        )
        .unwrap();
        assert_eq!(p.runs.len(), 1);
        assert_eq!((p.runs[0].up_start, p.runs[0].up_end), (90, 100));
        assert!(p.runs[0].check_tail);
        // Every stored copy deleted on the target (a sync past the stored offset, as after a
        // crash, places its log start): the tail is still read.
        let p = plan(
            &pos(&[(0, 0), (9, 9), (12, 12)], 9, (0, 12)),
            10,
            |_| true,
            Some(13),
        )
        .unwrap();
        assert_eq!((p.windows, p.deleted_on_target), (0, 10));
        let r = &p.runs[0];
        assert_eq!((r.up_start, r.up_end, r.down_start), (12, 13, 12));
        assert_eq!((r.replicated_end, r.check_tail), (10, true));
        // No stored offset: the whole target partition is the tail.
        let r = tail_only(&pos(&[], -1, (3, 0)), 8);
        assert_eq!((r.up_start, r.up_end, r.down_start), (3, 8, 0));
        assert_eq!(r.replicated_end, 3);
    }
}
