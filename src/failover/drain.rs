//! Whether a flow has drained: for every partition it replicates, the source's end offset
//! against the source offset the flow stored on the target (the position its tasks resume
//! from). What is stored lags what is copied by at most `offset.flush.interval.ms`, so a flow
//! whose producers have stopped drains within that time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;

use super::{client, ToolError};
use crate::config::{ClientKind, Flow, Side};
use crate::kafka::admin::{Admin, TopicAdmin};
use crate::kafka::client::{create, LogContext};
use crate::kafka::log::watermarks_when_led;
use crate::kafka::props::translate;
use crate::mirror::flow_state;
use crate::mirror::source_task::CONNECTOR;
use crate::mirror::topic_sync::TopicSelector;
use crate::policy::ReplicationPolicy;

/// One replicated partition's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    /// The source's end offset.
    pub end: i64,
    /// The next source offset the flow will copy, from its stored offset; `None` before it
    /// stored any.
    pub next: Option<i64>,
    /// Records on the source not yet stored as copied.
    pub lag: i64,
}

/// The standing of every partition `flow` replicates, heartbeats aside (they never stop
/// coming). Fails with [`ToolError::Unreachable`] when the source cannot be read.
pub async fn flow_lag(flow: &Flow) -> Result<Vec<PartitionLag>, ToolError> {
    let timeout = flow.settings.admin_timeout.min(Duration::from_secs(30));
    let unreachable = |cluster: &str, e: &dyn std::fmt::Display| ToolError::Unreachable {
        cluster: cluster.to_string(),
        message: e.to_string(),
    };
    let admin_props = client(flow, Side::Source, ClientKind::Admin)?;
    let admin = Admin::new(&admin_props, &flow.source, "mm2-drain", timeout)
        .map_err(|e| ToolError::Kafka(e.to_string()))?;
    let topics = admin
        .topics()
        .await
        .map_err(|e| unreachable(&flow.source, &e))?;
    let selector = TopicSelector::new(&flow.settings, &flow.source, &flow.target);
    let policy = ReplicationPolicy::new(&flow.settings.policy);
    let replicated: Vec<(String, i32)> = topics
        .into_iter()
        .filter(|(t, _)| selector.should_replicate(t) && !policy.is_heartbeats_topic(t))
        .collect();

    let names: BTreeSet<String> = replicated.iter().map(|(t, _)| t.clone()).collect();
    let stored = stored_offsets(flow, names, timeout).await?;
    let consumer_props = client(flow, Side::Source, ClientKind::Consumer)?;
    let source = flow.source.clone();
    let ends = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer<LogContext> =
            create(&consumer_props, "mm2-drain", LogContext::new("mm2-drain"))?;
        let deadline = Instant::now() + timeout;
        let mut ends = Vec::new();
        for (topic, partitions) in replicated {
            for p in 0..partitions {
                let (low, high) = watermarks_when_led(&consumer, &topic, p, deadline)?;
                ends.push((topic.clone(), p, low, high));
            }
        }
        Ok::<_, rdkafka::error::KafkaError>(ends)
    })
    .await
    .expect("watermarks thread")
    .map_err(|e| unreachable(&source, &e))?;
    Ok(ends
        .into_iter()
        .map(|(topic, partition, low, end)| {
            let next = stored.get(&(topic.clone(), partition)).map(|o| o + 1);
            // Records below the low watermark are gone: they cannot be waited for.
            let lag = (end - next.unwrap_or(low).max(low)).max(0);
            PartitionLag {
                topic,
                partition,
                end,
                next,
                lag,
            }
        })
        .collect())
}

/// The flow's stored source offsets (the last offset copied, per source partition of
/// `topics`), read from its worker's offsets topic on the target.
async fn stored_offsets(
    flow: &Flow,
    topics: BTreeSet<String>,
    timeout: Duration,
) -> Result<BTreeMap<(String, i32), i64>, ToolError> {
    let (props, _) = translate(
        &flow.worker_client_props(ClientKind::Consumer),
        &format!("{} worker", flow.name()),
    )
    .map_err(|e| ToolError::Usage(crate::config::join_errors(&e)))?;
    let topic = flow.worker_settings.offset_storage_topic.clone();
    let (source, target) = (flow.source.clone(), flow.target.clone());
    tokio::task::spawn_blocking(move || {
        flow_state::stored_offsets(
            &props,
            &topic,
            |name| name == CONNECTOR,
            &source,
            &topics,
            timeout,
        )
    })
    .await
    .expect("reader thread")
    .map_err(|e| ToolError::Unreachable {
        cluster: target,
        message: e.to_string(),
    })
}
