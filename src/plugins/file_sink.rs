//! FileStreamSinkConnector: appends the value of every record of its topics to a file, one
//! line each, and makes the file durable before the group's offsets are committed.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::watch;

use super::file_io::FileAppender;
use crate::config::settings::split_list;
use crate::connect::connector::{
    fixed_tasks, BoxFuture, ConfigMap, Connector, OffsetEntry, TaskBody, TaskContext,
};
use crate::connect::converter::display;
use crate::connect::error::Error;
use crate::connect::plugin_info::{KeyDef, Validation};
use crate::connect::sink_offsets;
use crate::connect::sink_runner::{SinkRecord, SinkRunner, SinkTask, Subscription};
use crate::connect::status::ConnectorType;
use crate::connect::worker_env::{Client, WorkerEnv};

pub const CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";

pub const KEYS: &[KeyDef] = &[
    KeyDef::new(
        "file",
        "STRING",
        "Destination filename. If not specified, the standard output will be used",
    ),
    KeyDef::new(
        "topics",
        "LIST",
        "List of topics to consume, separated by commas",
    ),
    KeyDef::new(
        "topics.regex",
        "STRING",
        "Regular expression giving topics to consume",
    ),
];

pub fn check(config: &ConfigMap, v: &mut Validation) {
    let topics = config
        .get("topics")
        .map(|t| split_list(t))
        .unwrap_or_default();
    let regex = config.get("topics.regex").filter(|r| !r.is_empty());
    match (topics.is_empty(), regex) {
        (true, None) => v.error("topics", "Must configure one of topics or topics.regex"),
        (false, Some(_)) => v.error(
            "topics",
            "topics and topics.regex are mutually exclusive options, but both are set.",
        ),
        _ => {}
    }
    if let Some(r) = regex {
        if regex::Regex::new(r).is_err() {
            v.error("topics.regex", format!("Invalid value {r} for configuration topics.regex: not a valid regular expression"));
        }
    }
    match config.get("file") {
        Some(f) if !f.is_empty() => {}
        _ => v.error(
            "file",
            "writing to standard output is not supported; set 'file'",
        ),
    }
}

pub fn create(
    name: &str,
    config: &ConfigMap,
    env: &Arc<WorkerEnv>,
) -> Result<Arc<dyn Connector>, String> {
    Ok(Arc::new(FileSink {
        name: name.to_string(),
        config: config.clone(),
        env: env.clone(),
    }))
}

struct FileSink {
    name: String,
    config: ConfigMap,
    env: Arc<WorkerEnv>,
}

impl Connector for FileSink {
    fn kind(&self) -> ConnectorType {
        ConnectorType::Sink
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
            "org.apache.kafka.connect.file.FileStreamSinkTask".into(),
        );
        fixed_tasks(vec![task], tasks, stop)
    }

    fn task(&self, _: usize, config: &ConfigMap, ctx: TaskContext) -> Result<TaskBody, Error> {
        let env = self.env.clone();
        let name = self.name.clone();
        let path = PathBuf::from(config.get("file").cloned().unwrap_or_default());
        let consumer = env.client(Client::Consumer, config)?;
        let key_converter = env.converter("key", config)?;
        let value_converter = env.converter("value", config)?;
        let subscription = match config.get("topics.regex").filter(|r| !r.is_empty()) {
            Some(r) => Subscription::Regex(r.clone()),
            None => Subscription::Topics(split_list(
                config.get("topics").map(String::as_str).unwrap_or_default(),
            )),
        };
        Ok(Box::new(move |stop: &Arc<AtomicBool>| {
            let file = FileAppender::open(&path).map_err(|e| {
                let what = format!(
                    "Couldn't find or create file '{}' for FileStreamSinkTask",
                    path.display()
                );
                Error::io(what, e)
            })?;
            let runner = SinkRunner {
                connector: &name,
                consumer: consumer.clone(),
                subscription: subscription.clone(),
                key_converter,
                value_converter,
                flush_interval: env.offset_flush_interval,
                topics: ctx.topics.clone(),
            };
            runner
                .run(&mut LineWriter { file }, stop)
                .map_err(Error::Message)
        }))
    }

    fn offsets(&self) -> BoxFuture<'static, Result<Vec<OffsetEntry>, Error>> {
        let (props, name) = (self.admin_props(), self.name.clone());
        Box::pin(async move {
            sink_offsets::read(&props?, &name)
                .await
                .map_err(Error::Message)
        })
    }

    fn alter_offsets(&self, entries: Vec<OffsetEntry>) -> BoxFuture<'static, Result<(), Error>> {
        let (props, name) = (self.admin_props(), self.name.clone());
        // sink_offsets reports a refused offset and a failed admin call alike, as text; both
        // stay the caller's fault (400), as before, until it tells them apart.
        Box::pin(async move {
            sink_offsets::alter(&props?, &name, &entries)
                .await
                .map_err(Error::InvalidOffsets)
        })
    }

    fn reset_offsets(&self) -> BoxFuture<'static, Result<(), Error>> {
        let (props, name) = (self.admin_props(), self.name.clone());
        Box::pin(async move {
            sink_offsets::reset(&props?, &name)
                .await
                .map_err(Error::Message)
        })
    }
}

impl FileSink {
    fn admin_props(&self) -> Result<crate::kafka::props::ClientProps, Error> {
        self.env.client(Client::Admin, &self.config)
    }
}

struct LineWriter {
    file: FileAppender,
}

impl SinkTask for LineWriter {
    fn put(&mut self, records: &[SinkRecord]) -> Result<(), String> {
        for r in records {
            self.file
                .append_line(&display(&r.value.value))
                .map_err(|e| format!("cannot write: {e}"))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        self.file.flush().map_err(|e| format!("cannot flush: {e}"))
    }
}
