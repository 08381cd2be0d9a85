//! Fencing producers by transactional id, as Java's `Admin.fenceProducers` does for Connect's
//! zombie fencing (KIP-618). librdkafka has no such admin call, so a transactional producer of
//! each id initializes transactions, which bumps the id's epoch and aborts whatever a zombie
//! left open, and is then dropped. Blocking.

use std::time::Duration;

use rdkafka::producer::{BaseProducer, Producer};

use super::client::{create, LogContext};
use super::props::ClientProps;

/// Fences every producer of the given transactional ids.
pub fn fence_producers(
    props: &ClientProps,
    ids: &[String],
    timeout: Duration,
) -> Result<(), String> {
    for id in ids {
        let mut props = props.clone();
        props.set("transactional.id", id.clone(), false);
        let name = format!("{id}|fence");
        let producer: BaseProducer<LogContext> =
            create(&props, &name, LogContext::new(name.clone()))
                .map_err(|e| format!("cannot create a producer to fence {id}: {e}"))?;
        producer
            .init_transactions(timeout)
            .map_err(|e| format!("cannot fence the producers of {id}: {e}"))?;
    }
    Ok(())
}
