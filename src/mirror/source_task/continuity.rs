//! Whether a source partition reads on where replication left it, without I/O: which stored
//! offsets a task can start after, and what a record found at another offset than the one
//! expected means (nothing lost, records deleted before they were copied, or a partition that
//! started over).
//!
//! librdkafka resets a position that fell out of the log (`auto.offset.reset`, `earliest` in
//! MirrorMaker) and says so only in a log line, as Java's consumer does. The task therefore
//! compares every record's offset with the one it expects and asks the consumer for the log
//! start offset the last fetch reported, which tells retention from compaction.

use crate::kafka::TopicPartition;

/// A stored source offset the task cannot start after: Java's `isUncommitted` (any offset below
/// 0), or one so large that the next offset does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnusableOffset(pub i64);

/// The offset a partition starts after: the stored one when it is usable. An unusable one
/// counts as none, so `auto.offset.reset` decides, as Java does.
pub fn start_after(stored: Option<i64>) -> Result<Option<i64>, UnusableOffset> {
    match stored {
        Some(o) if o < 0 || o == i64::MAX => Err(UnusableOffset(o)),
        other => Ok(other),
    }
}

/// What a record's offset says about the records before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// The record expected next (or nothing was expected: no stored offset).
    InOrder,
    /// Offsets are missing, but the log still starts at or before the first of them:
    /// compaction or transaction markers took them, nothing is lost.
    Skipped,
    /// Offsets `first..=last` were deleted from the source (retention, or records deleted)
    /// before they were replicated.
    Lost { first: i64, last: i64 },
    /// The partition went back from `expected` to `found`: the topic was deleted and created
    /// again, or truncated, or the stored offset was past its end. What the old log held after
    /// `expected` is unknown; replication starts over at `found`.
    Rewound { expected: i64, found: i64 },
}

impl Continuity {
    /// How many records were lost, when that is known.
    pub fn lost_records(&self) -> Option<u64> {
        match self {
            Continuity::Lost { first, last } => u64::try_from(last - first + 1).ok(),
            _ => None,
        }
    }
}

/// Classifies a record found at `found` where `expected` was due; `log_start` is the log start
/// offset the consumer last heard of, when known.
///
/// Records between the log start and `found` count as lost too: the reset that skipped them
/// may have been to the latest offset. A log start that moved on after the record was fetched
/// could count a compaction gap before `found` as lost; the log start is read as the record is
/// served, so that takes retention acting within one prefetch.
pub fn classify(expected: Option<i64>, found: i64, log_start: Option<i64>) -> Continuity {
    let Some(expected) = expected else {
        return Continuity::InOrder;
    };
    if found < expected {
        return Continuity::Rewound { expected, found };
    }
    match log_start {
        _ if found == expected => Continuity::InOrder,
        Some(start) if start > expected => Continuity::Lost {
            first: expected,
            last: found - 1,
        },
        _ => Continuity::Skipped,
    }
}

/// The WARN line of a data loss (nothing for the other kinds).
pub fn describe(tp: &TopicPartition, c: Continuity) -> Option<String> {
    match c {
        Continuity::Lost { first, last } => Some(format!(
            "{tp}: offsets {first}..={last} ({} records) were deleted from the source before \
             they were replicated (retention or deleted records); replication goes on at {}",
            last - first + 1,
            last + 1
        )),
        Continuity::Rewound { expected, found } => Some(format!(
            "{tp}: the source partition went back from offset {expected} to {found}: the topic \
             was deleted and created again or truncated, or the stored offset was past its \
             end; records the old partition held from {expected} on were not replicated, and \
             replication starts over at {found}"
        )),
        Continuity::InOrder | Continuity::Skipped => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_and_overflowing_stored_offsets_count_as_none() {
        assert_eq!(start_after(None), Ok(None));
        assert_eq!(start_after(Some(0)), Ok(Some(0)));
        assert_eq!(start_after(Some(41)), Ok(Some(41)));
        assert_eq!(start_after(Some(-1)), Err(UnusableOffset(-1)));
        assert_eq!(start_after(Some(-2)), Err(UnusableOffset(-2)));
        assert_eq!(start_after(Some(i64::MIN)), Err(UnusableOffset(i64::MIN)));
        assert_eq!(start_after(Some(i64::MAX)), Err(UnusableOffset(i64::MAX)));
    }

    #[test]
    fn the_expected_record_and_no_expectation_are_in_order() {
        assert_eq!(classify(Some(10), 10, None), Continuity::InOrder);
        assert_eq!(classify(Some(10), 10, Some(12)), Continuity::InOrder);
        assert_eq!(classify(None, 500, Some(400)), Continuity::InOrder);
    }

    #[test]
    fn a_gap_the_log_still_covers_is_compaction_not_loss() {
        // Transaction markers and compaction: the log starts before the gap.
        assert_eq!(classify(Some(10), 11, Some(0)), Continuity::Skipped);
        assert_eq!(classify(Some(10), 50, Some(10)), Continuity::Skipped);
        // Unknown log start: nothing is claimed.
        assert_eq!(classify(Some(10), 50, None), Continuity::Skipped);
    }

    #[test]
    fn a_gap_below_the_log_start_is_data_loss() {
        let c = classify(Some(10), 40, Some(40));
        assert_eq!(
            c,
            Continuity::Lost {
                first: 10,
                last: 39
            }
        );
        assert_eq!(c.lost_records(), Some(30));
        // Reset to the latest offset: what lay between the log start and it is lost as well.
        assert_eq!(
            classify(Some(10), 90, Some(40)),
            Continuity::Lost {
                first: 10,
                last: 89
            }
        );
    }

    #[test]
    fn going_back_is_a_rewind_whatever_the_log_start() {
        for start in [None, Some(0), Some(3)] {
            let c = classify(Some(500), 3, start);
            assert_eq!(
                c,
                Continuity::Rewound {
                    expected: 500,
                    found: 3
                }
            );
            assert_eq!(c.lost_records(), None);
        }
    }

    #[test]
    fn warnings_name_the_partition_and_the_range() {
        let tp = TopicPartition::new("orders", 2);
        let lost = describe(
            &tp,
            Continuity::Lost {
                first: 10,
                last: 39,
            },
        )
        .unwrap();
        assert!(
            lost.starts_with("orders-2: offsets 10..=39 (30 records)"),
            "{lost}"
        );
        let rewound = describe(
            &tp,
            Continuity::Rewound {
                expected: 500,
                found: 0,
            },
        )
        .unwrap();
        assert!(rewound.contains("from offset 500 to 0"), "{rewound}");
        assert_eq!(describe(&tp, Continuity::Skipped), None);
        assert_eq!(describe(&tp, Continuity::InOrder), None);
    }
}
