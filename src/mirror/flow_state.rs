//! The replication state a flow keeps in Kafka, as the operator tools read it (`verify`,
//! `failover`, `failback`, `offsets translate`): the stored source offsets (the worker's
//! offsets topic on the target), the offset syncs, and the checkpoints. These topics are
//! compacted and small next to the data; only the entries of the partitions asked for are
//! kept.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::config::{Flow, OffsetSyncsLocation, Side};
use crate::connect::offsets::{parse_offset_value, parse_source_offset_key};
use crate::kafka::log::{read_to_end, LogError};
use crate::kafka::props::ClientProps;
use crate::mirror::wire::{Checkpoint, OffsetSync};
use crate::policy::ReplicationPolicy;

/// An offset sync of one partition: upstream `up` was copied to downstream `down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPoint {
    pub up: i64,
    pub down: i64,
}

/// A source partition, by its source topic name.
pub type SourcePartition = (String, i32);

/// The stored offset (the last upstream offset the target acknowledged) of each partition of
/// `topics` that has one, of the source cluster `cluster`, under a connector name `connector`
/// accepts.
pub fn stored_offsets(
    props: &ClientProps,
    offsets_topic: &str,
    connector: impl Fn(&str) -> bool,
    cluster: &str,
    topics: &BTreeSet<String>,
    timeout: Duration,
) -> Result<BTreeMap<SourcePartition, i64>, LogError> {
    let mut out = BTreeMap::new();
    for (k, v) in read_to_end(props, "mm2-flow-offsets", offsets_topic, timeout)? {
        let Some((name, p)) = k.as_deref().and_then(parse_source_offset_key) else {
            continue;
        };
        if !connector(&name) || p.cluster != cluster || !topics.contains(&p.topic) {
            continue;
        }
        // Later records win; a tombstone (an offset reset) removes the entry.
        match v.as_deref().and_then(parse_offset_value) {
            Some(o) => out.insert((p.topic, p.partition), o),
            None => out.remove(&(p.topic, p.partition)),
        };
    }
    Ok(out)
}

/// Where `flow`'s offset syncs are (`offset-syncs.topic.location`): the side and the topic.
pub fn offset_syncs_topic(flow: &Flow) -> (Side, String) {
    let policy = ReplicationPolicy::new(&flow.settings.policy);
    match flow.settings.offset_syncs_location {
        OffsetSyncsLocation::Source => (Side::Source, policy.offset_syncs_topic(&flow.target)),
        OffsetSyncsLocation::Target => (Side::Target, policy.offset_syncs_topic(&flow.source)),
    }
}

/// The offset syncs of each partition of `topics`, in the order they were written.
pub fn offset_syncs(
    props: &ClientProps,
    syncs_topic: &str,
    topics: &BTreeSet<String>,
    timeout: Duration,
) -> Result<BTreeMap<SourcePartition, Vec<SyncPoint>>, LogError> {
    let mut out: BTreeMap<SourcePartition, Vec<SyncPoint>> = BTreeMap::new();
    for (k, v) in read_to_end(props, "mm2-flow-offset-syncs", syncs_topic, timeout)? {
        let Some(s) = k
            .as_deref()
            .zip(v.as_deref())
            .and_then(|(k, v)| OffsetSync::decode(k, v).ok())
        else {
            continue;
        };
        if topics.contains(&s.topic) {
            out.entry((s.topic, s.partition))
                .or_default()
                .push(SyncPoint {
                    up: s.upstream_offset,
                    down: s.downstream_offset,
                });
        }
    }
    Ok(out)
}

/// The latest checkpoint of each (group, remote topic, partition), as RemoteClusterUtils
/// reads them, for the groups `wanted` selects.
pub fn checkpoints(
    props: &ClientProps,
    checkpoints_topic: &str,
    wanted: impl Fn(&Checkpoint) -> bool,
    timeout: Duration,
) -> Result<BTreeMap<(String, String, i32), Checkpoint>, LogError> {
    let mut out = BTreeMap::new();
    for (k, v) in read_to_end(props, "mm2-flow-checkpoints", checkpoints_topic, timeout)? {
        let Some(c) = k
            .as_deref()
            .zip(v.as_deref())
            .and_then(|(k, v)| Checkpoint::decode(k, v).ok())
        else {
            continue;
        };
        if wanted(&c) {
            out.insert((c.group.clone(), c.topic.clone(), c.partition), c);
        }
    }
    Ok(out)
}
