//! MirrorCheckpointConnector at run time: finds the source's consumer groups, reads the offset
//! syncs, writes checkpoints to `<source>.checkpoints.internal` on the target every
//! `emit.checkpoints.interval.seconds`, and with `sync.group.offsets.enabled` commits the
//! translated offsets to target groups that have no active members (`group_sync`, on its own
//! schedule).
//!
//! Each round's group requests run many at a time, and its checkpoints are all in flight
//! together, awaited once: thousands of groups cost round trips in parallel, not in series.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::config::{join_errors, ClientKind, Flow, OffsetSyncsLocation, Side};
use crate::kafka::admin::Admin;
use crate::kafka::admin_ffi::GroupOffset;
use crate::kafka::awaited_producer::AwaitedProducer;
use crate::kafka::consumer::{AssignedConsumer, StartAt};
use crate::kafka::log::{ensure_compacted_topic, read_to_end};
use crate::kafka::producer::Outgoing;
use crate::kafka::props::translate;
use crate::kafka::TopicPartition;
use crate::metrics::{CheckpointLatency, Metrics};
use crate::policy::{ReplicationPolicy, TopicFilter};
use crate::shutdown::stopped;

use super::checkpoint::{CheckpointStore, GroupSelector, SourceOffset, Translator};
use super::group_sync::{per_group, GroupSyncer, SyncView};
use super::offset_sync_store::OffsetSyncStore;
use super::scheduler::{every, now_ms, retry, tick};
use super::wire::{Checkpoint, OffsetSync};

/// Runs one flow's checkpoints until `stop`.
pub async fn run(
    flow: Arc<Flow>,
    metrics: Metrics,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let Some(emit_every) = flow.settings.emit_checkpoints else {
        return Ok(());
    };
    let started = retry(
        &flow.name(),
        "MirrorCheckpointConnector cannot start",
        &mut stop,
        || Checkpointer::start(flow.clone(), &metrics),
    )
    .await;
    let Some(mut cp) = started else {
        return Ok(());
    };
    let s = &flow.settings;
    let mut emit = every(Some(emit_every), emit_every);
    let mut refresh = every(s.refresh_groups, Duration::ZERO);
    let mut sync = every(
        s.sync_group_offsets,
        s.sync_group_offsets.unwrap_or_default(),
    );
    let syncer = GroupSyncer {
        flow: flow.name(),
        target_alias: flow.target.clone(),
        target: cp.target.clone(),
        selector: cp.group_selector.clone(),
        view: cp.view.subscribe(),
    };
    // Beside the rounds, never behind them.
    let syncing = async {
        loop {
            tick(&mut sync).await;
            syncer.sync().await;
        }
    };
    // A stop interrupts a round under way (listing groups, writing checkpoints): the herder
    // waits for this task before a rebalance may hand it to another worker, and checkpoints
    // and synced offsets are rewritten whole by the next round wherever it runs.
    let rounds = async {
        if s.refresh_groups.is_none() {
            cp.refresh_groups().await;
        }
        loop {
            tokio::select! {
                _ = tick(&mut refresh) => cp.refresh_groups().await,
                _ = tick(&mut emit) => cp.emit().await,
            }
        }
    };
    tokio::select! {
        () = stopped(&mut stop) => {}
        () = rounds => {}
        () = syncing => {}
    }
    Ok(())
}

/// Reads the offset-syncs topic (its one partition) into the translation index.
struct SyncReader {
    consumer: AssignedConsumer,
    partition: TopicPartition,
    store: OffsetSyncStore,
}

impl SyncReader {
    /// Reads what has arrived since the last call (blocking; the first call reads to the end).
    fn catch_up(mut self, timeout: Duration) -> Self {
        let deadline = Instant::now() + timeout;
        let high = self
            .consumer
            .high_watermark(&self.partition, timeout)
            .unwrap_or(0);
        loop {
            let Some(m) = self.consumer.poll(Duration::from_millis(200)) else {
                let pos = self.consumer.position(&self.partition);
                let at_end = matches!(pos, Some(o) if o >= high) || high == 0;
                if at_end || Instant::now() > deadline {
                    break;
                }
                continue;
            };
            match m {
                Ok(m) => {
                    match OffsetSync::decode(
                        m.key().unwrap_or_default(),
                        m.value().unwrap_or_default(),
                    ) {
                        Ok(s) => self.store.add(&s),
                        Err(e) => warn!(
                            "skipping a malformed offset sync at offset {}: {e}",
                            m.offset()
                        ),
                    }
                    // Up to the end as it was: syncs keep coming while tasks copy (a stream of
                    // them at thousands of partitions), and a round that waited for a pause in
                    // them took a minute; later ones are the next round's.
                    if m.offset() + 1 >= high || Instant::now() > deadline {
                        break;
                    }
                }
                Err(e) => warn!("reading offset syncs: {e}"),
            }
        }
        self.store.set_read_to_end();
        self
    }
}

/// A group, when its source offsets were listed, and those offsets.
type ListedOffsets = (String, i64, BTreeMap<TopicPartition, SourceOffset>);

struct Checkpointer {
    flow: Arc<Flow>,
    source: Admin,
    target: Admin,
    producer: AwaitedProducer,
    syncs: Option<SyncReader>,
    checkpoints_topic: String,
    store: CheckpointStore,
    groups: Vec<String>,
    policy: ReplicationPolicy,
    topic_filter: TopicFilter,
    group_selector: GroupSelector,
    latency: CheckpointLatency,
    /// What group offset sync works from: the selected groups' latest checkpoints.
    view: watch::Sender<Arc<SyncView>>,
}

/// The previous checkpoints (the monotonicity filter starts from them) and whether they could
/// be read: without them the offset-sync index keeps no history.
async fn load_checkpoints(
    flow: &Flow,
    name: &str,
    checkpoints_topic: &str,
) -> Result<(CheckpointStore, bool), String> {
    let (consumer_props, _) = translate(&flow.worker_client_props(ClientKind::Consumer), name)
        .map_err(|e| join_errors(&e))?;
    let (topic, timeout, reader) = (
        checkpoints_topic.to_string(),
        flow.settings.admin_timeout,
        format!("{name}|checkpoints-reader"),
    );
    let loaded =
        tokio::task::spawn_blocking(move || read_to_end(&consumer_props, &reader, &topic, timeout))
            .await
            .expect("checkpoints reader");
    Ok(match loaded {
        Ok(records) => (
            CheckpointStore::from_checkpoints(
                records
                    .iter()
                    .filter_map(|(k, v)| Checkpoint::decode(k.as_deref()?, v.as_deref()?).ok()),
            ),
            true,
        ),
        Err(e) => {
            warn!(flow = %flow.name(), "cannot read previous checkpoints ({e}); translating from the latest offset syncs only");
            (CheckpointStore::default(), false)
        }
    })
}

/// Opens the offset-syncs topic where `offset-syncs.topic.location` puts it and reads it to
/// the end.
async fn open_sync_reader(
    flow: &Flow,
    name: &str,
    policy: &ReplicationPolicy,
    keep_history: bool,
) -> Result<SyncReader, String> {
    let (side, other) = match flow.settings.offset_syncs_location {
        OffsetSyncsLocation::Source => (Side::Source, &flow.target),
        OffsetSyncsLocation::Target => (Side::Target, &flow.source),
    };
    let syncs_topic = policy.offset_syncs_topic(other);
    let (mut props, _) = translate(&flow.client_props(side, ClientKind::Consumer), name)
        .map_err(|e| join_errors(&e))?;
    props.set_default("group.id", format!("{}-mm2-checkpoints", flow.source));
    props.set("enable.auto.commit", "false", false);
    let consumer = AssignedConsumer::create_named(
        &props,
        &format!("{name}|offset-syncs-{}-consumer", side.as_str()),
        name,
    )
    .map_err(|e| e.to_string())?;
    let partition = TopicPartition::new(syncs_topic, 0);
    consumer
        .assign(&[(partition.clone(), StartAt::Beginning)])
        .map_err(|e| e.to_string())?;
    let reader = SyncReader {
        consumer,
        partition,
        store: OffsetSyncStore::new(keep_history),
    };
    let timeout = flow.settings.admin_timeout;
    let reader = tokio::task::spawn_blocking(move || reader.catch_up(timeout))
        .await
        .expect("syncs reader");
    Ok(reader)
}

impl Checkpointer {
    async fn start(flow: Arc<Flow>, metrics: &Metrics) -> Result<Self, String> {
        let name = format!("{}|MirrorCheckpointConnector", flow.name());
        let admin = |side: Side| -> Result<Admin, String> {
            let (props, _) = translate(&flow.client_props(side, ClientKind::Admin), &name)
                .map_err(|e| join_errors(&e))?;
            let client = format!("{name}|checkpoint-{}-admin", side.as_str());
            Admin::new(
                &props,
                flow.alias(side),
                &client,
                flow.settings.admin_timeout,
            )
            .map_err(|e| e.to_string())
        };
        let (source, target) = (admin(Side::Source)?, admin(Side::Target)?);
        let policy = ReplicationPolicy::new(&flow.settings.policy);
        let checkpoints_topic = policy.checkpoints_topic(&flow.source);
        ensure_compacted_topic(
            &target,
            &checkpoints_topic,
            1,
            flow.settings.checkpoints_topic_replication_factor,
        )
        .await
        .map_err(|e| e.to_string())?;
        let (producer_props, _) = translate(&flow.worker_client_props(ClientKind::Producer), &name)
            .map_err(|e| join_errors(&e))?;
        let producer = AwaitedProducer::create(&producer_props, &format!("{name}|producer"), &name)
            .map_err(|e| e.to_string())?;
        let (store, keep_history) = load_checkpoints(&flow, &name, &checkpoints_topic).await?;
        let reader = open_sync_reader(&flow, &name, &policy, keep_history).await?;
        info!(flow = %flow.name(), "checkpointing consumer groups to `{checkpoints_topic}`");
        Ok(Checkpointer {
            latency: metrics.checkpoint.flow(&flow.source, &flow.target),
            topic_filter: TopicFilter::new(&flow.settings),
            group_selector: GroupSelector::new(&flow.settings),
            flow,
            source,
            target,
            producer,
            syncs: Some(reader),
            checkpoints_topic,
            store,
            groups: Vec::new(),
            policy,
            view: watch::Sender::new(Arc::default()),
        })
    }

    /// Publishes the selected groups' latest checkpoints to group offset sync.
    fn publish_view(&self) {
        let view: SyncView = self
            .groups
            .iter()
            .map(|g| (g.clone(), self.store.group(g)))
            .filter(|(_, latest)| !latest.is_empty())
            .collect();
        self.view.send_replace(Arc::new(view));
    }

    async fn group_offsets(
        &self,
        admin: &Admin,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, GroupOffset>, String> {
        admin.group_offsets(group).await.map_err(|e| e.to_string())
    }

    /// The source groups to checkpoint: allowed by `groups`/`groups.exclude`, with at least one
    /// committed topic that is replicated.
    async fn refresh_groups(&mut self) {
        let listed = match self.source.list_groups().await {
            Ok(l) => l,
            Err(e) => {
                return warn!(flow = %self.flow.name(), "listing consumer groups on {}: {e}", self.flow.source)
            }
        };
        let admitted: Vec<String> = listed
            .into_iter()
            .map(|g| g.group_id)
            .filter(|g| self.group_selector.admits(g))
            .collect();
        let mut groups = Vec::new();
        for (g, offsets) in per_group(&admitted, |g| self.group_offsets(&self.source, g)).await {
            match offsets {
                Ok(o)
                    if self
                        .group_selector
                        .exclusion(g, o.keys().map(|tp| tp.topic.as_str()))
                        .is_none() =>
                {
                    groups.push(g.clone())
                }
                Ok(_) => {}
                Err(e) => warn!(flow = %self.flow.name(), "listing offsets of group {g}: {e}"),
            }
        }
        groups.sort();
        if groups != self.groups {
            info!(flow = %self.flow.name(), groups = groups.len(), "consumer groups to checkpoint changed");
            self.latency.retain_groups(&groups);
            self.groups = groups;
            self.publish_view();
        }
    }

    /// Translates every group's offsets and writes the checkpoints that move forward.
    async fn emit(&mut self) {
        // Listed before the syncs that arrived are read, so that each of those syncs can
        // improve the translation of these offsets (`OffsetSyncStore::watch`).
        let started = std::time::Instant::now();
        let listed = self.list_group_offsets().await;
        let listed_in = started.elapsed();
        if let Some(mut reader) = self.syncs.take() {
            reader
                .store
                .watch(listed.iter().flat_map(|(_, _, offsets)| {
                    offsets
                        .iter()
                        .map(|(tp, o)| (tp.topic.clone(), tp.partition, o.offset))
                }));
            let timeout = self.flow.settings.admin_timeout;
            self.syncs = Some(
                tokio::task::spawn_blocking(move || reader.catch_up(timeout))
                    .await
                    .expect("syncs reader"),
            );
        }
        let Some(reader) = &self.syncs else { return };
        let all = self.translate_groups(reader, &listed);
        let moved = all.len();
        let failed = self.write_checkpoints(all).await;
        debug!(flow = %self.flow.name(), groups = listed.len(), checkpoints = moved, "checkpoint round: offsets listed in {listed_in:?}, done in {:?}", started.elapsed());
        // A group is up to date once its offsets were listed and every checkpoint that moved
        // was written.
        for (group, listed_at, _) in listed {
            if !failed.contains(&group) {
                self.latency.fresh(&group, listed_at);
            }
        }
    }

    /// Every group's committed source offsets, each with the time they were listed; a group
    /// whose offsets cannot be listed is left out of this round.
    async fn list_group_offsets(&self) -> Vec<ListedOffsets> {
        let listed_at = now_ms();
        let mut listed = Vec::new();
        for (group, offsets) in
            per_group(&self.groups, |g| self.group_offsets(&self.source, g)).await
        {
            let offsets = match offsets {
                Ok(o) => o,
                Err(e) => {
                    warn!(flow = %self.flow.name(), "listing offsets of group {group}: {e}");
                    continue;
                }
            };
            let offsets = offsets
                .into_iter()
                .map(|(tp, o)| {
                    (
                        tp,
                        SourceOffset {
                            offset: o.offset,
                            metadata: o.metadata,
                        },
                    )
                })
                .collect();
            listed.push((group.clone(), listed_at, offsets));
        }
        listed
    }

    /// Every listed group's checkpoints that move forward, each with the time its source
    /// offsets were listed (the record's timestamp).
    fn translate_groups(
        &self,
        reader: &SyncReader,
        listed: &[ListedOffsets],
    ) -> Vec<(Checkpoint, i64)> {
        let translator = Translator {
            policy: &self.policy,
            topics: &self.topic_filter,
            source: &self.flow.source,
            target: &self.flow.target,
        };
        listed
            .iter()
            .flat_map(|(group, listed_at, offsets)| {
                translator
                    .checkpoints(group, offsets, &reader.store, &self.store)
                    .into_iter()
                    .map(|c| (c, *listed_at))
            })
            .collect()
    }

    /// Writes checkpoints, all in flight together; one that is written is remembered as the
    /// group's latest. Returns the groups of those that could not be written.
    async fn write_checkpoints(&mut self, all: Vec<(Checkpoint, i64)>) -> BTreeSet<String> {
        let encoded: Vec<(Vec<u8>, Vec<u8>)> = all
            .iter()
            .map(|(c, _)| (c.record_key(), c.record_value()))
            .collect();
        let records = encoded
            .iter()
            .zip(&all)
            .map(|((key, value), (_, listed_at))| {
                Outgoing::new(&self.checkpoints_topic, Some(key), Some(value))
                    .partition(0)
                    .timestamp(*listed_at)
            })
            .collect();
        let results = self
            .producer
            .send_all(records, self.flow.settings.admin_timeout)
            .await;
        let mut failed = BTreeSet::new();
        for ((c, listed_at), result) in all.into_iter().zip(results) {
            match result {
                Ok(()) => {
                    self.latency
                        .record(&c.group, &c.topic, c.partition, now_ms() - listed_at);
                    self.store.update(c);
                }
                Err(e) => {
                    warn!(flow = %self.flow.name(), "checkpoint not written: {e}");
                    failed.insert(c.group);
                }
            }
        }
        self.publish_view();
        failed
    }
}
