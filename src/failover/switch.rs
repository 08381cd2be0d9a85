//! `failover` and `failback`: moving consumer groups from one cluster to the other and back.
//!
//! Failover (A to B) checks that flow A->B has drained, commits each group's offsets on B as
//! A's checkpoints translate them (`offsets translate --apply` for every group), and prints
//! what to point where. With A down, the drain cannot be checked; `--force` fails over anyway,
//! and what A had not handed over stays there until it returns.
//!
//! Failback (B to A, after a failover) needs the reverse flow B->A of an active/active pair.
//! It checks that B->A has drained (what producers wrote on B during the outage is on A as
//! `B.<topic>`), then commits each group's offsets on A: for B's own topics from B->A's
//! checkpoints, and for the remote topics it read on B (`A.<topic>`) back onto the original
//! topics through A->B's offset syncs (see `reverse`), which no checkpoint covers. A
//! checkpoint older than the group's last commit on B would move the group back too far
//! (duplicates) or is missing altogether: failback refuses until they agree, unless forced.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

use regex::Regex;

use super::drain::{flow_lag, PartitionLag};
use super::reverse::{reverse_translate, SyncPoint};
use super::translate::{checkpoints_by_group, commit};
use super::{client, find_flow, ToolError};
use crate::config::{ClientKind, Flow, Mm2Config, Side};
use crate::kafka::admin::Admin;
use crate::kafka::admin_ffi;
use crate::kafka::topic_partition::TopicPartition;
use crate::mirror::flow_state;
use crate::mirror::topic_sync::TopicSelector;
use crate::policy::ReplicationPolicy;

/// What `failover` and `failback` are asked to do.
#[derive(Debug, Clone)]
pub struct SwitchOptions {
    /// The cluster the groups consumed from before the failover (A).
    pub source: String,
    /// The cluster they fail over to (B).
    pub target: String,
    /// Which groups (a regex, anchored); all that have offsets to move when `None`.
    pub groups: Option<String>,
    /// The most records the flow may still have to copy.
    pub max_lag: i64,
    /// Go on although the drain could not be checked or was not reached, or checkpoints lag.
    pub force: bool,
    /// Commit the offsets; without it, only report.
    pub apply: bool,
}

/// Offsets to commit: group → (topic, partition) → (offset, metadata).
type Moves = BTreeMap<String, BTreeMap<(String, i32), (i64, String)>>;

fn io(e: std::io::Error) -> ToolError {
    ToolError::Kafka(format!("cannot write: {e}"))
}

fn group_filter(groups: &Option<String>) -> Result<Regex, ToolError> {
    let pattern = groups.as_deref().unwrap_or(".*");
    Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| ToolError::Usage(format!("--groups `{pattern}`: {e}")))
}

/// Moves the groups from `source` to `target`.
pub async fn failover(
    cfg: &Mm2Config,
    opts: &SwitchOptions,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let flow = find_flow(cfg, &opts.source, &opts.target)?;
    if !flow.settings.enabled {
        return Err(ToolError::Usage(format!(
            "flow {} is not enabled ({}.enabled = true): it replicates nothing to fail over to",
            flow.name(),
            flow.name()
        )));
    }
    let filter = group_filter(&opts.groups)?;
    writeln!(out, "failover {} -> {}", flow.source, flow.target).map_err(io)?;
    let ready = report_drain(flow, opts, out).await?;

    let mut moves = Moves::new();
    for (group, checkpoints) in checkpoints_by_group(flow).await? {
        if filter.is_match(&group) {
            let offsets = checkpoints
                .into_iter()
                .map(|(tp, c)| (tp, (c.downstream_offset, c.metadata)))
                .collect();
            moves.insert(group, offsets);
        }
    }
    if moves.is_empty() {
        return Err(ToolError::Usage(format!(
            "no checkpoints of a group matching `{}` on {}: nothing to fail over",
            opts.groups.as_deref().unwrap_or(".*"),
            flow.target
        )));
    }
    print_moves(&moves, &flow.target, out)?;
    apply(flow, opts, ready, &moves, out).await?;
    let selector = TopicSelector::new(&flow.settings, &flow.source, &flow.target);
    let (a, b) = (&flow.source, &flow.target);
    let example = moves
        .values()
        .flat_map(|m| m.keys())
        .map(|(t, _)| t.clone())
        .next()
        .unwrap_or_else(|| selector.remote_topic("<topic>"));
    let reverse = cfg.flow(b, a).is_some_and(|f| f.settings.enabled);
    writeln!(out, "\nchecklist").map_err(io)?;
    let steps = [
        format!("stop the producers writing to {a}, and the consumers of these groups on {a} if it still serves them"),
        format!(
            "start the consumers on {b} (bootstrap.servers = {}), subscribed to the remote topics ({example}, ...) and to the topics producers will write on {b}: they resume at the offsets above",
            bootstrap(flow, Side::Target)
        ),
        format!("point the producers at {b}, writing the original topic names there"),
        if reverse {
            format!("when {a} is back, flow {b}->{a} copies what was written on {b} to {a}; once it has, run: connect-mirror-maker failback mm2.properties --source {a} --target {b} --apply")
        } else {
            format!("mm2.properties has no flow {b}->{a}: add it (active/active) before failing back, so that what is written on {b} reaches {a}")
        },
    ];
    for (i, s) in steps.iter().enumerate() {
        writeln!(out, "  {}. {s}", i + 1).map_err(io)?;
    }
    Ok(())
}

/// Moves the groups back from `target` to `source`, after a failover.
pub async fn failback(
    cfg: &Mm2Config,
    opts: &SwitchOptions,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let forward = find_flow(cfg, &opts.source, &opts.target)?;
    let back = cfg
        .flow(&opts.target, &opts.source)
        .filter(|f| f.settings.enabled)
        .ok_or_else(|| {
        ToolError::Usage(format!(
            "failback needs flow {}->{} (active/active), so that what was written on {} during the outage reaches {}; mm2.properties does not enable it",
            opts.target, opts.source, opts.target, opts.source
        ))
    })?;
    let filter = group_filter(&opts.groups)?;
    let (a, b) = (&forward.source, &forward.target);
    writeln!(out, "failback {b} -> {a}").map_err(io)?;
    let mut ready = report_drain(back, opts, out).await?;

    let committed = committed_groups(back, &filter).await?;
    let checkpoints = checkpoints_by_group(back).await?;
    let policy = ReplicationPolicy::new(&forward.settings.policy);
    // The original topics of the remote topics the groups read on B: their syncs are needed.
    let originals: BTreeSet<String> = committed
        .values()
        .flat_map(|offsets| offsets.keys())
        .filter(|tp| policy.topic_source(&tp.topic).as_deref() == Some(a.as_str()))
        .map(|tp| policy.original_topic(&tp.topic))
        .collect();
    let syncs = offset_syncs(forward, originals).await?;
    let back_selector = TopicSelector::new(&back.settings, &back.source, &back.target);
    let mut moves = Moves::new();
    for (group, offsets) in &committed {
        let mut to = BTreeMap::new();
        for (TopicPartition { topic, partition }, at) in offsets {
            if policy.topic_source(topic).as_deref() == Some(a.as_str()) {
                let original = policy.original_topic(topic);
                let points = syncs.get(&(original.clone(), *partition));
                match points.and_then(|s| reverse_translate(s, at.offset)) {
                    Some(o) => {
                        to.insert((original, *partition), (o, at.metadata.clone()));
                    }
                    None => writeln!(
                        out,
                        "  {group}: {topic}-{partition} at {}: no offset sync of {a}->{b} at or before it; left to the consumer's auto.offset.reset on {a}",
                        at.offset
                    )
                    .map_err(io)?,
                }
            } else if back_selector.should_replicate(topic) {
                let c = checkpoints
                    .get(group)
                    .and_then(|c| c.get(&(back_selector.remote_topic(topic), *partition)));
                match c {
                    Some(c) if c.upstream_offset == at.offset => {
                        to.insert(
                            (c.topic.clone(), c.partition),
                            (c.downstream_offset, c.metadata.clone()),
                        );
                    }
                    other => {
                        let seen =
                            other.map_or("none".to_string(), |c| c.upstream_offset.to_string());
                        writeln!(
                            out,
                            "  {group}: {topic}-{partition} committed at {} on {b}, checkpointed at {seen}: wait for {b}->{a}'s checkpoints to catch up",
                            at.offset
                        )
                        .map_err(io)?;
                        ready = false;
                        if let Some(c) = other {
                            to.insert(
                                (c.topic.clone(), c.partition),
                                (c.downstream_offset, c.metadata.clone()),
                            );
                        }
                    }
                }
            }
        }
        if !to.is_empty() {
            moves.insert(group.clone(), to);
        }
    }
    if moves.is_empty() {
        return Err(ToolError::Usage(format!(
            "no group matching `{}` has offsets on {b} to move back to {a}",
            opts.groups.as_deref().unwrap_or(".*")
        )));
    }
    print_moves(&moves, a, out)?;
    apply(back, opts, ready, &moves, out).await?;
    let steps = [
        format!("stop the consumers of these groups on {b} and the producers writing to {b}"),
        format!(
            "start the consumers on {a} (bootstrap.servers = {}), subscribed to the original topics and to the remote topics of {b} ({}): they resume at the offsets above",
            bootstrap(forward, Side::Source),
            back_selector.remote_topic("<topic>")
        ),
        format!("point the producers at {a}; flow {a}->{b} keeps {b} ready for the next failover"),
    ];
    writeln!(out, "\nchecklist").map_err(io)?;
    for (i, s) in steps.iter().enumerate() {
        writeln!(out, "  {}. {s}", i + 1).map_err(io)?;
    }
    Ok(())
}

/// Prints the flow's drain; whether it is drained (false when its source is unreachable).
async fn report_drain(
    flow: &Flow,
    opts: &SwitchOptions,
    out: &mut dyn Write,
) -> Result<bool, ToolError> {
    match flow_lag(flow).await {
        Ok(lags) => {
            let total: i64 = lags.iter().map(|l| l.lag).sum();
            let behind: Vec<&PartitionLag> = lags.iter().filter(|l| l.lag > 0).collect();
            writeln!(
                out,
                "flow {}: {total} records not yet copied, over {} partitions ({} behind); at most {} allowed",
                flow.name(),
                lags.len(),
                behind.len(),
                opts.max_lag
            )
            .map_err(io)?;
            for l in behind.iter().take(20) {
                writeln!(
                    out,
                    "  {}-{}: end {}, copied to {}",
                    l.topic,
                    l.partition,
                    l.end,
                    l.next.map_or("nothing".into(), |n| n.to_string())
                )
                .map_err(io)?;
            }
            Ok(total <= opts.max_lag)
        }
        Err(ToolError::Unreachable { cluster, message }) if cluster == flow.source => {
            writeln!(
                out,
                "flow {}: {cluster} is unreachable ({message}); the drain is not checked, and what {cluster} had not handed over stays there until it returns",
                flow.name()
            )
            .map_err(io)?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Commits the moves to the groups on `flow`'s target, if asked and ready (or forced).
async fn apply(
    flow: &Flow,
    opts: &SwitchOptions,
    ready: bool,
    moves: &Moves,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    if !opts.apply {
        writeln!(out, "\nnothing committed: run again with --apply").map_err(io)?;
        return Ok(());
    }
    if !ready && !opts.force {
        return Err(ToolError::NotReady(format!(
            "flow {} has not drained or its checkpoints lag (see above): wait and run again, or pass --force to commit these offsets now",
            flow.name()
        )));
    }
    for (group, offsets) in moves {
        commit(flow, &flow.target, group, offsets, out).await?;
    }
    Ok(())
}

fn print_moves(moves: &Moves, cluster: &str, out: &mut dyn Write) -> Result<(), ToolError> {
    writeln!(out, "\noffsets to commit on {cluster}").map_err(io)?;
    writeln!(out, "GROUP\tTOPIC\tPARTITION\tOFFSET").map_err(io)?;
    for (group, offsets) in moves {
        for ((t, p), (o, _)) in offsets {
            writeln!(out, "{group}\t{t}\t{p}\t{o}").map_err(io)?;
        }
    }
    Ok(())
}

fn bootstrap(flow: &Flow, side: Side) -> String {
    flow.client_props(side, ClientKind::Consumer)
        .get("bootstrap.servers")
        .map(|s| s.value.clone())
        .unwrap_or_default()
}

/// The committed offsets on `flow`'s source of every group matching `filter`.
async fn committed_groups(
    flow: &Flow,
    filter: &Regex,
) -> Result<BTreeMap<String, BTreeMap<TopicPartition, admin_ffi::GroupOffset>>, ToolError> {
    let props = client(flow, Side::Source, ClientKind::Admin)?;
    let timeout = flow.settings.admin_timeout.min(Duration::from_secs(30));
    let admin = Admin::new(&props, &flow.source, "mm2-failback", timeout)
        .map_err(|e| ToolError::Kafka(e.to_string()))?;
    let unreachable = |e: admin_ffi::AdminError| ToolError::Unreachable {
        cluster: flow.source.clone(),
        message: e.to_string(),
    };
    let listed = admin.list_groups().await.map_err(unreachable)?;
    let mut out = BTreeMap::new();
    for g in listed.into_iter().filter(|g| filter.is_match(&g.group_id)) {
        let offsets = admin
            .group_offsets(&g.group_id)
            .await
            .map_err(unreachable)?;
        if !offsets.is_empty() {
            out.insert(g.group_id, offsets);
        }
    }
    Ok(out)
}

/// The offset syncs of `flow` of the partitions of `topics`, in the order written.
async fn offset_syncs(
    flow: &Flow,
    topics: BTreeSet<String>,
) -> Result<BTreeMap<(String, i32), Vec<SyncPoint>>, ToolError> {
    let (side, topic) = flow_state::offset_syncs_topic(flow);
    let cluster = flow.alias(side).to_string();
    let props = client(flow, side, ClientKind::Consumer)?;
    let timeout = flow.settings.admin_timeout;
    tokio::task::spawn_blocking(move || flow_state::offset_syncs(&props, &topic, &topics, timeout))
        .await
        .expect("reader thread")
        .map_err(|e| ToolError::Unreachable {
            cluster,
            message: e.to_string(),
        })
}
