//! Transactions of exactly-once source tasks (KIP-618), for MirrorSource and Connect's plain
//! source tasks alike: fencing earlier incarnations at start, where a transaction ends
//! (`transaction.boundary`), and commit, or abort on any failure so that the task starts again
//! from the last committed offsets.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::producer::Producer as _;
use tracing::{info, warn};

use super::context::DeliveryHooks;
use super::producer::Producer;
use crate::config::TransactionBoundary;

/// A transaction whose records stop being acknowledged for this long, or whose commit takes
/// twice as long, is aborted and the task starts again (a new producer fences the stuck one).
/// A broker can hold a transaction back behind another one that never ends: tansu 0.6 does
/// while a transaction of a killed producer overlaps it in a partition.
pub const TRANSACTION_STALL: Duration = Duration::from_secs(15);
/// One attempt to fence earlier producers; attempts repeat while the cluster is unreachable.
const INIT_ATTEMPT: Duration = Duration::from_secs(10);
/// How long an abort after a failure may take; the task fails either way, and its next
/// producer fences whatever this one left open.
pub const ABORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TransactionError {
    #[error("transaction of {id}: {source}")]
    Kafka {
        id: String,
        #[source]
        source: KafkaError,
    },
    #[error("the target acknowledged none of the transaction's records for {0:?}")]
    Stalled(Duration),
}

impl TransactionError {
    fn kafka(id: &str, source: KafkaError) -> Self {
        TransactionError::Kafka {
            id: id.to_string(),
            source,
        }
    }

    /// The task was stopped while it waited.
    pub fn canceled(id: &str) -> Self {
        Self::kafka(id, KafkaError::Canceled)
    }
}

/// How long a commit may take: `timeout` per attempt, and retriable failures are retried until
/// `retry_for` has passed (zero: never).
#[derive(Debug, Clone, Copy)]
pub struct CommitPolicy {
    pub timeout: Duration,
    pub retry_for: Duration,
}

impl<H: DeliveryHooks> Producer<H> {
    /// Fences earlier producers of transactional id `id`; waits while the cluster is
    /// unreachable. False if stopped first.
    pub fn init_transactions(&self, id: &str, stop: &AtomicBool) -> Result<bool, TransactionError> {
        while !stop.load(Ordering::Relaxed) {
            match self.inner.init_transactions(INIT_ATTEMPT) {
                Ok(()) => {
                    info!(client = %self.name(), transactional_id = %id, "fenced earlier producers of this task");
                    return Ok(true);
                }
                Err(KafkaError::Transaction(e)) if e.is_retriable() => {
                    warn!(client = %self.name(), "initializing transactions of {id}: {e} (retrying)");
                }
                Err(e) => return Err(TransactionError::kafka(id, e)),
            }
        }
        Ok(false)
    }

    /// Commits the open transaction, retrying as `policy` says (unless stopped).
    pub fn commit_transaction(
        &self,
        id: &str,
        policy: CommitPolicy,
        stop: &AtomicBool,
    ) -> Result<(), TransactionError> {
        let committing = Instant::now();
        loop {
            match self.inner.commit_transaction(policy.timeout) {
                Ok(()) => return Ok(()),
                Err(KafkaError::Transaction(e)) if e.is_retriable() && !e.txn_requires_abort() => {
                    if stop.load(Ordering::Relaxed) || committing.elapsed() >= policy.retry_for {
                        return Err(TransactionError::kafka(id, KafkaError::Transaction(e)));
                    }
                    warn!(client = %self.name(), "committing the transaction of {id}: {e} (retrying)");
                }
                Err(e) => return Err(TransactionError::kafka(id, e)),
            }
        }
    }

    /// Aborts the open transaction; a failure is left to the next producer's fencing.
    pub fn abort_transaction(&self, timeout: Duration) {
        let _ = self.inner.abort_transaction(timeout);
    }
}

/// Whether a transaction open since `began` (none: `None`) ends now under `boundary`, its
/// interval defaulting to the worker's `offset.flush.interval.ms`. Both data paths use it.
pub fn boundary_due(
    boundary: TransactionBoundary,
    began: Option<Instant>,
    now: Instant,
    flush_interval: Duration,
) -> bool {
    let Some(began) = began else {
        return false;
    };
    match boundary {
        TransactionBoundary::Poll => true,
        TransactionBoundary::Interval(every) => {
            now.duration_since(began) >= every.unwrap_or(flush_interval)
        }
    }
}

/// The transaction state of an exactly-once task: its id, where a transaction ends, and
/// whether one is open.
#[derive(Debug, Clone)]
pub struct Transaction {
    id: String,
    boundary: TransactionBoundary,
    /// When the open transaction began; `None` while none is open.
    began: Option<Instant>,
}

impl Transaction {
    pub fn new(id: String, boundary: TransactionBoundary) -> Self {
        Transaction {
            id,
            boundary,
            began: None,
        }
    }

    /// The transactional id.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn is_open(&self) -> bool {
        self.began.is_some()
    }

    /// Begins a transaction unless one is open.
    pub fn begin<H: DeliveryHooks>(
        &mut self,
        producer: &Producer<H>,
    ) -> Result<(), TransactionError> {
        if self.began.is_none() {
            producer
                .inner
                .begin_transaction()
                .map_err(|e| TransactionError::kafka(&self.id, e))?;
            self.began = Some(Instant::now());
        }
        Ok(())
    }

    /// Whether the open transaction should be committed now (`interval` defaults to the
    /// worker's `offset.flush.interval.ms`). False while none is open.
    pub fn due(&self, now: Instant, flush_interval: Duration) -> bool {
        boundary_due(self.boundary, self.began, now, flush_interval)
    }

    /// Closes the open transaction with the outcome of committing it: a failure aborts it (and
    /// is logged unless the task was stopped, which is then the cause).
    pub fn settle<H: DeliveryHooks, T, E: Display>(
        &mut self,
        producer: &Producer<H>,
        stop: &AtomicBool,
        result: Result<T, E>,
    ) -> Result<T, E> {
        self.began = None;
        if let Err(e) = &result {
            if !stop.load(Ordering::Relaxed) {
                warn!(transactional_id = %self.id, "aborting the transaction: {e}");
            }
            producer.abort_transaction(ABORT_TIMEOUT);
        }
        result
    }

    /// Aborts the open transaction, if any, when the task stops: its records are read again
    /// by the next owner.
    pub fn abort_open<H: DeliveryHooks>(&mut self, producer: &Producer<H>, timeout: Duration) {
        if self.began.take().is_some() {
            producer.abort_transaction(timeout);
        }
    }
}

/// Tells a transaction that waits for its records' acknowledgements from one that is stuck:
/// it fails when the number outstanding has not gone down for [`TRANSACTION_STALL`].
#[derive(Debug)]
pub struct StallWatch {
    outstanding: usize,
    progress: Instant,
    limit: Duration,
}

impl StallWatch {
    pub fn new(outstanding: usize) -> Self {
        Self::with_limit(outstanding, TRANSACTION_STALL)
    }

    fn with_limit(outstanding: usize, limit: Duration) -> Self {
        StallWatch {
            outstanding,
            progress: Instant::now(),
            limit,
        }
    }

    /// Records how many are outstanding now.
    pub fn observe(&mut self, outstanding: usize) -> Result<(), TransactionError> {
        if outstanding < self.outstanding {
            (self.outstanding, self.progress) = (outstanding, Instant::now());
        } else if self.progress.elapsed() > self.limit {
            return Err(TransactionError::Stalled(self.limit));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_boundary_is_due_once_open_interval_after_it() {
        let start = Instant::now();
        let mut t = Transaction::new("g-c-0".into(), TransactionBoundary::Poll);
        assert!(!t.due(start, Duration::ZERO), "nothing open");
        t.began = Some(start);
        assert!(t.due(start, Duration::from_secs(60)));
        let every = Duration::from_secs(5);
        let t = Transaction {
            boundary: TransactionBoundary::Interval(Some(every)),
            ..t
        };
        assert!(!t.due(start + Duration::from_secs(4), Duration::ZERO));
        assert!(t.due(start + every, Duration::ZERO));
        let t = Transaction {
            boundary: TransactionBoundary::Interval(None),
            ..t
        };
        assert!(
            !t.due(start + every, Duration::from_secs(6)),
            "the flush interval"
        );
        assert!(t.due(start + every, Duration::from_secs(5)));
    }

    #[test]
    fn a_watch_fails_only_without_progress() {
        let mut w = StallWatch::with_limit(3, Duration::ZERO);
        assert!(w.observe(2).is_ok(), "progress");
        std::thread::sleep(Duration::from_millis(2));
        assert!(matches!(w.observe(2), Err(TransactionError::Stalled(_))));
        let mut w = StallWatch::with_limit(3, Duration::from_secs(60));
        assert!(w.observe(3).is_ok(), "not yet stuck");
    }
}
