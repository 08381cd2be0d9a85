//! The plan of one flow from what was read of its clusters: a pure function over a
//! [`Snapshot`], deciding with the connectors' own selectors.

use std::collections::BTreeMap;

use crate::config::Flow;
use crate::kafka::admin::ConfigEntry;
use crate::kafka::admin_ffi::{AlterKind, ConfigOp};
use crate::mirror::checkpoint::GroupSelector;
use crate::mirror::topic_sync::{RemoteAction, RemoteTopic, TopicSelector};

use super::model::{
    AclPlan, AclPlanEntry, ConfigChange, Excluded, FlowPlan, GroupPlan, GroupsPlan, TopicPlan,
};
use super::read::Snapshot;

/// What `flow` would do to its target, given `snap`.
pub fn decide(flow: &Flow, snap: &Snapshot) -> FlowPlan {
    let s = &flow.settings;
    let selector = TopicSelector::new(s, &flow.source, &flow.target);
    let mut excluded = Vec::new();
    let mut replicated = BTreeMap::new();
    for (topic, &n) in &snap.source_topics {
        match selector.exclusion(topic) {
            None => {
                replicated.insert(topic.clone(), n);
            }
            Some(why) => excluded.push(Excluded {
                kind: "topic",
                name: topic.clone(),
                topic: None,
                reason: why.as_str(),
            }),
        }
    }
    let topics = selector
        .remote_topics(&replicated, &snap.target_topics)
        .into_iter()
        .map(|t| {
            let entries = snap.source_configs.get(&t.source);
            for e in entries
                .map(|e| selector.excluded_configs(e))
                .unwrap_or_default()
            {
                excluded.push(Excluded {
                    kind: "config",
                    name: e.name.clone(),
                    topic: Some(t.source.clone()),
                    reason: "excluded config",
                });
            }
            topic_plan(flow, &selector, snap, t)
        })
        .collect();
    let groups = groups_plan(flow, snap, &mut excluded);
    FlowPlan {
        source: flow.source.clone(),
        target: flow.target.clone(),
        topics,
        acls: acl_plan(&selector, snap),
        groups,
        excluded,
    }
}

/// A replicated topic: created with the configs MirrorSourceConnector creates it with, or, if
/// it exists, changed by the config sync's ops where they differ from the remote topic now.
fn topic_plan(flow: &Flow, selector: &TopicSelector, snap: &Snapshot, t: RemoteTopic) -> TopicPlan {
    let entries = snap.source_configs.get(&t.source);
    let configs = if t.action == RemoteAction::Create {
        selector
            .new_topic_spec(&t, entries, flow.settings.replication_factor)
            .configs
            .into_iter()
            .map(|(name, value)| ConfigChange {
                name,
                value: Some(value),
                op: "set",
                current: None,
            })
            .collect()
    } else if flow.settings.sync_topic_configs.is_some() {
        let now = snap.target_configs.get(&t.remote).map(Vec::as_slice);
        selector
            .config_ops(entries.map(Vec::as_slice).unwrap_or_default())
            .iter()
            .filter_map(|op| changed(op, now.unwrap_or_default()))
            .collect()
    } else {
        Vec::new()
    };
    let (action, remote_partitions) = match t.action {
        RemoteAction::Create => ("create", None),
        RemoteAction::AddPartitions { from } => ("add-partitions", Some(from)),
        RemoteAction::Matches => ("matches", snap.target_topics.get(&t.remote).copied()),
    };
    TopicPlan {
        source: t.source,
        remote: t.remote,
        partitions: t.partitions,
        action,
        remote_partitions,
        configs,
    }
}

/// What a config op does to a remote topic whose entries are `now`; `None` when it changes
/// nothing. The connector sends every op each round, so only the differences are news.
fn changed(op: &ConfigOp, now: &[ConfigEntry]) -> Option<ConfigChange> {
    let current = now.iter().find(|e| e.name == op.name);
    match op.kind {
        AlterKind::Set => {
            let have = current.and_then(|e| e.value.clone());
            (have != op.value).then(|| ConfigChange {
                name: op.name.clone(),
                value: op.value.clone(),
                op: if have.is_some() { "change" } else { "set" },
                current: have,
            })
        }
        // Only an override of the target is removed; a default stays as it is.
        AlterKind::Delete => current.filter(|e| !e.is_default).map(|e| ConfigChange {
            name: op.name.clone(),
            value: None,
            op: "delete",
            current: e.value.clone(),
        }),
    }
}

fn acl_plan(selector: &TopicSelector, snap: &Snapshot) -> AclPlan {
    match &snap.source_acls {
        None => AclPlan {
            status: "disabled",
            bindings: Vec::new(),
        },
        Some(None) => AclPlan {
            status: "no-authorizer",
            bindings: Vec::new(),
        },
        Some(Some(acls)) => AclPlan {
            status: "sync",
            bindings: acls
                .iter()
                .filter_map(|a| {
                    let to = selector.target_acl(a)?;
                    Some(AclPlanEntry {
                        source_topic: a.name.clone(),
                        topic: to.name,
                        principal: to.principal,
                        host: to.host,
                        operation: to.operation.as_str(),
                        permission: to.permission.as_str(),
                    })
                })
                .collect(),
        },
    }
}

fn groups_plan(flow: &Flow, snap: &Snapshot, excluded: &mut Vec<Excluded>) -> GroupsPlan {
    let s = &flow.settings;
    let selector = GroupSelector::new(s);
    let mut checkpointed = Vec::new();
    for (group, topics) in &snap.groups {
        let topics = topics.iter().flatten().map(String::as_str);
        if let Some(why) = selector.exclusion(group, topics) {
            excluded.push(Excluded {
                kind: "group",
                name: group.clone(),
                topic: None,
                reason: why.as_str(),
            });
            continue;
        }
        let target = snap.target_groups.get(group);
        let sync_offsets = target.is_some_and(|d| selector.syncs_offsets(d));
        let sync_skipped = match target {
            Some(d) if !sync_offsets => Some(match &d.error {
                Some(e) => format!("cannot describe the target group: {e}"),
                None => format!("active on {} ({} members)", flow.target, d.members),
            }),
            _ => None,
        };
        checkpointed.push(GroupPlan {
            group: group.clone(),
            sync_offsets,
            sync_skipped,
        });
    }
    GroupsPlan {
        checkpoints_enabled: s.emit_checkpoints.is_some(),
        sync_offsets_enabled: s.sync_group_offsets.is_some(),
        checkpointed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirror::topic_sync::tests::entry;

    #[test]
    fn only_config_ops_that_change_the_remote_topic_are_planned() {
        let now = vec![
            entry("retention.ms", "5", false),
            entry("segment.ms", "7", false),
            entry("cleanup.policy", "delete", true),
        ];
        let ops = [
            ConfigOp::set("retention.ms", "5"),
            ConfigOp::set("segment.ms", "8"),
            ConfigOp::set("max.message.bytes", "10"),
            ConfigOp::delete("cleanup.policy"),
            ConfigOp::delete("segment.ms"),
        ];
        let planned: Vec<(&str, String, Option<String>)> = ops
            .iter()
            .filter_map(|op| changed(op, &now))
            .map(|c| (c.op, c.name, c.current))
            .collect();
        let seven = Some("7".to_string());
        assert_eq!(
            planned,
            vec![
                ("change", "segment.ms".to_string(), seven.clone()),
                ("set", "max.message.bytes".to_string(), None),
                ("delete", "segment.ms".to_string(), seven),
            ]
        );
    }
}
