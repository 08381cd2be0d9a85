//! The connector configs of a distributed worker group, in Connect's compacted config topic and
//! record format (JSON without schemas): `connector-<name>` → `{"properties":{..}}` (a tombstone
//! deletes), `task-<name>-<n>` → `{"properties":{..}}`, `commit-<name>` → `{"tasks":N}`,
//! `target-state-<name>` → `{"state":"STARTED|PAUSED|STOPPED"}`,
//! `restart-connector-<name>` → `{"include-tasks":..,"only-failed":..}`. One more kind is ours:
//! `restart-task-<name>-<n>` (Java workers skip keys they do not know).
//!
//! Every worker tails the topic and applies it in order, so all of them converge on the same
//! state and a REST change sent to any worker takes effect everywhere.

mod record;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::error::Error;
use super::stored_names::StoredNames;
use crate::kafka::log::{LogWriter, Partitions, Tail, TailRecord};
use crate::kafka::props::ClientProps;
pub use record::{ConfigRecord, ConnectorState, Snapshot};

/// Writes records to the config topic and waits until this worker's reader has applied them.
pub struct ConfigLog {
    topic: String,
    names: StoredNames,
    writer: LogWriter,
    /// The offset of the last record the reader has handed on.
    applied: watch::Receiver<i64>,
}

impl ConfigLog {
    /// Writes `records` in order, under their stored names; returns once they are applied
    /// here.
    pub async fn write(self: &Arc<Self>, records: Vec<ConfigRecord>) -> Result<(), Error> {
        let stored: Vec<ConfigRecord> = records
            .into_iter()
            .filter_map(|r| r.renamed(|n| Some(self.names.store(n).to_string())))
            .collect();
        self.write_stored(stored).await
    }

    /// Deletes the connector configs stored under the names earlier versions gave the herder's
    /// `names` (see [`StoredNames::legacy`]).
    pub async fn delete_legacy(self: &Arc<Self>, names: Vec<String>) -> Result<(), Error> {
        let tombstones: Vec<ConfigRecord> = names
            .iter()
            .filter_map(|n| self.names.legacy(n))
            .map(|n| ConfigRecord::Connector(n.to_string(), None))
            .collect();
        self.write_stored(tombstones).await
    }

    /// Writes records whose names are already the stored ones, then waits for the reader.
    async fn write_stored(self: &Arc<Self>, records: Vec<ConfigRecord>) -> Result<(), Error> {
        let encoded: Vec<_> = records.iter().map(ConfigRecord::encode).collect();
        let log = self.clone();
        let last = tokio::task::spawn_blocking(move || log.writer.write(&encoded)).await??;
        let mut applied = self.applied.clone();
        let read_back = async move { applied.wait_for(|position| *position >= last).await.is_ok() };
        match tokio::time::timeout(Duration::from_secs(30), read_back).await {
            Ok(true) => Ok(()),
            _ => Err(Error::NotReadBack(self.topic.clone())),
        }
    }
}

/// What the reader hands the herder.
#[derive(Debug, Clone)]
pub enum Update {
    /// The whole state after one or more records.
    Snapshot(Snapshot),
    Restart(ConfigRecord),
}

/// Starts the writer and a thread that tails the topic from the beginning. Returns after the
/// initial catch-up, with the state then; every later state and restart request goes to
/// `updates` (old restart requests are not replayed).
pub fn open(
    consumer: &ClientProps,
    producer: &ClientProps,
    topic: &str,
    names: StoredNames,
    updates: mpsc::UnboundedSender<Update>,
    stop: Arc<AtomicBool>,
) -> Result<(ConfigLog, Snapshot), Error> {
    let mut props = consumer.clone();
    props.set("fetch.wait.max.ms", "50", false);
    let tail = Tail::open(&props, &format!("{topic}|reader"), topic, Partitions::First)?;
    // The end to read up to before this worker acts on the topic.
    let high = tail.end(0, Instant::now() + Duration::from_secs(30))?;
    let (applied_tx, applied) = watch::channel(-1i64);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader = Reader {
        tail,
        names: names.clone(),
        snapshot: Snapshot::default(),
        levels: BTreeMap::new(),
        caught_up: false,
        position: -1,
        high,
        updates,
        applied: applied_tx,
        ready: ready_tx,
    };
    std::thread::Builder::new()
        .name("config-log".into())
        .spawn(move || reader.run(&stop))
        .map_err(Error::Thread)?;
    let initial = ready_rx
        .recv_timeout(Duration::from_secs(120))
        .map_err(|_| Error::CatchUp(topic.to_string()))?;
    let writer = LogWriter::open(producer, &format!("{topic}|writer"), topic)?;
    let log = ConfigLog {
        topic: topic.to_string(),
        names,
        writer,
        applied,
    };
    Ok((log, initial))
}

/// The thread that follows the config topic and hands on what it read.
struct Reader {
    tail: Tail,
    names: StoredNames,
    snapshot: Snapshot,
    /// The latest cluster log level of each logger, read before catching up.
    levels: BTreeMap<String, String>,
    caught_up: bool,
    /// The offset of the last record read.
    position: i64,
    /// The end offset when the reader started: it has caught up once it read up to there.
    high: i64,
    updates: mpsc::UnboundedSender<Update>,
    applied: watch::Sender<i64>,
    /// Takes the state at the catch-up.
    ready: std::sync::mpsc::Sender<Snapshot>,
}

impl Reader {
    fn run(mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            self.round();
        }
    }

    /// Reads what has arrived, then hands on the new state and the requests read.
    fn round(&mut self) {
        let mut changed = false;
        let mut restarts = Vec::new();
        let mut last = None;
        while let Some(r) = self
            .tail
            .poll(Duration::from_millis(if changed { 0 } else { 100 }))
        {
            last = Some(r.offset);
            let Some(record) = self.parse(&r) else {
                continue;
            };
            match self.snapshot.apply(record) {
                Some(request) if self.caught_up => restarts.push(request),
                // Old restart requests are not replayed; the latest cluster log level of each
                // logger is applied once caught up, as a worker that joins later must follow
                // it too.
                Some(ConfigRecord::LoggerLevel { namespace, level }) => {
                    self.levels.insert(namespace, level);
                }
                Some(_) => {}
                None => changed = true,
            }
        }
        if let Some(o) = last {
            self.position = o;
        }
        if !self.caught_up && self.position >= self.high - 1 {
            self.caught_up = true;
            changed = false;
            let _ = self.ready.send(self.snapshot.clone());
            for (namespace, level) in std::mem::take(&mut self.levels) {
                restarts.push(ConfigRecord::LoggerLevel { namespace, level });
            }
        }
        if self.caught_up {
            // The state first, so a restart finds the connector it names.
            if changed {
                let _ = self.updates.send(Update::Snapshot(self.snapshot.clone()));
            }
            for r in restarts {
                let _ = self.updates.send(Update::Restart(r));
            }
        }
        if let Some(o) = last {
            let _ = self.applied.send(o);
        }
    }

    /// The record under the herder's names; `None` for other records and names it leaves alone.
    fn parse(&self, r: &TailRecord) -> Option<ConfigRecord> {
        ConfigRecord::parse(r.key.as_deref()?, r.value.as_deref())?.renamed(|n| self.names.load(n))
    }
}
