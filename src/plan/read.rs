//! What a plan reads of a flow's two clusters, with the admin calls the connectors make, and
//! nothing else: no topic, group or offset is created or changed, and no client of a group
//! joins one (admin clients only).

use std::collections::BTreeMap;

use crate::config::{join_errors, ClientKind, Flow, Side};
use crate::kafka::admin::{Admin, ConfigEntry, TopicAdmin};
use crate::kafka::admin_ffi::{AclBinding, GroupDescription};
use crate::kafka::props::translate;
use crate::mirror::checkpoint::GroupSelector;
use crate::mirror::topic_sync::{RemoteAction, TopicSelector};

use super::PlanError;

/// One flow's clusters as the plan saw them.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every source topic with its partition count.
    pub source_topics: BTreeMap<String, i32>,
    /// Every target topic with its partition count.
    pub target_topics: BTreeMap<String, i32>,
    /// The config entries of each replicated source topic.
    pub source_configs: BTreeMap<String, Vec<ConfigEntry>>,
    /// The config entries of each remote topic that exists (by remote name), when config sync
    /// is enabled.
    pub target_configs: BTreeMap<String, Vec<ConfigEntry>>,
    /// The source's topic ACLs: `None` when ACL sync is disabled, `Some(None)` when the source
    /// has no authorizer.
    pub source_acls: Option<Option<Vec<AclBinding>>>,
    /// Every source group with the topics it committed offsets on; `None` for a group the
    /// group filter refuses (its offsets are not read, as the checkpointer does not read them).
    /// Empty when checkpoints are disabled.
    pub groups: Vec<(String, Option<Vec<String>>)>,
    /// The target side of each checkpointed group, when offset sync is enabled.
    pub target_groups: BTreeMap<String, GroupDescription>,
}

/// An admin client of one side of `flow`.
fn admin(flow: &Flow, side: Side) -> Result<Admin, PlanError> {
    let label = format!("{} {} admin", flow.name(), side.as_str());
    let (props, _) = translate(&flow.client_props(side, ClientKind::Admin), &label)
        .map_err(|e| PlanError::Settings(join_errors(&e)))?;
    let name = format!("{}|plan-{}-admin", flow.name(), side.as_str());
    Admin::new(&props, flow.alias(side), &name, flow.settings.admin_timeout)
        .map_err(|e| PlanError::Settings(e.to_string()))
}

/// Reads what [`super::decide::decide`] needs of both clusters of `flow`.
pub async fn snapshot(flow: &Flow) -> Result<Snapshot, PlanError> {
    let (source, target) = (admin(flow, Side::Source)?, admin(flow, Side::Target)?);
    let failed = |side: Side| {
        move |e: &dyn std::fmt::Display| PlanError::Cluster {
            cluster: flow.alias(side).to_string(),
            flow: flow.name(),
            message: e.to_string(),
        }
    };
    let (on_source, on_target) = (failed(Side::Source), failed(Side::Target));
    let s = &flow.settings;
    let selector = TopicSelector::new(s, &flow.source, &flow.target);
    let mut snap = Snapshot {
        source_topics: source.topics().await.map_err(|e| on_source(&e))?,
        target_topics: target.topics().await.map_err(|e| on_target(&e))?,
        ..Snapshot::default()
    };
    let replicated: BTreeMap<String, i32> = snap
        .source_topics
        .iter()
        .filter(|(t, _)| selector.should_replicate(t))
        .map(|(t, n)| (t.clone(), *n))
        .collect();
    let names: Vec<String> = replicated.keys().cloned().collect();
    if !names.is_empty() {
        snap.source_configs = source
            .describe_topic_configs(&names)
            .await
            .map_err(|e| on_source(&e))?;
    }
    if s.sync_topic_configs.is_some() {
        let existing: Vec<String> = selector
            .remote_topics(&replicated, &snap.target_topics)
            .into_iter()
            .filter(|t| t.action != RemoteAction::Create)
            .map(|t| t.remote)
            .collect();
        if !existing.is_empty() {
            snap.target_configs = target
                .describe_topic_configs(&existing)
                .await
                .map_err(|e| on_target(&e))?;
        }
    }
    if s.sync_topic_acls.is_some() {
        snap.source_acls = Some(
            source
                .describe_topic_acls()
                .await
                .map_err(|e| on_source(&e))?,
        );
    }
    if s.emit_checkpoints.is_some() {
        read_groups(flow, &source, &target, &mut snap, &on_source, &on_target).await?;
    }
    Ok(snap)
}

/// The source groups and their committed topics, and the target side of those checkpointed.
async fn read_groups(
    flow: &Flow,
    source: &Admin,
    target: &Admin,
    snap: &mut Snapshot,
    on_source: &impl Fn(&dyn std::fmt::Display) -> PlanError,
    on_target: &impl Fn(&dyn std::fmt::Display) -> PlanError,
) -> Result<(), PlanError> {
    let selector = GroupSelector::new(&flow.settings);
    let mut listed: Vec<String> = source
        .list_groups()
        .await
        .map_err(|e| on_source(&e))?
        .into_iter()
        .map(|g| g.group_id)
        .collect();
    listed.sort();
    let mut checkpointed = Vec::new();
    for group in listed {
        if !selector.admits(&group) {
            snap.groups.push((group, None));
            continue;
        }
        let offsets = source
            .group_offsets(&group)
            .await
            .map_err(|e| on_source(&format!("listing offsets of group {group}: {e}")))?;
        let topics: Vec<String> = offsets.keys().map(|tp| tp.topic.clone()).collect();
        if selector
            .exclusion(&group, topics.iter().map(String::as_str))
            .is_none()
        {
            checkpointed.push(group.clone());
        }
        snap.groups.push((group, Some(topics)));
    }
    if flow.settings.sync_group_offsets.is_some() && !checkpointed.is_empty() {
        snap.target_groups = target
            .describe_groups(&checkpointed)
            .await
            .map_err(|e| on_target(&e))?
            .into_iter()
            .map(|d| (d.group_id.clone(), d))
            .collect();
    }
    Ok(())
}
