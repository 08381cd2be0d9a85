//! `verify`: compares the source and the target of one flow while it runs. Per partition of
//! each replicated topic, the replicated stretch (from the offset syncs' anchor up to the stored
//! source offset, which only grows) is read on both sides in step and compared record by record
//! through per-field digests; topic configs are judged by the connector's own sync rule, and
//! partition counts and group offsets (checkpoints against commits on the target) are checked.
//!
//! At-least-once delivery may leave duplicates on the target after a restart: a target record
//! that repeats a recently matched source record is counted as a duplicate, not a difference.
//!
//! Past the stored offset lies the target's tail: copies in flight while the flow runs, so it is
//! only checked once the flow is stopped (`flow`) or with `--include-tail`. There a copy of the
//! source's record past the stored offset is replication not yet vouched for, and a record that
//! copies no source record is extra.

pub mod alignment;
pub mod configs;
pub mod diff;
pub mod digest;
pub mod flow;
pub mod reader;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use regex::Regex;

use crate::config::{ClientKind, Flow, Mm2Config, Side};
use crate::failover::{client, find_flow, ToolError};
use crate::kafka::admin::{Admin, TopicAdmin};
use crate::kafka::admin_ffi;
use crate::kafka::props::{translate, ClientProps};
use crate::kafka::topic_partition::TopicPartition;
use crate::mirror::flow_state;
use crate::mirror::topic_sync::TopicSelector;
use crate::policy::GroupFilter;

use alignment::{plan, tail_only, Positions};
use diff::{compare, Bounds, Limits, RecordDiff};
use digest::Sampler;
use reader::{watermarks, PartitionStream};
use report::{Difference, GroupReport, PartitionReport, Report};

/// What to verify.
#[derive(Debug, Clone)]
pub struct Options {
    pub source: String,
    pub target: String,
    /// Narrows the flow's topics: a regular expression the whole source topic name must match.
    pub topics: Option<String>,
    /// Narrows the flow's groups, likewise.
    pub groups: Option<String>,
    /// The fraction of windows compared, in (0, 1].
    pub sample: f64,
    /// Upstream offsets per window.
    pub window: u64,
    /// Checks the target's tail past the stored offsets even while the flow runs (a stopped
    /// flow's tail is always checked).
    pub include_tail: bool,
}

/// Why verify could not run (differences are not errors: they are in the report).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Bad input: exit status 2.
    #[error("{0}")]
    Usage(String),
    /// A cluster that does not answer: exit status 2.
    #[error("cluster `{cluster}` is unreachable: {message}")]
    Unreachable { cluster: String, message: String },
    /// A failure while reading: exit status 1.
    #[error("{0}")]
    Kafka(String),
}

impl From<ToolError> for VerifyError {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::Usage(m) => VerifyError::Usage(m),
            ToolError::Unreachable { cluster, message } => {
                VerifyError::Unreachable { cluster, message }
            }
            ToolError::Kafka(m) | ToolError::NotReady(m) => VerifyError::Kafka(m),
        }
    }
}

fn full_match(what: &str, re: &Option<String>) -> Result<Option<Regex>, VerifyError> {
    re.as_ref()
        .map(|r| {
            Regex::new(&format!("^(?:{r})$"))
                .map_err(|e| VerifyError::Usage(format!("--{what} is not a valid regex: {e}")))
        })
        .transpose()
}

/// Everything one partition's comparison needs, owned, to run on a blocking thread.
struct Job {
    topic: String,
    remote: String,
    partition: i32,
    stored: Option<i64>,
    syncs: Vec<alignment::SyncPoint>,
}

/// Runs the comparison of flow `source->target` and returns what it found.
pub async fn verify(cfg: &Mm2Config, opts: &Options) -> Result<Report, VerifyError> {
    if !(opts.sample > 0.0 && opts.sample <= 1.0) {
        return Err(VerifyError::Usage(format!(
            "--sample {} is outside (0, 1]",
            opts.sample
        )));
    }
    let topics_re = full_match("topics", &opts.topics)?;
    let groups_re = full_match("groups", &opts.groups)?;
    let flow = find_flow(cfg, &opts.source, &opts.target)?;
    if !flow.settings.enabled {
        return Err(VerifyError::Usage(format!(
            "flow {} does not replicate ({}.enabled is not true)",
            flow.name(),
            flow.name()
        )));
    }
    let timeout = flow.settings.admin_timeout.min(Duration::from_secs(30));
    let selector = TopicSelector::new(&flow.settings, &flow.source, &flow.target);
    let admin = |side: Side, cluster: &str| -> Result<Admin, VerifyError> {
        let props = client(flow, side, ClientKind::Admin)?;
        Admin::new(&props, cluster, "mm2-verify", timeout)
            .map_err(|e| VerifyError::Kafka(e.to_string()))
    };
    let unreachable = |cluster: &str| {
        let cluster = cluster.to_string();
        move |e: crate::kafka::admin::AdminError| VerifyError::Unreachable {
            cluster,
            message: e.to_string(),
        }
    };
    let source_admin = admin(Side::Source, &flow.source)?;
    let target_admin = admin(Side::Target, &flow.target)?;
    let source_topics = source_admin
        .topics()
        .await
        .map_err(unreachable(&flow.source))?;
    let target_topics = target_admin
        .topics()
        .await
        .map_err(unreachable(&flow.target))?;
    let flow_state = flow::state(&target_admin, &flow.worker_settings.group_id).await;
    let tail = flow::checks_tail(opts.include_tail, &flow_state);

    // Heartbeats are replicated whatever the filter, and change all the time: only compared when
    // --topics names them.
    let selected: BTreeMap<String, i32> = source_topics
        .iter()
        .filter(|(t, _)| selector.should_replicate(t))
        .filter(|(t, _)| match &topics_re {
            Some(re) => re.is_match(t),
            None => !selector.policy.is_heartbeats_topic(t),
        })
        .map(|(t, n)| (t.clone(), *n))
        .collect();
    let mut report = Report {
        source: flow.source.clone(),
        target: flow.target.clone(),
        topics: selected.keys().cloned().collect(),
        flow: Some(flow_state),
        tail_checked: tail,
        ..Default::default()
    };

    // Partition counts and configs.
    let mut present = Vec::new();
    for (topic, &n) in &selected {
        let remote = selector.remote_topic(topic);
        match target_topics.get(&remote) {
            None => report.differences.push(Difference::MissingRemoteTopic {
                topic: topic.clone(),
                remote_topic: remote,
            }),
            Some(&m) => {
                if m != n {
                    report.differences.push(Difference::PartitionCount {
                        topic: topic.clone(),
                        remote_topic: remote.clone(),
                        source: n,
                        target: m,
                    });
                }
                present.push((topic.clone(), remote, n.min(m)));
            }
        }
    }
    config_drift(
        &source_admin,
        &target_admin,
        &selector,
        &present,
        &mut report,
    )
    .await?;

    // Stored offsets first, then syncs, then the logs' ends: each read sees at least what the
    // one before it vouches for, as the flow only moves forward.
    let names: BTreeSet<String> = present.iter().map(|(t, _, _)| t.clone()).collect();
    let worker_consumer = translate(
        &flow.worker_client_props(ClientKind::Consumer),
        &flow.name(),
    )
    .map(|(p, _)| p)
    .map_err(|e| VerifyError::Usage(crate::config::join_errors(&e)))?;
    let (syncs_side, syncs_topic) = flow_state::offset_syncs_topic(flow);
    let source_consumer = client(flow, Side::Source, ClientKind::Consumer)?;
    let target_consumer = client(flow, Side::Target, ClientKind::Consumer)?;
    let syncs_consumer = client(flow, syncs_side, ClientKind::Consumer)?;
    let offsets_topic = flow.worker_settings.offset_storage_topic.clone();
    let cluster = flow.source.clone();
    let (stored, syncs) = {
        let names = names.clone();
        tokio::task::spawn_blocking(move || {
            let kafka = |e: crate::kafka::log::LogError| VerifyError::Kafka(e.to_string());
            // connect-mirror-maker's and Java's dedicated mode store under the class name,
            // Connect under the connector's name (`A->B.MirrorSourceConnector`): both count.
            let stored = flow_state::stored_offsets(
                &worker_consumer,
                &offsets_topic,
                |name| name.ends_with("MirrorSourceConnector"),
                &cluster,
                &names,
                timeout,
            )
            .map_err(kafka)?;
            let syncs = flow_state::offset_syncs(&syncs_consumer, &syncs_topic, &names, timeout)
                .map_err(kafka)?
                .into_iter()
                .map(|(tp, points)| (tp, alignment::since_last_rewind(points)))
                .collect::<BTreeMap<_, _>>();
            Ok::<_, VerifyError>((stored, syncs))
        })
        .await
        .expect("reader thread")?
    };
    let mut jobs = Vec::new();
    for (topic, remote, n) in &present {
        for p in 0..*n {
            let key = (topic.clone(), p);
            jobs.push(Job {
                topic: topic.clone(),
                remote: remote.clone(),
                partition: p,
                stored: stored.get(&key).copied(),
                syncs: syncs.get(&key).cloned().unwrap_or_default(),
            });
        }
    }
    let sampler = Sampler::new(opts.sample);
    let (window, source, target) = (opts.window, flow.source.clone(), flow.target.clone());
    let partitions = tokio::task::spawn_blocking(move || {
        let total = jobs.len();
        let mut out = Vec::new();
        for (i, job) in jobs.into_iter().enumerate() {
            let r = compare_partition(
                &job,
                (&source, &source_consumer),
                (&target, &target_consumer),
                window,
                sampler,
                tail,
                timeout,
            )?;
            eprintln!(
                "verify: {}-{}: {} records compared ({}/{total} partitions)",
                job.topic,
                job.partition,
                r.0.upstream_records,
                i + 1
            );
            out.push(r);
        }
        Ok::<_, VerifyError>(out)
    })
    .await
    .expect("reader thread")?;
    for (p, diffs) in partitions {
        report.partitions.push(p);
        report.differences.extend(diffs);
    }

    check_groups(
        flow,
        &selector,
        &target_admin,
        &present,
        groups_re,
        timeout,
        &mut report,
    )
    .await?;
    Ok(report)
}

/// Compares one partition with its copy; with `tail`, also the target's records past what the
/// stored offset accounts for.
fn compare_partition(
    job: &Job,
    (source, source_props): (&str, &ClientProps),
    (target, target_props): (&str, &ClientProps),
    window: u64,
    sampler: Sampler,
    tail: bool,
    timeout: Duration,
) -> Result<(PartitionReport, Vec<Difference>), VerifyError> {
    let mut report = PartitionReport {
        topic: job.topic.clone(),
        remote_topic: job.remote.clone(),
        partition: job.partition,
        ..Default::default()
    };
    if job.stored.is_none() && !tail {
        report.skipped = Some("no stored offset: nothing replicated yet".into());
        return Ok((report, Vec::new()));
    }
    let up_tp = TopicPartition::new(job.topic.clone(), job.partition);
    let down_tp = TopicPartition::new(job.remote.clone(), job.partition);
    let kafka = |cluster: &str| {
        let cluster = cluster.to_string();
        move |e: crate::kafka::KafkaError| {
            VerifyError::Kafka(format!("watermarks on {cluster}: {e}"))
        }
    };
    // The target's end first: every copy below it then has its source record below the
    // source's end read after, even while the flow runs.
    let (target_low, target_high) =
        watermarks(target_props, &down_tp, timeout).map_err(kafka(target))?;
    let (source_low, source_high) =
        watermarks(source_props, &up_tp, timeout).map_err(kafka(source))?;
    let positions = Positions {
        syncs: job.syncs.clone(),
        stored: job.stored.unwrap_or(-1),
        source_low,
        target_low,
    };
    let runs = match job.stored {
        Some(stored) => {
            let Some(plan) = plan(
                &positions,
                window,
                |i| sampler.compares(&job.topic, job.partition, i),
                tail.then_some(source_high),
            ) else {
                report.skipped = Some("no offset sync at or before the stored offset".into());
                return Ok((report, Vec::new()));
            };
            let first = plan.runs.first().map_or(plan.anchor.up, |r| r.up_start);
            report.upstream = Some((first.min(stored), stored));
            report.downstream_start = plan.runs.first().map(|r| r.down_start);
            report.unverified_before = plan.unverified_before;
            report.deleted_on_target = plan.deleted_on_target;
            report.windows = plan.windows;
            report.windows_compared = plan.windows_compared;
            plan.runs
        }
        None => {
            let run = tail_only(&positions, source_high);
            report.downstream_start = Some(run.down_start);
            vec![run]
        }
    };
    report.tail_checked = tail;
    let mut diffs = Vec::new();
    let mut up_digest = digest::SequenceDigest::default();
    let mut down_digest = digest::SequenceDigest::default();
    let mut truncated = false;
    for run in &runs {
        let read = |e: reader::ReadError| VerifyError::Kafka(e.to_string());
        let up = PartitionStream::open(
            source_props,
            source,
            up_tp.clone(),
            run.up_start,
            run.up_end,
            timeout,
        )
        .map_err(read)?;
        let down_end = run.down_end.unwrap_or(target_high);
        let down = PartitionStream::open(
            target_props,
            target,
            down_tp.clone(),
            run.down_start,
            down_end,
            timeout,
        )
        .map_err(read)?;
        let bounds = Bounds {
            downstream_bounded: run.down_end.is_some() || run.check_tail,
            replicated_end: run.replicated_end,
            leading_deleted: run.leading_deleted,
        };
        let o = compare(up, down, bounds, Limits::default()).map_err(read)?;
        report.upstream_records += o.upstream_records;
        report.downstream_records += o.downstream_records;
        report.matched += o.matched;
        report.duplicates += o.duplicates;
        report.past_stored += o.past_stored;
        report.deleted_on_target += o.deleted_on_target as i64;
        // One digest per side over everything compared, chained run after run.
        up_digest.add(&digest::RecordDigest::of(
            None,
            Some(o.upstream_digest.hex().as_bytes()),
            [],
            None,
        ));
        down_digest.add(&digest::RecordDigest::of(
            None,
            Some(o.downstream_digest.hex().as_bytes()),
            [],
            None,
        ));
        diffs.extend(o.diffs.into_iter().map(|d| match d {
            RecordDiff::Missing { upstream } => Difference::MissingRecord {
                topic: job.topic.clone(),
                partition: job.partition,
                upstream_offset: upstream,
            },
            RecordDiff::Extra { downstream } => Difference::ExtraRecord {
                remote_topic: job.remote.clone(),
                partition: job.partition,
                downstream_offset: downstream,
            },
            RecordDiff::Changed {
                upstream,
                downstream,
                fields,
            } => Difference::ChangedRecord {
                topic: job.topic.clone(),
                partition: job.partition,
                upstream_offset: upstream,
                downstream_offset: downstream,
                fields,
            },
        }));
        if o.truncated {
            truncated = true;
            break;
        }
    }
    if truncated {
        diffs.push(Difference::TooManyDifferences {
            topic: job.topic.clone(),
            partition: job.partition,
        });
    }
    report.upstream_digest = up_digest.hex();
    report.downstream_digest = down_digest.hex();
    report.differences = diffs.len();
    Ok((report, diffs))
}

/// Config drift of every remote topic that exists.
async fn config_drift(
    source: &Admin,
    target: &Admin,
    selector: &TopicSelector,
    present: &[(String, String, i32)],
    report: &mut Report,
) -> Result<(), VerifyError> {
    if present.is_empty() {
        return Ok(());
    }
    let kafka = |e: crate::kafka::admin::AdminError| VerifyError::Kafka(e.to_string());
    let topics: Vec<String> = present.iter().map(|(t, _, _)| t.clone()).collect();
    let remotes: Vec<String> = present.iter().map(|(_, r, _)| r.clone()).collect();
    let source_configs = source
        .describe_topic_configs(&topics)
        .await
        .map_err(kafka)?;
    let target_configs = target
        .describe_topic_configs(&remotes)
        .await
        .map_err(kafka)?;
    for (topic, remote, _) in present {
        let (Some(s), Some(t)) = (source_configs.get(topic), target_configs.get(remote)) else {
            continue;
        };
        for (config, source, target) in configs::drift(selector, s, t) {
            report.differences.push(Difference::ConfigDrift {
                topic: topic.clone(),
                remote_topic: remote.clone(),
                config,
                source,
                target,
            });
        }
    }
    Ok(())
}

/// Each checkpointed group's translated offsets against what the group committed on the target.
/// A group never committed there is a difference only when the flow syncs group offsets
/// (`sync.group.offsets.enabled`): otherwise nothing is expected to commit it.
async fn check_groups(
    flow: &Flow,
    selector: &TopicSelector,
    target: &Admin,
    present: &[(String, String, i32)],
    groups_re: Option<Regex>,
    timeout: Duration,
    report: &mut Report,
) -> Result<(), VerifyError> {
    let remotes: BTreeSet<String> = present.iter().map(|(_, r, _)| r.clone()).collect();
    let filter = GroupFilter::new(&flow.settings);
    let props = client(flow, Side::Target, ClientKind::Consumer)?;
    let topic = selector.policy.checkpoints_topic(&flow.source);
    let checkpoints = tokio::task::spawn_blocking(move || {
        flow_state::checkpoints(
            &props,
            &topic,
            |c| {
                remotes.contains(&c.topic)
                    && filter.should_replicate_group(&c.group)
                    && groups_re.as_ref().is_none_or(|re| re.is_match(&c.group))
            },
            timeout,
        )
    })
    .await
    .expect("reader thread")
    .map_err(|e| VerifyError::Kafka(e.to_string()))?;
    let groups: BTreeSet<&String> = checkpoints.keys().map(|(g, _, _)| g).collect();
    let syncs = flow.settings.sync_group_offsets.is_some();
    for group in groups {
        let committed = admin_ffi::list_consumer_group_offsets(target.client(), group, timeout)
            .await
            .map_err(|e| VerifyError::Kafka(e.to_string()))?;
        for ((_, remote, p), c) in checkpoints.range((group.clone(), String::new(), i32::MIN)..) {
            if c.group != *group {
                break;
            }
            let have = committed.get(&(remote.clone(), *p)).map(|o| o.offset);
            report.groups.push(GroupReport {
                group: group.clone(),
                remote_topic: remote.clone(),
                partition: *p,
                translated: c.downstream_offset,
                committed: have,
            });
            let differs = match have {
                Some(o) => o != c.downstream_offset,
                None => syncs,
            };
            if differs {
                report.differences.push(Difference::GroupOffset {
                    group: group.clone(),
                    remote_topic: remote.clone(),
                    partition: *p,
                    translated: c.downstream_offset,
                    committed: have,
                });
            }
        }
    }
    Ok(())
}
