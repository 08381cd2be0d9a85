//! The batch path's loop, on a single-threaded tokio runtime in the task's thread: one fetch in
//! flight per source leader, up to five produce requests per target leader (one batch per
//! partition each), and the bookkeeping of the record path (ledger, offset syncs, source
//! offsets, metrics) moved on by whole batches. Memory is bounded by the bytes fetched and not
//! yet acknowledged: no fetch is sent while they exceed the task's share.

use std::collections::HashMap;
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
    ListOffsetsRequest, ProduceRequest, ProduceResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::kafka::record_batch::Codec;
use crate::kafka::wire::{Cluster, WireError};

use super::super::continuity::{classify, describe};
use super::super::{Task, TaskError, METRICS_EVERY};
use super::pipeline::Pipeline;
use super::select::{select, AbortedTxn, Limits, Reencode};
use super::BatchSettings;

/// The versions asked for: the highest that still name topics (later ones use topic ids).
const FETCH_VERSION: i16 = 12;
const PRODUCE_VERSION: i16 = 12;
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
/// How long a partition waits after a failed fetch before it is fetched again.
const FETCH_BACKOFF: Duration = Duration::from_millis(200);
/// Retriable produce failures in a row after which a partition fails its task (about two
/// minutes of backoffs, Java's `delivery.timeout.ms`).
const MAX_PRODUCE_FAILURES: u32 = 1200;
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
    fetches: JoinSet<FetchDone>,
    produces: JoinSet<ProduceDone>,
    /// Produce requests in flight, by target broker.
    producing: HashMap<i32, usize>,
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
        let ledger = &task.progress.ledger;
        let mut parts = Vec::with_capacity(ledger.len());
        for i in 0..ledger.len() {
            parts.push(Part {
                remote: ledger.remote_topic(i).clone(),
                partition: ledger.topic_partition(i).partition,
                fetch_offset: ledger.stored(i).map(|o| o + 1),
                fetching: false,
                retry_at: None,
                pipeline: Pipeline::default(),
                end: None,
                limits: Limits {
                    max_batch_bytes: DEFAULT_MAX_MESSAGE_BYTES,
                    codec: settings.codec,
                },
            });
        }
        let source_topics = distinct((0..ledger.len()).map(|i| ledger.source(i).topic.clone()));
        let remote_topics = distinct(parts.iter().map(|p| p.remote.to_string()));
        source.refresh(&refs(&source_topics)).await?;
        target.refresh(&refs(&remote_topics)).await?;
        let producer = init_producer_id(&mut target).await?;
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
            fetches: JoinSet::new(),
            produces: JoinSet::new(),
            producing: HashMap::new(),
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
                return Err(e);
            }
            let now = Instant::now();
            if now.duration_since(last_flush) >= flush_every {
                self.task.commit();
                self.task
                    .progress
                    .task_metrics
                    .committed(now.elapsed(), now);
                last_flush = now;
            }
            if now.duration_since(last_publish) >= METRICS_EVERY {
                self.publish_metrics(now);
                last_publish = now;
            }
        }
        self.drain().await;
        Ok(())
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
        let budget = self.settings.budget;
        let buffered = self.buffered();
        if buffered + self.settings.partition_max_bytes > budget {
            return;
        }
        let now = Instant::now();
        let mut by_node: HashMap<i32, Vec<usize>> = HashMap::new();
        for (i, p) in self.parts.iter().enumerate() {
            if p.fetching
                || p.fetch_offset.is_none()
                || p.retry_at.is_some_and(|t| now < t)
                || p.pipeline.bytes() > self.settings.partition_max_bytes * 2
            {
                continue;
            }
            let tp = self.task.progress.ledger.topic_partition(i);
            match self.source.leader(&tp.topic, tp.partition) {
                Some(l) => by_node.entry(l.node).or_default().push(i),
                None => self.source_stale = true,
            }
        }
        for (node, positions) in by_node {
            if self.parts[positions[0]].fetching {
                continue;
            }
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
            let mut topics: Vec<FetchTopic> = Vec::new();
            let mut index: HashMap<String, usize> = HashMap::new();
            for (i, offset) in &asked {
                let tp = self.task.progress.ledger.topic_partition(*i);
                let k = *index.entry(tp.topic.clone()).or_insert_with(|| {
                    topics.push(FetchTopic::default().with_topic(topic_name(&tp.topic)));
                    topics.len() - 1
                });
                topics[k].partitions.push(
                    FetchPartition::default()
                        .with_partition(tp.partition)
                        .with_current_leader_epoch(-1)
                        .with_fetch_offset(*offset)
                        .with_last_fetched_epoch(-1)
                        .with_log_start_offset(-1)
                        .with_partition_max_bytes(self.settings.partition_max_bytes as i32),
                );
            }
            let max_bytes = (budget - buffered).min(self.settings.fetch_max_bytes);
            let request = FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_max_wait_ms(self.settings.fetch_wait_ms)
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
        for piece in &selected.pieces {
            part.pipeline.push(piece, self.producer.0, self.producer.1);
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
            let mut topics: Vec<ListOffsetsTopic> = Vec::new();
            let mut index: HashMap<String, usize> = HashMap::new();
            for i in &positions {
                let tp = self.task.progress.ledger.topic_partition(*i);
                let k = *index.entry(tp.topic.clone()).or_insert_with(|| {
                    topics.push(ListOffsetsTopic::default().with_name(topic_name(&tp.topic)));
                    topics.len() - 1
                });
                topics[k].partitions.push(
                    ListOffsetsPartition::default()
                        .with_partition_index(tp.partition)
                        .with_current_leader_epoch(-1)
                        .with_timestamp(timestamp),
                );
            }
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
        for (node, positions) in by_node {
            let conn = match self.target.node(node).await {
                Ok(c) => c,
                Err(e) => {
                    self.note_error("connecting to the target", &e);
                    self.target_stale = true;
                    continue;
                }
            };
            let Some(version) = conn.version::<ProduceRequest>(PRODUCE_VERSION) else {
                continue;
            };
            while self.producing.get(&node).copied().unwrap_or(0) < REQUESTS_PER_BROKER {
                let mut sent: Vec<(usize, u32)> = Vec::new();
                let mut topics: Vec<TopicProduceData> = Vec::new();
                let mut index: HashMap<Arc<str>, usize> = HashMap::new();
                for i in &positions {
                    let p = &mut self.parts[*i];
                    let Some((bytes, generation)) = p.pipeline.take_next(now) else {
                        continue;
                    };
                    let k = *index.entry(p.remote.clone()).or_insert_with(|| {
                        topics.push(TopicProduceData::default().with_name(topic_name(&p.remote)));
                        topics.len() - 1
                    });
                    topics[k].partition_data.push(
                        PartitionProduceData::default()
                            .with_index(p.partition)
                            .with_records(Some(bytes)),
                    );
                    sent.push((*i, generation));
                }
                if sent.is_empty() {
                    break;
                }
                let request = ProduceRequest::default()
                    .with_transactional_id(None)
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
            .get_or_insert(TaskError::BatchRefused {
                partition: tp,
                offset,
                source: e.clone(),
                remedy,
            });
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
