//! MirrorSourceConnector: finds the source topics to replicate, creates their remote topics with
//! the source's partition count and configs, keeps configs, partition counts and ACLs in sync,
//! and publishes the task assignment whenever the set of topic-partitions changes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::config::{ClientKind, Flow, OffsetSyncsLocation, Side};
use crate::kafka::admin::{Admin, AdminError, NewTopicSpec, TopicAdmin};
use crate::kafka::log::ensure_compacted_topic;
use crate::kafka::props::translate;

use super::scheduler::{every, retry, tick};
use super::topic_sync::{assign_tasks, RemoteAction, RemoteTopic, TopicSelector};

/// Topics whose configs are described (and then created or altered) per request: a few
/// hundred keeps a response to a few hundred kilobytes, where one request for 5,000 topics
/// held some 200,000 config entries at once.
const CONFIG_BATCH: usize = 500;
/// How long tasks wait for remote topics just created to show in the target's metadata.
const VISIBLE_WITHIN: Duration = Duration::from_secs(60);
const VISIBLE_POLL: Duration = Duration::from_millis(500);

/// The partitions of each task.
pub type Assignment = Vec<Vec<(String, i32)>>;

/// Why the connector cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("client settings: {0}")]
    Config(String),
    #[error(transparent)]
    Admin(#[from] AdminError),
}

/// One flow's MirrorSourceConnector, over the admin clients of its two clusters.
pub struct SourceConnector<A: TopicAdmin = Admin> {
    flow: Arc<Flow>,
    selector: TopicSelector,
    source: A,
    target: A,
    acls_supported: bool,
}

fn admin(flow: &Flow, side: Side) -> Result<Admin, ConnectorError> {
    let label = format!("{} {} admin", flow.name(), side.as_str());
    let (props, _) =
        translate(&flow.client_props(side, ClientKind::Admin), &label).map_err(|e| {
            ConnectorError::Config(
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
    let name = format!(
        "{}|MirrorSourceConnector|replication-{}-admin",
        flow.name(),
        side.as_str()
    );
    Ok(Admin::new(
        &props,
        flow.alias(side),
        &name,
        flow.settings.admin_timeout,
    )?)
}

impl SourceConnector<Admin> {
    pub fn new(flow: Arc<Flow>) -> Result<Self, ConnectorError> {
        let (source, target) = (admin(&flow, Side::Source)?, admin(&flow, Side::Target)?);
        Ok(SourceConnector::with_admins(flow, source, target))
    }
}

impl<A: TopicAdmin> SourceConnector<A> {
    pub fn with_admins(flow: Arc<Flow>, source: A, target: A) -> Self {
        SourceConnector {
            selector: TopicSelector::new(&flow.settings, &flow.source, &flow.target),
            source,
            target,
            flow,
            acls_supported: true,
        }
    }

    /// Runs until `stop` turns true, publishing task assignments on `tasks`.
    pub async fn run(mut self, tasks: watch::Sender<Assignment>, mut stop: watch::Receiver<bool>) {
        let name = self.flow.name();
        let started = retry(
            &name,
            "MirrorSourceConnector cannot start",
            &mut stop,
            || self.start(),
        )
        .await;
        let Some(known) = started else { return };
        let _ = tasks.send(self.assignment(&known));
        // A stop interrupts a sync under way (a listing, or configs of thousands of topics):
        // the herder waits for this job before a rebalance may hand its work to another
        // worker, and every step is taken again from the start by whoever runs it next.
        tokio::select! {
            () = crate::shutdown::stopped(&mut stop) => {}
            () = self.keep_in_sync(known, &tasks) => {}
        }
    }

    /// Refreshes topics, configs and ACLs on their schedules, forever.
    async fn keep_in_sync(
        &mut self,
        mut known: BTreeMap<String, i32>,
        tasks: &watch::Sender<Assignment>,
    ) {
        let name = self.flow.name();
        let s = &self.flow.settings;
        let mut refresh = every(s.refresh_topics, s.refresh_topics.unwrap_or_default());
        let mut configs = every(s.sync_topic_configs, Duration::ZERO);
        let mut acls = every(s.sync_topic_acls, Duration::ZERO);
        loop {
            tokio::select! {
                _ = tick(&mut refresh) => match self.refresh(&known).await {
                    Ok(Some(new)) => {
                        known = new;
                        let _ = tasks.send(self.assignment(&known));
                    }
                    Ok(None) => {}
                    Err(e) => warn!(flow = %name, "refreshing topics: {e}"),
                },
                _ = tick(&mut configs) => if let Err(e) = self.sync_configs(&known).await {
                    warn!(flow = %name, "syncing topic configs: {e}");
                },
                _ = tick(&mut acls), if self.acls_supported => if let Err(e) = self.sync_acls().await {
                    warn!(flow = %name, "syncing topic ACLs: {e}");
                },
            }
        }
    }

    /// Creates the offset-syncs topic and the remote topics; returns the source topics.
    async fn start(&self) -> Result<BTreeMap<String, i32>, ConnectorError> {
        let s = &self.flow.settings;
        if s.emit_offset_syncs {
            let (admin, other) = match s.offset_syncs_location {
                OffsetSyncsLocation::Source => (&self.source, &self.flow.target),
                OffsetSyncsLocation::Target => (&self.target, &self.flow.source),
            };
            let topic = self.selector.policy.offset_syncs_topic(other);
            ensure_compacted_topic(admin, &topic, 1, s.offset_syncs_topic_replication_factor)
                .await?;
        }
        let known = self.source_topics().await?;
        let made = self.create_remote_topics(&known).await?;
        self.await_remote_topics(&made).await;
        Ok(known)
    }

    async fn source_topics(&self) -> Result<BTreeMap<String, i32>, ConnectorError> {
        let all = self.source.topics().await?;
        Ok(all
            .into_iter()
            .filter(|(t, _)| self.selector.should_replicate(t))
            .collect())
    }

    fn assignment(&self, known: &BTreeMap<String, i32>) -> Assignment {
        let partitions: Vec<(String, i32)> = known
            .iter()
            .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
            .collect();
        assign_tasks(&partitions, self.flow.settings.tasks_max as usize)
    }

    /// Looks again at the source; returns the new topic set if it changed (remote topics and
    /// partitions are created first).
    async fn refresh(
        &self,
        known: &BTreeMap<String, i32>,
    ) -> Result<Option<BTreeMap<String, i32>>, ConnectorError> {
        let new = self.source_topics().await?;
        let made = self.create_remote_topics(&new).await?;
        self.await_remote_topics(&made).await;
        if &new != known || !made.is_empty() {
            info!(flow = %self.flow.name(), topics = new.len(), "source topics or partitions changed; reassigning tasks");
            return Ok(Some(new));
        }
        Ok(None)
    }

    /// Creates missing remote topics and raises partition counts, as
    /// [`TopicSelector::remote_topics`] decides. Returns the remote topics created or grown,
    /// with their partition counts.
    async fn create_remote_topics(
        &self,
        known: &BTreeMap<String, i32>,
    ) -> Result<Vec<(String, i32)>, ConnectorError> {
        let mut made = Vec::new();
        let target = self.target.topics().await?;
        let plan = self.selector.remote_topics(known, &target);
        let create: Vec<&RemoteTopic> = plan
            .iter()
            .filter(|t| t.action == RemoteAction::Create)
            .collect();
        // The partitions each remote topic is to have, for the topics made below.
        let wanted: BTreeMap<&str, i32> = plan
            .iter()
            .map(|t| (t.remote.as_str(), t.partitions))
            .collect();
        let grow: Vec<(String, usize)> = plan
            .iter()
            .filter_map(|t| match t.action {
                RemoteAction::AddPartitions { .. } => {
                    Some((t.remote.clone(), t.partitions as usize))
                }
                _ => None,
            })
            .collect();
        // In batches: one request for thousands of topics holds all their configs at once.
        for create in create.chunks(CONFIG_BATCH) {
            let sources: Vec<String> = create.iter().map(|t| t.source.clone()).collect();
            let configs = self.source.describe_topic_configs(&sources).await?;
            let specs: Vec<NewTopicSpec> = create
                .iter()
                .map(|t| {
                    self.selector.new_topic_spec(
                        t,
                        configs.get(&t.source),
                        self.flow.settings.replication_factor,
                    )
                })
                .collect();
            for (topic, result) in self.target.create_topics(&specs).await? {
                match result {
                    Ok(()) => {
                        info!(flow = %self.flow.name(), "created remote topic {topic}");
                        let partitions = wanted.get(topic.as_str()).copied().unwrap_or(0);
                        made.push((topic, partitions));
                    }
                    Err(e) => {
                        warn!(flow = %self.flow.name(), "cannot create remote topic {topic}: {e}")
                    }
                }
            }
        }
        if !grow.is_empty() {
            for (topic, result) in self.target.create_partitions(&grow).await? {
                match result {
                    Ok(()) => {
                        info!(flow = %self.flow.name(), "added partitions to remote topic {topic}");
                        let partitions = wanted.get(topic.as_str()).copied().unwrap_or(0);
                        made.push((topic, partitions));
                    }
                    Err(e) => {
                        warn!(flow = %self.flow.name(), "cannot add partitions to remote topic {topic}: {e}")
                    }
                }
            }
        }
        Ok(made)
    }

    /// Waits (up to [`VISIBLE_WITHIN`]) until the target's metadata shows the remote topics just
    /// `made` with all their partitions, so tasks are not given partitions their producers
    /// cannot find yet: a broker takes a while to take up thousands of new partitions, and
    /// librdkafka fails records for a topic it has not seen within
    /// `topic.metadata.propagation.max.ms` (30 s).
    async fn await_remote_topics(&self, made: &[(String, i32)]) {
        if made.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        loop {
            let target = self.target.topics().await.unwrap_or_default();
            let missing = made
                .iter()
                .filter(|(t, n)| target.get(t).is_none_or(|p| p < n))
                .count();
            if missing == 0 {
                return info!(flow = %self.flow.name(), topics = made.len(), "remote topics ready after {:?}", started.elapsed());
            }
            if started.elapsed() >= VISIBLE_WITHIN {
                return warn!(flow = %self.flow.name(), "{missing} of {} remote topics just created are not in the metadata of {} after {VISIBLE_WITHIN:?}; replicating to them all the same", made.len(), self.flow.target);
            }
            tokio::time::sleep(VISIBLE_POLL).await;
        }
    }

    /// Makes the configs of every replicated topic's remote topic follow the source.
    async fn sync_configs(&self, known: &BTreeMap<String, i32>) -> Result<(), ConnectorError> {
        let target = self.target.topics().await?;
        // Only remote topics that exist: a missing one is created with its configs.
        let topics: Vec<String> = self
            .selector
            .remote_topics(known, &target)
            .into_iter()
            .filter(|t| t.action != RemoteAction::Create)
            .map(|t| t.source)
            .collect();
        let started = std::time::Instant::now();
        // In batches, so a round over thousands of topics never holds all their configs.
        for topics in topics.chunks(CONFIG_BATCH) {
            let configs = self.source.describe_topic_configs(topics).await?;
            let changes = self.selector.config_changes(&configs);
            if changes.is_empty() {
                continue;
            }
            for (topic, result) in self
                .target
                .incremental_alter_topic_configs(&changes)
                .await?
            {
                if let Err(e) = result {
                    warn!(flow = %self.flow.name(), "cannot sync configs of {topic}: {e}");
                }
            }
        }
        debug!(flow = %self.flow.name(), topics = topics.len(), "config sync round done in {:?}", started.elapsed());
        Ok(())
    }

    /// Copies topic ACLs (add-only, as in Java).
    async fn sync_acls(&mut self) -> Result<(), ConnectorError> {
        let Some(acls) = self.source.describe_topic_acls().await? else {
            info!(flow = %self.flow.name(), "cluster {} has no authorizer; topic ACLs are not synced", self.flow.source);
            self.acls_supported = false;
            return Ok(());
        };
        let mapped = self.selector.target_acls(&acls);
        if mapped.is_empty() {
            return Ok(());
        }
        for r in self.target.create_acls(&mapped).await? {
            if let Err(e) = r {
                warn!(flow = %self.flow.name(), "cannot create ACL on {}: {e}", self.flow.target);
            }
        }
        Ok(())
    }
}

/// The connector's decisions against a fake of both clusters: which topics are created, which
/// config ops are sent, that a cluster without an authorizer is not asked again. Each behaviour
/// is also shown on Kafka in tests/mirror_source.rs (creation, config sync, partition increases
/// through CreatePartitions, ACL sync through Kafka's authorizer).
#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::config::{self, Environment, Properties};
    use crate::kafka::admin::ConfigEntry;
    use crate::kafka::admin_ffi::{AclBinding, AlterKind, TopicConfigChanges};
    use crate::mirror::topic_sync::tests::entry;

    #[derive(Default)]
    struct Fake {
        topics: Mutex<BTreeMap<String, i32>>,
        configs: Mutex<BTreeMap<String, Vec<ConfigEntry>>>,
        acls: Mutex<Option<Vec<AclBinding>>>,
        created: Mutex<Vec<NewTopicSpec>>,
        grown: Mutex<Vec<(String, usize)>>,
        altered: Mutex<Vec<TopicConfigChanges>>,
        created_acls: Mutex<Vec<AclBinding>>,
    }

    impl TopicAdmin for Arc<Fake> {
        fn cluster(&self) -> &str {
            "fake"
        }
        async fn topics(&self) -> Result<BTreeMap<String, i32>, AdminError> {
            Ok(self.topics.lock().unwrap().clone())
        }
        async fn describe_topic_configs(
            &self,
            topics: &[String],
        ) -> Result<BTreeMap<String, Vec<ConfigEntry>>, AdminError> {
            let configs = self.configs.lock().unwrap();
            Ok(topics
                .iter()
                .map(|t| (t.clone(), configs.get(t).cloned().unwrap_or_default()))
                .collect())
        }
        async fn create_topics(
            &self,
            topics: &[NewTopicSpec],
        ) -> crate::kafka::admin::TopicResults {
            self.created.lock().unwrap().extend(topics.iter().cloned());
            let mut all = self.topics.lock().unwrap();
            Ok(topics
                .iter()
                .map(|t| {
                    all.insert(t.name.clone(), t.partitions);
                    (t.name.clone(), Ok(()))
                })
                .collect())
        }
        async fn create_partitions(
            &self,
            increases: &[(String, usize)],
        ) -> crate::kafka::admin::TopicResults {
            self.grown.lock().unwrap().extend(increases.iter().cloned());
            let mut all = self.topics.lock().unwrap();
            Ok(increases
                .iter()
                .map(|(t, n)| {
                    all.insert(t.clone(), *n as i32);
                    (t.clone(), Ok(()))
                })
                .collect())
        }
        async fn incremental_alter_topic_configs(
            &self,
            changes: &[TopicConfigChanges],
        ) -> crate::kafka::admin::TopicResults {
            self.altered.lock().unwrap().extend(changes.iter().cloned());
            Ok(changes.iter().map(|c| (c.topic.clone(), Ok(()))).collect())
        }
        async fn describe_topic_acls(&self) -> Result<Option<Vec<AclBinding>>, AdminError> {
            Ok(self.acls.lock().unwrap().clone())
        }
        async fn create_acls(
            &self,
            acls: &[AclBinding],
        ) -> Result<Vec<Result<(), String>>, AdminError> {
            self.created_acls
                .lock()
                .unwrap()
                .extend(acls.iter().cloned());
            Ok(acls.iter().map(|_| Ok(())).collect())
        }
    }

    fn connector(extra: &str) -> (SourceConnector<Arc<Fake>>, Arc<Fake>, Arc<Fake>) {
        let text = format!("clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\n{extra}");
        let cfg = config::from_properties(
            Properties::parse(text.as_bytes()).unwrap(),
            &[],
            &Environment::Fixed(Default::default()),
        )
        .unwrap();
        let flow = Arc::new(cfg.flow("A", "B").unwrap().clone());
        let (source, target) = (Arc::new(Fake::default()), Arc::new(Fake::default()));
        (
            SourceConnector::with_admins(flow, source.clone(), target.clone()),
            source,
            target,
        )
    }

    #[tokio::test]
    async fn creates_missing_remote_topics_with_source_partitions_and_configs() {
        let (c, source, target) = connector("");
        *source.topics.lock().unwrap() = BTreeMap::from([
            ("orders".into(), 3),
            ("B.orders".into(), 1),
            ("__consumer_offsets".into(), 50),
        ]);
        source.configs.lock().unwrap().insert(
            "orders".into(),
            vec![
                entry("retention.ms", "1000", false),
                entry("min.insync.replicas", "2", false),
                entry("cleanup.policy", "delete", true),
            ],
        );
        let known = c.start().await.unwrap();
        assert_eq!(
            known,
            BTreeMap::from([("orders".to_string(), 3)]),
            "no loops, no internal topics"
        );
        let created = target.created.lock().unwrap().clone();
        assert_eq!(
            created,
            vec![NewTopicSpec {
                name: "A.orders".into(),
                partitions: 3,
                replication_factor: 2,
                configs: vec![("retention.ms".into(), "1000".into())],
            }]
        );
        assert_eq!(
            c.assignment(&known),
            vec![vec![
                ("orders".to_string(), 0),
                ("orders".to_string(), 1),
                ("orders".to_string(), 2)
            ]]
        );
        // The offset-syncs topic was created on the source.
        assert!(source
            .created
            .lock()
            .unwrap()
            .iter()
            .any(|t| t.name == "mm2-offset-syncs.B.internal" && t.partitions == 1));
    }

    #[tokio::test]
    async fn configs_are_synced_with_set_and_delete() {
        let (c, source, target) = connector("");
        *source.topics.lock().unwrap() = BTreeMap::from([("t".into(), 1)]);
        let known = c.start().await.unwrap();
        source.configs.lock().unwrap().insert(
            "t".into(),
            vec![
                entry("retention.ms", "5", false),
                entry("segment.ms", "9", true),
            ],
        );
        c.sync_configs(&known).await.unwrap();
        let altered = target.altered.lock().unwrap().clone();
        assert_eq!(altered.len(), 1);
        assert_eq!(altered[0].topic, "A.t");
        let ops: Vec<(&str, AlterKind)> = altered[0]
            .ops
            .iter()
            .map(|o| (o.name.as_str(), o.kind))
            .collect();
        assert_eq!(
            ops,
            vec![
                ("retention.ms", AlterKind::Set),
                ("segment.ms", AlterKind::Delete)
            ]
        );
    }

    #[tokio::test]
    async fn a_cluster_without_authorizer_is_not_asked_for_acls_again() {
        let (mut c, source, target) = connector("A->B.topics = t\n");
        *source.acls.lock().unwrap() = None;
        c.sync_acls().await.unwrap();
        assert!(!c.acls_supported, "no authorizer: stop trying");
        assert!(target.created_acls.lock().unwrap().is_empty());
    }
}
