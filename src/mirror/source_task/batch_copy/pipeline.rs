//! One target partition's side of the idempotent producer, without I/O: batches get their
//! sequence numbers in source order as they are queued, at most [`MAX_IN_FLIGHT`] are sent at a
//! time, and acknowledgements are taken in send order. A retriable failure sends every batch
//! not yet acknowledged again, in order and with the same sequences: the broker writes each
//! once (it answers a duplicate of its last five with the offset it already gave), so the target
//! keeps the source's order without gaps or duplicates. Answers to requests sent before such a
//! failure are ignored: a generation tells them apart.
//!
//! Until the partition has acknowledged one batch of this producer, only one is in flight: a
//! broker takes any sequence as the first of a producer it does not know, so a later batch
//! landing while the first one is refused (a leader not ready yet, as on a topic just created)
//! would leave a gap that no resend can fill.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::kafka::record_batch::ProducerStamp;

use super::select::{Piece, Span};

/// Kafka's limit for an idempotent producer: the broker remembers the last five batches.
pub const MAX_IN_FLIGHT: usize = 5;
/// How long a partition waits before sending again after a retriable failure.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// Who produces: the producer id and epoch, and whether in transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Producing {
    pub id: i64,
    pub epoch: i16,
    pub transactional: bool,
}

/// A batch stamped for the target.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub bytes: Bytes,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct Pipeline {
    queue: VecDeque<Stamped>,
    in_flight: VecDeque<Stamped>,
    next_sequence: i32,
    generation: u32,
    retry_at: Option<Instant>,
    /// Retriable failures since the last acknowledgement.
    pub failures: u32,
    /// The broker acknowledged a batch of this producer: it knows its sequence.
    known: bool,
}

impl Pipeline {
    /// Queues `piece` after the others, stamped for `producer`.
    pub fn push(&mut self, piece: &Piece, producer: Producing) {
        let records = piece.span.records();
        let stamp = ProducerStamp {
            producer_id: producer.id,
            epoch: producer.epoch,
            base_sequence: self.next_sequence,
            transactional: producer.transactional,
        };
        // Sequences wrap to 0 after i32::MAX, as Kafka's do.
        self.next_sequence = ((i64::from(self.next_sequence) + i64::from(records))
            % (i64::from(i32::MAX) + 1)) as i32;
        self.queue.push_back(Stamped {
            bytes: piece.stamped(stamp),
            span: piece.span.clone(),
        });
    }

    /// The next batch to send now, if any may go, with the generation its answer must carry.
    pub fn take_next(&mut self, now: Instant) -> Option<(Bytes, u32)> {
        let limit = if self.known { MAX_IN_FLIGHT } else { 1 };
        if self.in_flight.len() >= limit || self.retry_at.is_some_and(|t| now < t) {
            return None;
        }
        let b = self.queue.pop_front()?;
        let bytes = b.bytes.clone();
        self.in_flight.push_back(b);
        Some((bytes, self.generation))
    }

    /// The oldest batch in flight was written; `None` when the answer is stale.
    pub fn acknowledged(&mut self, generation: u32) -> Option<Stamped> {
        if generation != self.generation {
            return None;
        }
        self.failures = 0;
        self.known = true;
        self.in_flight.pop_front()
    }

    /// The oldest batch in flight failed and may be sent again: everything in flight goes back
    /// to the head of the queue. False when the answer is stale.
    pub fn failed(&mut self, generation: u32, now: Instant) -> bool {
        if generation != self.generation {
            return false;
        }
        self.generation = self.generation.wrapping_add(1);
        self.failures += 1;
        while let Some(b) = self.in_flight.pop_back() {
            self.queue.push_front(b);
        }
        self.retry_at = Some(now + RETRY_BACKOFF);
        true
    }

    /// The oldest batch in flight or queued (the one a failure is about).
    pub fn oldest(&self) -> Option<&Stamped> {
        self.in_flight.front().or(self.queue.front())
    }

    /// Bytes queued and in flight.
    pub fn bytes(&self) -> usize {
        self.queue
            .iter()
            .chain(&self.in_flight)
            .map(|b| b.bytes.len())
            .sum()
    }

    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    pub fn has_ready(&self) -> bool {
        let limit = if self.known { MAX_IN_FLIGHT } else { 1 };
        !self.queue.is_empty() && self.in_flight.len() < limit
    }
}

#[cfg(test)]
mod tests {
    use bytes::Buf;

    use super::*;
    use crate::kafka::record_batch::{self, Batch, Codec, RawRecord};

    fn piece(first: i64, n: u32) -> Piece {
        let recs: Vec<RawRecord> = (0..n)
            .map(|k| RawRecord {
                offset: first + i64::from(k),
                timestamp: 1,
                body: Bytes::from_static(&[1, 1, 0]),
            })
            .collect();
        let stamp = ProducerStamp {
            producer_id: -1,
            epoch: -1,
            base_sequence: -1,
            transactional: false,
        };
        Piece {
            batch: Batch {
                bytes: record_batch::encode(&recs, Codec::None, stamp).unwrap(),
            },
            span: Span {
                runs: vec![(first, n)],
                timestamp: Some(1),
            },
            reencoded: None,
        }
    }

    const WHO: Producing = Producing {
        id: 9,
        epoch: 1,
        transactional: false,
    };

    fn sequence(bytes: &Bytes) -> i32 {
        (&bytes[53..57]).get_i32()
    }

    #[test]
    fn sequences_follow_the_records_and_at_most_five_are_in_flight() {
        let mut p = Pipeline::default();
        let now = Instant::now();
        for k in 0..7 {
            p.push(&piece(k * 3, 3), WHO);
        }
        let first: Vec<(Bytes, u32)> = std::iter::from_fn(|| p.take_next(now)).collect();
        assert_eq!(
            first.len(),
            1,
            "one at a time until the broker knows the producer"
        );
        assert_eq!(p.acknowledged(0).unwrap().span.first(), 0);
        let sent: Vec<(Bytes, u32)> = std::iter::from_fn(|| p.take_next(now)).collect();
        assert_eq!(sent.len(), MAX_IN_FLIGHT);
        let seqs: Vec<i32> = sent.iter().map(|(b, _)| sequence(b)).collect();
        assert_eq!(seqs, [3, 6, 9, 12, 15]);
        assert_eq!(p.acknowledged(0).unwrap().span.first(), 3);
        assert!(p.take_next(now).is_some());
        assert!(p.take_next(now).is_none());
    }

    #[test]
    fn a_failure_resends_everything_unacknowledged_in_order_and_ignores_stale_answers() {
        // A producer the broker knows (one batch acknowledged): five may be in flight.
        let mut p = Pipeline {
            known: true,
            ..Pipeline::default()
        };
        let now = Instant::now();
        for k in 0..3 {
            p.push(&piece(k * 2, 2), WHO);
        }
        while p.take_next(now).is_some() {}
        assert!(p.failed(0, now));
        // The later batches' answers to the old sends are stale.
        assert!(!p.failed(0, now));
        assert!(p.acknowledged(0).is_none());
        assert!(p.take_next(now).is_none(), "backs off first");
        let later = now + Duration::from_secs(1);
        let again: Vec<i32> = std::iter::from_fn(|| p.take_next(later))
            .map(|(b, g)| {
                assert_eq!(g, 1);
                sequence(&b)
            })
            .collect();
        assert_eq!(again, [0, 2, 4]);
        assert_eq!(p.acknowledged(1).unwrap().span.first(), 0);
        assert_eq!(p.failures, 0);
    }

    #[test]
    fn sequences_wrap_after_the_largest_int() {
        let mut p = Pipeline {
            next_sequence: i32::MAX - 1,
            known: true,
            ..Pipeline::default()
        };
        p.push(&piece(0, 3), WHO);
        p.push(&piece(3, 1), WHO);
        let now = Instant::now();
        assert_eq!(sequence(&p.take_next(now).unwrap().0), i32::MAX - 1);
        assert_eq!(sequence(&p.take_next(now).unwrap().0), 1);
    }
}
