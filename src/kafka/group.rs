//! Membership of a Kafka consumer group whose partitions are only tokens: a member holds the
//! partitions the group assigns it and never fetches their records. Connect's worker group is
//! built on it (see `connect::membership`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

use super::client::{create, LogContext};
use super::props::ClientProps;

/// What a member does when the group moves partitions. Called on the member's thread, in the
/// middle of the rebalance.
pub trait RebalanceListener: Send + Sync + 'static {
    /// Every partition is about to be taken away: returns once their work has stopped, as the
    /// group hands them to others after this returns.
    fn revoked(&self);

    /// The group gave this member `partitions` of the topic, which had `partition_count`
    /// partitions when the assignment arrived (`None` if the cluster could not say).
    fn assigned(&self, partitions: BTreeSet<i32>, partition_count: Option<i32>);
}

struct Ctx<L> {
    log: LogContext,
    listener: L,
    topic: String,
}

/// How long the member's thread waits for the topic's metadata in the middle of a rebalance.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

impl<L: RebalanceListener> ClientContext for Ctx<L> {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        self.log.log(level, fac, msg);
    }
}

impl<L: RebalanceListener> ConsumerContext for Ctx<L> {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(_) = rebalance {
            self.listener.revoked();
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            // Asked of a broker, not of a cache: the freshest count there is. Through this
            // consumer, so that librdkafka sees the answer too and rejoins the group if the
            // count differs from the one the group was formed with.
            let count = consumer
                .fetch_metadata(Some(&self.topic), METADATA_TIMEOUT)
                .ok()
                .and_then(|md| {
                    md.topics()
                        .iter()
                        .find(|t| t.name() == self.topic && t.error().is_none())
                        .map(|t| t.partitions().len() as i32)
                })
                .filter(|n| *n > 0);
            self.listener.assigned(
                tpl.elements().iter().map(|e| e.partition()).collect(),
                count,
            );
        }
    }
}

/// Joins the group `group.id` of `props` subscribed to `topic`, and takes part in it on a thread
/// of its own until `stop`; then leaves the group at once (closing the consumer sends
/// LeaveGroup), so the others take over without waiting for the session to time out. `name`
/// names the client in logs.
pub fn join_token_group(
    props: &ClientProps,
    name: &str,
    topic: &str,
    listener: impl RebalanceListener,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, KafkaError> {
    let ctx = Ctx {
        log: LogContext::new(name),
        listener,
        topic: topic.to_string(),
    };
    let consumer: BaseConsumer<Ctx<_>> = create(props, name, ctx)?;
    consumer.subscribe(&[topic])?;
    let thread = std::thread::Builder::new()
        .name("membership".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // The partitions are only tokens: never fetch their records.
                if let Ok(assigned) = consumer.assignment() {
                    if assigned.count() > 0 {
                        let _ = consumer.pause(&assigned);
                    }
                }
                let _ = consumer.poll(Duration::from_millis(100));
            }
            drop(consumer);
        })
        .map_err(|e| KafkaError::ClientCreation(e.to_string()))?;
    Ok(thread)
}
