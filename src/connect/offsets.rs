//! Source offsets in Kafka Connect's format, so Java MirrorMaker 2 and this implementation can
//! read each other's progress: key `["<connector>",{<source partition>}]`, value
//! `{"offset":N}` (compact JSON, fields in the order Java's HashMap emits them), in the
//! `mm2-offsets.<source>.internal` topic of the target, partitioned by murmur2 of the key.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::connector::OffsetEntry;
use super::error::Error;
use crate::kafka::context::DeliveryHooks;
use crate::kafka::log::read_to_end;
use crate::kafka::producer::{offsets_defaults, Outgoing, Producer, WhenFull};
use crate::kafka::props::ClientProps;
use crate::kafka::KafkaError;

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

/// Offsets a task produced on its own producer, to be cached once they count.
#[must_use = "pass them to OffsetStore::cache_produced once they count"]
#[derive(Debug)]
pub struct ProducedOffsets(Vec<(Vec<u8>, Option<Value>)>);

/// A record's key and value bytes (no value: a tombstone).
pub type KeyValue = (Vec<u8>, Option<Vec<u8>>);

/// Why offsets could not be produced on a task's producer.
#[derive(Debug, thiserror::Error)]
pub enum ProduceOffsetsError {
    #[error("exactly once needs the offsets topic of a distributed worker")]
    NoTopic,
    #[error("cannot write offsets to {topic}: {source}")]
    Send {
        topic: String,
        #[source]
        source: KafkaError,
    },
}

/// A MirrorSourceConnector offset as an entry: the upstream offset of the last record the
/// target acknowledged.
pub fn mirror_entry(partition: &MirrorPartition, offset: i64) -> OffsetEntry {
    OffsetEntry {
        partition: serde_json::to_value(partition).expect("serializable"),
        offset: Some(json!({ "offset": offset })),
    }
}

/// Where a worker keeps its source offsets: Connect's offsets topic (distributed workers and
/// connect-mirror-maker) or `offset.storage.file.filename` (connect-standalone).
pub enum OffsetStorage {
    /// Nothing persisted here: the tasks write the topic themselves (tests).
    Memory,
    /// A JSON file of `{"<key>": <value>}`, rewritten atomically on each write.
    File(PathBuf),
    /// The offsets topic, written through a producer created on first use.
    Topic {
        props: ClientProps,
        /// The consumer that re-reads the topic before a task starts.
        reader: ClientProps,
        topic: String,
        producer: Mutex<Option<Producer>>,
    },
}

/// The stored source offsets of one worker, keyed by connector and source partition, loaded at
/// start and kept current by every write. A MirrorSourceConnector offset is the upstream offset
/// of the last record the target acknowledged; replication resumes at the next one.
pub struct OffsetStore {
    map: Mutex<HashMap<Vec<u8>, Value>>,
    backing: OffsetStorage,
}

impl std::fmt::Debug for OffsetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OffsetStore({} offsets)", self.len())
    }
}

impl Default for OffsetStore {
    fn default() -> Self {
        OffsetStore::from_records(std::iter::empty(), OffsetStorage::Memory)
    }
}

/// The canonical key bytes (partition fields sorted, as Java's HashMap of MirrorMaker 2 keys
/// happens to emit them too).
fn key_of(connector: &str, partition: &Value) -> Vec<u8> {
    serde_json::to_vec(&(connector, partition)).expect("serializable")
}

impl OffsetStore {
    /// Builds the store from the records of the offsets topic (or file), in order: later wins,
    /// a tombstone deletes, and records that are not Connect offsets are skipped.
    pub fn from_records<'a>(
        records: impl IntoIterator<Item = (Option<&'a [u8]>, Option<&'a [u8]>)>,
        backing: OffsetStorage,
    ) -> Self {
        let mut map = HashMap::new();
        for (key, value) in records {
            let Some((connector, partition)) =
                key.and_then(|k| serde_json::from_slice::<(String, Value)>(k).ok())
            else {
                continue;
            };
            let key = key_of(&connector, &partition);
            match value.and_then(|v| serde_json::from_slice::<Value>(v).ok()) {
                Some(v) if !v.is_null() => {
                    map.insert(key, v);
                }
                _ => {
                    map.remove(&key);
                }
            }
        }
        OffsetStore {
            map: Mutex::new(map),
            backing,
        }
    }

    /// An empty store on Connect's offsets topic (read it with [`OffsetStore::refresh`]).
    /// `producer` writes offsets; `reader` re-reads the topic, with read_committed under
    /// exactly once so that offsets of aborted transactions never count.
    pub fn on_topic(
        topic: String,
        producer: ClientProps,
        mut reader: ClientProps,
        exactly_once: bool,
    ) -> Self {
        if exactly_once {
            reader.set("isolation.level", "read_committed", false);
        }
        let backing = OffsetStorage::Topic {
            props: producer,
            reader,
            topic,
            producer: Default::default(),
        };
        OffsetStore::from_records(std::iter::empty(), backing)
    }

    /// Loads `offset.storage.file.filename`; a missing file is an empty store.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => b"{}".to_vec(),
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
        };
        let entries: BTreeMap<String, Value> =
            serde_json::from_slice(&text).map_err(|source| Error::Json {
                what: format!("{} is not an offsets file", path.display()),
                source,
            })?;
        let values: Vec<(Vec<u8>, Vec<u8>)> = entries
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), serde_json::to_vec(v).expect("json")))
            .collect();
        Ok(OffsetStore::from_records(
            values.iter().map(|(k, v)| (Some(&k[..]), Some(&v[..]))),
            OffsetStorage::File(path.to_path_buf()),
        ))
    }

    /// A MirrorSourceConnector offset.
    pub fn get(&self, connector: &str, partition: &MirrorPartition) -> Option<i64> {
        let partition = serde_json::to_value(partition).expect("serializable");
        self.get_value(connector, &partition)
            .and_then(|v| v.get("offset").and_then(Value::as_i64))
    }

    pub fn get_value(&self, connector: &str, partition: &Value) -> Option<Value> {
        self.lock().get(&key_of(connector, partition)).cloned()
    }

    /// Every offset of one connector, in KIP-875's shape.
    pub fn entries(&self, connector: &str) -> Vec<OffsetEntry> {
        let mut out: Vec<OffsetEntry> = self
            .lock()
            .iter()
            .filter_map(|(k, v)| {
                let (c, partition) = serde_json::from_slice::<(String, Value)>(k).ok()?;
                (c == connector).then(|| OffsetEntry {
                    partition,
                    offset: Some(v.clone()),
                })
            })
            .collect();
        out.sort_by_key(|e| e.partition.to_string());
        out
    }

    /// Stores offsets (a `None` offset removes one) durably, then in memory. Blocking.
    pub fn write(&self, connector: &str, entries: &[OffsetEntry]) -> Result<(), Error> {
        let records = Self::records(connector, entries);
        match &self.backing {
            OffsetStorage::Memory => {}
            OffsetStorage::File(_) => {}
            OffsetStorage::Topic {
                props,
                topic,
                producer,
                ..
            } => write_topic(props, topic, producer, &records)?,
        }
        let mut map = self.lock();
        apply(&mut map, records);
        // Saved under the lock: writers sharing the file never interleave.
        if let OffsetStorage::File(path) = &self.backing {
            save_file(&map, path)?;
        }
        Ok(())
    }

    /// Queues the records of offsets on a task's own producer, so that an exactly-once task
    /// writes them in its transaction. Nothing is stored until the caller passes the result to
    /// [`OffsetStore::cache_produced`]: after the producer queued them (at least once) or after
    /// the transaction committed (exactly once). Fails when the store is not the offsets topic.
    pub fn produce<H: DeliveryHooks>(
        &self,
        producer: &Producer<H>,
        opaque: H::Opaque,
        full: WhenFull,
        connector: &str,
        entries: &[OffsetEntry],
    ) -> Result<ProducedOffsets, ProduceOffsetsError>
    where
        H::Opaque: Clone,
    {
        if entries.is_empty() {
            return Ok(ProducedOffsets(Vec::new()));
        }
        let topic = self.topic().ok_or(ProduceOffsetsError::NoTopic)?;
        let records = Self::records(connector, entries);
        for (key, value) in &records {
            let value = value_bytes(value);
            let record = Outgoing::new(topic, Some(key), value.as_deref());
            producer
                .send_full(record, opaque.clone(), full)
                .map_err(|source| ProduceOffsetsError::Send {
                    topic: topic.to_string(),
                    source,
                })?;
        }
        Ok(ProducedOffsets(records))
    }

    /// The records that store `entries` of `connector`, as key and value bytes, for a task that
    /// writes them with its own client, and what [`OffsetStore::cache_produced`] takes once
    /// they are written.
    pub fn offset_records(
        connector: &str,
        entries: &[OffsetEntry],
    ) -> (Vec<KeyValue>, ProducedOffsets) {
        let records = Self::records(connector, entries);
        let bytes = records
            .iter()
            .map(|(k, v)| (k.clone(), value_bytes(v)))
            .collect();
        (bytes, ProducedOffsets(records))
    }

    /// Takes offsets a task produced itself ([`OffsetStore::produce`]) into the in-memory
    /// view. Not durable by itself: the records are.
    pub fn cache_produced(&self, produced: ProducedOffsets) {
        apply(&mut self.lock(), produced.0);
    }

    /// The offsets topic, when the store is one.
    pub fn topic(&self) -> Option<&str> {
        match &self.backing {
            OffsetStorage::Topic { topic, .. } => Some(topic),
            _ => None,
        }
    }

    fn records(connector: &str, entries: &[OffsetEntry]) -> Vec<(Vec<u8>, Option<Value>)> {
        entries
            .iter()
            .map(|e| (key_of(connector, &e.partition), e.offset.clone()))
            .collect()
    }

    /// Reads the offsets topic again, to see what other workers stored: a task that moved here
    /// starts where its last owner stopped. Blocking.
    pub fn refresh(&self) -> Result<(), Error> {
        let OffsetStorage::Topic { reader, topic, .. } = &self.backing else {
            return Ok(());
        };
        let records = read_to_end(
            reader,
            &format!("{topic}|refresh"),
            topic,
            Duration::from_secs(30),
        )?;
        let fresh = OffsetStore::from_records(
            records.iter().map(|(k, v)| (k.as_deref(), v.as_deref())),
            OffsetStorage::Memory,
        );
        let map = std::mem::take(&mut *fresh.lock());
        *self.lock() = map;
        Ok(())
    }

    /// Removes every offset of one connector. Blocking.
    pub fn reset(&self, connector: &str) -> Result<(), Error> {
        let gone: Vec<OffsetEntry> = self
            .entries(connector)
            .into_iter()
            .map(|e| OffsetEntry { offset: None, ..e })
            .collect();
        self.write(connector, &gone)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Value>> {
        self.map.lock().expect("offset store lock")
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Applies written offsets to the map: a null or missing offset removes one.
fn apply(map: &mut HashMap<Vec<u8>, Value>, records: Vec<(Vec<u8>, Option<Value>)>) {
    for (k, v) in records {
        match v {
            Some(v) if !v.is_null() => map.insert(k, v),
            _ => map.remove(&k),
        };
    }
}

/// Rewrites the offsets file atomically (a temporary file renamed over it).
fn save_file(map: &HashMap<Vec<u8>, Value>, path: &Path) -> Result<(), Error> {
    let entries: BTreeMap<String, Value> = map
        .iter()
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.clone()))
        .collect();
    let text = serde_json::to_vec_pretty(&entries).expect("json");
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// A stored offset value's bytes; `None` (a tombstone) for a null or missing offset.
fn value_bytes(value: &Option<Value>) -> Option<Vec<u8>> {
    value
        .as_ref()
        .filter(|v| !v.is_null())
        .map(|v| serde_json::to_vec(v).expect("json"))
}

fn write_topic(
    props: &ClientProps,
    topic: &str,
    producer: &Mutex<Option<Producer>>,
    records: &[(Vec<u8>, Option<Value>)],
) -> Result<(), Error> {
    let mut guard = producer.lock().expect("offsets producer lock");
    let p = match &mut *guard {
        Some(p) => p,
        slot => {
            let mut props = props.clone();
            offsets_defaults(&mut props);
            let p = Producer::create(&props, "offsets-writer", Default::default())
                .map_err(|e| Error::kafka("cannot create the offsets producer", e))?;
            slot.insert(p)
        }
    };
    let op = || format!("cannot write offsets to {topic}");
    for (key, value) in records {
        let value = value_bytes(value);
        p.send(Outgoing::new(topic, Some(key), value.as_deref()), ())
            .map_err(|e| Error::kafka(op(), e))?;
    }
    p.flush(Duration::from_secs(30))
        .map_err(|e| Error::kafka(op(), e))?;
    match p.take_failure() {
        Some(message) => Err(Error::Undelivered { op: op(), message }),
        None => Ok(()),
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
    fn a_mirror_entry_produces_java_connect_bytes() {
        let records =
            OffsetStore::records("MirrorSourceConnector", &[mirror_entry(&orders(3), 77)]);
        let (key, value) = &records[0];
        assert_eq!(key, &source_offset_key("MirrorSourceConnector", &orders(3)));
        assert_eq!(value_bytes(value), Some(offset_value(77)));
        let store = OffsetStore::default();
        store.cache_produced(ProducedOffsets(records));
        assert_eq!(store.get("MirrorSourceConnector", &orders(3)), Some(77));
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
        let store = OffsetStore::from_records(
            [
                (Some(k0.as_slice()), Some(v5.as_slice())),
                (Some(k1.as_slice()), Some(v3.as_slice())),
                (Some(other.as_slice()), Some(v5.as_slice())),
                (Some(k0.as_slice()), Some(v9.as_slice())),
                (Some(k1.as_slice()), None),
            ],
            OffsetStorage::Memory,
        );
        assert_eq!(store.get("MirrorSourceConnector", &orders(0)), Some(9));
        assert_eq!(store.get("MirrorSourceConnector", &orders(1)), None);
        assert_eq!(store.len(), 2);
        assert_eq!(store.entries("MirrorSourceConnector").len(), 1);
    }

    #[test]
    fn file_backing_survives_a_reload() {
        let path = std::env::temp_dir().join(format!("mm2-offsets-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store = OffsetStore::from_file(&path).unwrap();
        let p = json!({"filename": "/tmp/in.txt"});
        let entry = |o: Option<Value>| OffsetEntry {
            partition: p.clone(),
            offset: o,
        };
        store
            .write("file-source", &[entry(Some(json!({"position": 42})))])
            .unwrap();
        let again = OffsetStore::from_file(&path).unwrap();
        assert_eq!(
            again.get_value("file-source", &p),
            Some(json!({"position": 42}))
        );
        assert_eq!(
            again.entries("file-source"),
            vec![entry(Some(json!({"position": 42})))]
        );
        again.reset("file-source").unwrap();
        assert!(OffsetStore::from_file(&path).unwrap().is_empty());
        let _ = std::fs::remove_file(&path);
    }
}
