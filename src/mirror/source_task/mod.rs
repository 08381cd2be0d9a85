//! MirrorSourceTask, the hot path: read the assigned source partitions with `assign()`, produce
//! every record to the same partition of the remote topic (key, value, headers and timestamp
//! unchanged), and on each acknowledgement advance the partition's source offset, emit offset
//! syncs and record metrics.
//!
//! One thread per task does everything: it polls the consumer, sends with a non-blocking
//! producer, and serves the producers' delivery reports by polling them, so the per-partition
//! state needs no locks. Memory is bounded by the consumer's prefetch and the producer's queue:
//! when the queue is full the thread waits for acknowledgements instead of polling more.
//!
//! Delivery: at least once. Stored offsets only cover acknowledged records, so a crash replays
//! what was in flight or acknowledged since the last offset flush, never skips.
//!
//! Exactly once (`exactly.once.source.support=enabled` on the target's worker, KIP-618): the
//! producer is transactional with the task's own id, `<group.id>-MirrorSourceConnector-<task>`,
//! so a task that starts fences every earlier incarnation of itself, wherever it runs. Each
//! transaction holds the records of one poll (`transaction.boundary=poll`) or of an interval
//! (`interval`), their source offsets, and the offset syncs when they live on the target. The
//! task reads its stored offsets only after fencing, with read_committed, so it resumes exactly
//! after the last committed transaction.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use crate::config::{ExactlyOnceSource, Flow};
use crate::connect::offsets::{
    mirror_entry, MirrorPartition, OffsetStore, ProduceOffsetsError, ProducedOffsets,
};
use crate::kafka::client::repeated;
use crate::kafka::consumer::{AssignedConsumer, Polled, StartAt};
use crate::kafka::context::Acks;
use crate::kafka::producer::{Outgoing, Producer, Sent, WhenFull};
use crate::kafka::transaction::{
    CommitPolicy, StallWatch, Transaction, TransactionError, TRANSACTION_STALL,
};
use crate::kafka::{KafkaError, TopicPartition};
use crate::metrics::clients::{ConsumerMetrics, RecordsLag};
use crate::metrics::{Outstanding, SourceMetrics, TaskMetricsFamily};
use crate::policy::ReplicationPolicy;

use self::clients::Syncs;
use self::continuity::{classify, describe, start_after, UnusableOffset};
use self::partition_ledger::{PartitionLedger, UnmatchedReport};
use self::progress::Progress;
use self::refusal::Refused;
use super::scheduler::now_ms;

mod batch_copy;
mod buffers;
mod clients;
mod continuity;
mod partition_ledger;
mod progress;
mod refusal;

/// The connector name under which connect-mirror-maker stores offsets, as Java's does.
pub const CONNECTOR: &str = "MirrorSourceConnector";
/// Delivery-report tag of source-offset writes (not a partition position).
const OFFSETS_TAG: usize = usize::MAX;
/// Delivery-report tag of offset syncs written in a transaction.
const SYNCS_TAG: usize = usize::MAX - 1;
/// How many records are moved between checks of acknowledgements and timers.
const BATCH: usize = 1024;
/// The longest a poll of the source waits, so acknowledgements and timers are served often
/// even with a longer `consumer.poll.timeout.ms`.
const POLL_CAP: Duration = Duration::from_millis(50);
/// How long the task waits after a read error before it reads again (the error lasts).
const READ_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// How long a send waits for acknowledgements at a time while the producer queue is full.
const FULL_POLL: Duration = Duration::from_millis(10);
/// How long a flush waits at a time while a transaction waits for its records.
const COMMIT_FLUSH: Duration = Duration::from_secs(1);
/// How often the partition metrics are published.
const METRICS_EVERY: Duration = Duration::from_secs(1);
/// How often the metrics of idle partitions are looked at all the same: while the task is held
/// up, records may come to them unread.
const IDLE_METRICS_EVERY: Duration = Duration::from_secs(30);
/// How long the leaders have to say where a task's new partitions begin.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// The least time a stopping task gives its records to be acknowledged (and an abort).
const SHUTDOWN_MIN: Duration = Duration::from_secs(5);
/// A commit waits [`TRANSACTION_STALL`] per attempt, and retries for twice as long.
const COMMIT: CommitPolicy = CommitPolicy {
    timeout: TRANSACTION_STALL,
    retry_for: Duration::from_secs(2 * TRANSACTION_STALL.as_secs()),
};

/// Why a task stopped with an error; the herder restarts it from its stored offsets.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("client settings: {0}")]
    Config(String),
    #[error("creating the {role}: {source}")]
    Client {
        role: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("assigning source partitions: {0}")]
    Assign(#[source] KafkaError),
    #[error("reading the stored source offsets: {0}")]
    Offsets(#[source] crate::connect::error::Error),
    #[error(transparent)]
    WriteOffsets(#[from] ProduceOffsetsError),
    #[error(transparent)]
    Transaction(#[from] TransactionError),
    #[error(transparent)]
    Delivery(Box<DeliveryFailure>),
    #[error("data loss: {0}; stopping, as fail.on.data.loss = true (to go on, set it to false or reset the connector's offsets)")]
    DataLoss(String),
    #[error(transparent)]
    Unmatched(#[from] UnmatchedReport),
    /// The batch path could not talk to a cluster.
    #[error("batch path: {0}")]
    Wire(crate::kafka::wire::WireError),
    #[error(transparent)]
    BatchRefused(Box<BatchRefusal>),
    #[error("reading {partition}: {source}")]
    Corrupt {
        partition: TopicPartition,
        #[source]
        source: crate::kafka::record_batch::CorruptBatch,
    },
}

/// A record the target did not get.
#[derive(Debug, thiserror::Error)]
#[error("the target rejected a record of {partition} at source offset {offset}: {source}{remedy}")]
pub struct DeliveryFailure {
    pub partition: TopicPartition,
    pub offset: i64,
    #[source]
    pub source: KafkaError,
    /// What raises the limit that refused it, when one did (starts with "; ").
    pub remedy: String,
}

/// A batch the target did not take (the batch path).
#[derive(Debug, thiserror::Error)]
#[error("the target refused a batch of {partition} from source offset {offset}: {source}{remedy}")]
pub struct BatchRefusal {
    pub partition: TopicPartition,
    pub offset: i64,
    #[source]
    pub source: crate::kafka::wire::WireError,
    /// What raises the limit that refused it, when one did (starts with "; ").
    pub remedy: String,
}

/// What a task replicates.
#[derive(Debug, Clone)]
pub struct SourceTaskSpec {
    pub flow: Arc<Flow>,
    /// The connector's name: the first element of its offset keys and part of its
    /// transactional ids ([`CONNECTOR`] in connect-mirror-maker).
    pub connector: Arc<str>,
    /// The connector's name in the REST API, which the task metrics carry.
    pub label: Arc<str>,
    pub task: usize,
    /// Source topic-partitions, in assignment order.
    pub partitions: Vec<TopicPartition>,
}

/// What a task shares with its herder.
#[derive(Clone)]
pub struct TaskDeps {
    pub offsets: Arc<OffsetStore>,
    pub metrics: SourceMetrics,
    pub task_metrics: TaskMetricsFamily,
    pub stop: Arc<AtomicBool>,
}

/// The transactional id of a task: Connect's `<group.id>-<connector>-<task>`, so that Java and
/// this worker fence each other when they take turns.
pub fn transactional_id(flow: &Flow, connector: &str, task: usize) -> String {
    crate::connect::worker_env::transactional_id(&flow.worker_settings.group_id, connector, task)
}

/// Whether the flow's source tasks write in transactions.
pub fn exactly_once(flow: &Flow) -> bool {
    flow.worker_settings.exactly_once_source == ExactlyOnceSource::Enabled
}

/// Runs a task until `deps.stop` is set or it fails. Blocking: call it on its own thread.
pub fn run(spec: SourceTaskSpec, deps: TaskDeps) -> Result<(), TaskError> {
    if batch_copy::enabled(&spec.flow) {
        return batch_copy::run(spec, deps);
    }
    let flow = spec.flow.clone();
    let prefix = format!("{}|{}-{}", flow.name(), spec.connector, spec.task);
    let (consumer, consumer_metrics) = clients::consumer(&flow, &prefix, spec.partitions.len())?;
    let mut task = Task::new(spec, deps, &prefix, consumer_metrics)?;
    if let Some(t) = &task.txn {
        if !task.producer.init_transactions(t.id(), &task.deps.stop)? {
            return Ok(()); // stopped while the target was unreachable
        }
    }
    // After fencing: what this task's earlier incarnations committed is all there is to read.
    task.deps.offsets.refresh().map_err(TaskError::Offsets)?;
    task.load_offsets();
    task.assign(&consumer)?;
    info!(flow = %flow.name(), task = task.spec.task, partitions = task.progress.ledger.len(), "source task started");
    let result = task.replicate(&consumer);
    task.shutdown();
    info!(flow = %flow.name(), task = task.spec.task, "source task stopped");
    result
}

/// The task's state besides the consumer (kept apart so a borrowed record can be sent).
struct Task {
    spec: SourceTaskSpec,
    deps: TaskDeps,
    producer: Producer<Acks>,
    txn: Option<Transaction>,
    progress: Progress,
    consumer_metrics: ConsumerMetrics,
    /// By partition position, as in the ledger.
    records_lag: Vec<RecordsLag>,
    /// When the metrics of idle partitions were last looked at.
    idle_published: Instant,
}

impl Task {
    fn new(
        spec: SourceTaskSpec,
        deps: TaskDeps,
        prefix: &str,
        consumer_metrics: ConsumerMetrics,
    ) -> Result<Self, TaskError> {
        let flow = spec.flow.clone();
        let txn = exactly_once(&flow).then(|| {
            Transaction::new(
                transactional_id(&flow, &spec.connector, spec.task),
                flow.settings.transaction_boundary,
            )
        });
        let (producer, producer_metrics) =
            clients::replication_producer(&flow, txn.as_ref().map(Transaction::id), prefix)?;
        let syncs = clients::syncs(&flow, txn.is_some(), prefix)?;
        let policy = ReplicationPolicy::new(&flow.settings.policy);
        let mut partitions = Vec::new();
        let mut metrics = Vec::new();
        let mut records_lag = Vec::new();
        for tp in &spec.partitions {
            records_lag.push(consumer_metrics.partition(&tp.topic, tp.partition));
            let remote_topic: Arc<str> = policy.format_remote_topic(&flow.source, &tp.topic).into();
            metrics.push(deps.metrics.partition(
                &flow.source,
                &flow.target,
                &remote_topic,
                tp.partition,
            ));
            let source = MirrorPartition {
                cluster: flow.source.clone(),
                partition: tp.partition,
                topic: tp.topic.clone(),
            };
            partitions.push((source, remote_topic));
        }
        let lag_max = (!matches!(syncs, Syncs::Off)).then_some(flow.settings.offset_lag_max);
        let progress = Progress {
            flow: flow.name().to_string(),
            target: flow.target.clone(),
            ledger: PartitionLedger::new(partitions, lag_max),
            metrics,
            task_metrics: deps.task_metrics.task(&spec.label, spec.task),
            producer_metrics,
            syncs,
            acks: Vec::with_capacity(BATCH),
            failure: None,
            syncs_stalled: false,
        };
        Ok(Task {
            spec,
            deps,
            producer,
            txn,
            progress,
            consumer_metrics,
            records_lag,
            idle_published: Instant::now(),
        })
    }

    /// Takes each partition's stored offset as its starting point; one that cannot be used
    /// counts as none (Java's rule), for that partition alone.
    fn load_offsets(&mut self) {
        let ledger = &mut self.progress.ledger;
        for i in 0..ledger.len() {
            let stored = self
                .deps
                .offsets
                .get(&self.spec.connector, ledger.source(i));
            let start = start_after(stored).unwrap_or_else(|UnusableOffset(o)| {
                let tp = ledger.topic_partition(i);
                warn!(flow = %self.spec.flow.name(), topic = %tp.topic, partition = tp.partition,
                    "the stored source offset {o} of {tp} cannot be used; starting where auto.offset.reset says, as for a partition with no stored offset");
                None
            });
            ledger.resume_after(i, start);
        }
    }

    /// Starts each partition after its stored offset, else where `auto.offset.reset` says.
    fn assign(&self, consumer: &AssignedConsumer) -> Result<(), TaskError> {
        let reset_latest = self
            .spec
            .flow
            .replication_consumer_props()
            .get("auto.offset.reset")
            .is_some_and(|s| s.value.eq_ignore_ascii_case("latest"));
        let ledger = &self.progress.ledger;
        let mut starts: Vec<(TopicPartition, StartAt)> = (0..ledger.len())
            .map(|i| {
                let start = match ledger.stored(i) {
                    Some(o) => StartAt::Offset(o + 1),
                    None if reset_latest => StartAt::End,
                    None => StartAt::Beginning,
                };
                (ledger.topic_partition(i), start)
            })
            .collect();
        self.find_beginnings(consumer, &mut starts);
        consumer.assign(&starts).map_err(TaskError::Assign)
    }

    /// Turns the partitions that start at their beginning into offsets, asked of the leaders in
    /// one request per broker, rather than one per partition as librdkafka would. Those it
    /// cannot find stay at their beginning (librdkafka looks them up); an offset deleted
    /// meanwhile is out of range, and `auto.offset.reset` (earliest) applies as before.
    fn find_beginnings(
        &self,
        consumer: &AssignedConsumer,
        starts: &mut [(TopicPartition, StartAt)],
    ) {
        let wanted: Vec<TopicPartition> = starts
            .iter()
            .filter(|(_, s)| *s == StartAt::Beginning)
            .map(|(tp, _)| tp.clone())
            .collect();
        if wanted.len() < 2 {
            return;
        }
        let found = match consumer.log_starts(&wanted, LOOKUP_TIMEOUT) {
            Ok(found) => found.into_iter().collect::<HashMap<_, _>>(),
            Err(e) => {
                debug!(flow = %self.spec.flow.name(), "looking up where {} partitions begin: {e}; librdkafka looks them up one by one", wanted.len());
                return;
            }
        };
        for (tp, start) in starts.iter_mut() {
            if let (StartAt::Beginning, Some(o)) = (&start, found.get(tp)) {
                *start = StartAt::Offset(*o);
            }
        }
    }

    fn replicate(&mut self, consumer: &AssignedConsumer) -> Result<(), TaskError> {
        let flush_every = self.spec.flow.worker_settings.offset_flush_interval;
        let poll_timeout = self.spec.flow.settings.consumer_poll_timeout.min(POLL_CAP);
        let (mut last_flush, mut last_publish) = (Instant::now(), Instant::now());
        while !self.deps.stop.load(Ordering::Relaxed) {
            self.copy_batch(consumer, poll_timeout);
            self.serve_acks();
            if let Some(e) = self.progress.failure.take() {
                return Err(e);
            }
            let now = Instant::now();
            match &self.txn {
                Some(t) if t.due(now, flush_every) => match self.commit_transaction() {
                    // Stopped mid-commit: the aborted records are the next owner's.
                    Err(_) if self.deps.stop.load(Ordering::Relaxed) => return Ok(()),
                    result => {
                        result?;
                        self.progress.task_metrics.committed(now.elapsed(), now);
                    }
                },
                Some(_) => {}
                None if now.duration_since(last_flush) >= flush_every => {
                    self.commit();
                    self.progress.task_metrics.committed(now.elapsed(), now);
                    last_flush = now;
                }
                None => {}
            }
            if now.duration_since(last_publish) >= METRICS_EVERY {
                self.publish_metrics(consumer, now);
                last_publish = now;
            }
        }
        Ok(())
    }

    /// Copies up to [`BATCH`] records: waits `timeout` for the first, then takes what is there.
    fn copy_batch(&mut self, consumer: &AssignedConsumer, timeout: Duration) {
        let mut timeout = timeout;
        // One clock reading per batch, taken after the first record: reading the clock per
        // record was the largest single cost at 100-byte records (14% of the process's CPU).
        let mut clock = None;
        for _ in 0..BATCH {
            match consumer.poll(timeout) {
                Some(Ok(m)) => {
                    let clock = *clock.get_or_insert_with(|| (Instant::now(), now_ms()));
                    if let Some(i) = self.admit(consumer, &m) {
                        self.send(i, &m, clock);
                    }
                    // Fail fast: nothing more is read once a record is lost to the target.
                    if self.progress.failure.is_some() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    // The same error repeats while the source is down: once a minute.
                    let name = self.spec.flow.name();
                    if !repeated(&name, &e.to_string()) {
                        warn!(flow = %name, "reading the source: {e} (retrying)");
                    }
                    // Nothing to read while the error lasts: do not spin.
                    std::thread::sleep(READ_ERROR_PAUSE);
                    return;
                }
                None => return,
            }
            timeout = Duration::ZERO;
        }
    }

    /// The position of the record's partition when the record is to be sent: the partition is
    /// this task's, no earlier record of it failed (so the target keeps the source's order),
    /// and no data loss stops it.
    fn admit(&mut self, consumer: &AssignedConsumer, m: &Polled<'_>) -> Option<usize> {
        // Not assigned to this task: a stale fetch after reassignment.
        let i = self.progress.ledger.position(m.topic(), m.partition())?;
        if self.progress.ledger.is_failed(i) {
            return None; // read again once the task starts over from the stored offsets
        }
        let (expected, found) = (self.progress.ledger.expected(i), m.offset());
        if expected.is_none_or(|e| e == found) {
            return Some(i); // the hot path: no lookup
        }
        let tp = self.progress.ledger.topic_partition(i);
        let log_start = expected
            .is_some_and(|e| found > e)
            .then(|| consumer.cached_watermarks(&tp))
            .flatten()
            .map(|(low, _)| low)
            .filter(|low| *low >= 0);
        let continuity = classify(expected, found, log_start);
        let Some(what) = describe(&tp, continuity) else {
            return Some(i); // compaction or transaction markers
        };
        self.progress.metrics[i].lost(continuity.lost_records().unwrap_or(0));
        if self.spec.flow.settings.fail_on_data_loss {
            self.progress.ledger.poison(i, found);
            self.progress
                .failure
                .get_or_insert(TaskError::DataLoss(what));
            return None;
        }
        warn!(flow = %self.spec.flow.name(), topic = %tp.topic, partition = tp.partition, lost = continuity.lost_records(), "{what}");
        Some(i)
    }

    /// Produces one record of partition `i` to its remote topic; waits for room if the
    /// producer queue is full. `clock` is the batch's monotonic and wall-clock time, for the
    /// metrics.
    fn send(&mut self, i: usize, m: &Polled<'_>, clock: (Instant, i64)) {
        let (offset, ts) = (m.offset(), m.timestamp());
        if let Some(t) = &mut self.txn {
            if let Err(e) = t.begin(&self.producer) {
                self.progress.failure.get_or_insert(e.into());
                return;
            }
        }
        // A cheap handle, so the record does not borrow the ledger while acks are served.
        let remote = self.progress.ledger.remote_topic(i).clone();
        let record = Outgoing {
            topic: &remote,
            partition: Some(m.partition()),
            key: m.key(),
            value: m.value(),
            timestamp: ts,
            headers: m.headers(),
        };
        let (producer, progress) = (&self.producer, &mut self.progress);
        // The target is slow or down: wait for acknowledgements, but give way to a stop.
        let sent = producer.send_waiting(record, i, &self.deps.stop, || {
            producer.poll(FULL_POLL);
            progress.drain_acks(producer);
        });
        match sent {
            Ok(Sent::Queued) => {}
            // Never sent, so it is read again next time.
            Ok(Sent::Stopped) => return,
            Err(e) => {
                // Refused before it left (larger than the producer's limit, say): nothing
                // later of the partition may be sent ahead of it.
                self.progress.ledger.poison(i, offset);
                self.progress.fail(i, offset, e, Refused::Locally);
                return;
            }
        }
        // Noted before any delivery report is served: a report always finds its record.
        self.progress.ledger.sent(i, offset, ts);
        let bytes = (m.key().map_or(0, <[u8]>::len) + m.value_len()) as u64;
        self.consumer_metrics.read(bytes);
        self.progress.producer_metrics.sent(bytes);
        let (now, wall) = clock;
        self.progress.metrics[i].polled(m.value_len(), ts.map(|t| wall - t), now);
        self.progress.task_metrics.polled(1);
    }

    /// Serves delivery reports of both producers and sends the offset syncs that are due.
    fn serve_acks(&mut self) {
        self.producer.poll(Duration::ZERO);
        self.progress.drain_acks(&self.producer);
        if let Syncs::Own(p, _) = &self.progress.syncs {
            p.poll(Duration::ZERO);
        }
        self.progress.send_syncs();
    }

    /// Queues the source offset of every partition that advanced since it was last stored.
    /// Each is stored once it counts: at once (at least once) or after the commit.
    fn produce_offsets(&mut self) -> Vec<(usize, i64, Result<ProducedOffsets, TaskError>)> {
        let ledger = &self.progress.ledger;
        ledger
            .offsets_to_store()
            .into_iter()
            .map(|(i, acked)| {
                let entry = mirror_entry(ledger.source(i), acked);
                let produced = self.deps.offsets.produce(
                    &self.producer,
                    OFFSETS_TAG,
                    WhenFull::Fail,
                    &self.spec.connector,
                    &[entry],
                );
                (i, acked, produced.map_err(TaskError::from))
            })
            .collect()
    }

    fn stored(&mut self, i: usize, acked: i64, produced: ProducedOffsets) {
        self.progress.ledger.mark_stored(i, acked);
        self.deps.offsets.cache_produced(produced);
    }

    /// Writes the source offset of every partition that advanced, and publishes the latest
    /// offset syncs (Java's `commit()`).
    fn commit(&mut self) {
        for (i, acked, produced) in self.produce_offsets() {
            match produced {
                Ok(produced) => self.stored(i, acked, produced),
                Err(e) => warn!(flow = %self.spec.flow.name(), "source offset not written: {e}"),
            }
        }
        self.progress.send_pending_syncs();
        self.progress.ledger.promote_delayed_syncs();
        self.progress.send_syncs();
    }

    /// Commits the open transaction: waits until the target has every record, adds the source
    /// offsets and the offset syncs, and commits. Any failure aborts it and fails the task,
    /// which then starts again from the last committed offsets.
    fn commit_transaction(&mut self) -> Result<(), TaskError> {
        let Some(id) = self.txn.as_ref().map(|t| t.id().to_string()) else {
            return Ok(()); // at least once: nothing to commit
        };
        let result = self.try_commit_transaction(&id);
        match &mut self.txn {
            Some(t) => t.settle(&self.producer, &self.deps.stop, result),
            None => result,
        }
    }

    fn try_commit_transaction(&mut self, id: &str) -> Result<(), TaskError> {
        self.await_in_flight(id)?;
        let mut advanced = Vec::new();
        for (i, acked, produced) in self.produce_offsets() {
            advanced.push((i, acked, produced?));
        }
        let syncs = self.send_syncs_in_transaction(id)?;
        self.producer
            .commit_transaction(id, COMMIT, &self.deps.stop)?;
        self.progress.drain_acks(&self.producer);
        self.progress.ledger.syncs_acked(syncs);
        for (i, acked, produced) in advanced {
            self.stored(i, acked, produced);
        }
        // As Java after each committed transaction: the latest positions become syncs. Those on
        // the source cluster (the default location) go with their own producer, outside any
        // transaction; without this a quiet partition's last records would never get a sync.
        if matches!(self.progress.syncs, Syncs::Own(..)) {
            self.progress.send_pending_syncs();
            self.progress.ledger.promote_delayed_syncs();
            self.progress.send_syncs();
        }
        Ok(())
    }

    /// Waits until the target acknowledged every record of the transaction: their
    /// acknowledgements give the offset syncs' downstream offsets.
    fn await_in_flight(&mut self, id: &str) -> Result<(), TaskError> {
        let mut watch = StallWatch::new(self.progress.ledger.in_flight());
        while self.progress.ledger.in_flight() > 0 {
            self.producer.flush(COMMIT_FLUSH).ok();
            self.progress.drain_acks(&self.producer);
            if let Some(e) = self.progress.failure.take() {
                return Err(e);
            }
            if self.deps.stop.load(Ordering::Relaxed) {
                return Err(TransactionError::canceled(id).into());
            }
            watch.observe(self.progress.ledger.in_flight())?;
        }
        Ok(())
    }

    /// Adds the due offset syncs to the transaction when they go in it; returns how many.
    fn send_syncs_in_transaction(&mut self, id: &str) -> Result<usize, TaskError> {
        let Syncs::InTransaction(topic) = &self.progress.syncs else {
            return Ok(0);
        };
        self.progress.ledger.promote_delayed_syncs();
        let mut sent = 0;
        for sync in self.progress.ledger.take_syncs() {
            let s = sync.as_ref();
            let (key, value) = (s.record_key(), s.record_value());
            let record = Outgoing::new(topic, Some(&key), Some(&value)).partition(0);
            self.producer
                .send(record, SYNCS_TAG)
                .map_err(|source| TransactionError::Kafka {
                    id: id.to_string(),
                    source,
                })?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Publishes each partition's metrics, skipping idle ones (but every
    /// [`IDLE_METRICS_EVERY`]), and the task's.
    fn publish_metrics(&mut self, consumer: &AssignedConsumer, now: Instant) {
        let all = now.duration_since(self.idle_published) >= IDLE_METRICS_EVERY;
        if all {
            self.idle_published = now;
        }
        let ledger = &self.progress.ledger;
        for (i, metrics) in self.progress.metrics.iter_mut().enumerate() {
            let (in_flight, oldest_in_flight, last_acked) = ledger.outstanding(i);
            // Caught up and quiet since the last look: the lag is still none, and librdkafka
            // (whose lookup of a partition scans the client's topics) need not be asked.
            // While the task is held up, records may wait unread: hence `all` now and then.
            if in_flight == 0 && metrics.is_still_caught_up() && !all {
                if !metrics.is_settled() {
                    metrics.publish(now);
                }
                continue;
            }
            let tp = ledger.topic_partition(i);
            // The end offset of the last fetch; until one, what is in flight is all we know.
            let high = consumer
                .cached_watermarks(&tp)
                .map(|(_, high)| high)
                .filter(|high| *high >= 0);
            let behind = high.map(|h| h - ledger.next_offset(i));
            if let Some(h) = high {
                // Java's records-lag counts from the consumer's position: what is read.
                let position = ledger.expected(i).unwrap_or(ledger.next_offset(i));
                self.records_lag[i].set(h - position);
            }
            metrics.set_lag(Outstanding {
                records: behind.unwrap_or(in_flight as i64),
                oldest_in_flight,
                last_acked,
            });
            metrics.publish(now);
        }
        self.progress.producer_metrics.publish();
        let in_flight = self.progress.ledger.in_flight();
        self.progress.task_metrics.publish(in_flight, now);
    }

    /// Stops cleanly: waits for in-flight records, stores their offsets, sends the last syncs.
    /// An open transaction is aborted: its records are read again by the next owner.
    fn shutdown(&mut self) {
        if let Some(t) = &mut self.txn {
            t.abort_open(&self.producer, SHUTDOWN_MIN);
            if let Syncs::Own(p, _) = &self.progress.syncs {
                let _ = p.flush(SHUTDOWN_MIN);
            }
            return;
        }
        let grace = self
            .spec
            .flow
            .worker_settings
            .task_shutdown_graceful_timeout
            .max(SHUTDOWN_MIN);
        let deadline = Instant::now() + grace;
        while self.progress.ledger.in_flight() > 0 && Instant::now() < deadline {
            self.producer.poll(Duration::from_millis(50));
            self.progress.drain_acks(&self.producer);
        }
        if self.progress.ledger.in_flight() > 0 {
            warn!(flow = %self.spec.flow.name(), "stopping with records unacknowledged after {grace:?}; they will be replicated again");
        }
        self.commit();
        let _ = self.producer.flush(grace);
        if let Syncs::Own(p, _) = &self.progress.syncs {
            let _ = p.flush(grace);
        }
    }
}
