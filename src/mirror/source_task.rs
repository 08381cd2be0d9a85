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

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tracing::{info, warn};

use crate::config::{
    ClientKind, ExactlyOnceSource, Flow, OffsetSyncsLocation, Side, TransactionBoundary,
};
use crate::connect::offsets::{offset_value, source_offset_key, MirrorPartition, OffsetStore};
use crate::kafka::client::{client_error, create, log, repeated};
use crate::kafka::props::{translate, ClientProps};
use crate::metrics::{PartitionMetrics, SourceMetrics};
use crate::policy::ReplicationPolicy;

use super::offset_sync::OffsetSyncWriter;
use super::scheduler::now_ms;
use super::wire::OffsetSyncRef;

/// The connector name under which connect-mirror-maker stores offsets, as Java's does.
pub const CONNECTOR: &str = "MirrorSourceConnector";
/// Delivery-report tag of source-offset writes (not a partition slot).
const OFFSETS_TAG: usize = usize::MAX;
/// Delivery-report tag of offset syncs written in a transaction.
const SYNCS_TAG: usize = usize::MAX - 1;
/// A transaction whose records stop being acknowledged for this long, or whose commit takes
/// twice as long, is aborted and the task starts again (a new producer fences the stuck one).
/// A broker can hold a transaction back behind another one that never ends: tansu 0.6 does
/// while a transaction of a killed producer overlaps it in a partition.
const TRANSACTION_STALL: Duration = Duration::from_secs(15);
/// How many records are moved between checks of acknowledgements and timers.
const BATCH: usize = 1024;

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
    Offsets(String),
    #[error("the target acknowledged none of the transaction's records for {0:?}")]
    Stalled(Duration),
    #[error("transaction of {id}: {source}")]
    Transaction {
        id: String,
        #[source]
        source: KafkaError,
    },
    #[error(
        "the target rejected a record of {topic}-{partition} at source offset {offset}: {source}"
    )]
    Delivery {
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        source: KafkaError,
    },
}

/// What a task replicates.
#[derive(Debug, Clone)]
pub struct SourceTaskSpec {
    pub flow: Arc<Flow>,
    /// The connector's name: the first element of its offset keys and part of its
    /// transactional ids ([`CONNECTOR`] in connect-mirror-maker).
    pub connector: Arc<str>,
    pub task: usize,
    /// Source topic-partitions, in assignment order.
    pub partitions: Vec<(String, i32)>,
}

/// What a task shares with its herder.
#[derive(Clone)]
pub struct TaskDeps {
    pub offsets: Arc<OffsetStore>,
    pub metrics: SourceMetrics,
    pub stop: Arc<AtomicBool>,
}

struct Ack {
    tag: usize,
    result: Result<i64, KafkaError>,
}

/// Collects the replication producer's delivery reports for the task thread.
struct ReplicationContext {
    name: String,
    acks: Mutex<Vec<Ack>>,
}

impl ClientContext for ReplicationContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        log(&self.name, level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&self.name, &error, reason);
    }
}

impl ProducerContext for ReplicationContext {
    type DeliveryOpaque = usize;
    fn delivery(&self, result: &DeliveryResult<'_>, tag: usize) {
        let result = match result {
            Ok(m) => Ok(m.offset()),
            Err((e, _)) => Err(e.clone()),
        };
        self.acks
            .lock()
            .expect("acks lock")
            .push(Ack { tag, result });
    }
}

/// Counts offset-sync acknowledgements.
struct SyncContext {
    name: String,
    done: AtomicUsize,
}

impl ClientContext for SyncContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        log(&self.name, level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&self.name, &error, reason);
    }
}

impl ProducerContext for SyncContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            warn!(client = %self.name, "offset sync not written: {e}");
        }
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Keeps the source end offsets from librdkafka's statistics, for the lag metric.
struct ConsumerStats {
    name: String,
    high: Mutex<HashMap<(String, i32), i64>>,
}

impl ClientContext for ConsumerStats {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        log(&self.name, level, fac, msg);
    }
    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&self.name, &error, reason);
    }
    fn stats(&self, stats: Statistics) {
        let mut high = self.high.lock().expect("stats lock");
        for (topic, t) in stats.topics {
            for (p, part) in t.partitions {
                if p >= 0 && part.hi_offset >= 0 {
                    high.insert((topic.clone(), p), part.hi_offset);
                }
            }
        }
    }
}

impl ConsumerContext for ConsumerStats {}

/// One assigned partition.
struct Slot {
    source: MirrorPartition,
    remote_topic: Arc<str>,
    /// (source offset, timestamp) of records sent and not yet acknowledged, in send order.
    in_flight: VecDeque<(i64, Option<i64>)>,
    acked: Option<i64>,
    stored: Option<i64>,
    /// The offset the first record after start should have, to detect records lost to retention.
    expect_first: Option<i64>,
    failed: bool,
    metrics: PartitionMetrics,
}

fn client_props(props: &crate::config::Props, label: &str) -> Result<ClientProps, TaskError> {
    translate(props, label).map(|(p, _)| p).map_err(|e| {
        TaskError::Config(
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

/// Where a task's offset syncs go.
enum Syncs {
    Off,
    /// Their own producer, to the source or the target.
    Own(BaseProducer<SyncContext>, String),
    /// The replication producer, inside each transaction (exactly once, syncs on the target).
    InTransaction(String),
}

/// The open transaction of an exactly-once task.
struct Transaction {
    id: String,
    boundary: TransactionBoundary,
    /// When the open transaction began; `None` while none is open.
    began: Option<Instant>,
}

/// The transactional id of a task: Connect's `<group.id>-<connector>-<task>`, so that Java and
/// this worker fence each other when they take turns.
pub fn transactional_id(flow: &Flow, connector: &str, task: usize) -> String {
    crate::connect::env::transactional_id(&flow.worker_settings.group_id, connector, task)
}

/// Whether the flow's source tasks write in transactions.
pub fn exactly_once(flow: &Flow) -> bool {
    flow.worker_settings.exactly_once_source == ExactlyOnceSource::Enabled
}

/// The task's state besides the consumer (kept apart so a borrowed record can be sent).
struct Task {
    spec: SourceTaskSpec,
    deps: TaskDeps,
    producer: BaseProducer<ReplicationContext>,
    syncs: Syncs,
    txn: Option<Transaction>,
    writer: OffsetSyncWriter,
    slots: Vec<Slot>,
    index: HashMap<String, Vec<Option<usize>>>,
    acks: Vec<Ack>,
    offsets_topic: String,
    failure: Option<TaskError>,
}

/// Runs a task until `deps.stop` is set or it fails. Blocking: call it on its own thread.
pub fn run(spec: SourceTaskSpec, deps: TaskDeps) -> Result<(), TaskError> {
    let flow = spec.flow.clone();
    let prefix = format!("{}|{}-{}", flow.name(), spec.connector, spec.task);
    let consumer = consumer(&flow, &prefix)?;
    let mut task = Task::new(spec, deps, &prefix)?;
    if task.txn.is_some() && !task.init_transactions()? {
        return Ok(()); // stopped while the target was unreachable
    }
    // After fencing: what this task's earlier incarnations committed is all there is to read.
    task.deps.offsets.refresh().map_err(TaskError::Offsets)?;
    task.load_offsets();
    task.assign(&consumer)?;
    info!(flow = %flow.name(), task = task.spec.task, partitions = task.slots.len(), "source task started");
    let result = task.replicate(&consumer);
    task.shutdown();
    info!(flow = %flow.name(), task = task.spec.task, "source task stopped");
    result
}

fn consumer(flow: &Flow, prefix: &str) -> Result<BaseConsumer<ConsumerStats>, TaskError> {
    let mut props = client_props(&flow.replication_consumer_props(), "replication consumer")?;
    // assign() needs a group id although no group is ever joined or committed to.
    props.set_default("group.id", format!("{}-mm2-source", flow.source));
    // Java's default is read_uncommitted (librdkafka's would silently skip aborted records);
    // exactly once must not copy what the source aborted.
    let isolation = if exactly_once(flow) {
        "read_committed"
    } else {
        "read_uncommitted"
    };
    props.set_default("isolation.level", isolation);
    props.set_default("enable.auto.offset.store", "false");
    props.set_default("queued.max.messages.kbytes", "32768");
    props.set_default("fetch.wait.max.ms", "100");
    props.set_default("statistics.interval.ms", "5000");
    props.set("enable.partition.eof", "false", false);
    let name = format!("{prefix}|replication-consumer");
    let ctx = ConsumerStats {
        name: name.clone(),
        high: Mutex::new(HashMap::new()),
    };
    create(&props, &name, ctx).map_err(|source| TaskError::Client {
        role: "replication consumer",
        source,
    })
}

impl Task {
    fn new(spec: SourceTaskSpec, deps: TaskDeps, prefix: &str) -> Result<Self, TaskError> {
        let flow = spec.flow.clone();
        let mut props = client_props(
            &flow.worker_client_props(ClientKind::Producer),
            "replication producer",
        )?;
        props.set_default("acks", "all");
        props.set_default("enable.idempotence", "true");
        // Larger batches cost less CPU per record (librdkafka wakes its broker thread per
        // batch): 25 ms measured 8.4 CPU s/GB against 11 at 10 ms, for at most 25 ms of latency.
        props.set_default("linger.ms", "25");
        // Never drop a record because the target is slow or down: wait for it.
        props.set_default("message.timeout.ms", "0");
        props.set_default("queue.buffering.max.kbytes", "65536");
        // Java's partitioner, so offset records land where Java Connect looks for them.
        props.set_default("partitioner", "murmur2_random");
        let txn = exactly_once(&flow).then(|| Transaction {
            id: transactional_id(&flow, &spec.connector, spec.task),
            boundary: flow.settings.transaction_boundary,
            began: None,
        });
        if let Some(t) = &txn {
            props.set("transactional.id", t.id.clone(), false);
        }
        let name = format!("{prefix}|replication-producer");
        let ctx = ReplicationContext {
            name: name.clone(),
            acks: Mutex::new(Vec::with_capacity(BATCH)),
        };
        let producer = create(&props, &name, ctx).map_err(|source| TaskError::Client {
            role: "replication producer",
            source,
        })?;
        let policy = ReplicationPolicy::new(&flow.settings.policy);
        let syncs = if !flow.settings.emit_offset_syncs {
            Syncs::Off
        } else if txn.is_some()
            && flow.settings.offset_syncs_location == OffsetSyncsLocation::Target
        {
            Syncs::InTransaction(policy.offset_syncs_topic(&flow.source))
        } else {
            let (side, other) = match flow.settings.offset_syncs_location {
                OffsetSyncsLocation::Source => (Side::Source, &flow.target),
                OffsetSyncsLocation::Target => (Side::Target, &flow.source),
            };
            let props = client_props(
                &flow.client_props(side, ClientKind::Producer),
                "offset-syncs producer",
            )?;
            let name = format!("{prefix}|offset-syncs-{}-producer", side.as_str());
            let ctx = SyncContext {
                name: name.clone(),
                done: AtomicUsize::new(0),
            };
            let p = create(&props, &name, ctx).map_err(|source| TaskError::Client {
                role: "offset-syncs producer",
                source,
            })?;
            Syncs::Own(p, policy.offset_syncs_topic(other))
        };
        let mut index: HashMap<String, Vec<Option<usize>>> = HashMap::new();
        let mut slots = Vec::new();
        for (i, (topic, partition)) in spec.partitions.iter().enumerate() {
            let parts = index.entry(topic.clone()).or_default();
            if parts.len() <= *partition as usize {
                parts.resize(*partition as usize + 1, None);
            }
            parts[*partition as usize] = Some(i);
            let remote_topic: Arc<str> = policy.format_remote_topic(&flow.source, topic).into();
            let source = MirrorPartition {
                cluster: flow.source.clone(),
                partition: *partition,
                topic: topic.clone(),
            };
            slots.push(Slot {
                metrics: deps.metrics.partition(
                    &flow.source,
                    &flow.target,
                    &remote_topic,
                    *partition,
                ),
                source,
                remote_topic,
                in_flight: VecDeque::new(),
                acked: None,
                stored: None,
                expect_first: None,
                failed: false,
            });
        }
        Ok(Task {
            writer: OffsetSyncWriter::new(slots.len(), flow.settings.offset_lag_max),
            offsets_topic: flow.worker_settings.offset_storage_topic.clone(),
            spec,
            deps,
            producer,
            syncs,
            txn,
            slots,
            index,
            acks: Vec::with_capacity(BATCH),
            failure: None,
        })
    }

    /// Takes each partition's stored offset as its starting point.
    fn load_offsets(&mut self) {
        for slot in &mut self.slots {
            let stored = self.deps.offsets.get(&self.spec.connector, &slot.source);
            slot.acked = stored;
            slot.stored = stored;
            slot.expect_first = stored.map(|o| o + 1);
        }
    }

    /// Fences earlier incarnations of this task; waits while the target is unreachable.
    /// False if stopped first.
    fn init_transactions(&mut self) -> Result<bool, TaskError> {
        let id = self.txn.as_ref().expect("transactional").id.clone();
        while !self.deps.stop.load(Ordering::Relaxed) {
            match self.producer.init_transactions(Duration::from_secs(10)) {
                Ok(()) => {
                    info!(flow = %self.spec.flow.name(), transactional_id = %id, "fenced earlier producers of this task");
                    return Ok(true);
                }
                Err(KafkaError::Transaction(e)) if e.is_retriable() => {
                    warn!(flow = %self.spec.flow.name(), "initializing transactions of {id}: {e} (retrying)");
                }
                Err(source) => return Err(TaskError::Transaction { id, source }),
            }
        }
        Ok(false)
    }

    /// Starts each partition after its stored offset, else where `auto.offset.reset` says.
    fn assign(&self, consumer: &BaseConsumer<ConsumerStats>) -> Result<(), TaskError> {
        let reset_latest = self
            .spec
            .flow
            .replication_consumer_props()
            .get("auto.offset.reset")
            .is_some_and(|s| s.value.eq_ignore_ascii_case("latest"));
        let mut tpl = TopicPartitionList::new();
        for slot in &self.slots {
            let start = match slot.stored {
                Some(o) => Offset::Offset(o + 1),
                None if reset_latest => Offset::End,
                None => Offset::Beginning,
            };
            tpl.add_partition_offset(&slot.source.topic, slot.source.partition, start)
                .map_err(TaskError::Assign)?;
        }
        consumer.assign(&tpl).map_err(TaskError::Assign)
    }

    fn replicate(&mut self, consumer: &BaseConsumer<ConsumerStats>) -> Result<(), TaskError> {
        let flush_every = self.spec.flow.worker_settings.offset_flush_interval;
        let poll_timeout = self
            .spec
            .flow
            .settings
            .consumer_poll_timeout
            .min(Duration::from_millis(50));
        let (mut last_flush, mut last_publish) = (Instant::now(), Instant::now());
        while !self.deps.stop.load(Ordering::Relaxed) {
            let mut timeout = poll_timeout;
            for _ in 0..BATCH {
                match consumer.poll(timeout) {
                    Some(Ok(m)) => self.send(&m),
                    Some(Err(e)) => {
                        // The same error repeats while the source is down: once a minute.
                        let name = self.spec.flow.name();
                        if !repeated(&name, &e.to_string()) {
                            warn!(flow = %name, "reading the source: {e} (retrying)");
                        }
                        // Nothing to read while the error lasts: do not spin.
                        std::thread::sleep(Duration::from_millis(100));
                        break;
                    }
                    None => break,
                }
                timeout = Duration::ZERO;
            }
            self.serve_acks();
            if let Some(e) = self.failure.take() {
                return Err(e);
            }
            let now = Instant::now();
            if self.txn.is_some() {
                if self.transaction_due(now) {
                    match self.commit_transaction() {
                        // Stopped mid-commit: the aborted records are the next owner's.
                        Err(_) if self.deps.stop.load(Ordering::Relaxed) => return Ok(()),
                        result => result?,
                    }
                }
            } else if now.duration_since(last_flush) >= flush_every {
                self.commit();
                last_flush = now;
            }
            if now.duration_since(last_publish) >= Duration::from_secs(1) {
                self.publish_metrics(consumer, now);
                last_publish = now;
            }
        }
        Ok(())
    }

    /// Produces one record to its remote topic; waits for room if the producer queue is full.
    fn send(&mut self, m: &BorrowedMessage<'_>) {
        let Some(i) = self
            .index
            .get(m.topic())
            .and_then(|parts| parts.get(m.partition() as usize).copied().flatten())
        else {
            return; // not assigned to this task (a stale fetch after reassignment)
        };
        let offset = m.offset();
        let ts = m.timestamp().to_millis();
        if let Some(t) = &mut self.txn {
            if t.began.is_none() {
                if let Err(source) = self.producer.begin_transaction() {
                    self.failure.get_or_insert(TaskError::Transaction {
                        id: t.id.clone(),
                        source,
                    });
                    return;
                }
                t.began = Some(Instant::now());
            }
        }
        let slot = &mut self.slots[i];
        if let Some(expected) = slot.expect_first.take() {
            if offset > expected {
                warn!(
                    topic = %slot.source.topic, partition = slot.source.partition,
                    "resuming at offset {offset}, not {expected}: offsets {expected}..{} are gone from the source (retention, compaction or transaction markers)", offset - 1
                );
            }
        }
        // A cheap handle, so the record does not borrow the slots while acks are drained.
        let remote = slot.remote_topic.clone();
        let mut record: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(&remote, i).partition(m.partition());
        if let Some(k) = m.key() {
            record = record.key(k);
        }
        if let Some(v) = m.payload() {
            record = record.payload(v);
        }
        if let Some(t) = ts {
            record = record.timestamp(t);
        }
        if let Some(h) = m.headers() {
            record = record.headers(h.detach());
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    // The target is slow or down: wait for acknowledgements, but give way to a
                    // stop; this record was never sent, so it is read again next time.
                    if self.deps.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    record = r;
                    self.producer.poll(Duration::from_millis(10));
                    self.drain_acks();
                }
                Err((e, _)) => {
                    self.fail(i, offset, e);
                    return;
                }
            }
        }
        let now = Instant::now();
        let slot = &mut self.slots[i];
        slot.in_flight.push_back((offset, ts));
        slot.metrics
            .polled(m.payload_len(), ts.map(|t| now_ms() - t), now);
    }

    fn fail(&mut self, i: usize, offset: i64, source: KafkaError) {
        let slot = &mut self.slots[i];
        slot.failed = true;
        if self.failure.is_none() {
            self.failure = Some(TaskError::Delivery {
                topic: slot.source.topic.clone(),
                partition: slot.source.partition,
                offset,
                source,
            });
        }
    }

    /// Serves delivery reports of both producers and sends the offset syncs that are due.
    fn serve_acks(&mut self) {
        self.producer.poll(Duration::ZERO);
        self.drain_acks();
        if let Syncs::Own(p, _) = &self.syncs {
            p.poll(Duration::ZERO);
        }
        self.send_syncs();
    }

    fn drain_acks(&mut self) {
        std::mem::swap(
            &mut self.acks,
            &mut self.producer.context().acks.lock().expect("acks lock"),
        );
        let now = Instant::now();
        let wall = now_ms();
        let mut acks = std::mem::take(&mut self.acks);
        for ack in acks.drain(..) {
            if ack.tag == OFFSETS_TAG || ack.tag == SYNCS_TAG {
                if let Err(e) = ack.result {
                    warn!(flow = %self.spec.flow.name(), "writing source offsets or offset syncs: {e}");
                }
                continue;
            }
            let slot = &mut self.slots[ack.tag];
            let (offset, ts) = slot
                .in_flight
                .pop_front()
                .expect("a delivery report per record sent");
            if slot.failed {
                continue; // nothing after a lost record may count as replicated
            }
            match ack.result {
                Ok(downstream) => {
                    slot.acked = Some(offset);
                    slot.metrics.acked(ts.map(|t| wall - t), now);
                    // Send an urgent sync at once, as Java does after each acknowledgement,
                    // before a later urgent one of the same partition replaces it.
                    if !matches!(self.syncs, Syncs::Off)
                        && self.writer.record(ack.tag, offset, downstream)
                    {
                        self.send_syncs();
                    }
                }
                Err(e) => self.fail(ack.tag, offset, e),
            }
        }
        self.acks = acks;
    }

    /// Sends the offset syncs that are due with their own producer (transactional syncs wait
    /// for the commit: [`Task::commit_transaction`]).
    fn send_syncs(&mut self) {
        let Syncs::Own(producer, topic) = &self.syncs else {
            return;
        };
        let done = producer.context().done.swap(0, Ordering::Relaxed);
        for _ in 0..done {
            self.writer.acked();
        }
        for sync in self.writer.take() {
            let (key, value) = sync_record(&self.slots[sync.slot], &sync);
            let record = BaseRecord::to(topic)
                .partition(0)
                .key(&key[..])
                .payload(&value[..]);
            if let Err((e, _)) = producer.send(record) {
                warn!(flow = %self.spec.flow.name(), "offset sync not sent: {e}");
                self.writer.acked();
            }
        }
    }

    fn transaction_due(&self, now: Instant) -> bool {
        let Some(Transaction {
            began: Some(began),
            boundary,
            ..
        }) = &self.txn
        else {
            return false;
        };
        match boundary {
            TransactionBoundary::Poll => true,
            TransactionBoundary::Interval(every) => {
                let every = every.unwrap_or(self.spec.flow.worker_settings.offset_flush_interval);
                now.duration_since(*began) >= every
            }
        }
    }

    /// Commits the open transaction: waits until the target has every record, adds the source
    /// offsets and the offset syncs, and commits. Any failure aborts it and fails the task,
    /// which then starts again from the last committed offsets.
    fn commit_transaction(&mut self) -> Result<(), TaskError> {
        let id = self.txn.as_ref().expect("transactional").id.clone();
        let result = self.try_commit_transaction(&id);
        if let Some(t) = &mut self.txn {
            t.began = None;
        }
        if let Err(e) = &result {
            if !self.deps.stop.load(Ordering::Relaxed) {
                warn!(flow = %self.spec.flow.name(), "aborting the transaction of {id}: {e}");
            }
            let _ = self.producer.abort_transaction(Duration::from_secs(10));
        }
        result
    }

    fn try_commit_transaction(&mut self, id: &str) -> Result<(), TaskError> {
        let err = |source| TaskError::Transaction {
            id: id.to_string(),
            source,
        };
        // The records first: their acknowledgements give the offset syncs' downstream offsets.
        let in_flight = |t: &Self| t.slots.iter().map(|s| s.in_flight.len()).sum::<usize>();
        let (mut waiting, mut progress) = (in_flight(self), Instant::now());
        while waiting > 0 {
            self.producer.flush(Duration::from_secs(1)).ok();
            self.drain_acks();
            if let Some(e) = self.failure.take() {
                return Err(e);
            }
            if self.deps.stop.load(Ordering::Relaxed) {
                return Err(err(KafkaError::Canceled));
            }
            let now = in_flight(self);
            if now < waiting {
                (waiting, progress) = (now, Instant::now());
            } else if progress.elapsed() > TRANSACTION_STALL {
                return Err(TaskError::Stalled(TRANSACTION_STALL));
            }
        }
        let mut advanced = Vec::new();
        for i in 0..self.slots.len() {
            if let Some(sent) = self.send_offset(i) {
                advanced.push((i, sent.map_err(err)?));
            }
        }
        let mut syncs = 0;
        if let Syncs::InTransaction(topic) = &self.syncs {
            self.writer.promote_delayed();
            for sync in self.writer.take() {
                let (key, value) = sync_record(&self.slots[sync.slot], &sync);
                let record = BaseRecord::with_opaque_to(topic, SYNCS_TAG)
                    .partition(0)
                    .key(&key[..])
                    .payload(&value[..]);
                self.producer.send(record).map_err(|(e, _)| err(e))?;
                syncs += 1;
            }
        }
        let committing = Instant::now();
        loop {
            match self.producer.commit_transaction(TRANSACTION_STALL) {
                Ok(()) => break,
                Err(KafkaError::Transaction(e)) if e.is_retriable() && !e.txn_requires_abort() => {
                    if self.deps.stop.load(Ordering::Relaxed)
                        || committing.elapsed() > 2 * TRANSACTION_STALL
                    {
                        return Err(err(KafkaError::Transaction(e)));
                    }
                    warn!(flow = %self.spec.flow.name(), "committing the transaction of {id}: {e} (retrying)");
                }
                Err(e) => return Err(err(e)),
            }
        }
        self.drain_acks();
        for _ in 0..syncs {
            self.writer.acked();
        }
        for (i, acked) in advanced {
            let slot = &mut self.slots[i];
            slot.stored = Some(acked);
            self.deps
                .offsets
                .put(&self.spec.connector, slot.source.clone(), acked);
        }
        // As Java after each committed transaction: the latest positions become syncs. Those on
        // the source cluster (the default location) go with their own producer, outside any
        // transaction; without this a quiet partition's last records would never get a sync.
        if matches!(self.syncs, Syncs::Own(..)) {
            self.writer.promote_delayed();
            self.send_syncs();
        }
        Ok(())
    }

    /// Writes the source offset of every partition that advanced, and publishes the latest
    /// offset syncs (Java's `commit()`).
    fn commit(&mut self) {
        for i in 0..self.slots.len() {
            match self.send_offset(i) {
                Some(Ok(acked)) => {
                    let slot = &mut self.slots[i];
                    slot.stored = Some(acked);
                    self.deps
                        .offsets
                        .put(&self.spec.connector, slot.source.clone(), acked);
                }
                Some(Err(e)) => {
                    warn!(flow = %self.spec.flow.name(), "source offset not written: {e}")
                }
                None => {}
            }
        }
        self.writer.promote_delayed();
        self.send_syncs();
    }

    /// Sends the source offset of slot `i` if it advanced since it was last stored; returns it.
    fn send_offset(&self, i: usize) -> Option<Result<i64, KafkaError>> {
        let slot = &self.slots[i];
        let acked = slot.acked.filter(|a| Some(*a) != slot.stored)?;
        let key = source_offset_key(&self.spec.connector, &slot.source);
        let value = offset_value(acked);
        let record = BaseRecord::with_opaque_to(&self.offsets_topic, OFFSETS_TAG)
            .key(&key[..])
            .payload(&value[..]);
        Some(
            self.producer
                .send(record)
                .map(|()| acked)
                .map_err(|(e, _)| e),
        )
    }

    fn publish_metrics(&mut self, consumer: &BaseConsumer<ConsumerStats>, now: Instant) {
        let high = consumer.context().high.lock().expect("stats lock").clone();
        for slot in &mut self.slots {
            if let Some(h) = high.get(&(slot.source.topic.clone(), slot.source.partition)) {
                slot.metrics
                    .set_lag(h - slot.acked.map(|a| a + 1).unwrap_or(0));
            }
            slot.metrics.publish(now);
        }
    }

    /// Stops cleanly: waits for in-flight records, stores their offsets, sends the last syncs.
    /// An open transaction is aborted: its records are read again by the next owner.
    fn shutdown(&mut self) {
        if let Some(t) = &self.txn {
            if t.began.is_some() {
                let _ = self.producer.abort_transaction(Duration::from_secs(5));
            }
            if let Syncs::Own(p, _) = &self.syncs {
                let _ = p.flush(Duration::from_secs(5));
            }
            return;
        }
        let grace = self
            .spec
            .flow
            .worker_settings
            .task_shutdown_graceful_timeout
            .max(Duration::from_secs(5));
        let deadline = Instant::now() + grace;
        while self.slots.iter().any(|s| !s.in_flight.is_empty()) && Instant::now() < deadline {
            self.producer.poll(Duration::from_millis(50));
            self.drain_acks();
        }
        if self.slots.iter().any(|s| !s.in_flight.is_empty()) {
            warn!(flow = %self.spec.flow.name(), "stopping with records unacknowledged after {grace:?}; they will be replicated again");
        }
        self.commit();
        let _ = self.producer.flush(grace);
        if let Syncs::Own(p, _) = &self.syncs {
            let _ = p.flush(grace);
        }
    }
}

/// The offset-sync record of one pending sync.
fn sync_record(slot: &Slot, sync: &super::offset_sync::PendingSync) -> (Vec<u8>, Vec<u8>) {
    let s = OffsetSyncRef {
        topic: &slot.source.topic,
        partition: slot.source.partition,
        upstream_offset: sync.upstream,
        downstream_offset: sync.downstream,
    };
    (s.record_key(), s.record_value())
}
