//! MirrorSourceConnector: finds the source topics to replicate, creates their remote topics with
//! the source's partition count and configs, keeps configs, partition counts and ACLs in sync,
//! and publishes the task assignment whenever the set of topic-partitions changes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tracing::{info, warn};

use crate::config::{ClientKind, Flow, OffsetSyncsLocation, Side};
use crate::kafka::admin::{Admin, AdminError, NewTopicSpec};
use crate::kafka::admin_ffi::TopicConfigChanges;
use crate::kafka::log::ensure_compacted_topic;
use crate::kafka::props::translate;

use super::topic_sync::{assign_tasks, TopicSelector};

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

/// One flow's MirrorSourceConnector.
pub struct SourceConnector {
    flow: Arc<Flow>,
    selector: TopicSelector,
    source: Admin,
    target: Admin,
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

fn every(period: Option<Duration>, first: Duration) -> Option<tokio::time::Interval> {
    period.map(|p| {
        let mut i = interval_at(Instant::now() + first, p);
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        i
    })
}

async fn tick(i: &mut Option<tokio::time::Interval>) {
    match i {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl SourceConnector {
    pub fn new(flow: Arc<Flow>) -> Result<Self, ConnectorError> {
        Ok(SourceConnector {
            selector: TopicSelector::new(&flow.settings, &flow.source, &flow.target),
            source: admin(&flow, Side::Source)?,
            target: admin(&flow, Side::Target)?,
            flow,
            acls_supported: true,
        })
    }

    /// Runs until `stop` turns true, publishing task assignments on `tasks`.
    pub async fn run(mut self, tasks: watch::Sender<Assignment>, mut stop: watch::Receiver<bool>) {
        let name = self.flow.name();
        let mut backoff = Duration::from_secs(1);
        let mut known = loop {
            let started = tokio::select! {
                r = self.start() => r,
                _ = crate::shutdown::stopped(&mut stop) => return,
            };
            match started {
                Ok(k) => break k,
                Err(e) => {
                    warn!(flow = %name, "MirrorSourceConnector cannot start: {e}; retrying in {backoff:?}")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = crate::shutdown::stopped(&mut stop) => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
        };
        let _ = tasks.send(self.assignment(&known));
        let s = &self.flow.settings;
        let mut refresh = every(s.refresh_topics, s.refresh_topics.unwrap_or_default());
        let mut configs = every(s.sync_topic_configs, Duration::ZERO);
        let mut acls = every(s.sync_topic_acls, Duration::ZERO);
        loop {
            tokio::select! {
                _ = crate::shutdown::stopped(&mut stop) => return,
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
        self.create_remote_topics(&known).await?;
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
        let missing_on_target = self.create_remote_topics(&new).await?;
        if &new != known || missing_on_target {
            info!(flow = %self.flow.name(), topics = new.len(), "source topics or partitions changed; reassigning tasks");
            return Ok(Some(new));
        }
        Ok(None)
    }

    /// Creates missing remote topics and raises partition counts. Returns whether anything was
    /// missing.
    async fn create_remote_topics(
        &self,
        known: &BTreeMap<String, i32>,
    ) -> Result<bool, ConnectorError> {
        let target = self.target.topics().await?;
        let mut create = Vec::new();
        let mut grow = Vec::new();
        for (topic, &partitions) in known {
            let remote = self.selector.remote_topic(topic);
            match target.get(&remote) {
                None => create.push((topic.clone(), remote, partitions)),
                Some(&have) if have < partitions => grow.push((remote, partitions as usize)),
                Some(_) => {}
            }
        }
        if !create.is_empty() {
            let sources: Vec<String> = create.iter().map(|(t, _, _)| t.clone()).collect();
            let configs = self.source.describe_topic_configs(&sources).await?;
            let specs: Vec<NewTopicSpec> = create
                .iter()
                .map(|(t, remote, partitions)| NewTopicSpec {
                    name: remote.clone(),
                    partitions: *partitions,
                    replication_factor: self.flow.settings.replication_factor,
                    configs: configs
                        .get(t)
                        .map(|e| self.selector.creation_configs(e))
                        .unwrap_or_default(),
                })
                .collect();
            for (topic, result) in self.target.create_topics(&specs).await? {
                match result {
                    Ok(()) => info!(flow = %self.flow.name(), "created remote topic {topic}"),
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
                        info!(flow = %self.flow.name(), "added partitions to remote topic {topic}")
                    }
                    Err(e) => {
                        warn!(flow = %self.flow.name(), "cannot add partitions to remote topic {topic}: {e}")
                    }
                }
            }
        }
        Ok(!create.is_empty() || !grow.is_empty())
    }

    /// Makes the configs of every replicated topic's remote topic follow the source.
    async fn sync_configs(&self, known: &BTreeMap<String, i32>) -> Result<(), ConnectorError> {
        let target = self.target.topics().await?;
        let topics: Vec<String> = known
            .keys()
            .filter(|t| target.contains_key(&self.selector.remote_topic(t)))
            .cloned()
            .collect();
        if topics.is_empty() {
            return Ok(());
        }
        let configs = self.source.describe_topic_configs(&topics).await?;
        let changes: Vec<TopicConfigChanges> = configs
            .iter()
            .map(|(t, entries)| TopicConfigChanges {
                topic: self.selector.remote_topic(t),
                ops: self.selector.config_ops(entries),
            })
            .filter(|c| !c.ops.is_empty())
            .collect();
        for (topic, result) in self
            .target
            .incremental_alter_topic_configs(&changes)
            .await?
        {
            if let Err(e) = result {
                warn!(flow = %self.flow.name(), "cannot sync configs of {topic}: {e}");
            }
        }
        Ok(())
    }

    /// Copies topic ACLs (add-only, as in Java).
    async fn sync_acls(&mut self) -> Result<(), ConnectorError> {
        let Some(acls) = self.source.describe_topic_acls().await? else {
            info!(flow = %self.flow.name(), "cluster {} has no authorizer; topic ACLs are not synced", self.flow.source);
            self.acls_supported = false;
            return Ok(());
        };
        let mapped: Vec<_> = acls
            .iter()
            .filter_map(|a| self.selector.target_acl(a))
            .collect();
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
