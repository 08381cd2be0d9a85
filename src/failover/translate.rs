//! `offsets translate`: a group's offsets on the target from the source's checkpoints, and
//! committing them.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use super::{client, find_flow, ToolError};
use crate::config::{ClientKind, Flow, Mm2Config, Side};
use crate::kafka::admin::Admin;
use crate::kafka::admin_ffi::{self, GroupOffset};
use crate::mirror::flow_state;
use crate::mirror::wire::Checkpoint;
use crate::policy::ReplicationPolicy;

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
    let offsets: BTreeMap<(String, i32), (i64, String)> = checkpoints(flow, group)
        .await?
        .into_iter()
        .map(|(tp, c)| (tp, (c.downstream_offset, c.metadata)))
        .collect();
    if offsets.is_empty() {
        return Err(ToolError::Kafka(format!(
            "no checkpoints for group `{group}` in `{}` on {target}",
            ReplicationPolicy::new(&flow.settings.policy).checkpoints_topic(source)
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

/// The latest checkpoint of each partition `group` has on `flow`'s target, as
/// RemoteClusterUtils reads them (the last one per partition wins).
async fn checkpoints(
    flow: &Flow,
    group: &str,
) -> Result<BTreeMap<(String, i32), Checkpoint>, ToolError> {
    Ok(checkpoints_by_group(flow)
        .await?
        .remove(group)
        .unwrap_or_default())
}

/// The latest checkpoints of every group on `flow`'s target.
pub(super) async fn checkpoints_by_group(
    flow: &Flow,
) -> Result<BTreeMap<String, BTreeMap<(String, i32), Checkpoint>>, ToolError> {
    let policy = ReplicationPolicy::new(&flow.settings.policy);
    let topic = policy.checkpoints_topic(&flow.source);
    let props = client(flow, Side::Target, ClientKind::Consumer)?;
    let timeout = flow.settings.admin_timeout;
    let all = tokio::task::spawn_blocking(move || {
        flow_state::checkpoints(&props, &topic, |_| true, timeout)
    })
    .await
    .expect("reader thread")
    .map_err(|e| ToolError::Unreachable {
        cluster: flow.target.clone(),
        message: e.to_string(),
    })?;
    let mut latest: BTreeMap<String, BTreeMap<(String, i32), Checkpoint>> = BTreeMap::new();
    for ((group, topic, partition), c) in all {
        latest
            .entry(group)
            .or_default()
            .insert((topic, partition), c);
    }
    Ok(latest)
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
pub(super) async fn commit(
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
