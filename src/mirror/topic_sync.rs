//! Which topics MirrorSourceConnector replicates and how their remote topics are configured:
//! the replication decision (filters, internal topics, loop detection), the configs a new remote
//! topic is created with, and the incremental changes that keep configs in sync.

use std::collections::BTreeMap;

use crate::config::{DefaultsFrom, FlowSettings};
use crate::kafka::admin::{ConfigEntry, NewTopicSpec};
use crate::kafka::admin_ffi::{
    AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType, AlterKind, ConfigOp,
    TopicConfigChanges,
};
use crate::policy::{ConfigPropertyFilter, ReplicationPolicy, TopicFilter};

/// Why a source topic is not replicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TopicExclusion {
    /// Not in `topics`, or in `topics.exclude` (and not a heartbeats topic).
    Filter,
    /// Kafka's, Connect's or MirrorMaker 2's own topic, by the replication policy.
    Internal,
    /// Already went through the target: replicating it would loop.
    Loop,
}

impl TopicExclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            TopicExclusion::Filter => "filter",
            TopicExclusion::Internal => "internal",
            TopicExclusion::Loop => "loop",
        }
    }
}

/// What MirrorSourceConnector does to the remote topic of a replicated source topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteAction {
    /// The remote topic does not exist: it is created with the source's partition count.
    Create,
    /// The remote topic has fewer partitions than the source (`from`): partitions are added.
    AddPartitions { from: i32 },
    /// The remote topic has at least the source's partitions: nothing to do.
    Matches,
}

/// One replicated source topic and what happens to its remote topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTopic {
    pub source: String,
    pub remote: String,
    pub partitions: i32,
    pub action: RemoteAction,
}

/// The replication decision of one flow.
#[derive(Debug, Clone)]
pub struct TopicSelector {
    pub policy: ReplicationPolicy,
    filter: TopicFilter,
    config_filter: ConfigPropertyFilter,
    source: String,
    target: String,
    heartbeats_replication: bool,
    use_defaults_from: DefaultsFrom,
}

impl TopicSelector {
    pub fn new(settings: &FlowSettings, source: &str, target: &str) -> Self {
        TopicSelector {
            policy: ReplicationPolicy::new(&settings.policy),
            filter: TopicFilter::new(settings),
            config_filter: ConfigPropertyFilter::new(settings),
            source: source.to_string(),
            target: target.to_string(),
            heartbeats_replication: settings.heartbeats_replication,
            use_defaults_from: settings.use_defaults_from,
        }
    }

    /// `MirrorSourceConnector.shouldReplicateTopic`: included (heartbeats always, unless
    /// disabled), not internal, and not already through the target (no loops).
    pub fn should_replicate(&self, topic: &str) -> bool {
        self.exclusion(topic).is_none()
    }

    /// Why `topic` is not replicated, or `None` if it is. The three conditions are Java's
    /// conjunction; they are tested internal first, then loop, then filter, so an operator is
    /// told the reason that no filter setting can override.
    pub fn exclusion(&self, topic: &str) -> Option<TopicExclusion> {
        let wanted = self.filter.should_replicate_topic(topic)
            || (self.heartbeats_replication && self.policy.is_heartbeats_topic(topic));
        if self.policy.is_internal_topic(topic) {
            Some(TopicExclusion::Internal)
        } else if self.policy.is_cycle(topic, &self.target) {
            Some(TopicExclusion::Loop)
        } else if !wanted {
            Some(TopicExclusion::Filter)
        } else {
            None
        }
    }

    /// What MirrorSourceConnector does to the remote topic of each replicated source topic
    /// (`known`, with partition counts), given the target's topics: create the missing ones,
    /// raise partition counts that are lower than the source's (never lower them).
    pub fn remote_topics(
        &self,
        known: &BTreeMap<String, i32>,
        target: &BTreeMap<String, i32>,
    ) -> Vec<RemoteTopic> {
        known
            .iter()
            .map(|(topic, &partitions)| {
                let remote = self.remote_topic(topic);
                let action = match target.get(&remote) {
                    None => RemoteAction::Create,
                    Some(&have) if have < partitions => RemoteAction::AddPartitions { from: have },
                    Some(_) => RemoteAction::Matches,
                };
                RemoteTopic {
                    source: topic.clone(),
                    remote,
                    partitions,
                    action,
                }
            })
            .collect()
    }

    /// The CreateTopics request for a remote topic: the source's partitions and the configs of
    /// [`Self::creation_configs`] over the source topic's described `entries`.
    pub fn new_topic_spec(
        &self,
        topic: &RemoteTopic,
        entries: Option<&Vec<ConfigEntry>>,
        replication_factor: i32,
    ) -> NewTopicSpec {
        NewTopicSpec {
            name: topic.remote.clone(),
            partitions: topic.partitions,
            replication_factor,
            configs: entries
                .map(|e| self.creation_configs(e))
                .unwrap_or_default(),
        }
    }

    /// The config changes sent to the remote topics of the source topics described in
    /// `configs` (by source topic name); topics with nothing to send are left out.
    pub fn config_changes(
        &self,
        configs: &BTreeMap<String, Vec<ConfigEntry>>,
    ) -> Vec<TopicConfigChanges> {
        configs
            .iter()
            .map(|(t, entries)| TopicConfigChanges {
                topic: self.remote_topic(t),
                ops: self.config_ops(entries),
            })
            .filter(|c| !c.ops.is_empty())
            .collect()
    }

    /// The source configs that would be synced but for `config.properties.exclude`: those
    /// config sync and topic creation pass over because of the filter alone.
    pub fn excluded_configs<'a>(&self, entries: &'a [ConfigEntry]) -> Vec<&'a ConfigEntry> {
        entries
            .iter()
            .filter(|e| {
                !e.is_read_only
                    && !e.is_sensitive
                    && !e.is_static_broker
                    && (!e.is_default || self.use_defaults_from == DefaultsFrom::Source)
                    && !self.config_filter.should_replicate_config_property(&e.name)
            })
            .collect()
    }

    /// The target ACLs for the source's topic ACLs (see [`Self::target_acl`]).
    pub fn target_acls(&self, acls: &[AclBinding]) -> Vec<AclBinding> {
        acls.iter().filter_map(|a| self.target_acl(a)).collect()
    }

    /// The remote name of a source topic.
    pub fn remote_topic(&self, topic: &str) -> String {
        self.policy.format_remote_topic(&self.source, topic)
    }

    /// True for target topics that came from this flow's source (`topicSource == source`),
    /// except this flow's checkpoints topic.
    pub fn is_remote_topic(&self, topic: &str) -> bool {
        self.policy.topic_source(topic).as_deref() == Some(self.source.as_str())
            && topic != self.policy.checkpoints_topic(&self.source)
    }

    fn syncable(&self, e: &ConfigEntry) -> bool {
        !e.is_read_only
            && !e.is_sensitive
            && !e.is_static_broker
            && self.config_filter.should_replicate_config_property(&e.name)
    }

    /// Configs a new remote topic is created with: the source's non-default settings (and its
    /// defaults too with `use.defaults.from = source`).
    pub fn creation_configs(&self, entries: &[ConfigEntry]) -> Vec<(String, String)> {
        entries
            .iter()
            .filter(|e| {
                self.syncable(e)
                    && (!e.is_default || self.use_defaults_from == DefaultsFrom::Source)
            })
            .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
            .collect()
    }

    /// The incremental changes that make a remote topic's configs follow its source: SET for
    /// every non-default source value; for source defaults, DELETE (the target's default
    /// applies) or, with `use.defaults.from = source`, SET to the source's default.
    pub fn config_ops(&self, entries: &[ConfigEntry]) -> Vec<ConfigOp> {
        entries
            .iter()
            .filter(|e| self.syncable(e))
            .map(|e| {
                let delete = e.is_default && self.use_defaults_from == DefaultsFrom::Target;
                ConfigOp {
                    name: e.name.clone(),
                    kind: if delete {
                        AlterKind::Delete
                    } else {
                        AlterKind::Set
                    },
                    value: if delete { None } else { e.value.clone() },
                }
            })
            .filter(|op| op.kind == AlterKind::Delete || op.value.is_some())
            .collect()
    }

    /// The target ACL for a source topic ACL, as `MirrorSourceConnector.syncTopicAcls` maps
    /// them: literal topic ACLs of replicated topics only, never ALLOW WRITE (only MirrorMaker
    /// writes remote topics), and ALLOW ALL downgraded to ALLOW READ.
    pub fn target_acl(&self, acl: &AclBinding) -> Option<AclBinding> {
        if acl.resource_type != AclResourceType::Topic
            || acl.pattern_type != AclPatternType::Literal
            || (acl.permission == AclPermission::Allow && acl.operation == AclOperation::Write)
            || !self.should_replicate(&acl.name)
        {
            return None;
        }
        let mut out = acl.clone();
        out.name = self.remote_topic(&acl.name);
        if acl.permission == AclPermission::Allow && acl.operation == AclOperation::All {
            out.operation = AclOperation::Read;
        }
        Some(out)
    }
}

/// Round-robin assignment of topic-partitions to at most `max_tasks` tasks, as Java's
/// `MirrorSourceConnector.taskConfigs` does (`i % numTasks`).
pub fn assign_tasks(partitions: &[(String, i32)], max_tasks: usize) -> Vec<Vec<(String, i32)>> {
    let n = max_tasks.min(partitions.len());
    let mut tasks = vec![Vec::new(); n];
    for (i, tp) in partitions.iter().enumerate() {
        tasks[i % n].push(tp.clone());
    }
    tasks
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{self, Environment, Properties};

    fn selector(extra: &str) -> TopicSelector {
        let text = format!("clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\nB->A.enabled = true\n{extra}");
        let cfg = config::from_properties(
            Properties::parse(text.as_bytes()).unwrap(),
            &[],
            &Environment::Fixed(Default::default()),
        )
        .unwrap();
        let f = cfg.flow("A", "B").unwrap();
        TopicSelector::new(&f.settings, "A", "B")
    }

    /// A topic config entry as a broker describes it.
    pub(crate) fn entry(name: &str, value: &str, is_default: bool) -> ConfigEntry {
        ConfigEntry {
            name: name.into(),
            value: Some(value.into()),
            is_default,
            is_read_only: false,
            is_sensitive: false,
            is_static_broker: false,
        }
    }

    #[test]
    fn replication_decision() {
        let s = selector("A->B.topics = orders.*, heartbeats\n");
        assert!(s.should_replicate("orders"));
        assert!(s.should_replicate("orders-eu"));
        assert!(!s.should_replicate("payments"));
        assert!(!s.should_replicate("B.orders"), "came from B: a loop");
        assert!(!s.should_replicate("C.B.orders"), "went through B: a loop");
        assert!(
            s.should_replicate("C.heartbeats"),
            "heartbeats always flow downstream"
        );
        assert!(!s.should_replicate("B.heartbeats"), "but never back");
        assert!(!s.should_replicate("mm2-offset-syncs.B.internal"));
        assert!(!s.should_replicate("__consumer_offsets"));
        assert_eq!(s.remote_topic("orders"), "A.orders");
        assert!(
            s.is_remote_topic("A.orders")
                && !s.is_remote_topic("orders")
                && !s.is_remote_topic("A.checkpoints.internal")
        );
        let s = selector("A->B.topics = orders\nheartbeats.replication.enabled = false\n");
        assert!(!s.should_replicate("C.heartbeats"));
    }

    #[test]
    fn exclusion_reasons_internal_then_loop_then_filter() {
        let s = selector("A->B.topics = orders, B.orders, x.internal\n");
        assert_eq!(s.exclusion("orders"), None);
        assert_eq!(s.exclusion("x.internal"), Some(TopicExclusion::Internal));
        assert_eq!(
            s.exclusion("__consumer_offsets"),
            Some(TopicExclusion::Internal)
        );
        assert_eq!(s.exclusion("B.orders"), Some(TopicExclusion::Loop));
        assert_eq!(s.exclusion("payments"), Some(TopicExclusion::Filter));
    }

    #[test]
    fn remote_topics_are_created_grown_or_left() {
        let s = selector("");
        let known = BTreeMap::from([("a".to_string(), 3), ("b".into(), 2), ("c".into(), 1)]);
        let target = BTreeMap::from([("A.b".to_string(), 1), ("A.c".into(), 4)]);
        let actions: Vec<(String, RemoteAction)> = s
            .remote_topics(&known, &target)
            .into_iter()
            .map(|t| (t.remote, t.action))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("A.a".to_string(), RemoteAction::Create),
                ("A.b".into(), RemoteAction::AddPartitions { from: 1 }),
                ("A.c".into(), RemoteAction::Matches),
            ]
        );
        let entries = vec![
            entry("retention.ms", "5", false),
            entry("retention.bytes", "9", false),
        ];
        let s = selector("config.properties.exclude = retention.bytes\n");
        let names: Vec<&str> = s
            .excluded_configs(&entries)
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, vec!["retention.bytes"]);
    }

    #[test]
    fn config_sync_rules() {
        let s = selector("");
        let entries = vec![
            entry("retention.ms", "1000", false),
            entry("cleanup.policy", "delete", true),
            entry("min.insync.replicas", "2", false),
            ConfigEntry {
                is_read_only: true,
                ..entry("x.read.only", "1", false)
            },
            ConfigEntry {
                is_static_broker: true,
                ..entry("segment.bytes", "1", false)
            },
        ];
        assert_eq!(
            s.creation_configs(&entries),
            vec![("retention.ms".to_string(), "1000".to_string())]
        );
        let ops = s.config_ops(&entries);
        assert_eq!(ops.len(), 2);
        assert_eq!(
            (ops[0].name.as_str(), ops[0].kind, ops[0].value.as_deref()),
            ("retention.ms", AlterKind::Set, Some("1000"))
        );
        assert_eq!(
            (ops[1].name.as_str(), ops[1].kind, ops[1].value.as_deref()),
            ("cleanup.policy", AlterKind::Delete, None)
        );
        let s = selector("use.defaults.from = source\n");
        assert_eq!(s.creation_configs(&entries).len(), 2);
        assert!(s
            .config_ops(&entries)
            .iter()
            .all(|o| o.kind == AlterKind::Set));
    }

    #[test]
    fn acl_mapping() {
        let s = selector("A->B.topics = orders\n");
        let acl = |op, perm, pattern, name: &str| AclBinding {
            resource_type: AclResourceType::Topic,
            name: name.into(),
            pattern_type: pattern,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: op,
            permission: perm,
        };
        let all = s
            .target_acl(&acl(
                AclOperation::All,
                AclPermission::Allow,
                AclPatternType::Literal,
                "orders",
            ))
            .unwrap();
        assert_eq!(
            (all.name.as_str(), all.operation),
            ("A.orders", AclOperation::Read)
        );
        assert!(s
            .target_acl(&acl(
                AclOperation::Write,
                AclPermission::Allow,
                AclPatternType::Literal,
                "orders"
            ))
            .is_none());
        let deny = s
            .target_acl(&acl(
                AclOperation::Write,
                AclPermission::Deny,
                AclPatternType::Literal,
                "orders",
            ))
            .unwrap();
        assert_eq!(deny.operation, AclOperation::Write);
        assert!(s
            .target_acl(&acl(
                AclOperation::Read,
                AclPermission::Allow,
                AclPatternType::Prefixed,
                "orders"
            ))
            .is_none());
        assert!(s
            .target_acl(&acl(
                AclOperation::Read,
                AclPermission::Allow,
                AclPatternType::Literal,
                "other"
            ))
            .is_none());
    }

    #[test]
    fn round_robin_tasks() {
        let tps: Vec<(String, i32)> = (0..5).map(|p| ("t".to_string(), p)).collect();
        let tasks = assign_tasks(&tps, 2);
        assert_eq!(
            tasks[0].iter().map(|t| t.1).collect::<Vec<_>>(),
            vec![0, 2, 4]
        );
        assert_eq!(tasks[1].iter().map(|t| t.1).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(assign_tasks(&tps, 10).len(), 5);
        assert!(assign_tasks(&[], 3).is_empty());
    }
}
