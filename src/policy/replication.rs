//! `ReplicationPolicy`: how remote topics are named and recognised, as Kafka's
//! `DefaultReplicationPolicy` and `IdentityReplicationPolicy` do it, plus MirrorSourceConnector's
//! loop detection (`isCycle`) and replication decision.

use crate::config::{PolicyConfig, PolicyKind};

const HEARTBEATS: &str = "heartbeats";

/// A replication policy with its separator. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationPolicy {
    kind: PolicyKind,
    separator: String,
    internal_separator: String,
    /// Identity policy's answer to `topicSource`.
    source_alias: Option<String>,
}

impl ReplicationPolicy {
    pub fn new(config: &PolicyConfig) -> Self {
        ReplicationPolicy {
            kind: config.kind,
            separator: config.separator.clone(),
            internal_separator: config.internal_separator.clone(),
            source_alias: Some(config.source_alias.clone()).filter(|a| !a.is_empty()),
        }
    }

    /// `DefaultReplicationPolicy` with `separator`.
    pub fn default_with(separator: &str) -> Self {
        ReplicationPolicy {
            kind: PolicyKind::Default,
            separator: separator.to_string(),
            internal_separator: separator.to_string(),
            source_alias: None,
        }
    }

    /// `IdentityReplicationPolicy` for flows from `source_alias`.
    pub fn identity(source_alias: Option<&str>) -> Self {
        ReplicationPolicy {
            kind: PolicyKind::Identity,
            separator: ".".to_string(),
            internal_separator: ".".to_string(),
            source_alias: source_alias.map(str::to_string),
        }
    }

    pub fn separator(&self) -> &str {
        &self.separator
    }

    /// Identity keeps names, except heartbeat topics, which it names as Default does.
    fn renames(&self, topic: &str) -> bool {
        self.kind == PolicyKind::Default || topic.ends_with(HEARTBEATS)
    }

    /// The name of `topic` from cluster `alias` on the other cluster: `A.orders`.
    pub fn format_remote_topic(&self, alias: &str, topic: &str) -> String {
        if self.renames(topic) {
            format!("{alias}{}{topic}", self.separator)
        } else {
            topic.to_string()
        }
    }

    /// The alias a remote topic came from, or `None` for a local topic.
    pub fn topic_source(&self, topic: &str) -> Option<String> {
        if !self.renames(topic) {
            return self.source_alias.clone();
        }
        // Java's `split` drops trailing empty strings: "foo." has no source, ".foo" has "".
        let parts: Vec<&str> = topic.split(self.separator.as_str()).collect();
        let mut n = parts.len();
        while n > 0 && parts[n - 1].is_empty() {
            n -= 1;
        }
        (n >= 2).then(|| parts[0].to_string())
    }

    /// The topic's name on the cluster it came from, one hop up.
    pub fn upstream_topic(&self, topic: &str) -> Option<String> {
        if !self.renames(topic) {
            return Some(topic.to_string());
        }
        let source = self.topic_source(topic)?;
        Some(topic[source.len() + self.separator.len()..].to_string())
    }

    /// The topic's name on the cluster it was first written to.
    pub fn original_topic(&self, topic: &str) -> String {
        let mut t = topic.to_string();
        while let Some(up) = self.upstream_topic(&t) {
            if up == t {
                break;
            }
            t = up;
        }
        t
    }

    pub fn heartbeats_topic(&self) -> &'static str {
        HEARTBEATS
    }

    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        self.original_topic(topic) == HEARTBEATS
    }

    /// `<alias>.checkpoints.internal`.
    pub fn checkpoints_topic(&self, alias: &str) -> String {
        let s = &self.internal_separator;
        format!("{alias}{s}checkpoints{s}internal")
    }

    pub fn is_checkpoints_topic(&self, topic: &str) -> bool {
        let s = &self.internal_separator;
        topic.ends_with(&format!("{s}checkpoints{s}internal"))
    }

    /// `mm2-offset-syncs.<alias>.internal`, named after the other cluster of the flow.
    pub fn offset_syncs_topic(&self, alias: &str) -> String {
        let s = &self.internal_separator;
        format!("mm2-offset-syncs{s}{alias}{s}internal")
    }

    pub fn is_mm2_internal_topic(&self, topic: &str) -> bool {
        topic.ends_with(&format!("{}internal", self.internal_separator))
    }

    /// Kafka's, Connect's and MirrorMaker 2's own topics: never replicated.
    pub fn is_internal_topic(&self, topic: &str) -> bool {
        self.is_mm2_internal_topic(topic)
            || topic.starts_with("__")
            || topic.starts_with('.')
            || topic.ends_with("-internal")
            || topic.ends_with(".internal")
    }

    /// True when `topic` already went through `target_alias`: replicating it there would loop.
    pub fn is_cycle(&self, topic: &str, target_alias: &str) -> bool {
        let mut t = topic.to_string();
        loop {
            let Some(source) = self.topic_source(&t) else {
                return false;
            };
            if source == target_alias {
                return true;
            }
            match self.upstream_topic(&t) {
                Some(up) if up != t => t = up,
                _ => return false, // Identity guard: the name does not change.
            }
        }
    }
}

/// `MirrorClient.upstreamClusters`/`replicationHops`: the clusters upstream of the cluster
/// holding `topics`, each with its fewest hops, read from the names of heartbeat topics
/// (`C.A.heartbeats` means A → C → here: C is 1 hop away, A is 2).
pub fn upstream_hops<'a>(
    policy: &ReplicationPolicy,
    topics: impl IntoIterator<Item = &'a str>,
) -> std::collections::BTreeMap<String, u32> {
    let mut hops = std::collections::BTreeMap::new();
    for topic in topics.into_iter().filter(|t| policy.is_heartbeats_topic(t)) {
        let mut t = topic.to_string();
        let mut seen = std::collections::BTreeSet::new();
        let mut n = 0;
        while let Some(source) = policy.topic_source(&t) {
            n += 1;
            if !seen.insert(source.clone()) {
                break; // a cycle in the name: stop, as Java's guard does
            }
            let best = hops.entry(source).or_insert(n);
            *best = (*best).min(n);
            match policy.upstream_topic(&t) {
                Some(up) if up != t => t = up,
                _ => break,
            }
        }
    }
    hops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> ReplicationPolicy {
        ReplicationPolicy::default_with(".")
    }

    #[test]
    fn default_policy_names() {
        let p = default();
        assert_eq!(p.format_remote_topic("A", "orders"), "A.orders");
        assert_eq!(p.topic_source("A.orders").as_deref(), Some("A"));
        assert_eq!(p.topic_source("orders"), None);
        assert_eq!(p.topic_source("foo."), None);
        assert_eq!(p.topic_source(".foo").as_deref(), Some(""));
        assert_eq!(p.upstream_topic("B.A.orders").as_deref(), Some("A.orders"));
        assert_eq!(p.original_topic("B.A.orders"), "orders");
        assert!(p.is_heartbeats_topic("C.A.heartbeats"));
        assert!(p.is_heartbeats_topic("heartbeats"));
        assert!(!p.is_heartbeats_topic("myheartbeats"));
        assert_eq!(p.checkpoints_topic("A"), "A.checkpoints.internal");
        assert_eq!(p.offset_syncs_topic("B"), "mm2-offset-syncs.B.internal");
    }

    #[test]
    fn custom_separator_and_internal_flag() {
        let p = ReplicationPolicy::default_with("_");
        assert_eq!(p.format_remote_topic("A", "orders"), "A_orders");
        assert_eq!(p.topic_source("A_orders").as_deref(), Some("A"));
        assert_eq!(p.checkpoints_topic("A"), "A_checkpoints_internal");
        let legacy = ReplicationPolicy::new(&PolicyConfig {
            kind: PolicyKind::Default,
            separator: "_".into(),
            internal_separator: ".".into(),
            source_alias: "A".into(),
        });
        assert_eq!(legacy.format_remote_topic("A", "t"), "A_t");
        assert_eq!(legacy.checkpoints_topic("A"), "A.checkpoints.internal");
        assert_eq!(
            legacy.offset_syncs_topic("B"),
            "mm2-offset-syncs.B.internal"
        );
    }

    #[test]
    fn internal_topics() {
        let p = default();
        for t in [
            "__consumer_offsets",
            ".hidden",
            "x-internal",
            "mm2-offsets.A.internal",
            "A.checkpoints.internal",
        ] {
            assert!(p.is_internal_topic(t), "{t}");
        }
        for t in ["orders", "heartbeats", "A.heartbeats", "internal"] {
            assert!(!p.is_internal_topic(t), "{t}");
        }
    }

    #[test]
    fn cycles_are_detected_through_every_hop() {
        let p = default();
        assert!(p.is_cycle("B.orders", "B"));
        assert!(p.is_cycle("C.B.orders", "B"));
        assert!(!p.is_cycle("C.orders", "B"));
        assert!(!p.is_cycle("orders", "B"));
    }

    #[test]
    fn topology_from_heartbeat_topic_names() {
        let p = default();
        let hops = upstream_hops(
            &p,
            [
                "heartbeats",
                "A.heartbeats",
                "C.A.heartbeats",
                "C.heartbeats",
                "orders",
                "D.orders",
            ],
        );
        let got: Vec<(&str, u32)> = hops.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(got, vec![("A", 1), ("C", 1)]);
        let hops = upstream_hops(&p, ["C.A.heartbeats"]);
        assert_eq!(hops.get("A"), Some(&2));
    }

    #[test]
    fn identity_policy_keeps_names_except_heartbeats() {
        let p = ReplicationPolicy::identity(Some("A"));
        assert_eq!(p.format_remote_topic("A", "orders"), "orders");
        assert_eq!(p.format_remote_topic("A", "heartbeats"), "A.heartbeats");
        assert_eq!(p.topic_source("orders").as_deref(), Some("A"));
        assert_eq!(p.upstream_topic("orders").as_deref(), Some("orders"));
        assert_eq!(p.original_topic("orders"), "orders");
        // No loop detection for plain topics: only the source alias can be compared.
        assert!(!p.is_cycle("orders", "B"));
        assert!(p.is_cycle("B.heartbeats", "B"));
    }
}
