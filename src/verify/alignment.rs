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
}

/// The comparison of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The first upstream and downstream offsets compared.
    pub anchor: SyncPoint,
    /// Exclusive: one past the stored offset.
    pub up_end: i64,
    /// Source records before the anchor, still in the source but not compared.
    pub unverified_before: i64,
    pub windows: u64,
    pub windows_compared: u64,
    pub runs: Vec<Run>,
}

/// Where comparing starts: the oldest sync still within the source's log. A sync pairs one
/// record with its copy, so it is exact; the syncs topic is compacted, though, and may keep only
/// the latest one. When both logs still start at offset 0 and that sync maps 1:1 (`up == down`,
/// which is what a clean run onto a fresh remote topic gives), the start of both logs is taken
/// as the anchor instead, so that the whole partition is compared.
pub fn anchor(p: &Positions) -> Option<SyncPoint> {
    let first = p
        .syncs
        .iter()
        .copied()
        .filter(|s| s.up >= p.source_low)
        .min_by_key(|s| s.up)
        .or_else(|| p.syncs.iter().copied().max_by_key(|s| s.up))?;
    if p.source_low == 0 && p.target_low == 0 && first.up == first.down {
        return Some(SyncPoint { up: 0, down: 0 });
    }
    Some(first)
}

/// The plan for one partition, comparing the windows of `window` upstream offsets that
/// `compares(index)` selects. A window left out must lie inside a stretch between two syncs
/// that maps 1:1 (as many downstream as upstream offsets), so both of its ends are known
/// exactly and reading can jump over it; any other window is compared whatever the sample.
/// `None` when nothing was replicated past the anchor yet.
pub fn plan(p: &Positions, window: u64, compares: impl Fn(u64) -> bool) -> Option<Plan> {
    let anchor = anchor(p)?;
    let up_end = p.stored + 1;
    if up_end <= anchor.up {
        return None;
    }
    let window = window.max(1) as i64;
    let windows = ((up_end - anchor.up) + window - 1) / window;
    // Stretches with both ends exactly mapped: [a.up, b.up] -> [a.down, b.down], 1:1.
    let mut points: Vec<SyncPoint> = std::iter::once(anchor)
        .chain(p.syncs.iter().copied().filter(|s| s.up > anchor.up))
        .collect();
    points.sort_by_key(|s| s.up);
    let exact: Vec<(SyncPoint, SyncPoint)> = points
        .windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|(a, b)| b.down - a.down == b.up - a.up)
        .collect();
    let mapped = |start: i64, end: i64| {
        exact
            .iter()
            .find(|(a, b)| a.up <= start && end <= b.up)
            .map(|(a, _)| a.down - a.up)
    };
    let down_start = anchor.down.max(p.target_low);
    let mut runs: Vec<Run> = Vec::new();
    let mut open: Option<Run> = None;
    let mut compared = 0;
    for i in 0..windows {
        let start = anchor.up + i * window;
        let end = (start + window).min(up_end);
        let skip = !compares(i as u64) && end < up_end && mapped(start, end).is_some();
        if skip {
            if let Some(mut run) = open.take() {
                let shift = mapped(start, end).expect("checked");
                run.up_end = start;
                run.down_end = Some(start + shift);
                runs.push(run);
            }
            continue;
        }
        compared += 1;
        if open.is_none() {
            let down = if i == 0 {
                down_start
            } else {
                start
                    + mapped(start, end)
                        .or_else(|| mapped(start, start))
                        .expect("after a skip")
            };
            open = Some(Run {
                up_start: start,
                up_end,
                down_start: down,
                down_end: None,
            });
        }
    }
    runs.extend(open);
    Some(Plan {
        anchor,
        up_end,
        unverified_before: (anchor.up - p.source_low).max(0),
        windows: windows as u64,
        windows_compared: compared,
        runs,
    })
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
        let p = plan(&pos(&[(0, 0), (99, 99)], 99, (0, 0)), 10, |_| true).unwrap();
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
                down_end: None
            }]
        );
        // Only the latest sync left by compaction: still the whole partition.
        let p = plan(&pos(&[(90, 90)], 99, (0, 0)), 10, |_| true).unwrap();
        assert_eq!(p.anchor, SyncPoint { up: 0, down: 0 });
    }

    #[test]
    fn without_a_1_to_1_history_the_oldest_sync_in_the_log_is_the_start() {
        let p = plan(
            &pos(&[(10, 3), (50, 45), (90, 86)], 99, (20, 0)),
            10,
            |_| true,
        )
        .unwrap();
        assert_eq!(p.anchor, SyncPoint { up: 50, down: 45 });
        assert_eq!(p.unverified_before, 30);
        // Records deleted from the target are read as missing: the read starts at its log start.
        let p = plan(&pos(&[(0, 0)], 9, (0, 2)), 10, |_| true).unwrap();
        assert_eq!(p.runs[0].down_start, 2);
        assert!(plan(&pos(&[], 9, (0, 0)), 10, |_| true).is_none());
        assert!(plan(&pos(&[(10, 10)], 9, (0, 0)), 10, |_| true).is_some());
        assert!(plan(&pos(&[(10, 11)], 9, (0, 0)), 10, |_| true).is_none());
    }

    #[test]
    fn sampling_skips_only_windows_whose_ends_map_exactly() {
        // 1:1 up to 60, three duplicates before 100, then 1:1 again.
        let p = pos(&[(0, 0), (60, 60), (100, 103), (110, 113)], 119, (0, 0));
        let p = plan(&p, 10, |i| i == 2).unwrap();
        // Windows 0..6 and 10 lie in 1:1 stretches and may be skipped; 6..10 may not, nor may
        // the last one, whose end is the stored offset.
        let run = |up_start, up_end, down_start, down_end| Run {
            up_start,
            up_end,
            down_start,
            down_end,
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
        let q = plan(&q, 10, |_| false).unwrap();
        assert_eq!(q.windows_compared, 7);
        assert_eq!(q.runs.len(), 1);
    }
}
