//! Fencing producers by transactional id, as Java's `Admin.fenceProducers` does for Connect's
//! zombie fencing (KIP-618). librdkafka has no such admin call, so a transactional producer of
//! each id initializes transactions, which bumps the id's epoch and aborts whatever a zombie
//! left open, and is then dropped. Blocking.

use std::time::Duration;

use rdkafka::producer::{BaseProducer, Producer};

use super::client::{create, LogContext};
use super::props::ClientProps;
use super::KafkaError;

/// Why the producers of a transactional id could not be fenced.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    #[error("cannot create a producer to fence {id}: {source}")]
    Create {
        id: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot fence the producers of {id}: {source}")]
    Init {
        id: String,
        #[source]
        source: KafkaError,
    },
}

/// Fences every producer of the given transactional ids.
pub fn fence_producers(
    props: &ClientProps,
    ids: &[String],
    timeout: Duration,
) -> Result<(), FenceError> {
    for id in ids {
        let mut props = props.clone();
        props.set("transactional.id", id.clone(), false);
        let name = format!("{id}|fence");
        let producer: BaseProducer<LogContext> =
            create(&props, &name, LogContext::new(name.clone())).map_err(|source| {
                FenceError::Create {
                    id: id.clone(),
                    source,
                }
            })?;
        producer
            .init_transactions(timeout)
            .map_err(|source| FenceError::Init {
                id: id.clone(),
                source,
            })?;
    }
    Ok(())
}
