//! MirrorHeartbeatConnector: a one-partition compacted `heartbeats` topic on the target, and a
//! heartbeat `{source, target, now}` every `emit.heartbeats.interval.seconds`. Heartbeat topics
//! flow downstream with the data (`A.heartbeats` on B), which shows the replication topology.

use std::sync::Arc;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::{join_errors, ClientKind, Flow, Side};
use crate::kafka::admin::Admin;
use crate::kafka::awaited_producer::AwaitedProducer;
use crate::kafka::log::ensure_compacted_topic;
use crate::kafka::producer::Outgoing;
use crate::kafka::props::translate;
use crate::policy::ReplicationPolicy;
use crate::shutdown::stopped;

use super::scheduler::{now_ms, retry};
use super::wire::Heartbeat;

/// The target admin (to create the topic) and the worker producer (to write heartbeats).
fn clients(flow: &Flow, name: &str) -> Result<(Admin, AwaitedProducer), String> {
    let (admin_props, _) = translate(&flow.client_props(Side::Target, ClientKind::Admin), name)
        .map_err(|e| join_errors(&e))?;
    let admin = Admin::new(
        &admin_props,
        &flow.target,
        &format!("{name}|heartbeats-target-admin"),
        flow.settings.admin_timeout,
    )
    .map_err(|e| e.to_string())?;
    let (producer_props, _) = translate(&flow.worker_client_props(ClientKind::Producer), name)
        .map_err(|e| join_errors(&e))?;
    let producer = AwaitedProducer::create(&producer_props, &format!("{name}|producer"), name)
        .map_err(|e| e.to_string())?;
    Ok((admin, producer))
}

/// Runs one flow's heartbeats until `stop`.
pub async fn run(flow: Arc<Flow>, mut stop: watch::Receiver<bool>) -> Result<(), String> {
    let name = format!("{}|MirrorHeartbeatConnector", flow.name());
    let (admin, producer) = clients(&flow, &name)?;
    let topic = ReplicationPolicy::new(&flow.settings.policy)
        .heartbeats_topic()
        .to_string();
    let rf = flow.settings.heartbeats_topic_replication_factor;
    let created = retry(
        &flow.name(),
        &format!("cannot create `{topic}`"),
        &mut stop,
        || ensure_compacted_topic(&admin, &topic, 1, rf),
    )
    .await;
    if created.is_none() {
        return Ok(());
    }
    let Some(interval) = flow.settings.emit_heartbeats else {
        stopped(&mut stop).await;
        return Ok(());
    };
    info!(flow = %flow.name(), "emitting heartbeats to `{topic}` every {interval:?}");
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped(&mut stop) => return Ok(()),
        }
        let now = now_ms();
        let h = Heartbeat {
            source_cluster_alias: flow.source.clone(),
            target_cluster_alias: flow.target.clone(),
            timestamp: now,
        };
        let (key, value) = (h.record_key(), h.record_value());
        let record = Outgoing::new(&topic, Some(&key), Some(&value))
            .partition(0)
            .timestamp(now);
        tokio::select! {
            r = producer.send(record, interval) => if let Err(e) = r {
                warn!(flow = %flow.name(), "heartbeat not written: {e}");
            },
            _ = stopped(&mut stop) => return Ok(()),
        }
    }
}
