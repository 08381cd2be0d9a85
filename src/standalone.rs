//! `connect-standalone worker.properties connector.properties ...`: one worker, its source
//! offsets in `offset.storage.file.filename`, the connectors of the given files started at
//! once, and the REST API on `listeners` (default `http://:8083`), whose `GET /health` answers
//! 200 once those connectors are installed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::warn;

use crate::app::AppError;
use crate::config::rest::{rest_settings, RestSettings};
use crate::config::{ConfigError, ConfigErrors, Origin, Properties, Props, Setting};
use crate::connect::connector::ConfigMap;
use crate::connect::converter::Converter;
use crate::connect::herder::Herder;
use crate::connect::offsets::OffsetStore;
use crate::connect::worker_env::{prefixed, Client, WorkerEnv};
use crate::metrics::Metrics;
use crate::plugins::Plugins;
use crate::rest;

/// A loaded worker configuration.
pub struct Worker {
    pub env: Arc<WorkerEnv>,
    pub rest: RestSettings,
}

/// The worker settings both modes share.
pub struct WorkerBase {
    pub props: Props,
    pub key_converter: Converter,
    pub value_converter: Converter,
    pub flush: Duration,
    pub rest: RestSettings,
}

/// A required key's value, or an error naming it.
pub fn required<'a>(
    props: &'a Props,
    key: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<&'a Setting> {
    let s = props.get(key);
    if s.is_none() {
        errors.push(invalid(
            key,
            &Origin::Unset,
            format!("Missing required configuration \"{key}\" which has no default value."),
        ));
    }
    s
}

fn invalid(key: &str, origin: &Origin, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        origin: origin.clone(),
        message: message.into(),
    }
}

/// Reads the worker properties of connect-standalone.
pub fn load_worker(path: &Path) -> Result<Worker, AppError> {
    let mut errors = Vec::new();
    let (props, base) = load_base(path, &mut errors)?;
    let offsets = required(&props, "offset.storage.file.filename", &mut errors).and_then(|s| {
        OffsetStore::from_file(&PathBuf::from(&s.value))
            .map_err(|e| errors.push(invalid(&s.key, &s.origin, e.to_string())))
            .ok()
    });
    match (base, offsets) {
        (Some(mut base), Some(offsets)) if errors.is_empty() => {
            // Kafka's standalone worker has no exactly-once mode; nor do its Mirror connectors.
            if base.props.remove("exactly.once.source.support").is_some() {
                warn!("`exactly.once.source.support` has no effect in connect-standalone: exactly-once source tasks need connect-distributed");
            }
            let env = WorkerEnv {
                props: base.props,
                offsets: Arc::new(offsets),
                offset_flush_interval: base.flush,
                key_converter: base.key_converter,
                value_converter: base.value_converter,
                metrics: Metrics::new(),
                exactly_once: None,
            };
            Ok(Worker {
                env: Arc::new(env),
                rest: base.rest,
            })
        }
        _ => Err(ConfigErrors::deduplicated(errors).into()),
    }
}

/// Reads the settings every worker has; problems go to `errors`.
pub fn load_base(
    path: &Path,
    errors: &mut Vec<ConfigError>,
) -> Result<(Props, Option<WorkerBase>), AppError> {
    let file = Properties::from_file(path).map_err(|e| ConfigErrors(vec![e]))?;
    let mut props: Props = file.iter().map(|(k, s)| (k.clone(), s.clone())).collect();
    props
        .entry("bootstrap.servers".into())
        .or_insert_with(|| Setting::default_for("bootstrap.servers", "localhost:9092"));
    let key_converter = worker_converter(&props, "key", errors);
    let value_converter = worker_converter(&props, "value", errors);
    let flush = flush_interval(&props, errors);
    let rest = rest_settings(&props, errors);
    for k in props.keys() {
        if k == "plugin.path" {
            warn!("`{k}` has no effect here: the plugins are built in");
        } else if k.starts_with("rest.")
            && !["rest.extension.classes", "rest.advertised.listener"].contains(&k.as_str())
        {
            warn!("`{k}` has no effect here");
        }
    }
    check_clients(&props)?;
    let base = match (key_converter, value_converter, flush) {
        (Some(key_converter), Some(value_converter), Some(flush)) => Some(WorkerBase {
            props: props.clone(),
            key_converter,
            value_converter,
            flush,
            rest,
        }),
        _ => None,
    };
    Ok((props, base))
}

/// The worker's required `key.converter` or `value.converter` (`which`), with its settings.
fn worker_converter(
    props: &Props,
    which: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Converter> {
    let key = format!("{which}.converter");
    match props.get(&key) {
        None => {
            errors.push(invalid(
                &key,
                &Origin::Unset,
                format!("Missing required configuration \"{key}\" which has no default value."),
            ));
            None
        }
        Some(s) => {
            let map: ConfigMap = props
                .iter()
                .map(|(k, s)| (k.clone(), s.value.clone()))
                .collect();
            Converter::from_config(&s.value, &prefixed(&map, &key))
                .map_err(|e| errors.push(invalid(&key, &s.origin, e)))
                .ok()
        }
    }
}

/// `offset.flush.interval.ms`, 60 s when unset.
fn flush_interval(props: &Props, errors: &mut Vec<ConfigError>) -> Option<Duration> {
    match props.get("offset.flush.interval.ms") {
        None => Some(Duration::from_secs(60)),
        Some(s) => s.value.trim().parse::<u64>().map(Duration::from_millis).map_err(|_| {
            errors.push(invalid(&s.key, &s.origin, format!("Invalid value {} for configuration offset.flush.interval.ms: Not a number of type LONG", s.value)))
        }).ok(),
    }
}

/// Fails now, with the operator's error, if the worker's producer, consumer or admin settings
/// cannot be translated for librdkafka (a throw-away worker environment checks them).
fn check_clients(props: &Props) -> Result<(), AppError> {
    let probe = WorkerEnv {
        props: props.clone(),
        offsets: Arc::default(),
        offset_flush_interval: Duration::ZERO,
        key_converter: Converter::ByteArray,
        value_converter: Converter::ByteArray,
        metrics: Metrics::new(),
        exactly_once: None,
    };
    for kind in [Client::Producer, Client::Consumer, Client::Admin] {
        probe
            .client(kind, &ConfigMap::new())
            .map_err(|e| AppError::Usage(e.to_string()))?;
    }
    Ok(())
}

/// Reads a connector properties file.
pub fn load_connector(path: &Path) -> Result<ConfigMap, AppError> {
    let file = Properties::from_file(path).map_err(|e| ConfigErrors(vec![e]))?;
    Ok(file
        .iter()
        .map(|(k, s)| (k.clone(), s.value.clone()))
        .collect())
}

/// Runs the worker until SIGINT or SIGTERM.
pub fn run(worker: &Path, connectors: &[PathBuf]) -> Result<(), AppError> {
    let w = load_worker(worker)?;
    let configs = connectors
        .iter()
        .map(|p| load_connector(p).map(|c| (p.clone(), c)))
        .collect::<Result<Vec<_>, _>>()?;
    crate::app::block_on(async {
        let stop_tx = watch::Sender::new(false);
        // Serving from the start, so that /health answers 503 while the connectors install.
        let server = rest::Server::open(&w.rest).await?;
        let herder = Herder::new(
            rest::worker_id(server.advertised_addr()),
            Arc::new(Plugins { env: w.env.clone() }),
        );
        let api = rest::Api {
            herders: rest::Herders::one(herder.clone()),
            metrics: w.env.metrics.clone(),
            cluster_id: Default::default(),
            health: rest::Health::gated(),
        };
        let served = server.serve(&api, &stop_tx.subscribe());
        for (path, config) in configs {
            let name = config.get("name").cloned().unwrap_or_default();
            herder
                .install(&name, config)
                .await
                .map_err(|e| AppError::Usage(format!("{}: {e}", path.display())))?;
        }
        // As Connect's standalone herder is ready once the files' connectors are created.
        api.health.ready();
        rest::server::until_signal(served, stop_tx, herder.shutdown()).await;
        Ok(())
    })?
}
