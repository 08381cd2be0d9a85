//! The record-by-record comparison of one stretch of a partition with its copy: both sides are
//! read in step, and where they disagree a bounded look-ahead tells a missing record, an extra
//! one, a duplicate (an earlier record copied again, as at-least-once delivery does after a
//! restart) and a changed one apart. Memory is bounded by the look-ahead, never by the partition.

use std::collections::{HashMap, VecDeque};

use super::digest::{Field, RecordDigest, SequenceDigest};

/// One record as compared: its offset on its side and its digests.
pub type Digested = (i64, RecordDigest);

/// One side of the comparison, read in offset order; `None` at the end of the stretch.
pub trait RecordStream {
    type Error;
    fn next_record(&mut self) -> Result<Option<Digested>, Self::Error>;
}

/// A difference between a source record and its copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordDiff {
    /// The source record at `upstream` has no copy.
    Missing { upstream: i64 },
    /// The target record at `downstream` copies no source record.
    Extra { downstream: i64 },
    /// The copy at `downstream` of the source record at `upstream` differs in `fields`.
    Changed {
        upstream: i64,
        downstream: i64,
        fields: Vec<Field>,
    },
}

/// Where a stretch ends on each side, and what its unmatched records mean there.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// The downstream stretch ends exactly where the copy of the upstream one must (or it is the
    /// target's tail, checked against the source's): what is left on it is extra. Otherwise (the
    /// end of what was replicated, with a live flow still writing past it) what follows the last
    /// copy is not looked at.
    pub downstream_bounded: bool,
    /// The first upstream offset past the stored offset. A source record from here on that has
    /// no copy is not yet replicated, which is no difference; a copy of one is replication the
    /// stored offsets have not caught up with (at-least-once, after a crash or while running).
    pub replicated_end: i64,
    /// The target's log start cut into the stretch (its retention deleted the copies of the
    /// first records): source records before the first match have no copy left to compare.
    pub leading_deleted: bool,
}

impl Bounds {
    /// A stretch of stored records whose downstream end is or is not known exactly.
    pub fn stored(downstream_bounded: bool) -> Self {
        Bounds {
            downstream_bounded,
            replicated_end: i64::MAX,
            leading_deleted: false,
        }
    }
}

/// What comparing one stretch found.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Source records compared (up to the stored offset; not those whose copies the target
    /// deleted).
    pub upstream_records: u64,
    /// Target records read (duplicates included).
    pub downstream_records: u64,
    pub matched: u64,
    /// Target records that repeat a source record already copied.
    pub duplicates: u64,
    /// Target records that copy source records past the stored offset.
    pub past_stored: u64,
    /// Source records before the first match whose copies lie below the target's log start.
    pub deleted_on_target: u64,
    pub diffs: Vec<RecordDiff>,
    /// Stopped after `max_diffs` differences.
    pub truncated: bool,
    pub upstream_digest: SequenceDigest,
    pub downstream_digest: SequenceDigest,
}

/// How far the comparison looks ahead to realign, and when it gives up.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Records read ahead on one side to find the other side's record: also how many recent
    /// source records a duplicate is recognised against.
    pub lookahead: usize,
    pub max_diffs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            lookahead: 1000,
            max_diffs: 100,
        }
    }
}

struct Buffered<S> {
    stream: S,
    buf: VecDeque<Digested>,
    done: bool,
}

impl<S: RecordStream> Buffered<S> {
    fn fill(&mut self, n: usize) -> Result<(), S::Error> {
        while !self.done && self.buf.len() < n {
            match self.stream.next_record()? {
                Some(r) => self.buf.push_back(r),
                None => self.done = true,
            }
        }
        Ok(())
    }
    fn peek(&mut self) -> Result<Option<Digested>, S::Error> {
        self.fill(1)?;
        Ok(self.buf.front().copied())
    }
    fn position(&self, d: &RecordDigest, from: usize) -> Option<usize> {
        self.buf
            .iter()
            .skip(from)
            .position(|(_, x)| x == d)
            .map(|i| i + from)
    }
}

/// Recently matched source records, to recognise a duplicate copy of one of them: the last
/// `capacity` digests, counted so that evicting one copy keeps a later identical record.
struct Recent {
    order: VecDeque<RecordDigest>,
    counts: HashMap<RecordDigest, usize>,
    capacity: usize,
}

impl Recent {
    fn add(&mut self, d: RecordDigest) {
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                if let Some(n) = self.counts.get_mut(&old) {
                    *n -= 1;
                    if *n == 0 {
                        self.counts.remove(&old);
                    }
                }
            }
        }
        self.order.push_back(d);
        *self.counts.entry(d).or_default() += 1;
    }
    fn contains(&self, d: &RecordDigest) -> bool {
        self.counts.contains_key(d)
    }
}

/// Compares `upstream` with `downstream` until the upstream stretch ends (or, past
/// `bounds.replicated_end`, until the target has nothing more: the rest of the source is not
/// replicated yet, and reading it would only cost time).
pub fn compare<U, D, E>(
    upstream: U,
    downstream: D,
    bounds: Bounds,
    limits: Limits,
) -> Result<Outcome, E>
where
    U: RecordStream<Error = E>,
    D: RecordStream<Error = E>,
{
    let mut up = Buffered {
        stream: upstream,
        buf: VecDeque::new(),
        done: false,
    };
    let mut down = Buffered {
        stream: downstream,
        buf: VecDeque::new(),
        done: false,
    };
    let mut recent = Recent {
        order: VecDeque::new(),
        counts: HashMap::new(),
        capacity: limits.lookahead.max(1),
    };
    let mut out = Outcome::default();
    let full = |out: &Outcome| out.diffs.len() >= limits.max_diffs;
    let tail = |offset: i64| offset >= bounds.replicated_end;
    // Until the first match, a source record without a copy may be one whose copy the target's
    // retention deleted: only then are they counted apart.
    let mut aligned = !bounds.leading_deleted;
    // A source record given up on: missing, or not a difference where it cannot be told.
    let no_copy = |out: &mut Outcome, aligned: bool, offset: i64, d: &RecordDigest| {
        if tail(offset) {
            return;
        }
        if !aligned {
            out.deleted_on_target += 1;
            return;
        }
        out.upstream_records += 1;
        out.upstream_digest.add(d);
        out.diffs.push(RecordDiff::Missing { upstream: offset });
    };
    loop {
        if full(&out) {
            out.truncated = true;
            break;
        }
        let a = up.peek()?;
        let Some((ua, da)) = a else {
            if bounds.downstream_bounded {
                // Whatever is left was written past the copy of the last source record.
                while let Some((o, d)) = down.peek()? {
                    down.buf.pop_front();
                    out.downstream_records += 1;
                    extra_or_duplicate(&mut out, &recent, o, &d);
                    if full(&out) {
                        out.truncated = true;
                        break;
                    }
                }
            }
            break;
        };
        let Some((ob, db)) = down.peek()? else {
            if tail(ua) {
                // Past the stored offset with nothing more on the target: not replicated yet.
                break;
            }
            // The target has nothing more: every remaining source record is missing.
            up.buf.pop_front();
            no_copy(&mut out, aligned, ua, &da);
            continue;
        };
        if da == db {
            up.buf.pop_front();
            down.buf.pop_front();
            aligned = true;
            out.downstream_records += 1;
            recent.add(da);
            if tail(ua) {
                out.past_stored += 1;
                continue;
            }
            out.upstream_records += 1;
            out.matched += 1;
            out.upstream_digest.add(&da);
            out.downstream_digest.add(&db);
            continue;
        }
        if recent.contains(&db) {
            down.buf.pop_front();
            out.downstream_records += 1;
            out.duplicates += 1;
            continue;
        }
        down.fill(limits.lookahead)?;
        if let Some(j) = down.position(&da, 1) {
            // The target holds records before the copy of `a`: extra, or duplicates.
            for _ in 0..j {
                let (o, d) = down.buf.pop_front().expect("buffered");
                out.downstream_records += 1;
                extra_or_duplicate(&mut out, &recent, o, &d);
            }
            continue;
        }
        up.fill(limits.lookahead)?;
        if let Some(j) = up.position(&db, 1) {
            // The copy of `b` comes first: the source records before it have none.
            for _ in 0..j {
                let (o, d) = up.buf.pop_front().expect("buffered");
                no_copy(&mut out, aligned, o, &d);
            }
            continue;
        }
        if tail(ua) {
            // Past the stored offset the source record may simply not be copied yet, so `b`,
            // which copies none of the source records ahead, is the difference.
            down.buf.pop_front();
            out.downstream_records += 1;
            extra_or_duplicate(&mut out, &recent, ob, &db);
            continue;
        }
        up.buf.pop_front();
        down.buf.pop_front();
        out.upstream_records += 1;
        out.downstream_records += 1;
        out.upstream_digest.add(&da);
        out.downstream_digest.add(&db);
        out.diffs.push(RecordDiff::Changed {
            upstream: ua,
            downstream: ob,
            fields: da.differing(&db),
        });
    }
    Ok(out)
}

fn extra_or_duplicate(out: &mut Outcome, recent: &Recent, offset: i64, d: &RecordDigest) {
    if recent.contains(d) {
        out.duplicates += 1;
    } else {
        out.diffs.push(RecordDiff::Extra { downstream: offset });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vs(VecDeque<Digested>);
    impl RecordStream for Vs {
        type Error = ();
        fn next_record(&mut self) -> Result<Option<Digested>, ()> {
            Ok(self.0.pop_front())
        }
    }

    fn rec(v: &str) -> RecordDigest {
        RecordDigest::of(None, Some(v.as_bytes()), [], Some(1))
    }

    /// Records `values` from offset `start`.
    fn side(start: i64, values: &[&str]) -> Vs {
        Vs(values
            .iter()
            .enumerate()
            .map(|(i, v)| (start + i as i64, rec(v)))
            .collect())
    }

    fn run(up: &[&str], down: &[&str], bounded: bool) -> Outcome {
        compare(
            side(100, up),
            side(0, down),
            Bounds::stored(bounded),
            Limits::default(),
        )
        .unwrap()
    }

    #[test]
    fn identical_stretches_match() {
        let o = run(&["a", "b", "c"], &["a", "b", "c"], true);
        assert_eq!((o.matched, o.duplicates, o.diffs.len()), (3, 0, 0));
        assert_eq!(o.upstream_digest.hex(), o.downstream_digest.hex());
    }

    #[test]
    fn each_kind_of_difference_is_named() {
        let o = run(&["a", "b", "c", "d"], &["a", "c", "d"], true);
        assert_eq!(o.diffs, vec![RecordDiff::Missing { upstream: 101 }]);
        let o = run(&["a", "b"], &["a", "x", "b"], true);
        assert_eq!(o.diffs, vec![RecordDiff::Extra { downstream: 1 }]);
        let o = run(&["a", "b", "c"], &["a", "B", "c"], true);
        assert_eq!(
            o.diffs,
            vec![RecordDiff::Changed {
                upstream: 101,
                downstream: 1,
                fields: vec![Field::Value]
            }]
        );
        assert_ne!(o.upstream_digest.hex(), o.downstream_digest.hex());
        let o = run(&["a", "b", "c"], &["a"], true);
        assert_eq!(
            o.diffs,
            vec![
                RecordDiff::Missing { upstream: 101 },
                RecordDiff::Missing { upstream: 102 }
            ]
        );
    }

    #[test]
    fn redelivered_records_are_duplicates_not_differences() {
        // A restart after `b` and `c` were written but before their offsets were stored.
        let o = run(&["a", "b", "c", "d"], &["a", "b", "c", "b", "c", "d"], true);
        assert_eq!((o.matched, o.duplicates, o.diffs.len()), (4, 2, 0));
    }

    #[test]
    fn the_unbounded_end_is_not_looked_at_but_a_bounded_one_is() {
        let o = run(&["a", "b"], &["a", "b", "c"], false);
        assert!(o.diffs.is_empty());
        let o = run(&["a", "b"], &["a", "b", "c"], true);
        assert_eq!(o.diffs, vec![RecordDiff::Extra { downstream: 2 }]);
    }

    /// `up` from offset 100, stored up to `100 + stored`, against the whole target tail.
    fn tail(up: &[&str], stored: i64, down: &[&str]) -> Outcome {
        let bounds = Bounds {
            downstream_bounded: true,
            replicated_end: 100 + stored,
            leading_deleted: false,
        };
        compare(side(100, up), side(0, down), bounds, Limits::default()).unwrap()
    }

    #[test]
    fn past_the_stored_offset_copies_count_apart_and_only_foreign_records_differ() {
        // `c` was copied after the last offset flush; `d` not yet; `X` is no source record.
        let o = tail(&["a", "b", "c", "d"], 2, &["a", "b", "c", "X"]);
        assert_eq!(o.diffs, vec![RecordDiff::Extra { downstream: 3 }]);
        assert_eq!((o.matched, o.past_stored, o.upstream_records), (2, 1, 2));
        // A foreign record where the source's next record is not copied yet is extra, not a
        // changed copy of it.
        let o = tail(&["a", "b", "c"], 2, &["a", "b", "X"]);
        assert_eq!(o.diffs, vec![RecordDiff::Extra { downstream: 2 }]);
        // The same record in the stored stretch is a changed copy.
        let o = tail(&["a", "b", "c"], 3, &["a", "b", "X"]);
        assert!(matches!(
            o.diffs[..],
            [RecordDiff::Changed { upstream: 102, .. }]
        ));
        // A redelivered record at the tail is a duplicate; a gap past the stored offset is
        // replication a restart redoes, not a missing record.
        let o = tail(&["a", "b", "c", "d"], 2, &["a", "b", "b", "d"]);
        assert!(o.diffs.is_empty(), "{:?}", o.diffs);
        assert_eq!((o.duplicates, o.past_stored), (1, 1));
        // A clean stop: the stored offsets cover the whole target.
        let o = tail(&["a", "b"], 2, &["a", "b"]);
        assert!(o.diffs.is_empty());
        let o = tail(&["a", "b"], 2, &["a", "b", "X"]);
        assert_eq!(o.diffs, vec![RecordDiff::Extra { downstream: 2 }]);
    }

    #[test]
    fn copies_below_the_target_log_start_are_deleted_not_missing() {
        let bounds = Bounds {
            leading_deleted: true,
            ..Bounds::stored(true)
        };
        let o = compare(
            side(100, &["a", "b", "c", "d"]),
            side(7, &["c", "d"]),
            bounds,
            Limits::default(),
        )
        .unwrap();
        assert!(o.diffs.is_empty(), "{:?}", o.diffs);
        assert_eq!((o.deleted_on_target, o.matched), (2, 2));
        // Only before the first match: a hole after it is missing.
        let o = compare(
            side(100, &["a", "b", "c", "d"]),
            side(7, &["b", "d"]),
            bounds,
            Limits::default(),
        )
        .unwrap();
        assert_eq!(o.diffs, vec![RecordDiff::Missing { upstream: 102 }]);
        assert_eq!(o.deleted_on_target, 1);
        // Everything deleted.
        let o = compare(
            side(100, &["a", "b"]),
            side(7, &[]),
            bounds,
            Limits::default(),
        )
        .unwrap();
        assert_eq!((o.deleted_on_target, o.diffs.len()), (2, 0));
    }

    #[test]
    fn gives_up_after_max_diffs() {
        let up: Vec<String> = (0..50).map(|i| format!("u{i}")).collect();
        let down: Vec<String> = (0..50).map(|i| format!("d{i}")).collect();
        let up: Vec<&str> = up.iter().map(String::as_str).collect();
        let down: Vec<&str> = down.iter().map(String::as_str).collect();
        let limits = Limits {
            lookahead: 10,
            max_diffs: 5,
        };
        let o = compare(side(0, &up), side(0, &down), Bounds::stored(true), limits).unwrap();
        assert!(o.truncated);
        assert_eq!(o.diffs.len(), 5);
    }
}
