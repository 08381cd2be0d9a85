//! The replication state the flow keeps in Kafka, read once at the start of a verify: the
//! stored source offsets (the worker's offsets topic on the target), the offset syncs, and the
//! checkpoints. These topics are compacted and small next to the data; only the entries of the
//! partitions being verified are kept.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::connect::offsets::{parse_offset_value, parse_source_offset_key};
use crate::kafka::log::{read_to_end, LogError};
use crate::kafka::props::ClientProps;
use crate::mirror::wire::{Checkpoint, OffsetSync};

use super::alignment::SyncPoint;

/// A source partition, by its source topic name.
pub type SourcePartition = (String, i32);

/// MirrorSourceConnector's stored offset (the last upstream offset the target acknowledged) of
/// each partition of `topics` that has one. `connector` is the connector's name in
/// connect-mirror-maker; Java's dedicated mode and Connect write the plain class name, so both
/// are accepted, as the keys of the source cluster `cluster`.
pub fn stored_offsets(
    props: &ClientProps,
    offsets_topic: &str,
    cluster: &str,
    topics: &BTreeSet<String>,
    timeout: Duration,
) -> Result<BTreeMap<SourcePartition, i64>, LogError> {
    let mut out = BTreeMap::new();
    for (k, v) in read_to_end(props, "mm2-verify-offsets", offsets_topic, timeout)? {
        let Some((connector, p)) = k.as_deref().and_then(parse_source_offset_key) else {
            continue;
        };
        if !connector.ends_with("MirrorSourceConnector")
            || p.cluster != cluster
            || !topics.contains(&p.topic)
        {
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

/// The offset syncs of each partition of `topics`, in the order they were written. An upstream
/// rewind (a sync below the previous one) makes the earlier syncs meaningless, as in
/// OffsetSyncStore: they are dropped.
pub fn offset_syncs(
    props: &ClientProps,
    syncs_topic: &str,
    topics: &BTreeSet<String>,
    timeout: Duration,
) -> Result<BTreeMap<SourcePartition, Vec<SyncPoint>>, LogError> {
    let mut out: BTreeMap<SourcePartition, Vec<SyncPoint>> = BTreeMap::new();
    for (k, v) in read_to_end(props, "mm2-verify-offset-syncs", syncs_topic, timeout)? {
        let Some(s) = k
            .as_deref()
            .zip(v.as_deref())
            .and_then(|(k, v)| OffsetSync::decode(k, v).ok())
        else {
            continue;
        };
        if !topics.contains(&s.topic) {
            continue;
        }
        let point = SyncPoint {
            up: s.upstream_offset,
            down: s.downstream_offset,
        };
        let list = out.entry((s.topic, s.partition)).or_default();
        if list.last().is_some_and(|l| point.up < l.up) {
            list.clear();
        }
        list.push(point);
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
    for (k, v) in read_to_end(props, "mm2-verify-checkpoints", checkpoints_topic, timeout)? {
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
