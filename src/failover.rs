//! Failover tooling for operators: the translated offsets of a group on the target (what Java's
//! `RemoteClusterUtils.translateOffsets` returns), optionally committed to the group there, and
//! the replication topology seen from one cluster's heartbeat topics.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use crate::config::{join_errors, ClientKind, Flow, Mm2Config, Side};
use crate::kafka::admin::{Admin, TopicAdmin};
use crate::kafka::admin_ffi::{self, GroupOffset};
use crate::kafka::log::read_to_end;
use crate::kafka::props::{translate, ClientProps};
use crate::mirror::wire::Checkpoint;
use crate::policy::replication::upstream_hops;
use crate::policy::ReplicationPolicy;

/// Why a tool failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Kafka(String),
}

pub(crate) fn client(flow: &Flow, side: Side, kind: ClientKind) -> Result<ClientProps, ToolError> {
    translate(&flow.client_props(side, kind), &flow.name())
        .map(|(p, _)| p)
        .map_err(|e| ToolError::Usage(join_errors(&e)))
}

pub(crate) fn find_flow<'a>(
    cfg: &'a Mm2Config,
    source: &str,
    target: &str,
) -> Result<&'a Flow, ToolError> {
    for alias in [source, target] {
        if !cfg.clusters.iter().any(|c| c == alias) {
            return Err(ToolError::Usage(format!(
                "`{alias}` is not one of the clusters ({})",
                cfg.clusters.join(", ")
            )));
        }
    }
    cfg.flow(source, target)
        .ok_or_else(|| ToolError::Usage(format!("mm2.properties has no flow {source}->{target}")))
}

/// Prints the offsets of `group` on `target`, translated from `source`'s checkpoints; with
/// `apply`, commits them to the group on `target` if no consumer is using it there.
pub async fn translate_offsets(
    cfg: &Mm2Config,
    source: &str,
    target: &str,
    group: &str,
    apply: bool,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let flow = find_flow(cfg, source, target)?;
    let policy = ReplicationPolicy::new(&flow.settings.policy);
    let topic = policy.checkpoints_topic(source);
    let props = client(flow, Side::Target, ClientKind::Consumer)?;
    let (t, timeout) = (topic.clone(), flow.settings.admin_timeout);
    let records = tokio::task::spawn_blocking(move || {
        read_to_end(&props, "mm2-offsets-translate", &t, timeout)
    })
    .await
    .expect("reader thread")
    .map_err(|e| ToolError::Kafka(e.to_string()))?;
    // The last checkpoint of each partition wins, as in RemoteClusterUtils.
    let mut offsets: BTreeMap<(String, i32), (i64, String)> = BTreeMap::new();
    for c in records
        .iter()
        .filter_map(|(k, v)| Checkpoint::decode(k.as_deref()?, v.as_deref()?).ok())
    {
        if c.group == group {
            offsets.insert((c.topic, c.partition), (c.downstream_offset, c.metadata));
        }
    }
    if offsets.is_empty() {
        return Err(ToolError::Kafka(format!(
            "no checkpoints for group `{group}` in `{topic}` on {target}"
        )));
    }
    let io = |e: std::io::Error| ToolError::Kafka(format!("cannot write: {e}"));
    writeln!(out, "TOPIC\tPARTITION\tOFFSET\tMETADATA").map_err(io)?;
    for ((t, p), (o, m)) in &offsets {
        writeln!(out, "{t}\t{p}\t{o}\t{m}").map_err(io)?;
    }
    if apply {
        commit(flow, target, group, &offsets, out).await?;
    }
    Ok(())
}

/// Refuses a group that has consumers on `target`: their commits would overwrite ours.
async fn ensure_inactive(
    admin: &Admin,
    target: &str,
    group: &str,
    timeout: Duration,
) -> Result<(), ToolError> {
    let described =
        admin_ffi::describe_consumer_groups(admin.client(), &[group.to_string()], timeout)
            .await
            .map_err(|e| ToolError::Kafka(e.to_string()))?;
    if let Some(d) = described.first() {
        if let Some(e) = &d.error {
            return Err(ToolError::Kafka(format!(
                "describing group `{group}` on {target}: {e}"
            )));
        }
        if !d.is_inactive() {
            return Err(ToolError::Usage(format!(
                "group `{group}` is active on {target} ({:?}, {} members): stop its consumers, then apply again",
                d.state, d.members
            )));
        }
    }
    Ok(())
}

/// Commits the translated offsets to `group` on `target`, which must have no active consumers.
async fn commit(
    flow: &Flow,
    target: &str,
    group: &str,
    offsets: &BTreeMap<(String, i32), (i64, String)>,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let props = client(flow, Side::Target, ClientKind::Admin)?;
    let timeout = flow.settings.admin_timeout;
    let admin = Admin::new(&props, target, "mm2-offsets-apply", timeout)
        .map_err(|e| ToolError::Kafka(e.to_string()))?;
    let kafka = |e: admin_ffi::AdminError| ToolError::Kafka(e.to_string());
    ensure_inactive(&admin, target, group, timeout).await?;
    let offsets: BTreeMap<(String, i32), GroupOffset> = offsets
        .iter()
        .map(|(tp, (offset, metadata))| {
            (
                tp.clone(),
                GroupOffset {
                    offset: *offset,
                    metadata: metadata.clone(),
                },
            )
        })
        .collect();
    let results = admin_ffi::alter_consumer_group_offsets(admin.client(), group, &offsets, timeout)
        .await
        .map_err(kafka)?;
    let failed: Vec<String> = results
        .iter()
        .filter_map(|((t, p), r)| r.as_ref().err().map(|e| format!("{t}-{p}: {e}")))
        .collect();
    if !failed.is_empty() {
        return Err(ToolError::Kafka(format!(
            "not committed: {}",
            failed.join("; ")
        )));
    }
    writeln!(
        out,
        "committed {} offsets to group {group} on {target}",
        offsets.len()
    )
    .map_err(|e| ToolError::Kafka(format!("cannot write: {e}")))
}

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
