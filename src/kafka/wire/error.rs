//! What can go wrong talking to a broker.

use kafka_protocol::error::{ParseResponseErrorCode, ResponseError};

/// A failure of the protocol client. Broker error codes keep their Kafka names.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WireError {
    /// The settings cannot be used (named by key).
    #[error("{0}")]
    Config(String),
    #[error("connecting to {broker}: {reason}")]
    Connect { broker: String, reason: String },
    #[error("authenticating to {broker}: {reason}")]
    Auth { broker: String, reason: String },
    /// The connection broke or timed out; what was in flight on it is lost.
    #[error("connection to {broker}: {reason}")]
    Io { broker: String, reason: String },
    /// An answer the crate could not decode, or one that does not fit the request.
    #[error("{broker} answered {api}: {reason}")]
    Protocol {
        broker: String,
        api: &'static str,
        reason: String,
    },
    /// The broker refused, with a Kafka error code.
    #[error("{0:?}")]
    Broker(ResponseError),
    #[error("no broker of {0} answered")]
    Unreachable(String),
    #[error("{0} is not in the cluster's metadata")]
    UnknownTopicOrPartition(String),
}

impl WireError {
    /// The error of a response's error code, or `None` for success.
    pub fn from_code(code: i16) -> Option<WireError> {
        code.err().map(WireError::Broker)
    }

    /// Whether asking again (after a metadata refresh or a new connection) can succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            WireError::Io { .. }
            | WireError::Connect { .. }
            | WireError::Unreachable(_)
            | WireError::UnknownTopicOrPartition(_) => true,
            WireError::Broker(e) => {
                e.is_retriable()
                    || matches!(
                        e,
                        ResponseError::NotLeaderOrFollower
                            | ResponseError::UnknownTopicOrPartition
                            | ResponseError::LeaderNotAvailable
                            | ResponseError::FencedLeaderEpoch
                            | ResponseError::UnknownLeaderEpoch
                            | ResponseError::NotEnoughReplicas
                            | ResponseError::NotEnoughReplicasAfterAppend
                            | ResponseError::RequestTimedOut
                            | ResponseError::KafkaStorageError
                    )
            }
            _ => false,
        }
    }

    /// Whether the broker's view of a partition's leader moved: the metadata is stale.
    pub fn needs_metadata(&self) -> bool {
        match self {
            WireError::Broker(e) => matches!(
                e,
                ResponseError::NotLeaderOrFollower
                    | ResponseError::UnknownTopicOrPartition
                    | ResponseError::LeaderNotAvailable
                    | ResponseError::FencedLeaderEpoch
                    | ResponseError::UnknownLeaderEpoch
                    | ResponseError::KafkaStorageError
            ),
            WireError::Io { .. }
            | WireError::Connect { .. }
            | WireError::UnknownTopicOrPartition(_) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_moves_are_retriable_and_need_metadata() {
        let e = WireError::from_code(6).unwrap(); // NOT_LEADER_OR_FOLLOWER
        assert!(e.is_retriable() && e.needs_metadata());
        let too_large = WireError::from_code(10).unwrap(); // MESSAGE_TOO_LARGE
        assert!(!too_large.is_retriable() && !too_large.needs_metadata());
        assert!(WireError::from_code(0).is_none());
    }
}
