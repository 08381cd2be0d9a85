//! FileStreamSourceConnector: each line of a file becomes a record of one topic, and lines
//! appended later follow. One task; its offset is the byte position after the last line sent,
//! under the source partition `{"filename": <file>}`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::watch;

use super::file_io::FileTail;
use crate::connect::connector::{
    fixed_tasks, BoxFuture, ConfigMap, Connector, OffsetEntry, TaskBody, TaskContext,
};
use crate::connect::converter::{Data, SchemaAndValue};
use crate::connect::error::Error;
use crate::connect::plugin_info::{KeyDef, Validation};
use crate::connect::source_runner::{SourceRecord, SourceRunner, SourceTask};
use crate::connect::status::ConnectorType;
use crate::connect::worker_env::{fence_zombies, Client, WorkerEnv};

pub const CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";

pub const KEYS: &[KeyDef] = &[
    KeyDef::new("file", "STRING", "Source filename. If not specified, the standard input will be used"),
    KeyDef::new("topic", "LIST", "The topic to publish data to").required(),
    KeyDef::new("batch.size", "INT", "The maximum number of records the source task can read from the file each time it is polled").default("2000"),
];

pub fn check(config: &ConfigMap, v: &mut Validation) {
    if let Some(t) = config.get("topic") {
        if t.split(',').filter(|s| !s.trim().is_empty()).count() != 1 {
            v.error("topic", "'topic' in FileStreamSourceConnector configuration requires definition of a single topic");
        }
    }
    match config.get("file") {
        Some(f) if !f.is_empty() => {}
        _ => v.error(
            "file",
            "reading standard input is not supported; set 'file'",
        ),
    }
    if let Some(b) = config.get("batch.size") {
        if b.trim().parse::<usize>().map_or(true, |n| n == 0) {
            v.error(
                "batch.size",
                format!("Invalid value {b} for configuration batch.size: Value must be at least 1"),
            );
        }
    }
}

pub fn create(
    name: &str,
    config: &ConfigMap,
    env: &Arc<WorkerEnv>,
) -> Result<Arc<dyn Connector>, String> {
    Ok(Arc::new(FileSource {
        name: name.to_string(),
        config: config.clone(),
        env: env.clone(),
    }))
}

struct FileSource {
    name: String,
    config: ConfigMap,
    env: Arc<WorkerEnv>,
}

impl FileSource {
    fn partition(&self) -> Value {
        json!({ "filename": self.config.get("file").cloned().unwrap_or_default() })
    }
}

impl Connector for FileSource {
    fn kind(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn run(
        self: Arc<Self>,
        tasks: watch::Sender<Option<Vec<ConfigMap>>>,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'static, Result<(), Error>> {
        // One task, with the connector's config, as Java's.
        let mut task = self.config.clone();
        task.insert(
            "task.class".into(),
            "org.apache.kafka.connect.file.FileStreamSourceTask".into(),
        );
        fixed_tasks(vec![task], tasks, stop)
    }

    fn task(&self, id: usize, config: &ConfigMap, ctx: TaskContext) -> Result<TaskBody, Error> {
        let env = self.env.clone();
        let name = self.name.clone();
        let path = PathBuf::from(config.get("file").cloned().unwrap_or_default());
        let topic = config
            .get("topic")
            .cloned()
            .unwrap_or_default()
            .trim()
            .to_string();
        let batch: usize = config
            .get("batch.size")
            .and_then(|b| b.trim().parse().ok())
            .unwrap_or(2000);
        let producer = env.client(Client::Producer, config)?;
        let key_converter = env.converter("key", config)?;
        let value_converter = env.converter("value", config)?;
        let partition = self.partition();
        let transactions = env.transactions(&name, id, config)?;
        Ok(Box::new(move |stop: &Arc<AtomicBool>| {
            let runner = SourceRunner {
                connector: &name,
                producer: producer.clone(),
                key_converter,
                value_converter,
                offsets: env.offsets.clone(),
                flush_interval: env.offset_flush_interval,
                topics: ctx.topics.clone(),
                transactions: transactions.clone(),
            };
            let Some(producer) = runner.open(stop).map_err(Error::task)? else {
                return Ok(());
            };
            let position = env
                .offsets
                .get_value(&name, &partition)
                .and_then(|o| o.get("position").and_then(Value::as_u64))
                .unwrap_or(0);
            tracing::info!(connector = %name, file = %path.display(), position, "reading the file");
            let tail = FileTail::open(&path, position)
                .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
            let mut task = LineTask {
                tail,
                batch,
                topic: topic.clone(),
                partition: partition.clone(),
                path: path.clone(),
            };
            runner.run(producer, &mut task, stop).map_err(Error::task)
        }))
    }

    fn fence_zombies(&self, tasks: usize) -> BoxFuture<'static, Result<(), Error>> {
        fence_zombies(&self.env, &self.name, &self.config, tasks)
    }

    fn offsets(&self) -> BoxFuture<'static, Result<Vec<OffsetEntry>, Error>> {
        let (store, name) = (self.env.offsets.clone(), self.name.clone());
        Box::pin(async move {
            // Another worker of the group may have stored them.
            tokio::task::spawn_blocking(move || {
                store.refresh()?;
                Ok(store.entries(&name))
            })
            .await?
        })
    }

    fn alter_offsets(&self, entries: Vec<OffsetEntry>) -> BoxFuture<'static, Result<(), Error>> {
        let (store, name) = (self.env.offsets.clone(), self.name.clone());
        Box::pin(async move {
            for e in &entries {
                check_offset(e)?;
            }
            tokio::task::spawn_blocking(move || store.write(&name, &entries)).await?
        })
    }

    fn reset_offsets(&self) -> BoxFuture<'static, Result<(), Error>> {
        let (store, name) = (self.env.offsets.clone(), self.name.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                store.refresh()?;
                store.reset(&name)
            })
            .await?
        })
    }
}

/// FileStreamSourceConnector's own checks of an offset to write.
fn check_offset(e: &OffsetEntry) -> Result<(), Error> {
    let refused = |why: &str| Err(Error::InvalidOffsets(why.to_string()));
    if e.partition.get("filename").is_none() {
        return refused("Partition objects should contain the key 'filename'");
    }
    let Some(offset) = &e.offset else {
        return Ok(());
    };
    match offset.get("position") {
        None => refused("Offset objects should either be null or contain the key 'position'"),
        Some(p) if p.as_i64().is_none() => {
            refused("The value for the 'position' key in the offset is expected to be a Long value")
        }
        Some(p) if p.as_i64() < Some(0) => {
            refused("The value for the 'position' key in the offset should be a non-negative value")
        }
        Some(_) => Ok(()),
    }
}

struct LineTask {
    tail: FileTail,
    batch: usize,
    topic: String,
    partition: Value,
    path: PathBuf,
}

impl SourceTask for LineTask {
    fn poll(&mut self) -> Result<Vec<SourceRecord>, Error> {
        let lines = self
            .tail
            .poll(self.batch)
            .map_err(|e| Error::io(format!("cannot read {}", self.path.display()), e))?;
        Ok(lines
            .into_iter()
            .map(|(line, position)| SourceRecord {
                partition: self.partition.clone(),
                offset: Some(json!({ "position": position })),
                topic: self.topic.clone(),
                key: SchemaAndValue::NULL,
                value: SchemaAndValue {
                    schema: Some(json!({"type": "string", "optional": false})),
                    value: Data::Json(Value::String(line)),
                },
            })
            .collect())
    }
}
