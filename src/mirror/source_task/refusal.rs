//! What to tell an operator when a replicated record is refused: the limit that refused it and
//! the setting that raises it. Pure, so each case is unit-tested.

use rdkafka::error::RDKafkaErrorCode;

use crate::kafka::KafkaError;

/// Where a record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// By the replication producer, before it was sent (librdkafka checks the size at once).
    Locally,
    /// In a delivery report: by the target broker, or the producer gave up on it.
    InDelivery,
}

/// The remedy to append to the task's error ("; …"), empty when there is nothing to add.
/// `target` is the target cluster's alias and `remote_topic` the topic the record was for.
pub fn remedy(error: &KafkaError, refused: Refused, target: &str, remote_topic: &str) -> String {
    let code = match error {
        KafkaError::MessageProduction(code) => *code,
        _ => return String::new(),
    };
    match (code, refused) {
        (RDKafkaErrorCode::MessageSizeTooLarge, Refused::Locally) => format!(
            "; the record is larger than the replication producer's max.request.size \
             (librdkafka's message.max.bytes, 1000000 unless set): raise \
             {target}.producer.max.request.size above the record's size"
        ),
        (RDKafkaErrorCode::MessageSizeTooLarge, Refused::InDelivery) => format!(
            "; the target refused the record as larger than {remote_topic}'s \
             max.message.bytes: raise max.message.bytes of {remote_topic} on {target} (or of \
             the source topic, whose value MirrorMaker copies), or the brokers' \
             message.max.bytes"
        ),
        (RDKafkaErrorCode::TopicAuthorizationFailed, _) => format!(
            "; the target's principal may not write to {remote_topic}: grant it WRITE on that \
             topic on {target}"
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produce(code: RDKafkaErrorCode) -> KafkaError {
        KafkaError::MessageProduction(code)
    }

    #[test]
    fn a_record_too_large_for_the_producer_names_its_setting() {
        let r = remedy(
            &produce(RDKafkaErrorCode::MessageSizeTooLarge),
            Refused::Locally,
            "B",
            "A.orders",
        );
        assert!(r.starts_with("; "), "{r}");
        assert!(r.contains("B.producer.max.request.size"), "{r}");
        assert!(r.contains("message.max.bytes"), "{r}");
    }

    #[test]
    fn a_record_too_large_for_the_topic_names_the_topic_setting() {
        let r = remedy(
            &produce(RDKafkaErrorCode::MessageSizeTooLarge),
            Refused::InDelivery,
            "B",
            "A.orders",
        );
        assert!(r.contains("max.message.bytes of A.orders on B"), "{r}");
        assert!(!r.contains("producer.max.request.size"), "{r}");
    }

    #[test]
    fn authorization_names_the_acl_and_other_errors_add_nothing() {
        let r = remedy(
            &produce(RDKafkaErrorCode::TopicAuthorizationFailed),
            Refused::InDelivery,
            "B",
            "A.orders",
        );
        assert!(r.contains("WRITE on that topic on B"), "{r}");
        let none = remedy(
            &produce(RDKafkaErrorCode::NotEnoughReplicas),
            Refused::InDelivery,
            "B",
            "A.orders",
        );
        assert_eq!(none, "");
        assert_eq!(
            remedy(&KafkaError::Canceled, Refused::Locally, "B", "t"),
            ""
        );
    }
}
