//! `topology`: the clusters upstream of one cluster, from its heartbeat topics.

use std::io::Write;
use std::time::Duration;

use super::{client, ToolError};
use crate::config::{ClientKind, Flow, Mm2Config, Side};
use crate::kafka::admin::{Admin, TopicAdmin};
use crate::policy::replication::upstream_hops;
use crate::policy::ReplicationPolicy;

/// A flow with `cluster` on one side, preferring one that targets it, so its client settings
/// can reach the cluster.
fn flow_touching<'a>(cfg: &'a Mm2Config, cluster: &str) -> Result<(&'a Flow, Side), ToolError> {
    if !cfg.clusters.iter().any(|c| c == cluster) {
        return Err(ToolError::Usage(format!(
            "`{cluster}` is not one of the clusters ({})",
            cfg.clusters.join(", ")
        )));
    }
    cfg.flows
        .iter()
        .find(|f| f.target == cluster)
        .map(|f| (f, Side::Target))
        .or_else(|| {
            cfg.flows
                .iter()
                .find(|f| f.source == cluster)
                .map(|f| (f, Side::Source))
        })
        .ok_or_else(|| ToolError::Usage(format!("no flow of mm2.properties touches `{cluster}`")))
}

/// Prints the clusters upstream of `cluster` with their fewest replication hops.
pub async fn topology(
    cfg: &Mm2Config,
    cluster: &str,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let (flow, side) = flow_touching(cfg, cluster)?;
    let props = client(flow, side, ClientKind::Admin)?;
    let admin = Admin::new(
        &props,
        cluster,
        "mm2-topology",
        flow.settings.admin_timeout.min(Duration::from_secs(30)),
    )
    .map_err(|e| ToolError::Kafka(e.to_string()))?;
    let topics = admin
        .topics()
        .await
        .map_err(|e| ToolError::Kafka(e.to_string()))?;
    let policy = ReplicationPolicy::new(&flow.settings.policy);
    let heartbeats: Vec<&str> = topics
        .keys()
        .map(String::as_str)
        .filter(|t| policy.is_heartbeats_topic(t))
        .collect();
    let hops = upstream_hops(&policy, heartbeats.iter().copied());
    let io = |e: std::io::Error| ToolError::Kafka(format!("cannot write: {e}"));
    writeln!(out, "cluster {cluster}").map_err(io)?;
    writeln!(
        out,
        "heartbeat topics: {}",
        if heartbeats.is_empty() {
            "none".to_string()
        } else {
            heartbeats.join(", ")
        }
    )
    .map_err(io)?;
    if hops.is_empty() {
        writeln!(out, "no upstream clusters").map_err(io)?;
    }
    for (alias, n) in &hops {
        writeln!(
            out,
            "upstream {alias}: {n} hop{}",
            if *n == 1 { "" } else { "s" }
        )
        .map_err(io)?;
    }
    Ok(())
}
