//! `connect-distributed worker.properties`: a member of a worker group. Connector configs,
//! source offsets and statuses live in the compacted topics `config.storage.topic`,
//! `offset.storage.topic` and `status.storage.topic` (created if missing), and the group
//! `group.id` deals the connectors and tasks out among the workers (see
//! `connect::membership`). Any worker's REST API can change any connector.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::app::AppError;
use crate::config::{ConfigError, ConfigErrors, Props};
use crate::connect::connector::ConfigMap;
use crate::connect::group::{self, GroupSpec};
use crate::connect::offsets::OffsetStore;
use crate::connect::stored_names::StoredNames;
use crate::connect::worker_env::{Client, WorkerEnv};
use crate::metrics::Metrics;
use crate::plugins::Plugins;
use crate::rest;
use crate::standalone::{load_base, required, WorkerBase};

/// The group settings of a distributed worker.
struct Group {
    id: String,
    config_topic: String,
    offset_topic: String,
    status_topic: String,
    offset_partitions: i32,
    status_partitions: i32,
    config_rf: i16,
    offset_rf: i16,
    status_rf: i16,
    session_timeout: Duration,
    heartbeat_interval: Duration,
    rebalance_timeout: Duration,
    /// `exactly.once.source.support=enabled`: source tasks write in transactions. `preparing`
    /// (the step of a rolling upgrade) writes as `disabled` does.
    exactly_once: bool,
}

fn number<T: std::str::FromStr>(
    props: &Props,
    key: &str,
    default: T,
    errors: &mut Vec<ConfigError>,
) -> T {
    match props.get(key) {
        None => default,
        Some(s) => s.value.trim().parse().unwrap_or_else(|_| {
            errors.push(ConfigError::Invalid {
                key: key.into(),
                origin: s.origin.clone(),
                message: format!(
                    "Invalid value {} for configuration {key}: Not a number",
                    s.value
                ),
            });
            default
        }),
    }
}

fn group(props: &Props, errors: &mut Vec<ConfigError>) -> Option<Group> {
    let value = |k: &str, errors: &mut Vec<ConfigError>| {
        required(props, k, errors).map(|s| s.value.clone())
    };
    let id = value("group.id", errors);
    let config_topic = value("config.storage.topic", errors);
    let offset_topic = value("offset.storage.topic", errors);
    let status_topic = value("status.storage.topic", errors);
    let exactly_once = match props.get("exactly.once.source.support") {
        None => false,
        Some(s) => match s.value.trim().to_lowercase().as_str() {
            "enabled" => true,
            "disabled" | "preparing" => false,
            _ => {
                errors.push(ConfigError::Invalid {
                    key: s.key.clone(),
                    origin: s.origin.clone(),
                    message: format!(
                        "Invalid value {} for configuration exactly.once.source.support: String must be one of: disabled, preparing, enabled",
                        s.value
                    ),
                });
                false
            }
        },
    };
    let g = Group {
        id: id?,
        config_topic: config_topic?,
        offset_topic: offset_topic?,
        status_topic: status_topic?,
        offset_partitions: number(props, "offset.storage.partitions", 25, errors),
        status_partitions: number(props, "status.storage.partitions", 5, errors),
        config_rf: number(props, "config.storage.replication.factor", 3, errors),
        offset_rf: number(props, "offset.storage.replication.factor", 3, errors),
        status_rf: number(props, "status.storage.replication.factor", 3, errors),
        session_timeout: Duration::from_millis(number(props, "session.timeout.ms", 10_000, errors)),
        heartbeat_interval: Duration::from_millis(number(
            props,
            "heartbeat.interval.ms",
            3_000,
            errors,
        )),
        rebalance_timeout: Duration::from_millis(number(
            props,
            "rebalance.timeout.ms",
            60_000,
            errors,
        )),
        exactly_once,
    };
    Some(g)
}

/// Runs the worker until SIGINT or SIGTERM.
pub fn run(worker: &Path) -> Result<(), AppError> {
    let (base, group) = load(worker)?;
    crate::app::block_on(serve(base, group))?
}

/// The worker's settings; every config error found, if any.
fn load(worker: &Path) -> Result<(WorkerBase, Group), AppError> {
    let mut errors = Vec::new();
    let (props, base) = load_base(worker, &mut errors)?;
    let group = group(&props, &mut errors);
    let (Some(base), Some(group)) = (base, group) else {
        return Err(ConfigErrors::deduplicated(errors).into());
    };
    if !errors.is_empty() {
        return Err(ConfigErrors::deduplicated(errors).into());
    }
    Ok((base, group))
}

fn runtime(e: crate::connect::Error) -> AppError {
    AppError::Runtime(e.to_string())
}

/// Serves the REST API from the start (`/health` answers 503 meanwhile), creates the internal
/// topics, joins the worker group, and serves until a signal; then leaves the group.
async fn serve(base: WorkerBase, group: Group) -> Result<(), AppError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let spec = group_spec(&base, &group)?;
    let server = rest::Server::open(&base.rest).await?;
    let worker_id = rest::worker_id(server.advertised_addr());
    let metrics = Metrics::new();
    let api = rest::Api {
        herders: rest::Herders::default(),
        metrics: metrics.clone(),
        cluster_id: Default::default(),
        health: rest::Health::gated(),
    };
    let served = server.serve(&api, &stop_rx);
    // Connect's names for the stages of its herder's startup.
    api.health
        .stage("initializing and reading to the end of internal topics");
    // An internal topic of the wrong shape ends the worker with Java's message and status 1,
    // as Java's herder thread exits the JVM on that ConfigException.
    let topics = spec.ensure_topics().await.map_err(|e| {
        if let crate::connect::Error::Shape(shape) = &e {
            tracing::error!(topic = %shape.topic(), "{shape} To fix: {}", shape.fix());
        }
        runtime(e)
    })?;
    let offsets = open_offsets(&spec, &group).await?;
    let env = Arc::new(WorkerEnv {
        props: base.props.clone(),
        offsets,
        offset_flush_interval: base.flush,
        key_converter: base.key_converter,
        value_converter: base.value_converter,
        metrics,
        exactly_once: group.exactly_once.then(|| group.id.clone()),
    });
    api.health.stage("ensuring membership in the cluster");
    let member = group::join(
        &spec,
        topics,
        &worker_id,
        Arc::new(Plugins { env }),
        None,
        stop_rx.clone(),
    )
    .await
    .map_err(runtime)?;
    api.herders.add(member.herder.clone());
    api.health.ready();
    rest::server::until_signal(served, stop_tx, member.leave()).await;
    Ok(())
}

/// The worker group's settings with the worker's producer, consumer and admin settings, which
/// a throw-away worker environment translates (no connector overrides them).
fn group_spec(base: &WorkerBase, group: &Group) -> Result<GroupSpec, AppError> {
    let probe = WorkerEnv {
        props: base.props.clone(),
        offsets: Arc::default(),
        offset_flush_interval: base.flush,
        key_converter: base.key_converter,
        value_converter: base.value_converter,
        metrics: Metrics::new(),
        exactly_once: None,
    };
    let client = |kind| {
        probe
            .client(kind, &ConfigMap::new())
            .map_err(|e| AppError::Usage(e.to_string()))
    };
    let (producer, consumer, admin_props) = (
        client(Client::Producer)?,
        client(Client::Consumer)?,
        client(Client::Admin)?,
    );
    Ok(GroupSpec {
        group_id: group.id.clone(),
        client_id: base
            .props
            .get("client.id")
            .map(|s| s.value.clone())
            .filter(|c| !c.is_empty()),
        // Messages name the worker's cluster by its address: there is no alias here.
        cluster: admin_props
            .get("bootstrap.servers")
            .unwrap_or("bootstrap.servers")
            .to_string(),
        config_topic: group.config_topic.clone(),
        offset_topic: group.offset_topic.clone(),
        status_topic: group.status_topic.clone(),
        stored_names: StoredNames::same(),
        offset_partitions: group.offset_partitions,
        status_partitions: group.status_partitions,
        config_rf: group.config_rf,
        offset_rf: group.offset_rf,
        status_rf: group.status_rf,
        session_timeout: group.session_timeout,
        heartbeat_interval: group.heartbeat_interval,
        rebalance_timeout: group.rebalance_timeout,
        producer,
        consumer,
        admin: admin_props,
    })
}

/// The source offsets of `offset.storage.topic`, read to its end before any task starts.
async fn open_offsets(spec: &GroupSpec, group: &Group) -> Result<Arc<OffsetStore>, AppError> {
    // Exactly-once tasks resume after the last committed transaction, never an open one.
    let offsets = Arc::new(OffsetStore::on_topic(
        group.offset_topic.clone(),
        spec.producer.clone(),
        spec.consumer.clone(),
        group.exactly_once,
    ));
    let store = offsets.clone();
    tokio::task::spawn_blocking(move || store.refresh())
        .await
        .map_err(|e| runtime(e.into()))?
        .map_err(runtime)?;
    Ok(offsets)
}
