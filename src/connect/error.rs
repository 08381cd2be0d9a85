//! Why a connector, a task or one of the worker's stores failed. The herder decides by the
//! variant (a request the connector refuses is the caller's fault, anything else the worker's);
//! the text only appears where Connect shows one: a status `trace` and a REST error message.

use std::io;

use super::internal_topic::ShapeError;
use crate::config::{join_errors, ConfigError};
use crate::kafka::admin::AdminError;
use crate::kafka::fence::FenceError;
use crate::kafka::log::LogError;
use crate::kafka::KafkaError;

/// A failure of the Connect runtime or of a connector plugin.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Client settings that do not translate for librdkafka.
    #[error("{}", join_errors(.0))]
    ClientSettings(Vec<ConfigError>),
    /// A connector or task setting the runtime cannot use.
    #[error("{0}")]
    Config(String),
    /// Offsets a connector refuses to store (KIP-875): the request's fault.
    #[error("{0}")]
    InvalidOffsets(String),
    /// An operation the connector does not offer: the request's fault.
    #[error("this connector does not {0}")]
    NotSupported(&'static str),
    /// A Kafka client call failed; `op` says what it was for.
    #[error("{op}: {source}")]
    Kafka {
        op: String,
        #[source]
        source: KafkaError,
    },
    /// Records librdkafka reported undelivered, with its text.
    #[error("{op}: {message}")]
    Undelivered { op: String, message: String },
    /// Fencing the producers of earlier tasks failed (KIP-618); the herder retries.
    #[error(transparent)]
    Fence(#[from] FenceError),
    /// Boxed, as the admin error is large and every result of the runtime carries this type.
    #[error(transparent)]
    Admin(Box<AdminError>),
    /// An internal topic that exists with a shape the worker cannot use: not a passing fault,
    /// so the worker refuses to start rather than retry.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    #[error("cannot create {topic}: {source}")]
    CreateTopic {
        topic: String,
        #[source]
        source: Box<AdminError>,
    },
    /// Reading or writing one of the worker's internal topics.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The worker's reader did not see its own write to `topic` in time.
    #[error("{0} did not come back to this worker")]
    NotReadBack(String),
    /// The worker's reader did not catch up with `topic` in time.
    #[error("cannot read {0}")]
    CatchUp(String),
    /// An I/O failure (a file of the worker or of a connector, a task's runtime); `what` says
    /// what was being done, naming the file if any.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// A file that does not hold the JSON it should.
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A thread of the worker could not be started.
    #[error("{0}")]
    Thread(#[source] io::Error),
    /// Blocking work the runtime handed to a thread ended without an answer.
    #[error(transparent)]
    Join(#[from] tokio::task::JoinError),
    /// The named part of the worker has stopped (the process is shutting down).
    #[error("{0} has stopped")]
    Stopped(&'static str),
    /// A task body panicked; the message is the panic's.
    #[error("task panicked: {0}")]
    Panicked(String),
    /// A task's or connector's own failure, with its cause chain.
    #[error(transparent)]
    Task(Box<dyn std::error::Error + Send + Sync>),
    /// A failure that code without a typed error yet (the sink runner and sink offsets, the
    /// heartbeat and checkpoint tasks) reports as text.
    #[error("{0}")]
    Message(String),
}

impl From<AdminError> for Error {
    fn from(e: AdminError) -> Self {
        Error::Admin(Box::new(e))
    }
}

impl Error {
    /// A task's or connector's own failure.
    pub fn task(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Task(Box::new(e))
    }

    pub fn kafka(op: impl Into<String>, source: KafkaError) -> Self {
        Error::Kafka {
            op: op.into(),
            source,
        }
    }

    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// Whether the request that led here is at fault (Connect answers 400) rather than the
    /// worker, its clusters or the plugin (500).
    pub fn is_bad_request(&self) -> bool {
        matches!(self, Error::InvalidOffsets(_) | Error::NotSupported(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_wrapped_failure_keeps_its_text_and_cause() {
        let io = io::Error::new(io::ErrorKind::PermissionDenied, "denied");
        let e = Error::io("cannot write /x", io);
        assert_eq!(e.to_string(), "cannot write /x: denied");
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("denied"));
        let task = Error::task(e);
        assert_eq!(task.to_string(), "cannot write /x: denied");
        assert!(task.source().is_some());
    }

    #[test]
    fn only_what_the_request_asked_for_is_its_fault() {
        assert!(Error::InvalidOffsets("bad".into()).is_bad_request());
        assert!(Error::NotSupported("store offsets").is_bad_request());
        assert!(!Error::Stopped("the herder").is_bad_request());
        assert!(!Error::kafka("cannot write", KafkaError::Canceled).is_bad_request());
    }
}
