//! What verify found, printed as a table for people or as JSON for scripts. Every difference
//! names where it is (partition and offset, topic and config, group and partition) and what
//! differs.

use std::io::Write;

use serde::Serialize;

use super::digest::Field;
use super::flow::FlowState;

/// One difference between the source and the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    MissingRecord {
        topic: String,
        partition: i32,
        upstream_offset: i64,
    },
    ExtraRecord {
        remote_topic: String,
        partition: i32,
        downstream_offset: i64,
    },
    ChangedRecord {
        topic: String,
        partition: i32,
        upstream_offset: i64,
        downstream_offset: i64,
        fields: Vec<Field>,
    },
    /// Comparison of the partition stopped after this many differences.
    TooManyDifferences {
        topic: String,
        partition: i32,
    },
    MissingRemoteTopic {
        topic: String,
        remote_topic: String,
    },
    PartitionCount {
        topic: String,
        remote_topic: String,
        source: i32,
        target: i32,
    },
    ConfigDrift {
        topic: String,
        remote_topic: String,
        config: String,
        /// `None`: the source uses its default, which the connector leaves to the target.
        source: Option<String>,
        target: Option<String>,
    },
    GroupOffset {
        group: String,
        remote_topic: String,
        partition: i32,
        translated: i64,
        committed: Option<i64>,
    },
}

fn or_default(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(default)")
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::MissingRecord {
                topic,
                partition,
                upstream_offset,
            } => write!(
                f,
                "{topic}-{partition} offset {upstream_offset}: missing record (no copy on the target)"
            ),
            Difference::ExtraRecord {
                remote_topic,
                partition,
                downstream_offset,
            } => write!(
                f,
                "{remote_topic}-{partition} target offset {downstream_offset}: extra record (copies no source record)"
            ),
            Difference::ChangedRecord {
                topic,
                partition,
                upstream_offset,
                downstream_offset,
                fields,
            } => {
                let fields: Vec<String> = fields.iter().map(Field::to_string).collect();
                write!(
                    f,
                    "{topic}-{partition} offset {upstream_offset} (target offset {downstream_offset}): changed {}",
                    fields.join(", ")
                )
            }
            Difference::TooManyDifferences { topic, partition } => write!(
                f,
                "{topic}-{partition}: too many differences, comparison stopped"
            ),
            Difference::MissingRemoteTopic {
                topic,
                remote_topic,
            } => write!(f, "{topic}: remote topic {remote_topic} does not exist"),
            Difference::PartitionCount {
                topic,
                remote_topic,
                source,
                target,
            } => write!(
                f,
                "{topic}: partition count {source} on the source, {target} on {remote_topic}"
            ),
            Difference::ConfigDrift {
                topic,
                remote_topic,
                config,
                source,
                target,
            } => write!(
                f,
                "{topic}: config drift {config}: source {}, target {remote_topic} {}",
                or_default(source),
                or_default(target)
            ),
            Difference::GroupOffset {
                group,
                remote_topic,
                partition,
                translated,
                committed,
            } => write!(
                f,
                "group {group} {remote_topic}-{partition}: group offset differs: translated {translated}, committed {}",
                committed.map_or("none".to_string(), |c| c.to_string())
            ),
        }
    }
}

/// The comparison of one partition.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PartitionReport {
    pub topic: String,
    pub remote_topic: String,
    pub partition: i32,
    /// Why the partition was not compared, if it was not.
    pub skipped: Option<String>,
    /// `[first, last]` upstream offsets compared, and the downstream offset the first maps to.
    pub upstream: Option<(i64, i64)>,
    pub downstream_start: Option<i64>,
    pub unverified_before: i64,
    pub upstream_records: u64,
    pub downstream_records: u64,
    pub matched: u64,
    pub duplicates: u64,
    /// Target records past the stored offset that copy the source's records there: replication
    /// the stored offsets have not caught up with (in flight, or written after the last offset
    /// flush before a crash), not differences.
    pub past_stored: u64,
    /// Source records whose copies lie below the target's log start (its retention deleted
    /// them): not compared, as records deleted from the source are not.
    pub deleted_on_target: i64,
    /// The target's records past the stored offset were checked.
    pub tail_checked: bool,
    pub windows: u64,
    pub windows_compared: u64,
    pub upstream_digest: String,
    pub downstream_digest: String,
    pub differences: usize,
}

/// A group's translated offset on one partition against its committed one.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    pub group: String,
    pub remote_topic: String,
    pub partition: i32,
    pub translated: i64,
    pub committed: Option<i64>,
}

/// Everything verify found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub source: String,
    pub target: String,
    pub topics: Vec<String>,
    /// Whether the flow's workers run, which decides whether the tail is checked.
    pub flow: Option<FlowState>,
    /// The target's records past the stored offsets were checked (the flow is stopped, or
    /// `--include-tail`).
    pub tail_checked: bool,
    pub partitions: Vec<PartitionReport>,
    pub groups: Vec<GroupReport>,
    pub differences: Vec<Difference>,
}

impl Report {
    pub fn write_json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "verify {}->{}", self.source, self.target)?;
        if let Some(flow) = &self.flow {
            let tail = if self.tail_checked {
                "target records past the stored offsets checked"
            } else {
                "target records past the stored offsets not checked (--include-tail checks them)"
            };
            writeln!(out, "flow {flow}: {tail}")?;
        }
        writeln!(
            out,
            "TOPIC\tPARTITION\tREMOTE\tUPSTREAM\tDOWNSTREAM\tRECORDS\tDUPLICATES\tWINDOWS\tSTATUS"
        )?;
        for p in &self.partitions {
            let (range, down) = match (p.upstream, p.downstream_start) {
                (Some((a, b)), Some(d)) => (format!("{a}..{b}"), format!("{d}..")),
                _ => ("-".to_string(), "-".to_string()),
            };
            let mut status = match &p.skipped {
                Some(why) => format!("not compared: {why}"),
                None if p.differences == 0 => "ok".to_string(),
                None => format!("{} differences", p.differences),
            };
            if p.past_stored > 0 {
                status += &format!("; {} copied past the stored offset", p.past_stored);
            }
            if p.deleted_on_target > 0 {
                status += &format!(
                    "; {} deleted on the target (below its log start)",
                    p.deleted_on_target
                );
            }
            writeln!(
                out,
                "{}\t{}\t{}\t{range}\t{down}\t{}\t{}\t{}/{}\t{status}",
                p.topic,
                p.partition,
                p.remote_topic,
                p.upstream_records,
                p.duplicates,
                p.windows_compared,
                p.windows,
            )?;
        }
        if !self.groups.is_empty() {
            writeln!(out, "GROUP\tTOPIC\tPARTITION\tTRANSLATED\tCOMMITTED")?;
            for g in &self.groups {
                let committed = g.committed.map_or("-".to_string(), |c| c.to_string());
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{committed}",
                    g.group, g.remote_topic, g.partition, g.translated
                )?;
            }
        }
        for d in &self.differences {
            writeln!(out, "DIFFERENCE {d}")?;
        }
        let records: u64 = self.partitions.iter().map(|p| p.upstream_records).sum();
        let duplicates: u64 = self.partitions.iter().map(|p| p.duplicates).sum();
        writeln!(
            out,
            "{} topics, {} partitions, {records} records compared, {duplicates} duplicates, {} differences",
            self.topics.len(),
            self.partitions.len(),
            self.differences.len()
        )
    }
}
