//! Which topics MirrorSourceConnector replicates and how their remote topics are configured:
//! the replication decision (filters, internal topics, loop detection), the configs a new remote
//! topic is created with, and the incremental changes that keep configs in sync.

use crate::config::{DefaultsFrom, FlowSettings};
use crate::kafka::admin::ConfigEntry;
use crate::kafka::admin_ffi::{
    AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType, AlterKind, ConfigOp,
};
use crate::policy::{ConfigPropertyFilter, ReplicationPolicy, TopicFilter};

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
        let wanted = self.filter.should_replicate_topic(topic)
            || (self.heartbeats_replication && self.policy.is_heartbeats_topic(topic));
        wanted
            && !self.policy.is_internal_topic(topic)
            && !self.policy.is_cycle(topic, &self.target)
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
