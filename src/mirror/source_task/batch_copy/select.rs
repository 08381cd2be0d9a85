//! What of a fetched partition goes to the target, and how: each batch is copied as it is
//! (only its header is rewritten later), re-encoded, or dropped. Pure: bytes in, pieces out.
//!
//! The rules, read_committed as Java's consumer applies it:
//! - control batches (transaction markers) are dropped, and an abort marker ends its
//!   producer's aborted transaction;
//! - transactional batches of a producer whose transaction the fetch response lists as aborted
//!   (from its first offset on) are dropped;
//! - a batch is re-encoded when the broker would refuse it or pay to rebuild it: it starts
//!   before the fetch offset (cropped), its offsets have gaps (compaction), it is an older
//!   message format, it is larger than the target allows, or its header means something else
//!   coming from a producer (log-append time, compaction's delete horizon).

use std::collections::HashSet;

use bytes::Bytes;

use crate::kafka::record_batch::{
    self, Batch, Codec, CorruptBatch, Entry, ProducerStamp, RawRecord,
};

/// An aborted transaction as the fetch response lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
}

/// Why a batch was re-encoded (a metric label, and the README's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reencode {
    /// The fetch offset fell inside it.
    Cropped,
    /// Compaction left gaps in its offsets (or marked its delete horizon).
    Compacted,
    /// A v0 or v1 message set.
    OldFormat,
    /// Larger than the target topic's `max.message.bytes`.
    TooLarge,
    /// Its timestamps are the source broker's append times.
    LogAppendTime,
    /// Several small batches of one fetch written as one (in their own codec): the target
    /// broker's cost is per batch, and small source batches cost it three times as much per GB.
    Coalesced,
}

impl Reencode {
    /// Its value of the batch metric's `copy` label.
    pub fn label(self) -> &'static str {
        match self {
            Reencode::Cropped => "cropped",
            Reencode::Compacted => "compacted",
            Reencode::OldFormat => "old_format",
            Reencode::TooLarge => "too_large",
            Reencode::LogAppendTime => "log_append_time",
            Reencode::Coalesced => "coalesced",
        }
    }
}

/// The source offsets a produced batch carries, for the ledger: contiguous runs, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// (first source offset, records) of each run without a gap.
    pub runs: Vec<(i64, u32)>,
    /// The largest record timestamp, when known.
    pub timestamp: Option<i64>,
}

impl Span {
    fn contiguous(first: i64, records: u32, timestamp: i64) -> Span {
        Span {
            runs: vec![(first, records)],
            timestamp: (timestamp >= 0).then_some(timestamp),
        }
    }

    fn of(records: &[RawRecord]) -> Span {
        let mut runs: Vec<(i64, u32)> = Vec::new();
        for r in records {
            match runs.last_mut() {
                Some((first, n)) if *first + i64::from(*n) == r.offset => *n += 1,
                _ => runs.push((r.offset, 1)),
            }
        }
        let ts = records
            .iter()
            .map(|r| r.timestamp)
            .max()
            .filter(|t| *t >= 0);
        Span {
            runs,
            timestamp: ts,
        }
    }

    pub fn first(&self) -> i64 {
        self.runs[0].0
    }

    #[cfg(test)]
    pub fn last(&self) -> i64 {
        let (first, n) = self.runs[self.runs.len() - 1];
        first + i64::from(n) - 1
    }

    pub fn records(&self) -> u32 {
        self.runs.iter().map(|(_, n)| n).sum()
    }
}

/// One batch bound for the target, before its producer fields are stamped.
#[derive(Debug, Clone)]
pub struct Piece {
    pub batch: Batch,
    pub span: Span,
    pub reencoded: Option<Reencode>,
}

impl Piece {
    /// The batch as this producer sends it.
    pub fn stamped(&self, stamp: ProducerStamp) -> Bytes {
        record_batch::restamp(&self.batch, stamp)
    }
}

/// What the target wants of re-encoded batches.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The target topic's `max.message.bytes`.
    pub max_batch_bytes: usize,
    /// The target producer's `compression.type`.
    pub codec: Codec,
    /// Batches smaller than this, several in a row, are coalesced into one (0: never).
    pub coalesce_below: usize,
}

/// The outcome for one fetched partition.
#[derive(Debug, Default)]
pub struct Selected {
    pub pieces: Vec<Piece>,
    /// Where the next fetch starts: after the last whole batch, dropped ones included.
    pub next_offset: Option<i64>,
    /// Records of aborted transactions left out.
    pub aborted_records: u64,
}

/// Sorts one partition's fetched `records` (asked from `fetch_offset`) into pieces.
pub fn select(
    records: &Bytes,
    fetch_offset: i64,
    aborted: &[AbortedTxn],
    limits: &Limits,
) -> Result<Selected, CorruptBatch> {
    let mut aborted: Vec<AbortedTxn> = aborted.to_vec();
    aborted.sort_by_key(|a| a.first_offset);
    let mut pending = aborted.into_iter().peekable();
    let mut aborting: HashSet<i64> = HashSet::new();
    let mut out = Selected::default();
    for entry in record_batch::split(records) {
        let batch = match entry {
            Entry::Legacy { offset, bytes } => {
                let recs: Vec<RawRecord> = record_batch::legacy_records(offset, &bytes)?
                    .into_iter()
                    .filter(|r| r.offset >= fetch_offset)
                    .collect();
                if let Some(last) = recs.last() {
                    out.next_offset = Some(last.offset + 1);
                }
                reencode(
                    &recs,
                    Reencode::OldFormat,
                    limits,
                    limits.codec,
                    &mut out.pieces,
                )?;
                continue;
            }
            Entry::Batch(b) => b,
        };
        let last = batch.last_offset();
        out.next_offset = Some(out.next_offset.map_or(last + 1, |n: i64| n.max(last + 1)));
        if last < fetch_offset {
            continue; // wholly before what was asked for
        }
        let pid = batch.producer_id();
        while let Some(a) = pending.next_if(|a| a.first_offset <= last) {
            aborting.insert(a.producer_id);
        }
        if batch.is_control() {
            if is_abort_marker(&batch)? {
                aborting.remove(&pid);
            }
            continue;
        }
        if batch.is_transactional() && aborting.contains(&pid) {
            out.aborted_records += u64::from(batch.record_count().max(0) as u32);
            continue;
        }
        if batch.record_count() <= 0 {
            continue; // emptied by compaction, kept only for producer state
        }
        let why = if batch.base_offset() < fetch_offset {
            Some(Reencode::Cropped)
        } else if !batch.is_contiguous() || batch.has_delete_horizon() {
            Some(Reencode::Compacted)
        } else if batch.is_log_append_time() {
            Some(Reencode::LogAppendTime)
        } else if batch.bytes.len() > limits.max_batch_bytes {
            Some(Reencode::TooLarge)
        } else {
            None
        };
        match why {
            None => {
                let span = Span::contiguous(
                    batch.base_offset(),
                    batch.record_count() as u32,
                    batch.max_timestamp(),
                );
                out.pieces.push(Piece {
                    batch,
                    span,
                    reencoded: None,
                });
            }
            Some(why) => {
                let recs: Vec<RawRecord> = record_batch::records(&batch)?
                    .into_iter()
                    .filter(|r| r.offset >= fetch_offset)
                    .collect();
                reencode(&recs, why, limits, limits.codec, &mut out.pieces)?;
            }
        }
    }
    out.pieces = coalesce(std::mem::take(&mut out.pieces), limits)?;
    Ok(out)
}

/// Whether a control batch is an abort marker (its record's key: version, then type 0).
fn is_abort_marker(batch: &Batch) -> Result<bool, CorruptBatch> {
    let recs = record_batch::records(batch)?;
    let Some(r) = recs.first() else {
        return Ok(false);
    };
    // The body starts with the key's length (a one-byte varint for a 4-byte key).
    let key = &r.body[..];
    Ok(key.len() >= 5 && key[0] == 8 && i16::from_be_bytes([key[3], key[4]]) == 0)
}

/// Writes each run of two or more small batches copied as they are, of one codec, as one
/// batch in that codec.
fn coalesce(pieces: Vec<Piece>, limits: &Limits) -> Result<Vec<Piece>, CorruptBatch> {
    let small = |p: &Piece| p.reencoded.is_none() && p.batch.bytes.len() < limits.coalesce_below;
    if limits.coalesce_below == 0 || pieces.iter().filter(|p| small(p)).count() < 2 {
        return Ok(pieces);
    }
    let mut out = Vec::with_capacity(pieces.len());
    let mut run: Vec<Piece> = Vec::new();
    let flush = |run: &mut Vec<Piece>, out: &mut Vec<Piece>| -> Result<(), CorruptBatch> {
        if run.len() < 2 {
            out.append(run);
            return Ok(());
        }
        let codec = run[0].batch.codec().unwrap_or(Codec::None);
        let mut records = Vec::new();
        for p in run.drain(..) {
            records.extend(record_batch::records(&p.batch)?);
        }
        reencode(&records, Reencode::Coalesced, limits, codec, out)
    };
    for p in pieces {
        let joins = small(&p)
            && run
                .first()
                .is_none_or(|r| r.batch.codec() == p.batch.codec());
        if !joins {
            flush(&mut run, &mut out)?;
        }
        if small(&p) {
            run.push(p);
        } else {
            out.push(p);
        }
    }
    flush(&mut run, &mut out)?;
    Ok(out)
}

/// Writes `records` as new batches, each within the target's limit (measured uncompressed, so
/// a compressed one is smaller still).
fn reencode(
    records: &[RawRecord],
    why: Reencode,
    limits: &Limits,
    codec: Codec,
    out: &mut Vec<Piece>,
) -> Result<(), CorruptBatch> {
    let room = limits
        .max_batch_bytes
        .saturating_sub(record_batch::HEADER)
        .max(1);
    let mut start = 0;
    while start < records.len() {
        let mut size = 0;
        let mut end = start;
        while end < records.len() {
            // Each record's own header: length, attributes and deltas, at most 25 bytes.
            let next = records[end].body.len() + 25;
            if end > start && size + next > room {
                break;
            }
            size += next;
            end += 1;
        }
        let chunk = &records[start..end];
        let placeholder = ProducerStamp {
            producer_id: -1,
            epoch: -1,
            base_sequence: -1,
            transactional: false,
        };
        let bytes =
            record_batch::encode(chunk, codec, placeholder).map_err(|reason| CorruptBatch {
                offset: chunk[0].offset,
                reason,
            })?;
        out.push(Piece {
            batch: Batch { bytes },
            span: Span::of(chunk),
            reencoded: Some(why),
        });
        start = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::*;

    const LIMITS: Limits = Limits {
        max_batch_bytes: 1 << 20,
        codec: Codec::None,
        coalesce_below: 0,
    };

    fn rec(offset: i64, value: &[u8]) -> RawRecord {
        let mut body = BytesMut::new();
        body.put_u8(1); // null key
        body.put_u8((value.len() as u8) << 1);
        body.put_slice(value);
        body.put_u8(0); // no headers
        RawRecord {
            offset,
            timestamp: 1000 + offset,
            body: body.freeze(),
        }
    }

    /// A batch at `base` of records at the given offsets, with attributes `attrs` and producer
    /// `pid`.
    fn batch(base: i64, offsets: &[i64], attrs: i16, pid: i64) -> Bytes {
        let recs: Vec<RawRecord> = offsets.iter().map(|o| rec(*o, b"v")).collect();
        let stamp = ProducerStamp {
            producer_id: pid,
            epoch: 0,
            base_sequence: 0,
            transactional: false,
        };
        let bytes = record_batch::encode(&recs, Codec::None, stamp).unwrap();
        let mut b = BytesMut::from(&bytes[..]);
        b[0..8].copy_from_slice(&base.to_be_bytes());
        let last = offsets.last().unwrap() - base;
        b[23..27].copy_from_slice(&(last as i32).to_be_bytes());
        b[21..23].copy_from_slice(&attrs.to_be_bytes());
        // The offset deltas of the records follow from the encoder's 0, 1, …; gaps are given
        // through the range only, which is what `is_contiguous` reads.
        b.freeze()
    }

    fn control(base: i64, pid: i64, abort: bool) -> Bytes {
        let mut body = BytesMut::new();
        body.put_u8(8); // key of 4 bytes
        body.put_i16(0);
        body.put_i16(if abort { 0 } else { 1 });
        body.put_u8(1); // null value
        body.put_u8(0);
        let r = RawRecord {
            offset: base,
            timestamp: 0,
            body: body.freeze(),
        };
        let stamp = ProducerStamp {
            producer_id: pid,
            epoch: 0,
            base_sequence: -1,
            transactional: false,
        };
        let bytes = record_batch::encode(&[r], Codec::None, stamp).unwrap();
        let mut b = BytesMut::from(&bytes[..]);
        b[0..8].copy_from_slice(&base.to_be_bytes());
        b[21..23].copy_from_slice(&(0x10i16 | 0x20).to_be_bytes());
        b.freeze()
    }

    fn blob(parts: &[Bytes]) -> Bytes {
        let mut b = BytesMut::new();
        for p in parts {
            b.put_slice(p);
        }
        b.freeze()
    }

    /// Each piece's runs of source offsets, and how it was made.
    type Shape = (Vec<(i64, u32)>, Option<Reencode>);

    fn spans(s: &Selected) -> Vec<Shape> {
        s.pieces
            .iter()
            .map(|p| (p.span.runs.clone(), p.reencoded))
            .collect()
    }

    #[test]
    fn whole_batches_are_copied_as_they_are() {
        let data = blob(&[batch(0, &[0, 1, 2], 0, -1), batch(3, &[3, 4], 0, -1)]);
        let s = select(&data, 0, &[], &LIMITS).unwrap();
        assert_eq!(spans(&s), [(vec![(0, 3)], None), (vec![(3, 2)], None)]);
        assert_eq!(s.next_offset, Some(5));
        assert_eq!(
            s.pieces[0].batch.bytes,
            data.slice(0..s.pieces[0].batch.bytes.len())
        );
    }

    #[test]
    fn a_fetch_offset_inside_a_batch_crops_it() {
        let data = blob(&[batch(0, &[0, 1, 2, 3], 0, -1), batch(4, &[4], 0, -1)]);
        let s = select(&data, 2, &[], &LIMITS).unwrap();
        assert_eq!(
            spans(&s),
            [
                (vec![(2, 2)], Some(Reencode::Cropped)),
                (vec![(4, 1)], None)
            ]
        );
        let offsets: Vec<i64> = record_batch::records(&s.pieces[0].batch)
            .unwrap()
            .iter()
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, [0, 1], "re-encoded with contiguous offsets from 0");
    }

    #[test]
    fn compacted_batches_are_re_encoded_with_their_gaps_in_the_span() {
        let recs = vec![rec(10, b"a"), rec(12, b"b"), rec(13, b"c")];
        let stamp = ProducerStamp {
            producer_id: -1,
            epoch: -1,
            base_sequence: -1,
            transactional: false,
        };
        let mut pieces = Vec::new();
        reencode(
            &recs,
            Reencode::Compacted,
            &LIMITS,
            Codec::None,
            &mut pieces,
        )
        .unwrap();
        assert_eq!(pieces[0].span.runs, [(10, 1), (12, 2)]);
        assert_eq!(pieces[0].span.last(), 13);
        assert_eq!(pieces[0].span.records(), 3);
        assert!(pieces[0].batch.is_contiguous());
        let _ = stamp;
        // Read from a log: a batch whose range is wider than its count.
        let gapped = Batch {
            bytes: batch(10, &[10, 11, 13], 0, -1),
        };
        assert!(!gapped.is_contiguous());
    }

    #[test]
    fn aborted_transactions_and_markers_are_dropped_committed_ones_kept() {
        let data = blob(&[
            batch(0, &[0, 1], 0x10, 7), // aborted below
            batch(2, &[2], 0x10, 8),    // committed
            control(3, 7, true),        // abort marker of 7
            control(4, 8, false),       // commit marker of 8
            batch(5, &[5], 0x10, 7),    // a later transaction of 7: not aborted
            batch(6, &[6], 0, -1),
        ]);
        let aborted = [AbortedTxn {
            producer_id: 7,
            first_offset: 0,
        }];
        let s = select(&data, 0, &aborted, &LIMITS).unwrap();
        assert_eq!(
            spans(&s),
            [
                (vec![(2, 1)], None),
                (vec![(5, 1)], None),
                (vec![(6, 1)], None)
            ]
        );
        assert_eq!(s.aborted_records, 2);
        assert_eq!(s.next_offset, Some(7));
    }

    #[test]
    fn a_fetch_that_ends_in_markers_moves_past_them() {
        let data = blob(&[control(9, 3, false)]);
        let s = select(&data, 9, &[], &LIMITS).unwrap();
        assert!(s.pieces.is_empty());
        assert_eq!(s.next_offset, Some(10));
    }

    #[test]
    fn small_batches_in_a_row_are_coalesced_and_large_ones_left_alone() {
        let big: Vec<i64> = (5..45).collect();
        let data = blob(&[
            batch(0, &[0, 1], 0, -1),
            batch(2, &[2], 0, -1),
            control(3, 7, false),
            batch(4, &[4], 0, -1),
            batch(5, &big, 0, -1),
            batch(45, &[45], 0, -1),
        ]);
        let limits = Limits {
            coalesce_below: 200,
            ..LIMITS
        };
        let s = select(&data, 0, &[], &limits).unwrap();
        assert_eq!(
            spans(&s),
            [
                (vec![(0, 3), (4, 1)], Some(Reencode::Coalesced)),
                (vec![(5, 40)], None),
                (vec![(45, 1)], None),
            ]
        );
        let offsets: Vec<i64> = record_batch::records(&s.pieces[0].batch)
            .unwrap()
            .iter()
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, [0, 1, 2, 3]);
    }

    #[test]
    fn batches_over_the_target_limit_are_split() {
        let big: Vec<Bytes> = vec![batch(0, &(0..40).collect::<Vec<_>>(), 0, -1)];
        let limits = Limits {
            max_batch_bytes: 61 + 10 * 30,
            codec: Codec::None,
            coalesce_below: 0,
        };
        let s = select(&blob(&big), 0, &[], &limits).unwrap();
        assert!(s.pieces.len() >= 4, "{}", s.pieces.len());
        assert!(s
            .pieces
            .iter()
            .all(|p| p.reencoded == Some(Reencode::TooLarge)));
        assert!(s
            .pieces
            .iter()
            .all(|p| p.batch.bytes.len() <= limits.max_batch_bytes));
        let total: u32 = s.pieces.iter().map(|p| p.span.records()).sum();
        assert_eq!(total, 40);
    }
}
