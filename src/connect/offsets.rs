//! Source offsets in Kafka Connect's format, so Java MirrorMaker 2 and this implementation can
//! read each other's progress: key `["<connector>",{<source partition>}]`, value
//! `{"offset":N}` (compact JSON, fields in the order Java's HashMap emits them), in the
//! `mm2-offsets.<source>.internal` topic of the target, partitioned by murmur2 of the key.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// MirrorSourceConnector's source partition: `{"cluster":..,"partition":..,"topic":..}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MirrorPartition {
    pub cluster: String,
    pub partition: i32,
    pub topic: String,
}

#[derive(Serialize, Deserialize)]
struct OffsetValue {
    offset: i64,
}

/// The key of a MirrorSourceConnector offset.
pub fn source_offset_key(connector: &str, partition: &MirrorPartition) -> Vec<u8> {
    serde_json::to_vec(&(connector, partition)).expect("serializable")
}

/// `{"offset":N}`.
pub fn offset_value(offset: i64) -> Vec<u8> {
    serde_json::to_vec(&OffsetValue { offset }).expect("serializable")
}

/// Reads an offset key written by this implementation or by Java Connect.
pub fn parse_source_offset_key(key: &[u8]) -> Option<(String, MirrorPartition)> {
    serde_json::from_slice(key).ok()
}

pub fn parse_offset_value(value: &[u8]) -> Option<i64> {
    serde_json::from_slice::<OffsetValue>(value)
        .ok()
        .map(|v| v.offset)
}

/// The stored source offsets of one herder, loaded from the offsets topic at start and kept
/// current by the tasks' own writes. The value is the upstream offset of the last record the
/// target acknowledged; replication resumes at the next one.
#[derive(Debug, Default)]
pub struct OffsetStore {
    map: Mutex<HashMap<(String, MirrorPartition), i64>>,
}

impl OffsetStore {
    /// Builds the store from the records of the offsets topic, in order (later wins, a
    /// tombstone deletes). Records of other shapes (other connectors) are skipped.
    pub fn from_records<'a>(
        records: impl IntoIterator<Item = (Option<&'a [u8]>, Option<&'a [u8]>)>,
    ) -> Self {
        let mut map = HashMap::new();
        for (key, value) in records {
            let Some(key) = key.and_then(parse_source_offset_key) else {
                continue;
            };
            match value.and_then(parse_offset_value) {
                Some(offset) => {
                    map.insert(key, offset);
                }
                None => {
                    map.remove(&key);
                }
            }
        }
        OffsetStore {
            map: Mutex::new(map),
        }
    }

    pub fn get(&self, connector: &str, partition: &MirrorPartition) -> Option<i64> {
        self.map
            .lock()
            .expect("offset store lock")
            .get(&(connector.to_string(), partition.clone()))
            .copied()
    }

    /// Records an offset that has been written to the offsets topic.
    pub fn put(&self, connector: &str, partition: MirrorPartition, offset: i64) {
        self.map
            .lock()
            .expect("offset store lock")
            .insert((connector.to_string(), partition), offset);
    }

    pub fn len(&self) -> usize {
        self.map.lock().expect("offset store lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders(p: i32) -> MirrorPartition {
        MirrorPartition {
            cluster: "A".into(),
            partition: p,
            topic: "orders".into(),
        }
    }

    #[test]
    fn java_connect_byte_format() {
        assert_eq!(
            source_offset_key("MirrorSourceConnector", &orders(0)),
            br#"["MirrorSourceConnector",{"cluster":"A","partition":0,"topic":"orders"}]"#
        );
        assert_eq!(offset_value(12345), br#"{"offset":12345}"#);
    }

    #[test]
    fn store_reads_last_value_and_tombstones() {
        let k0 = source_offset_key("MirrorSourceConnector", &orders(0));
        let k1 = source_offset_key("MirrorSourceConnector", &orders(1));
        let other =
            br#"["MirrorCheckpointConnector",{"partition":0,"topic":"A.orders","group":"g1"}]"#
                .to_vec();
        let v = |o| offset_value(o);
        let (v5, v9, v3) = (v(5), v(9), v(3));
        let store = OffsetStore::from_records([
            (Some(k0.as_slice()), Some(v5.as_slice())),
            (Some(k1.as_slice()), Some(v3.as_slice())),
            (Some(other.as_slice()), Some(v5.as_slice())),
            (Some(k0.as_slice()), Some(v9.as_slice())),
            (Some(k1.as_slice()), None),
        ]);
        assert_eq!(store.get("MirrorSourceConnector", &orders(0)), Some(9));
        assert_eq!(store.get("MirrorSourceConnector", &orders(1)), None);
        assert_eq!(store.len(), 1);
    }
}
