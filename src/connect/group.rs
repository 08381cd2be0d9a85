//! Joining a worker group: the internal topics, the status store and config log on them, the
//! herder that follows both, and the group membership that deals out the work. Used by
//! connect-distributed and by each flow of connect-mirror-maker.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;
use tracing::info;

use super::config_log;
use super::error::Error;
use super::herder::{ConnectorFactory, Herder};
use super::internal_topic::{check_internal_topic, Purpose};
use super::membership;
use super::status::StatusStore;
use super::status_log;
use super::stored_names::StoredNames;
use crate::kafka::admin::{Admin, TopicAdmin};
use crate::kafka::log::ensure_compacted_topic;
use crate::kafka::props::ClientProps;

/// Where and how a group keeps its state.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub group_id: String,
    /// The coordinator client's id (`client.id`); unset, Java's `connect-<worker id>`.
    pub client_id: Option<String>,
    /// The cluster's name, for messages.
    pub cluster: String,
    pub config_topic: String,
    pub offset_topic: String,
    pub status_topic: String,
    /// How connector names are written in the config and status topics.
    pub stored_names: StoredNames,
    pub offset_partitions: i32,
    pub status_partitions: i32,
    pub config_rf: i16,
    pub offset_rf: i16,
    pub status_rf: i16,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub rebalance_timeout: Duration,
    pub producer: ClientProps,
    pub consumer: ClientProps,
    pub admin: ClientProps,
}

/// What `GroupSpec::ensure_topics` found on the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InternalTopics {
    /// The offsets topic's real partition count, which may differ from
    /// `offset.storage.partitions` when the topic was there before (created by an operator, a
    /// Strimzi setup or an earlier Java install): the group shares its work by it.
    pub offset_partitions: i32,
}

impl GroupSpec {
    /// Creates the three compacted topics unless they exist, and checks the ones that existed as
    /// Java's worker does (see `internal_topic`), in Java's order: offsets (`Worker.start`),
    /// status, then config. A topic of the wrong shape is `Error::Shape`, which no retry mends.
    pub async fn ensure_topics(&self) -> Result<InternalTopics, Error> {
        let name = format!("{}|admin", self.group_id);
        let admin = Admin::new(&self.admin, &self.cluster, &name, Duration::from_secs(30))?;
        let topics = [
            (
                Purpose::Offsets,
                &self.offset_topic,
                self.offset_partitions,
                self.offset_rf,
            ),
            (
                Purpose::Status,
                &self.status_topic,
                self.status_partitions,
                self.status_rf,
            ),
            (Purpose::Config, &self.config_topic, 1, self.config_rf),
        ];
        let existing = admin.topics().await?;
        let mut created = false;
        for (_, topic, partitions, rf) in topics {
            if existing.contains_key(topic) {
                continue;
            }
            // One that another worker creates meanwhile counts as created, and goes unchecked.
            ensure_compacted_topic(&admin, topic, partitions, rf)
                .await
                .map_err(|source| Error::CreateTopic {
                    topic: topic.clone(),
                    source: Box::new(source),
                })?;
            created = true;
        }
        let policies = self.cleanup_policies(&admin, &existing).await;
        // A topic just created may not be in the metadata yet: it has the count asked for.
        let counts = if created {
            admin.topics().await?
        } else {
            existing.clone()
        };
        for (purpose, topic, partitions, _) in topics {
            let count = counts.get(topic).copied().unwrap_or(partitions);
            let policy = policies.get(topic).map(String::as_str);
            if existing.contains_key(topic) && policy.is_none() {
                info!(
                    "Unable to use admin client to verify the cleanup policy of '{topic}' topic \
                     is 'compact', either because the broker is an older version or because the \
                     Kafka principal used for Connect internal topics does not have the required \
                     permission to describe topic configurations."
                );
            }
            check_internal_topic(purpose, topic, count, policy)?;
        }
        let offset_partitions = counts
            .get(&self.offset_topic)
            .copied()
            .unwrap_or(self.offset_partitions);
        if offset_partitions != self.offset_partitions {
            info!(
                topic = %self.offset_topic,
                "the offsets topic has {offset_partitions} partitions \
                 (offset.storage.partitions = {}): the group shares its work over {offset_partitions}",
                self.offset_partitions
            );
        }
        Ok(InternalTopics { offset_partitions })
    }

    /// The `cleanup.policy` of each internal topic in `existing`; a topic whose configs cannot
    /// be described is left out (Java goes on without the check then).
    async fn cleanup_policies(
        &self,
        admin: &Admin,
        existing: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, String> {
        let names: Vec<String> = [&self.offset_topic, &self.status_topic, &self.config_topic]
            .into_iter()
            .filter(|t| existing.contains_key(*t))
            .cloned()
            .collect();
        if names.is_empty() {
            return BTreeMap::new();
        }
        let described = match admin.describe_topic_configs(&names).await {
            Ok(d) => d,
            Err(e) => {
                info!("cannot describe the internal topics' configs: {e}");
                return BTreeMap::new();
            }
        };
        described
            .into_iter()
            .filter_map(|(topic, entries)| {
                let value = entries
                    .into_iter()
                    .find(|e| e.name == "cleanup.policy")?
                    .value?;
                Some((topic, value))
            })
            .collect()
    }
}

/// A worker in its group.
pub struct Member {
    pub herder: Herder,
    follower: tokio::task::JoinHandle<()>,
    membership: JoinHandle<()>,
    stopping: Arc<AtomicBool>,
}

/// Joins the group: reads the config topic to its end, then follows it and the membership
/// until `stop`. The topics must exist, as `topics` found them.
pub async fn join(
    spec: &GroupSpec,
    topics: InternalTopics,
    worker_id: &str,
    factory: Arc<dyn ConnectorFactory>,
    read_only: Option<String>,
    stop: watch::Receiver<bool>,
) -> Result<Member, Error> {
    let stopping = Arc::new(AtomicBool::new(false));
    // Until the join succeeds, a failure (or being dropped on shutdown) stops the readers
    // already started.
    let guard = StopOnDrop(Some(stopping.clone()));
    let status_store = open_board(spec, worker_id, stopping.clone()).await?;
    let (updates_tx, updates_rx) = tokio::sync::mpsc::unbounded_channel();
    let (log, initial) = open_config_log(spec, updates_tx, stopping.clone()).await?;
    let mut herder = Herder::with_board(status_store, factory, Some(Arc::new(log)));
    if let Some(why) = read_only {
        herder = herder.read_only(why);
    }
    let client_id = spec
        .client_id
        .clone()
        .unwrap_or_else(|| format!("connect-{worker_id}"));
    herder = herder.in_group(client_id);
    // The REST API answers from the whole config topic from the first request on.
    herder.apply_snapshot(initial).await;
    let props = membership_props(spec);
    let membership = membership::join(
        &props,
        &spec.offset_topic,
        topics.offset_partitions,
        spec.rebalance_timeout,
        stopping.clone(),
    )?;
    let follower = {
        let h = herder.clone();
        let (owned, acks) = (membership.owned, membership.acks);
        tokio::spawn(async move { h.follow(updates_rx, owned, acks, stop).await })
    };
    guard.disarm();
    info!(worker = %worker_id, group = %spec.group_id, cluster = %spec.cluster, "joined the worker group");
    Ok(Member {
        herder,
        follower,
        membership: membership.thread,
        stopping,
    })
}

/// The status store, following the group's status topic.
async fn open_board(
    spec: &GroupSpec,
    worker_id: &str,
    stopping: Arc<AtomicBool>,
) -> Result<StatusStore, Error> {
    let (w, c, p, t, s) = (
        worker_id.to_string(),
        spec.consumer.clone(),
        spec.producer.clone(),
        spec.status_topic.clone(),
        stopping,
    );
    let names = spec.stored_names.clone();
    tokio::task::spawn_blocking(move || status_log::status_store(&w, &c, &p, &t, names, s)).await?
}

/// The config topic's writer and reader, and its state once read to the end.
async fn open_config_log(
    spec: &GroupSpec,
    updates_tx: tokio::sync::mpsc::UnboundedSender<config_log::Update>,
    stopping: Arc<AtomicBool>,
) -> Result<(config_log::ConfigLog, config_log::Snapshot), Error> {
    let (c, p, t, s) = (
        spec.consumer.clone(),
        spec.producer.clone(),
        spec.config_topic.clone(),
        stopping,
    );
    let names = spec.stored_names.clone();
    tokio::task::spawn_blocking(move || config_log::open(&c, &p, &t, names, updates_tx, s)).await?
}

/// The membership consumer's settings: the group's id and timeouts.
fn membership_props(spec: &GroupSpec) -> ClientProps {
    let mut props = spec.consumer.clone();
    props.set("group.id", spec.group_id.clone(), false);
    props.set(
        "session.timeout.ms",
        spec.session_timeout.as_millis().to_string(),
        false,
    );
    props.set(
        "heartbeat.interval.ms",
        spec.heartbeat_interval.as_millis().to_string(),
        false,
    );
    props.set(
        "max.poll.interval.ms",
        spec.rebalance_timeout.as_millis().to_string(),
        false,
    );
    props
}

/// Sets the flag when dropped, unless disarmed.
struct StopOnDrop(Option<Arc<AtomicBool>>);

impl StopOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

impl Member {
    /// Stops everything this worker runs, then leaves the group so the others take over at
    /// once. Call after `stop` turned true.
    pub async fn leave(self) {
        let _ = self.follower.await;
        self.herder.shutdown().await;
        self.stopping.store(true, Ordering::Relaxed);
        let thread = self.membership;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}
