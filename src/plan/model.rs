//! The plan as data: what `render` prints and what `--format json` serializes, field for field.

use serde::Serialize;

/// Every enabled flow's plan, in mm2.properties order.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub flows: Vec<FlowPlan>,
}

/// What one flow `source->target` would do.
#[derive(Debug, Clone, Serialize)]
pub struct FlowPlan {
    pub source: String,
    pub target: String,
    /// Replicated source topics, by source name.
    pub topics: Vec<TopicPlan>,
    pub acls: AclPlan,
    pub groups: GroupsPlan,
    /// Every source topic, topic config and group left out, with why.
    pub excluded: Vec<Excluded>,
}

/// A replicated source topic and its remote topic.
#[derive(Debug, Clone, Serialize)]
pub struct TopicPlan {
    pub source: String,
    pub remote: String,
    /// The source's partition count, which the remote topic gets.
    pub partitions: i32,
    /// `create`, `add-partitions` or `matches`.
    pub action: &'static str,
    /// The remote topic's partition count now, if it exists.
    pub remote_partitions: Option<i32>,
    /// The remote topic configs that would be set (at creation) or changed (by config sync).
    pub configs: Vec<ConfigChange>,
}

/// One remote topic config a run would set.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigChange {
    pub name: String,
    /// The new value; `None` for `delete` (back to the target's default).
    pub value: Option<String>,
    /// `set` (new topic or no value yet), `change` (a different value now) or `delete`.
    pub op: &'static str,
    /// The remote topic's value now, for `change` and `delete`.
    pub current: Option<String>,
}

/// Topic ACL sync.
#[derive(Debug, Clone, Serialize)]
pub struct AclPlan {
    /// `disabled` (sync.topic.acls.enabled = false), `no-authorizer` (the source has none) or
    /// `sync`.
    pub status: &'static str,
    /// The ACLs that would be created on the target (creation is add-only and idempotent).
    pub bindings: Vec<AclPlanEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AclPlanEntry {
    pub source_topic: String,
    /// The remote topic the ACL is created on.
    pub topic: String,
    pub principal: String,
    pub host: String,
    pub operation: &'static str,
    pub permission: &'static str,
}

/// Consumer-group checkpoints and offset sync.
#[derive(Debug, Clone, Serialize)]
pub struct GroupsPlan {
    /// Whether MirrorCheckpointConnector runs (emit.checkpoints.enabled).
    pub checkpoints_enabled: bool,
    /// Whether offsets are synced to the target (sync.group.offsets.enabled).
    pub sync_offsets_enabled: bool,
    /// The groups that would be checkpointed.
    pub checkpointed: Vec<GroupPlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupPlan {
    pub group: String,
    /// Whether its translated offsets would be committed to the target group.
    pub sync_offsets: bool,
    /// Why not, when sync is enabled but this group is not synced (consumers use it there).
    pub sync_skipped: Option<String>,
}

/// What is left out.
#[derive(Debug, Clone, Serialize)]
pub struct Excluded {
    /// `topic`, `group` or `config`.
    pub kind: &'static str,
    pub name: String,
    /// For a config: its source topic.
    pub topic: Option<String>,
    /// `filter`, `internal`, `loop`, `excluded config` or `no replicated topics`.
    pub reason: &'static str,
}
