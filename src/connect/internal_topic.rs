//! The shape a worker group's internal topics must have, checked at start as Java's Connect
//! checks it (`KafkaConfigBackingStore.start` and `TopicAdmin.verifyTopicCleanupPolicyOnlyCompact`):
//! the config topic has a single partition, and the three topics are compacted and only
//! compacted. A topic of another shape is not a passing fault of the cluster: the worker refuses
//! to start with Java's message, naming the topic and the property that chose it.
//!
//! The decisions are pure; `group::GroupSpec::ensure_topics` does the I/O.

use std::collections::BTreeSet;

/// Which of the three internal topics, by what it stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Config,
    Offsets,
    Status,
}

impl Purpose {
    /// The worker property that names the topic, as Java's messages name it.
    pub fn property(self) -> &'static str {
        match self {
            Purpose::Config => "config.storage.topic",
            Purpose::Offsets => "offset.storage.topic",
            Purpose::Status => "status.storage.topic",
        }
    }

    /// What the topic stores, in Java's words (`getTopicPurpose`).
    pub fn stores(self) -> &'static str {
        match self {
            Purpose::Config => "connector configurations",
            Purpose::Offsets => "source connector offsets",
            Purpose::Status => "connector and task statuses",
        }
    }
}

/// An internal topic that exists with a shape the worker cannot use. The texts are Java's,
/// word for word, so that an operator's search for them finds the same advice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error(
        "Topic '{topic}' supplied via the 'config.storage.topic' property is required to have a \
         single partition in order to guarantee consistency of connector configurations, but \
         found {partitions} partitions."
    )]
    ConfigPartitions { topic: String, partitions: i32 },
    #[error(
        "Topic '{topic}' supplied via the '{property}' property is required to have \
         'cleanup.policy=compact' to guarantee consistency and durability of {stores}, but found \
         the topic currently has 'cleanup.policy={found}'. Continuing would likely result in \
         eventually losing {stores} and problems restarting this Connect cluster in the future. \
         Change the '{property}' property in the Connect worker configurations to use a topic \
         with 'cleanup.policy=compact'.",
        property = .purpose.property(),
        stores = .purpose.stores()
    )]
    NotCompacted {
        topic: String,
        purpose: Purpose,
        /// The topic's policies as Java joins them (`compact,delete`).
        found: String,
    },
}

impl ShapeError {
    /// The topic at fault.
    pub fn topic(&self) -> &str {
        match self {
            ShapeError::ConfigPartitions { topic, .. } | ShapeError::NotCompacted { topic, .. } => {
                topic
            }
        }
    }

    /// What an operator can do about it, for the log line beside Java's message (which names
    /// the fix only for the cleanup policy).
    pub fn fix(&self) -> String {
        match self {
            ShapeError::ConfigPartitions { topic, .. } => format!(
                "recreate '{topic}' with one partition (and cleanup.policy=compact), or set \
                 config.storage.topic to a topic that has one"
            ),
            ShapeError::NotCompacted { topic, purpose, .. } => format!(
                "set cleanup.policy=compact on '{topic}' \
                 (kafka-configs.sh --alter --entity-type topics --entity-name {topic} \
                 --add-config cleanup.policy=compact), or set {} to a compacted topic",
                purpose.property()
            ),
        }
    }
}

/// The policies of a `cleanup.policy` value as Java reads them: comma-separated, trimmed,
/// lower-cased, empty ones dropped.
pub fn cleanup_policies(value: &str) -> BTreeSet<String> {
    value
        .split(',')
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Whether an internal topic that exists may be used.
///
/// `cleanup_policy` is the topic's `cleanup.policy`, or `None` when it is not to be checked:
/// the worker has just created the topic itself (Java checks only topics that existed), or it
/// could not describe the topic's configs (Java then logs and goes on, since an older broker
/// or a principal without DescribeConfigs cannot tell). The policy is checked before the
/// partition count, in Java's order.
pub fn check_internal_topic(
    purpose: Purpose,
    topic: &str,
    partitions: i32,
    cleanup_policy: Option<&str>,
) -> Result<(), ShapeError> {
    if let Some(value) = cleanup_policy {
        let policies = cleanup_policies(value);
        // An empty value is Java's "unable to verify", not a refusal.
        if !policies.is_empty() && policies != BTreeSet::from(["compact".to_string()]) {
            // Java joins a HashSet, which puts `compact` before `delete`: the alphabetical
            // order of a BTreeSet gives the same text for the two policies Kafka knows.
            let found = policies.into_iter().collect::<Vec<_>>().join(",");
            return Err(ShapeError::NotCompacted {
                topic: topic.to_string(),
                purpose,
                found,
            });
        }
    }
    if purpose == Purpose::Config && partitions > 1 {
        return Err(ShapeError::ConfigPartitions {
            topic: topic.to_string(),
            partitions,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_topic_of_two_partitions_is_refused_with_javas_message() {
        let e = check_internal_topic(
            Purpose::Config,
            "mm2-configs.A.internal",
            2,
            Some("compact"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Topic 'mm2-configs.A.internal' supplied via the 'config.storage.topic' property is \
             required to have a single partition in order to guarantee consistency of connector \
             configurations, but found 2 partitions."
        );
        assert_eq!(e.topic(), "mm2-configs.A.internal");
        assert!(e.fix().contains("one partition"), "{}", e.fix());
    }

    #[test]
    fn only_the_config_topic_must_have_one_partition() {
        for n in [1, 5, 25] {
            assert_eq!(
                check_internal_topic(Purpose::Offsets, "o", n, Some("compact")),
                Ok(())
            );
            assert_eq!(
                check_internal_topic(Purpose::Status, "s", n, Some("compact")),
                Ok(())
            );
        }
        assert_eq!(
            check_internal_topic(Purpose::Config, "c", 1, Some("compact")),
            Ok(())
        );
    }

    #[test]
    fn a_topic_that_is_not_only_compacted_is_refused_with_javas_message() {
        let e = check_internal_topic(
            Purpose::Offsets,
            "mm2-offsets.A.internal",
            25,
            Some("delete"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Topic 'mm2-offsets.A.internal' supplied via the 'offset.storage.topic' property is \
             required to have 'cleanup.policy=compact' to guarantee consistency and durability of \
             source connector offsets, but found the topic currently has \
             'cleanup.policy=delete'. Continuing would likely result in eventually losing source \
             connector offsets and problems restarting this Connect cluster in the future. Change \
             the 'offset.storage.topic' property in the Connect worker configurations to use a \
             topic with 'cleanup.policy=compact'."
        );
        let both = check_internal_topic(Purpose::Status, "s", 5, Some(" Delete ,compact"))
            .unwrap_err()
            .to_string();
        assert!(
            both.contains("'status.storage.topic'")
                && both.contains("connector and task statuses")
                && both.contains("'cleanup.policy=compact,delete'"),
            "{both}"
        );
        // The policy comes first, as in Java: a config topic wrong both ways names the policy.
        assert!(matches!(
            check_internal_topic(Purpose::Config, "c", 3, Some("delete")),
            Err(ShapeError::NotCompacted { .. })
        ));
    }

    #[test]
    fn a_policy_that_cannot_be_read_is_not_a_refusal() {
        assert_eq!(check_internal_topic(Purpose::Offsets, "o", 1, None), Ok(()));
        assert_eq!(
            check_internal_topic(Purpose::Offsets, "o", 1, Some(" , ")),
            Ok(())
        );
        assert_eq!(
            check_internal_topic(Purpose::Status, "s", 1, Some("COMPACT")),
            Ok(())
        );
        // The partition count is still checked.
        assert!(check_internal_topic(Purpose::Config, "c", 2, None).is_err());
    }
}
