//! A topic and one of its partitions: the unit Kafka assigns, replicates and reports on.

use std::fmt;

/// A topic-partition, shown as Kafka shows it: `orders-3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl From<(String, i32)> for TopicPartition {
    fn from((topic, partition): (String, i32)) -> Self {
        TopicPartition { topic, partition }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_as_topic_dash_partition() {
        assert_eq!(
            TopicPartition::new("a.orders-eu", 3).to_string(),
            "a.orders-eu-3"
        );
    }
}
