//! The batch path's loop, on a single-threaded tokio runtime in the task's thread: one fetch in
//! flight per source leader, up to five produce requests per target leader (one batch per
//! partition each), and the bookkeeping of the record path (ledger, offset syncs, source
//! offsets, metrics) moved on by whole batches. Memory is bounded by the bytes fetched and not
//! yet acknowledged: no fetch is sent while they exceed the task's share.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, DescribeConfigsRequest, FetchRequest, FetchResponse, InitProducerIdRequest,
    ListOffsetsRequest, ProduceRequest, ProduceResponse, ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::connect::offsets::{mirror_entry, KeyValue as Kv, OffsetStore, ProduceOffsetsError};
use crate::kafka::record_batch::{self, Codec, ProducerStamp, RawRecord};
use crate::kafka::transaction::{StallWatch, TransactionError};
use crate::kafka::wire::partitioner::partition_of;
use crate::kafka::wire::{Cluster, WireError};

use super::super::clients::Syncs;
use super::super::continuity::{classify, describe};
use super::super::{BatchRefusal, Task, TaskError, METRICS_EVERY};
use super::pipeline::{Pipeline, Producing};
use super::select::{select, AbortedTxn, Limits, Reencode};
use super::transaction::Txn;
use super::BatchSettings;

/// The versions asked for: the highest that still name topics (later ones use topic ids).
const FETCH_VERSION: i16 = 12;
const PRODUCE_VERSION: i16 = 12;
/// In transactions: below 12, which would ask for Kafka 4's second transaction protocol.
const TRANSACTIONAL_PRODUCE_VERSION: i16 = 11;
const LIST_OFFSETS_VERSION: i16 = 7;
const INIT_PRODUCER_ID_VERSION: i16 = 4;
const DESCRIBE_CONFIGS_VERSION: i16 = 4;
/// Produce requests in flight per target broker.
const REQUESTS_PER_BROKER: usize = 5;
/// How long the broker may hold a produce request for its replicas (`request.timeout.ms`).
const PRODUCE_TIMEOUT: Duration = Duration::from_secs(30);
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the loop waits when nothing happens, so timers and the stop flag are served.
const TICK: Duration = Duration::from_millis(50);
/// How long a fetch may wait at the broker while some of its partitions are held back for room:
/// a broker answers a connection's requests in turn, so a fetch waiting the full
/// `fetch.max.wait.ms` for quiet partitions would hold the busy ones back as long.
const HELD_BACK_WAIT_MS: i32 = 5;
/// How long a partition waits after a failed fetch before it is fetched again.
const FETCH_BACKOFF: Duration = Duration::from_millis(200);
/// Retriable produce failures in a row after which a partition fails its task (about two
/// minutes of backoffs, Java's `delivery.timeout.ms`).
const MAX_PRODUCE_FAILURES: u32 = 1200;
/// Source batches smaller than this are coalesced when several come in a row: measured on
/// 1 KiB lz4 records in batches of 10 (about 3 KiB each), the target broker spent 9.1 CPU s/GB
/// on them copied as they were, against 3.0 for the record path's large batches.
const COALESCE_BELOW: usize = 16 * 1024;
/// The broker's default `max.message.bytes`, when the topic's cannot be read.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;

/// One assigned partition's state on the batch path.
struct Part {
    remote: Arc<str>,
    partition: i32,
    /// The next source offset to fetch; `None` until looked up.
    fetch_offset: Option<i64>,
    fetching: bool,
    retry_at: Option<Instant>,
    pipeline: Pipeline,
    /// The last stable offset of the last fetch.
    end: Option<i64>,
    limits: Limits,
}

type FetchDone = (i32, Vec<(usize, i64)>, Result<FetchResponse, WireError>);
type ProduceDone = (i32, Vec<(usize, u32)>, Result<ProduceResponse, WireError>);

pub(super) struct Copier<'a> {
    task: &'a mut Task,
    settings: BatchSettings,
    source: Cluster,
    target: Cluster,
    parts: Vec<Part>,
    producer: (i64, i16),
    /// Exactly once: the task's transactions.
    txn: Option<Txn>,
    fetches: JoinSet<FetchDone>,
    produces: JoinSet<ProduceDone>,
    /// Produce requests in flight, by target broker.
    producing: HashMap<i32, usize>,
    /// Source brokers with a fetch in flight (one at a time: see [`HELD_BACK_WAIT_MS`]).
    fetching: HashSet<i32>,
    source_stale: bool,
    target_stale: bool,
    /// Batches copied as they are, and re-encoded by reason, since the last publish.
    copied: u64,
    reencoded: HashMap<Reencode, u64>,
}

impl<'a> Copier<'a> {
    /// Connects to both clusters, learns the leaders, the target's limits and this producer's
    /// id, and where each partition starts.
    pub async fn start(
        task: &'a mut Task,
        settings: BatchSettings,
    ) -> Result<Copier<'a>, TaskError> {
        let mut source = Cluster::new(settings.source.clone());
        let mut target = Cluster::new(settings.target.clone());
        let spec = &task.spec;
        let mut txn = super::super::exactly_once(&spec.flow).then(|| {
            Txn::new(
                super::super::transactional_id(&spec.flow, &spec.connector, spec.task),
                spec.flow.settings.transaction_boundary,
            )
        });
        let ledger = &task.progress.ledger;
        let mut parts = Vec::with_capacity(ledger.len());
        for i in 0..ledger.len() {
            parts.push(Part {
                remote: ledger.remote_topic(i).clone(),
                partition: ledger.topic_partition(i).partition,
                fetch_offset: None,
                fetching: false,
                retry_at: None,
                pipeline: Pipeline::default(),
                end: None,
                limits: Limits {
                    max_batch_bytes: DEFAULT_MAX_MESSAGE_BYTES,
                    codec: settings.codec,
                    coalesce_below: COALESCE_BELOW,
                },
            });
        }
        let source_topics = distinct((0..ledger.len()).map(|i| ledger.source(i).topic.clone()));
        let remote_topics = distinct(parts.iter().map(|p| p.remote.to_string()));
        source.refresh(&refs(&source_topics)).await?;
        let mut target_topics = remote_topics.clone();
        if txn.is_some() {
            // Source offsets and offset syncs go in the transactions: their partitions too.
            target_topics.extend(task.deps.offsets.topic().map(str::to_string));
            if let Syncs::InTransaction(t) = &task.progress.syncs {
                target_topics.push(t.clone());
            }
        }
        target.refresh(&refs(&target_topics)).await?;
        let producer = match &mut txn {
            // Fences every earlier incarnation of the task, before its offsets are read.
            Some(t) => t.init(&mut target).await?,
            None => init_producer_id(&mut target).await?,
        };
        task.deps.offsets.refresh().map_err(TaskError::Offsets)?;
        task.load_offsets();
        for (i, p) in parts.iter_mut().enumerate() {
            p.fetch_offset = task.progress.ledger.stored(i).map(|o| o + 1);
        }
        let limits = max_message_bytes(&mut target, &remote_topics).await;
        for p in &mut parts {
            if let Some(max) = limits.get(p.remote.as_ref()) {
                p.limits.max_batch_bytes = *max;
            }
        }
        let mut c = Copier {
            task,
            settings,
            source,
            target,
            parts,
            producer,
            txn,
            fetches: JoinSet::new(),
            produces: JoinSet::new(),
            producing: HashMap::new(),
            fetching: HashSet::new(),
            source_stale: false,
            target_stale: false,
            copied: 0,
            reencoded: HashMap::new(),
        };
        let unknown: Vec<usize> = (0..c.parts.len())
            .filter(|i| c.parts[*i].fetch_offset.is_none())
            .collect();
        let reset = if c.settings.reset_latest { -1 } else { -2 };
        c.look_up_starts(&unknown, reset).await;
        info!(flow = %c.task.spec.flow.name(), task = c.task.spec.task, producer_id = producer.0, "batch path started");
        Ok(c)
    }

    /// Copies until the task is stopped or fails; then waits for what is in flight.
    pub async fn run(&mut self) -> Result<(), TaskError> {
        let flush_every = self.task.spec.flow.worker_settings.offset_flush_interval;
        let (mut last_flush, mut last_publish) = (Instant::now(), Instant::now());
        while !self.task.deps.stop.load(Ordering::Relaxed) {
            self.refresh_if_stale().await;
            self.start_fetches().await;
            self.start_produces().await;
            tokio::select! {
                Some(done) = self.fetches.join_next() => {
                    if let Ok(done) = done { self.fetched(done).await; }
                }
                Some(done) = self.produces.join_next() => {
                    if let Ok(done) = done { self.produced(done); }
                }
                _ = tokio::time::sleep(TICK) => {}
            }
            self.serve_offsets();
            if let Some(e) = self.task.progress.failure.take() {
                self.abort().await;
                return Err(e);
            }
            let now = Instant::now();
            match &self.txn {
                Some(t) if t.due(now, flush_every) => {
                    if let Err(e) = self.commit_transaction().await {
                        self.abort().await;
                        // Stopped mid-commit: the aborted records are the next owner's.
                        if self.task.deps.stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        return Err(e);
                    }
                    self.task
                        .progress
                        .task_metrics
                        .committed(now.elapsed(), now);
                }
                Some(_) => {}
                None if now.duration_since(last_flush) >= flush_every => {
                    self.task.commit();
                    self.task
                        .progress
                        .task_metrics
                        .committed(now.elapsed(), now);
                    last_flush = now;
                }
                None => {}
            }
            if now.duration_since(last_publish) >= METRICS_EVERY {
                self.publish_metrics(now);
                last_publish = now;
            }
        }
        if self.txn.is_some() {
            // An open transaction is aborted: its records are read again by the next owner.
            self.abort().await;
        } else {
            self.drain().await;
        }
        Ok(())
    }

    /// Aborts the open transaction, if any (best effort: otherwise the next owner's start, or
    /// the transaction timeout, aborts it).
    async fn abort(&mut self) {
        let Some(t) = &mut self.txn else { return };
        if !t.is_open() {
            return;
        }
        self.fetches.abort_all();
        self.produces.abort_all();
        if let Err(e) = t.end(&mut self.target, self.producer, false).await {
            warn!(transactional_id = %t.id(), "aborting the transaction: {e}");
        }
    }

    /// Sends what is queued and waits until the target acknowledged every batch, or fails.
    async fn flush(&mut self) -> Result<(), TaskError> {
        let mut watch = StallWatch::new(self.task.progress.ledger.in_flight());
        while self.parts.iter().any(|p| !p.pipeline.is_idle()) {
            self.refresh_if_stale().await;
            self.start_produces().await;
            tokio::select! {
                Some(done) = self.produces.join_next() => {
                    if let Ok(done) = done { self.produced(done); }
                }
                _ = tokio::time::sleep(TICK) => {}
            }
            if let Some(e) = self.task.progress.failure.take() {
                return Err(e);
            }
            if self.task.deps.stop.load(Ordering::Relaxed) {
                return Err(TransactionError::canceled(self.txn_id()).into());
            }
            watch.observe(self.task.progress.ledger.in_flight())?;
        }
        Ok(())
    }

    fn txn_id(&self) -> &str {
        self.txn.as_ref().map_or("", |t| t.id())
    }

    /// Commits the open transaction: every copied batch acknowledged, then the source offsets
    /// and the offset syncs bound for the target written in it, then EndTxn. The offsets count
    /// as stored only once it is committed.
    async fn commit_transaction(&mut self) -> Result<(), TaskError> {
        self.flush().await?;
        let ledger = &self.task.progress.ledger;
        let advanced = ledger.offsets_to_store();
        let entries: Vec<_> = advanced
            .iter()
            .map(|(i, acked)| mirror_entry(ledger.source(*i), *acked))
            .collect();
        let (records, produced) = OffsetStore::offset_records(&self.task.spec.connector, &entries);
        let mut writes: Vec<(String, i32, Vec<Kv>)> = Vec::new();
        if !records.is_empty() {
            let topic = self
                .task
                .deps
                .offsets
                .topic()
                .ok_or(TaskError::WriteOffsets(ProduceOffsetsError::NoTopic))?
                .to_string();
            // Where Java's producer puts each key, so a key never has two live copies.
            let partitions = self.target.partitions(&topic).unwrap_or(1);
            let mut by_partition: HashMap<i32, Vec<Kv>> = HashMap::new();
            for (k, v) in records {
                by_partition
                    .entry(partition_of(&k, partitions))
                    .or_default()
                    .push((k, v));
            }
            writes.extend(by_partition.into_iter().map(|(p, r)| (topic.clone(), p, r)));
        }
        let mut syncs = 0;
        if let Syncs::InTransaction(topic) = &self.task.progress.syncs {
            let topic = topic.clone();
            self.task.progress.ledger.promote_delayed_syncs();
            let due: Vec<Kv> = self
                .task
                .progress
                .ledger
                .take_syncs()
                .iter()
                .map(|s| {
                    let s = s.as_ref();
                    (s.record_key(), Some(s.record_value()))
                })
                .collect();
            syncs = due.len();
            if !due.is_empty() {
                writes.push((topic, 0, due));
            }
        }
        let wanted: Vec<(String, i32)> = writes.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
        if let Some(t) = &mut self.txn {
            let missing = t.missing(&wanted);
            t.add(&mut self.target, self.producer, &missing).await?;
        }
        for (topic, partition, records) in writes {
            self.produce_own(&topic, partition, &records).await?;
        }
        if let Some(t) = &mut self.txn {
            t.end(&mut self.target, self.producer, true).await?;
        }
        self.task.progress.ledger.syncs_acked(syncs);
        for (i, acked) in advanced {
            self.task.progress.ledger.mark_stored(i, acked);
        }
        self.task.deps.offsets.cache_produced(produced);
        // As on the record path: syncs on the source go with their own producer afterwards.
        if matches!(self.task.progress.syncs, Syncs::Own(..)) {
            self.task.progress.send_pending_syncs();
            self.task.progress.ledger.promote_delayed_syncs();
            self.task.progress.send_syncs();
        }
        Ok(())
    }

    /// Writes `records` to a partition of the task's own (source offsets, offset syncs) in the
    /// open transaction, and waits for the target to take them.
    async fn produce_own(
        &mut self,
        topic: &str,
        partition: i32,
        records: &[Kv],
    ) -> Result<(), TaskError> {
        let Some(txn) = &mut self.txn else {
            return Ok(());
        };
        let now = crate::mirror::scheduler::now_ms();
        let raw: Vec<RawRecord> = records
            .iter()
            .map(|(k, v)| RawRecord {
                offset: 0,
                timestamp: now,
                body: record_batch::body(Some(k), v.as_deref()),
            })
            .collect();
        let stamp = ProducerStamp {
            producer_id: self.producer.0,
            epoch: self.producer.1,
            base_sequence: txn.next_sequence(topic, partition, raw.len() as i32),
            transactional: true,
        };
        let bytes = record_batch::encode(&raw, Codec::None, stamp)
            .map_err(|e| TaskError::Config(format!("encoding the records of {topic}: {e}")))?;
        let request = ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_string(
                txn.id().to_string(),
            ))))
            .with_acks(-1)
            .with_timeout_ms(PRODUCE_TIMEOUT.as_millis() as i32)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(bytes))])]);
        let leader = self
            .target
            .leader(topic, partition)
            .ok_or_else(|| WireError::UnknownTopicOrPartition(format!("{topic}-{partition}")))?;
        let conn = self.target.node(leader.node).await?;
        let version = conn
            .version::<ProduceRequest>(TRANSACTIONAL_PRODUCE_VERSION)
            .ok_or(WireError::Config("Produce: no common version".into()))?;
        let r = conn
            .call(&request, version, PRODUCE_TIMEOUT + ADMIN_TIMEOUT)
            .await?;
        let code = r
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .map(|p| p.error_code)
            .find(|c| *c != 0);
        match code.and_then(WireError::from_code) {
            None => Ok(()),
            Some(e) => Err(TaskError::Wire(e)),
        }
    }

    /// Serves the offsets producer's reports and the offset syncs due.
    fn serve_offsets(&mut self) {
        self.task.producer.poll(Duration::ZERO);
        self.task.progress.drain_acks(&self.task.producer);
        self.task.progress.send_syncs();
    }

    /// After a stop: sends and waits for what was fetched, up to the graceful timeout.
    async fn drain(&mut self) {
        let grace = self
            .task
            .spec
            .flow
            .worker_settings
            .task_shutdown_graceful_timeout;
        let deadline = Instant::now() + grace.max(Duration::from_secs(5));
        while Instant::now() < deadline && self.parts.iter().any(|p| !p.pipeline.is_idle()) {
            self.refresh_if_stale().await;
            self.start_produces().await;
            tokio::select! {
                Some(done) = self.produces.join_next() => {
                    if let Ok(done) = done { self.produced(done); }
                }
                _ = tokio::time::sleep(TICK) => {}
            }
            self.serve_offsets();
            if self.task.progress.failure.is_some() {
                break;
            }
        }
        self.fetches.abort_all();
    }

    async fn refresh_if_stale(&mut self) {
        if self.source_stale || self.target_stale {
            debug!(
                source = self.source_stale,
                target = self.target_stale,
                "refreshing metadata"
            );
        }
        if self.source_stale {
            let topics = distinct(
                (0..self.parts.len()).map(|i| self.task.progress.ledger.source(i).topic.clone()),
            );
            match self.source.refresh(&refs(&topics)).await {
                Ok(()) => self.source_stale = false,
                Err(e) => self.note_error("the source's metadata", &e),
            }
        }
        if self.target_stale {
            let topics = distinct(self.parts.iter().map(|p| p.remote.to_string()));
            match self.target.refresh(&refs(&topics)).await {
                Ok(()) => self.target_stale = false,
                Err(e) => self.note_error("the target's metadata", &e),
            }
        }
    }

    fn note_error(&self, what: &str, e: &WireError) {
        let name = self.task.spec.flow.name();
        if !crate::kafka::client::repeated(&name, &e.to_string()) {
            warn!(flow = %name, "{what}: {e} (retrying)");
        }
    }

    /// The bytes fetched and not yet acknowledged.
    fn buffered(&self) -> usize {
        self.parts.iter().map(|p| p.pipeline.bytes()).sum()
    }

    /// Sends a fetch to each source leader that has none in flight, for its partitions that
    /// have room, while the task's buffer has room.
    async fn start_fetches(&mut self) {
        // Partitions whose start could not be looked up yet: again, once their backoff passed.
        let now = Instant::now();
        let unknown: Vec<usize> = (0..self.parts.len())
            .filter(|i| {
                let p = &self.parts[*i];
                p.fetch_offset.is_none() && p.retry_at.is_none_or(|t| now >= t)
            })
            .collect();
        if !unknown.is_empty() {
            let reset = if self.settings.reset_latest { -1 } else { -2 };
            self.look_up_starts(&unknown, reset).await;
        }
        let budget = self.settings.budget;
        let buffered = self.buffered();
        if buffered + self.settings.partition_max_bytes > budget {
            return;
        }
        let now = Instant::now();
        let mut by_node: HashMap<i32, Vec<usize>> = HashMap::new();
        let mut held_back: HashSet<i32> = HashSet::new();
        for (i, p) in self.parts.iter().enumerate() {
            if p.fetching || p.fetch_offset.is_none() || p.retry_at.is_some_and(|t| now < t) {
                continue;
            }
            let tp = self.task.progress.ledger.topic_partition(i);
            let Some(leader) = self.source.leader(&tp.topic, tp.partition) else {
                self.source_stale = true;
                continue;
            };
            if self.fetching.contains(&leader.node) {
                continue;
            }
            if p.pipeline.bytes() > self.settings.partition_max_bytes * 2 {
                held_back.insert(leader.node);
                continue;
            }
            by_node.entry(leader.node).or_default().push(i);
        }
        for (node, positions) in by_node {
            let conn = match self.source.node(node).await {
                Ok(c) => c,
                Err(e) => {
                    self.note_error("connecting to the source", &e);
                    self.source_stale = true;
                    for i in positions {
                        self.parts[i].retry_at = Some(now + FETCH_BACKOFF);
                    }
                    continue;
                }
            };
            let Some(version) = conn.version::<FetchRequest>(FETCH_VERSION) else {
                continue;
            };
            let asked: Vec<(usize, i64)> = positions
                .iter()
                .map(|i| (*i, self.parts[*i].fetch_offset.unwrap_or(0)))
                .collect();
            let partition_max_bytes = self.settings.partition_max_bytes as i32;
            let topics: Vec<FetchTopic> = by_topic(asked.iter().map(|(i, offset)| {
                let tp = self.task.progress.ledger.topic_partition(*i);
                let partition = FetchPartition::default()
                    .with_partition(tp.partition)
                    .with_current_leader_epoch(-1)
                    .with_fetch_offset(*offset)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(partition_max_bytes);
                (tp.topic, partition)
            }))
            .into_iter()
            .map(|(t, ps)| {
                FetchTopic::default()
                    .with_topic(topic_name(&t))
                    .with_partitions(ps)
            })
            .collect();
            let max_bytes = (budget - buffered).min(self.settings.fetch_max_bytes);
            let request = FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_max_wait_ms(if held_back.contains(&node) {
                    HELD_BACK_WAIT_MS.min(self.settings.fetch_wait_ms)
                } else {
                    self.settings.fetch_wait_ms
                })
                .with_min_bytes(1)
                .with_max_bytes(max_bytes as i32)
                .with_isolation_level(1)
                .with_session_id(0)
                .with_session_epoch(-1)
                .with_topics(topics);
            let answer = match conn.send(&request, version) {
                Ok(a) => a,
                Err(e) => {
                    self.note_error("fetching", &e);
                    self.source.drop_node(node);
                    continue;
                }
            };
            for (i, _) in &asked {
                self.parts[*i].fetching = true;
            }
            self.fetching.insert(node);
            let timeout = Duration::from_millis(self.settings.fetch_wait_ms as u64) + ADMIN_TIMEOUT;
            self.fetches.spawn(async move {
                let result = match tokio::time::timeout(timeout, answer).await {
                    Ok(r) => r,
                    Err(_) => Err(WireError::Io {
                        broker: format!("broker {node}"),
                        reason: format!("no fetch answer in {timeout:?}"),
                    }),
                };
                (node, asked, result)
            });
        }
    }

    async fn fetched(&mut self, (node, asked, result): FetchDone) {
        let now = Instant::now();
        self.fetching.remove(&node);
        for (i, _) in &asked {
            self.parts[*i].fetching = false;
        }
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                self.note_error("fetching from the source", &e);
                self.source.drop_node(node);
                self.source_stale = true;
                for (i, _) in &asked {
                    self.parts[*i].retry_at = Some(now + FETCH_BACKOFF);
                }
                return;
            }
        };
        let asked_at: HashMap<usize, i64> = asked.iter().copied().collect();
        let wall = crate::mirror::scheduler::now_ms();
        let mut out_of_range = Vec::new();
        for topic in response.responses {
            for pd in topic.partitions {
                let Some(i) = self
                    .task
                    .progress
                    .ledger
                    .position(topic.topic.0.as_str(), pd.partition_index)
                else {
                    continue;
                };
                let Some(&offset) = asked_at.get(&i) else {
                    continue;
                };
                // A stale answer (the partition was moved on meanwhile).
                if self.parts[i].fetch_offset != Some(offset) {
                    continue;
                }
                if let Some(e) = WireError::from_code(pd.error_code) {
                    if matches!(e, WireError::Broker(ResponseError::OffsetOutOfRange)) {
                        out_of_range.push(i);
                    } else {
                        if e.needs_metadata() {
                            self.source_stale = true;
                        }
                        self.parts[i].retry_at = Some(now + FETCH_BACKOFF);
                    }
                    continue;
                }
                let end = if pd.last_stable_offset >= 0 {
                    pd.last_stable_offset
                } else {
                    pd.high_watermark
                };
                self.parts[i].end = Some(end);
                let Some(records) = pd.records.filter(|r| !r.is_empty()) else {
                    continue;
                };
                let aborted: Vec<AbortedTxn> = pd
                    .aborted_transactions
                    .unwrap_or_default()
                    .iter()
                    .map(|a| AbortedTxn {
                        producer_id: a.producer_id.0,
                        first_offset: a.first_offset,
                    })
                    .collect();
                self.take(i, offset, &records, &aborted, now, wall);
            }
        }
        if !out_of_range.is_empty() {
            self.out_of_range(&out_of_range).await;
        }
    }

    /// Sorts one partition's fetched records into the pipeline and the ledger.
    fn take(
        &mut self,
        i: usize,
        offset: i64,
        records: &Bytes,
        aborted: &[AbortedTxn],
        now: Instant,
        wall: i64,
    ) {
        let part = &mut self.parts[i];
        let selected = match select(records, offset, aborted, &part.limits) {
            Ok(s) => s,
            Err(e) => {
                let tp = self.task.progress.ledger.topic_partition(i);
                self.task
                    .progress
                    .failure
                    .get_or_insert(TaskError::Corrupt {
                        partition: tp,
                        source: e,
                    });
                return;
            }
        };
        let progress = &mut self.task.progress;
        let producing = Producing {
            id: self.producer.0,
            epoch: self.producer.1,
            transactional: self.txn.is_some(),
        };
        if let (Some(t), false) = (&mut self.txn, selected.pieces.is_empty()) {
            t.begin(now);
        }
        for piece in &selected.pieces {
            part.pipeline.push(piece, producing);
            progress
                .ledger
                .sent_batch(i, &piece.span.runs, piece.span.timestamp);
            let bytes = piece.batch.bytes.len();
            self.task.consumer_metrics.read(bytes as u64);
            progress.producer_metrics.sent(bytes as u64);
            progress.metrics[i].polled_batch(bytes, piece.span.timestamp.map(|t| wall - t), now);
            progress
                .task_metrics
                .polled(u64::from(piece.span.records()));
            match piece.reencoded {
                None => self.copied += 1,
                Some(why) => *self.reencoded.entry(why).or_default() += 1,
            }
        }
        if let Some(next) = selected.next_offset {
            part.fetch_offset = Some(next.max(offset));
        }
    }

    /// Partitions whose fetch offset is outside the log: they restart at its beginning
    /// (`auto.offset.reset = earliest`, MirrorMaker's default) or end, the records skipped
    /// counted as lost (and fatal with `fail.on.data.loss`), as on the record path.
    async fn out_of_range(&mut self, positions: &[usize]) {
        let reset = if self.settings.reset_latest { -1 } else { -2 };
        let expected: Vec<(usize, Option<i64>)> = positions
            .iter()
            .map(|i| (*i, self.parts[*i].fetch_offset))
            .collect();
        let starts = self.list_offsets(positions, -2).await;
        self.look_up_starts(positions, reset).await;
        for (i, expected) in expected {
            let Some(found) = self.parts[i].fetch_offset else {
                continue;
            };
            let tp = self.task.progress.ledger.topic_partition(i);
            let continuity = classify(expected, found, starts.get(&i).copied());
            let Some(what) = describe(&tp, continuity) else {
                continue;
            };
            self.task.progress.metrics[i].lost(continuity.lost_records().unwrap_or(0));
            if self.task.spec.flow.settings.fail_on_data_loss {
                self.task.progress.ledger.poison(i, found);
                self.task
                    .progress
                    .failure
                    .get_or_insert(TaskError::DataLoss(what));
                return;
            }
            warn!(flow = %self.task.spec.flow.name(), topic = %tp.topic, partition = tp.partition, "{what}");
        }
    }

    /// Sets the fetch offset of `positions` to their log's start (`-2`) or end (`-1`).
    async fn look_up_starts(&mut self, positions: &[usize], timestamp: i64) {
        let found = self.list_offsets(positions, timestamp).await;
        let now = Instant::now();
        for i in positions {
            match found.get(i) {
                Some(o) => self.parts[*i].fetch_offset = Some(*o),
                // Asked again on the next round.
                None => {
                    self.parts[*i].fetch_offset = None;
                    self.parts[*i].retry_at = Some(now + FETCH_BACKOFF);
                }
            }
        }
        // Those not found are asked again once the metadata is refreshed.
        if positions.iter().any(|i| !found.contains_key(i)) {
            self.source_stale = true;
        }
    }

    /// ListOffsets at the source leaders, one request per broker (read_committed).
    async fn list_offsets(&mut self, positions: &[usize], timestamp: i64) -> HashMap<usize, i64> {
        let mut by_node: HashMap<i32, Vec<usize>> = HashMap::new();
        for i in positions {
            let tp = self.task.progress.ledger.topic_partition(*i);
            if let Some(l) = self.source.leader(&tp.topic, tp.partition) {
                by_node.entry(l.node).or_default().push(*i);
            }
        }
        let mut found = HashMap::new();
        for (node, positions) in by_node {
            let topics: Vec<ListOffsetsTopic> = by_topic(positions.iter().map(|i| {
                let tp = self.task.progress.ledger.topic_partition(*i);
                let partition = ListOffsetsPartition::default()
                    .with_partition_index(tp.partition)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(timestamp);
                (tp.topic, partition)
            }))
            .into_iter()
            .map(|(t, ps)| {
                ListOffsetsTopic::default()
                    .with_name(topic_name(&t))
                    .with_partitions(ps)
            })
            .collect();
            let request = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_isolation_level(1)
                .with_topics(topics);
            let answer = async {
                let conn = self.source.node(node).await?;
                let v = conn
                    .version::<ListOffsetsRequest>(LIST_OFFSETS_VERSION)
                    .ok_or(WireError::Config("ListOffsets: no common version".into()))?;
                conn.call(&request, v, ADMIN_TIMEOUT).await
            };
            match answer.await {
                Ok(r) => {
                    for t in r.topics {
                        for p in t.partitions {
                            if p.error_code != 0 {
                                continue;
                            }
                            if let Some(i) = self
                                .task
                                .progress
                                .ledger
                                .position(t.name.0.as_str(), p.partition_index)
                            {
                                found.insert(i, p.offset);
                            }
                        }
                    }
                }
                Err(e) => {
                    self.note_error("looking up source offsets", &e);
                    self.source.drop_node(node);
                }
            }
        }
        found
    }

    /// Sends, to each target leader with room, one request holding the next batch of each of
    /// its partitions that has one ready.
    async fn start_produces(&mut self) {
        let now = Instant::now();
        let mut by_node: HashMap<i32, Vec<usize>> = HashMap::new();
        for (i, p) in self.parts.iter().enumerate() {
            if !p.pipeline.has_ready() {
                continue;
            }
            match self.target.leader(&p.remote, p.partition) {
                Some(l) => by_node.entry(l.node).or_default().push(i),
                None => self.target_stale = true,
            }
        }
        if let Some(t) = &mut self.txn {
            let wanted: Vec<(String, i32)> = by_node
                .values()
                .flatten()
                .map(|i| (self.parts[*i].remote.to_string(), self.parts[*i].partition))
                .collect();
            let missing = t.missing(&wanted);
            if let Err(e) = t.add(&mut self.target, self.producer, &missing).await {
                self.task.progress.failure.get_or_insert(TaskError::Wire(e));
                return;
            }
        }
        let (cap, transactional_id) = match &self.txn {
            Some(t) => (
                TRANSACTIONAL_PRODUCE_VERSION,
                Some(TransactionalId(StrBytes::from_string(t.id().to_string()))),
            ),
            None => (PRODUCE_VERSION, None),
        };
        for (node, positions) in by_node {
            let conn = match self.target.node(node).await {
                Ok(c) => c,
                Err(e) => {
                    self.note_error("connecting to the target", &e);
                    self.target_stale = true;
                    continue;
                }
            };
            let Some(version) = conn.version::<ProduceRequest>(cap) else {
                continue;
            };
            while self.producing.get(&node).copied().unwrap_or(0) < REQUESTS_PER_BROKER {
                let mut sent: Vec<(usize, u32)> = Vec::new();
                let mut batches = Vec::new();
                for i in &positions {
                    let p = &mut self.parts[*i];
                    let Some((bytes, generation)) = p.pipeline.take_next(now) else {
                        continue;
                    };
                    let data = PartitionProduceData::default()
                        .with_index(p.partition)
                        .with_records(Some(bytes));
                    batches.push((p.remote.to_string(), data));
                    sent.push((*i, generation));
                }
                let topics: Vec<TopicProduceData> = by_topic(batches)
                    .into_iter()
                    .map(|(t, ps)| {
                        TopicProduceData::default()
                            .with_name(topic_name(&t))
                            .with_partition_data(ps)
                    })
                    .collect();
                if sent.is_empty() {
                    break;
                }
                let request = ProduceRequest::default()
                    .with_transactional_id(transactional_id.clone())
                    .with_acks(-1)
                    .with_timeout_ms(PRODUCE_TIMEOUT.as_millis() as i32)
                    .with_topic_data(topics);
                let answer = conn.send(&request, version);
                *self.producing.entry(node).or_default() += 1;
                self.produces.spawn(async move {
                    let result = match answer {
                        Ok(a) => {
                            match tokio::time::timeout(PRODUCE_TIMEOUT + ADMIN_TIMEOUT, a).await {
                                Ok(r) => r,
                                Err(_) => Err(WireError::Io {
                                    broker: format!("broker {node}"),
                                    reason: "no produce answer in time".into(),
                                }),
                            }
                        }
                        Err(e) => Err(e),
                    };
                    (node, sent, result)
                });
            }
        }
    }

    fn produced(&mut self, (node, sent, result): ProduceDone) {
        if let Some(n) = self.producing.get_mut(&node) {
            *n = n.saturating_sub(1);
        }
        let now = Instant::now();
        let wall = crate::mirror::scheduler::now_ms();
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                self.note_error("producing to the target", &e);
                self.target.drop_node(node);
                self.target_stale = true;
                for (i, generation) in sent {
                    self.retry(i, generation, &e, now);
                }
                return;
            }
        };
        let generations: HashMap<(String, i32), (usize, u32)> = sent
            .iter()
            .map(|(i, g)| {
                (
                    (self.parts[*i].remote.to_string(), self.parts[*i].partition),
                    (*i, *g),
                )
            })
            .collect();
        for topic in response.responses {
            for pr in topic.partition_responses {
                let Some(&(i, generation)) = generations.get(&(topic.name.0.to_string(), pr.index))
                else {
                    continue;
                };
                match WireError::from_code(pr.error_code) {
                    None => {
                        let Some(done) = self.parts[i].pipeline.acknowledged(generation) else {
                            continue;
                        };
                        self.task
                            .progress
                            .producer_metrics
                            .reported(done.bytes.len() as u64);
                        self.task
                            .progress
                            .batch_delivered(i, pr.base_offset, now, wall);
                    }
                    Some(e) => {
                        let e = match pr.error_message {
                            Some(m) if !m.is_empty() => WireError::Protocol {
                                broker: format!("broker {node}"),
                                api: "Produce",
                                reason: format!("{e}: {m}"),
                            },
                            _ => e,
                        };
                        self.retry(i, generation, &e, now);
                    }
                }
            }
        }
    }

    /// A batch of partition `i` failed: sent again if that can help, else the task fails.
    fn retry(&mut self, i: usize, generation: u32, e: &WireError, now: Instant) {
        debug!(partition = i, generation, "produce failed: {e}");
        let retriable = e.is_retriable()
            || matches!(
                e,
                WireError::Broker(ResponseError::OutOfOrderSequenceNumber)
            );
        let part = &mut self.parts[i];
        if retriable && part.pipeline.failures < MAX_PRODUCE_FAILURES {
            if part.pipeline.failed(generation, now) && e.needs_metadata() {
                self.target_stale = true;
            }
            return;
        }
        let offset = part.pipeline.oldest().map_or(-1, |b| b.span.first());
        let tp = self.task.progress.ledger.topic_partition(i);
        self.task.progress.ledger.poison(i, offset);
        let remedy = match e {
            WireError::Broker(
                ResponseError::MessageTooLarge | ResponseError::RecordListTooLarge,
            ) => format!(
                "; raise max.message.bytes of {} on {}",
                part.remote, self.task.progress.target
            ),
            _ => String::new(),
        };
        self.task
            .progress
            .failure
            .get_or_insert(TaskError::BatchRefused(Box::new(BatchRefusal {
                partition: tp,
                offset,
                source: e.clone(),
                remedy,
            })));
    }

    fn publish_metrics(&mut self, now: Instant) {
        let progress = &mut self.task.progress;
        for (i, part) in self.parts.iter().enumerate() {
            let (in_flight, oldest_in_flight, last_acked) = progress.ledger.outstanding(i);
            let Some(end) = part.end else { continue };
            if let Some(position) = part.fetch_offset {
                self.task.records_lag[i].set(end - position);
            }
            progress.metrics[i].set_lag(crate::metrics::Outstanding {
                records: end - progress.ledger.next_offset(i),
                oldest_in_flight,
                last_acked,
            });
            let _ = in_flight;
            progress.metrics[i].publish(now);
        }
        progress.producer_metrics.publish();
        let in_flight = progress.ledger.in_flight();
        progress.task_metrics.publish(in_flight, now);
        progress
            .task_metrics
            .batches("as_is", std::mem::take(&mut self.copied));
        for (why, n) in self.reencoded.drain() {
            progress.task_metrics.batches(why.label(), n);
        }
    }
}

fn distinct(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = names.collect();
    v.sort();
    v.dedup();
    v
}

/// `items` grouped by topic, in the order topics first appear: a request's topic list.
fn by_topic<P>(items: impl IntoIterator<Item = (String, P)>) -> Vec<(String, Vec<P>)> {
    let mut out: Vec<(String, Vec<P>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (topic, p) in items {
        let k = *index.entry(topic.clone()).or_insert_with(|| {
            out.push((topic, Vec::new()));
            out.len() - 1
        });
        out[k].1.push(p);
    }
    out
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// An idempotent producer id from the target.
async fn init_producer_id(target: &mut Cluster) -> Result<(i64, i16), WireError> {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(i32::MAX)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let mut last = None;
    for _ in 0..50 {
        let conn = target.any().await?;
        let v = conn
            .version::<InitProducerIdRequest>(INIT_PRODUCER_ID_VERSION)
            .ok_or(WireError::Config(
                "InitProducerId: no common version".into(),
            ))?;
        match conn.call(&request, v, ADMIN_TIMEOUT).await {
            Ok(r) => match WireError::from_code(r.error_code) {
                None => return Ok((r.producer_id.0, r.producer_epoch)),
                Some(e) if e.is_retriable() => last = Some(e),
                Some(e) => return Err(e),
            },
            Err(e) if e.is_retriable() => last = Some(e),
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(last.unwrap_or_else(|| WireError::Unreachable("the target".into())))
}

/// The remote topics' `max.message.bytes`; those it cannot read keep the broker default.
async fn max_message_bytes(target: &mut Cluster, topics: &[String]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for chunk in topics.chunks(500) {
        let request = DescribeConfigsRequest::default().with_resources(
            chunk
                .iter()
                .map(|t| {
                    DescribeConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(StrBytes::from_string(t.clone()))
                        .with_configuration_keys(Some(vec![StrBytes::from_static_str(
                            "max.message.bytes",
                        )]))
                })
                .collect(),
        );
        let answer = async {
            let conn = target.any().await?;
            let v = conn
                .version::<DescribeConfigsRequest>(DESCRIBE_CONFIGS_VERSION)
                .ok_or(WireError::Config(
                    "DescribeConfigs: no common version".into(),
                ))?;
            conn.call(&request, v, ADMIN_TIMEOUT).await
        };
        match answer.await {
            Ok(r) => {
                for res in r.results.iter().filter(|r| r.error_code == 0) {
                    let value = res
                        .configs
                        .iter()
                        .find(|c| c.name.as_str() == "max.message.bytes")
                        .and_then(|c| c.value.as_ref())
                        .and_then(|v| v.as_str().parse::<usize>().ok());
                    if let Some(v) = value {
                        out.insert(res.resource_name.to_string(), v);
                    }
                }
            }
            Err(e) => debug!(
                "reading the remote topics' max.message.bytes: {e}; assuming the broker default"
            ),
        }
    }
    out
}

/// The codec of re-encoded batches: the target producer's `compression.type`.
pub(super) fn codec(setting: Option<&str>) -> Codec {
    setting.and_then(Codec::from_setting).unwrap_or(Codec::None)
}
