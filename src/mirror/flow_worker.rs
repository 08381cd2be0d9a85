//! One flow of connect-mirror-maker as a member of its worker group on the target cluster, as
//! Java MirrorMaker 2 runs a distributed herder per flow: group `<source>-mm2` (`group.id`),
//! state in `mm2-configs.<source>.internal`, `mm2-offsets.<source>.internal` and
//! `mm2-status.<source>.internal`. Several processes with the same mm2.properties share the
//! flow's connectors and tasks; alone, a process runs them all.

use std::sync::Arc;

use tokio::sync::watch;
use tracing::{error, info};

use crate::config::{ClientKind, Flow};
use crate::connect::error::Error;
use crate::connect::group::{self, GroupSpec};
use crate::connect::herder::Herder;
use crate::connect::stored_names::StoredNames;
use crate::kafka::props::translate;
use crate::metrics::Metrics;

use super::flow_connectors::{
    connector_name, flow_connectors, stored_config, FlowConnectors, CHECKPOINT, HEARTBEAT, SOURCE,
};
use super::scheduler::retry;

const READ_ONLY: &str = "connect-mirror-maker runs the connectors of its mm2.properties; change that file and restart to change them";

fn spec(flow: &Flow) -> Result<GroupSpec, Error> {
    let label = format!("{} worker", flow.name());
    let props = |kind| {
        translate(&flow.worker_client_props(kind), &label)
            .map(|(p, _)| p)
            .map_err(Error::ClientSettings)
    };
    let w = &flow.worker_settings;
    Ok(GroupSpec {
        group_id: w.group_id.clone(),
        // Java's MirrorMaker names each flow's worker client after the flow (`A->B`).
        client_id: Some(flow.name()),
        cluster: flow.target.clone(),
        config_topic: w.config_storage_topic.clone(),
        offset_topic: w.offset_storage_topic.clone(),
        status_topic: w.status_storage_topic.clone(),
        // Java's dedicated MirrorMaker names the flow's connectors `MirrorSourceConnector` (and
        // so on) in these topics; so do we, so that a switch either way finds one connector.
        stored_names: StoredNames::without_prefix(format!("{}.", flow.name())),
        offset_partitions: w.offset_storage_partitions,
        status_partitions: w.status_storage_partitions,
        config_rf: w.config_storage_replication_factor,
        offset_rf: w.offset_storage_replication_factor,
        status_rf: w.status_storage_replication_factor,
        session_timeout: w.session_timeout,
        heartbeat_interval: w.heartbeat_interval,
        rebalance_timeout: w.rebalance_timeout,
        producer: props(ClientKind::Producer)?,
        consumer: props(ClientKind::Consumer)?,
        admin: props(ClientKind::Admin)?,
    })
}

/// Joins the flow's group (retrying while the target is down), writes the flow's connector
/// configs, hands the herder to `register`, and runs until `stop`.
///
/// An internal topic of the wrong shape (a config topic of several partitions, a topic that
/// is not compacted) is not retried: nothing on the cluster mends it by itself, and a flow that
/// waits for it runs nothing while looking like a flow whose target is down. Java's MirrorMaker
/// runs each flow on a DistributedHerder, whose thread, on that ConfigException, logs
/// "Uncaught exception in herder work thread, exiting:" and calls `Exit.exit(1)`: the whole
/// process stops, every flow with it, with status 1 (seen with Kafka 4.3.1). So does ours: the
/// error is logged with the topic and the fix, and returned, and `app` stops the process with
/// it. An operator sees it at once, as the process exits, rather than in a WARN repeated
/// every minute.
pub async fn run(
    flow: Arc<Flow>,
    metrics: Metrics,
    worker_id: String,
    register: impl FnOnce(Herder),
    mut stop: watch::Receiver<bool>,
) -> Result<(), Error> {
    let spec = spec(&flow)?;
    let factory = Arc::new(FlowConnectors {
        flows: vec![flow.clone()],
        metrics,
    });
    let what = format!(
        "cannot join the worker group {} on {}",
        spec.group_id, flow.target
    );
    let s = stop.clone();
    // A shape error is an `Ok` answer, so that `retry` hands it back instead of retrying.
    let attempt = || {
        let (spec, factory, worker_id, s) = (&spec, factory.clone(), worker_id.clone(), s.clone());
        async move {
            let topics = match spec.ensure_topics().await {
                Ok(topics) => topics,
                Err(Error::Shape(e)) => return Ok(Err(e)),
                Err(e) => return Err(e),
            };
            group::join(spec, topics, &worker_id, factory, Some(READ_ONLY.into()), s)
                .await
                .map(Ok)
        }
    };
    let member = match retry(&flow.name(), &what, &mut stop, attempt).await {
        None => return Ok(()),
        Some(Ok(member)) => member,
        Some(Err(shape)) => {
            error!(
                flow = %flow.name(),
                topic = %shape.topic(),
                "the flow cannot start: {shape} To fix: {}; connect-mirror-maker stops",
                shape.fix()
            );
            return Err(shape.into());
        }
    };
    info!(flow = %flow.name(), enabled = flow.settings.enabled, "flow started");
    // Configs stored under our full names by earlier versions: a Java herder would run them as
    // second connectors.
    let all: Vec<String> = [SOURCE, CHECKPOINT, HEARTBEAT]
        .iter()
        .map(|short| connector_name(&flow, short))
        .collect();
    if let Err(e) = member.herder.delete_legacy_names(all).await {
        tracing::warn!(flow = %flow.name(), "cannot delete connector configs of earlier versions: {e}");
    }
    // A stop requested while the configs are written is not held up by them: a write waits until
    // this member reads it back, which no longer happens once the process is stopping.
    tokio::select! {
        () = write_configs(&flow, &member.herder) => {}
        () = crate::shutdown::stopped(&mut stop) => {}
    }
    register(member.herder.clone());
    crate::shutdown::stopped(&mut stop).await;
    member.leave().await;
    Ok(())
}

/// Writes the flow's connector configs; every process writes the same ones, and a config that
/// did not change restarts nothing.
async fn write_configs(flow: &Flow, herder: &Herder) {
    for short in flow_connectors(flow) {
        if let Err(e) = herder
            .install(&connector_name(flow, short), stored_config(flow, short))
            .await
        {
            tracing::warn!(flow = %flow.name(), "cannot write the connector config: {e}");
        }
    }
}
