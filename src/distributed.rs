//! `connect-distributed worker.properties`: a member of a worker group. Connector configs,
//! source offsets and statuses live in the compacted topics `config.storage.topic`,
//! `offset.storage.topic` and `status.storage.topic` (created if missing), and the group
//! `group.id` deals the connectors and tasks out among the workers (see
//! `connect::membership`). Any worker's REST API can change any connector.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::info;

use crate::app::AppError;
use crate::config::{ConfigError, ConfigErrors, Props};
use crate::connect::config_log;
use crate::connect::connector::ConfigMap;
use crate::connect::env::{Client, WorkerEnv};
use crate::connect::herder::Herder;
use crate::connect::membership;
use crate::connect::offsets::{Backing, OffsetStore};
use crate::connect::status_log;
use crate::connectors::Plugins;
use crate::kafka::admin::Admin;
use crate::kafka::log::ensure_compacted_topic;
use crate::metrics::Metrics;
use crate::rest;
use crate::standalone::{load_base, required};

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
    session_timeout: String,
    heartbeat_interval: String,
    rebalance_timeout: Duration,
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
        session_timeout: number::<u64>(props, "session.timeout.ms", 10_000, errors).to_string(),
        heartbeat_interval: number::<u64>(props, "heartbeat.interval.ms", 3_000, errors)
            .to_string(),
        rebalance_timeout: Duration::from_millis(number(
            props,
            "rebalance.timeout.ms",
            60_000,
            errors,
        )),
    };
    Some(g)
}

/// Runs the worker until SIGINT or SIGTERM.
pub fn run(worker: &Path) -> Result<(), AppError> {
    let mut errors = Vec::new();
    let (props, base) = load_base(worker, &mut errors)?;
    let group = group(&props, &mut errors);
    let (Some(base), Some(group)) = (base, group) else {
        return Err(ConfigErrors::deduplicated(errors).into());
    };
    if !errors.is_empty() {
        return Err(ConfigErrors::deduplicated(errors).into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Runtime(format!("cannot start the runtime: {e}")))?;
    let stopping = Arc::new(AtomicBool::new(false));
    let result = rt.block_on(async {
        let (stop_tx, stop_rx) = watch::channel(false);
        let probe = WorkerEnv {
            props: base.props.clone(),
            offsets: Arc::default(),
            offset_flush_interval: base.flush,
            key_converter: base.key_converter,
            value_converter: base.value_converter,
        };
        let client = |kind| {
            probe
                .client(kind, &ConfigMap::new())
                .map_err(AppError::Usage)
        };
        let (producer, consumer, admin_props) = (
            client(Client::Producer)?,
            client(Client::Consumer)?,
            client(Client::Admin)?,
        );
        let runtime = |e: String| AppError::Runtime(e);
        let admin = Admin::new(
            &admin_props,
            "worker",
            &format!("{}|admin", group.id),
            Duration::from_secs(30),
        )
        .map_err(|e| runtime(e.to_string()))?;
        for (topic, partitions, rf) in [
            (&group.config_topic, 1, group.config_rf),
            (
                &group.offset_topic,
                group.offset_partitions,
                group.offset_rf,
            ),
            (
                &group.status_topic,
                group.status_partitions,
                group.status_rf,
            ),
        ] {
            ensure_compacted_topic(&admin, topic, partitions, rf)
                .await
                .map_err(|e| runtime(format!("cannot create {topic}: {e}")))?;
        }
        let mut listeners = Vec::new();
        for addr in &base.listeners {
            listeners.push(rest::bind(addr).await.map_err(|e| {
                AppError::Runtime(format!("cannot listen on {addr} (listeners): {e}"))
            })?);
        }
        let worker_id = rest::worker_id(listeners.first().and_then(|l| l.local_addr().ok()));

        let offsets = {
            let (c, t) = (consumer.clone(), group.offset_topic.clone());
            let records = tokio::task::spawn_blocking(move || {
                crate::kafka::log::read_to_end(
                    &c,
                    &format!("{t}|loader"),
                    &t,
                    Duration::from_secs(30),
                )
            })
            .await
            .map_err(|e| runtime(e.to_string()))?
            .map_err(|e| runtime(e.to_string()))?;
            OffsetStore::from_records(
                records.iter().map(|(k, v)| (k.as_deref(), v.as_deref())),
                Backing::Topic {
                    props: producer.clone(),
                    reader: consumer.clone(),
                    topic: group.offset_topic.clone(),
                    producer: Default::default(),
                },
            )
        };
        let env = Arc::new(WorkerEnv {
            props: base.props.clone(),
            offsets: Arc::new(offsets),
            offset_flush_interval: base.flush,
            key_converter: base.key_converter,
            value_converter: base.value_converter,
        });
        let board = status_log::board(
            &worker_id,
            &consumer,
            &producer,
            &group.status_topic,
            stopping.clone(),
        )
        .map_err(runtime)?;
        let (updates_tx, updates_rx) = tokio::sync::mpsc::unbounded_channel();
        let log = {
            let (c, p, t, s) = (
                consumer.clone(),
                producer.clone(),
                group.config_topic.clone(),
                stopping.clone(),
            );
            tokio::task::spawn_blocking(move || config_log::open(&c, &p, &t, updates_tx, s))
                .await
                .map_err(|e| runtime(e.to_string()))?
                .map_err(runtime)?
        };
        let herder = Herder::with_board(board, Arc::new(Plugins { env }), Some(Arc::new(log)));
        let mut member_props = consumer.clone();
        member_props.set("group.id", group.id.clone(), false);
        member_props.set("session.timeout.ms", group.session_timeout.clone(), false);
        member_props.set(
            "heartbeat.interval.ms",
            group.heartbeat_interval.clone(),
            false,
        );
        member_props.set(
            "max.poll.interval.ms",
            group.rebalance_timeout.as_millis().to_string(),
            false,
        );
        let membership = membership::join(
            &member_props,
            &group.offset_topic,
            group.offset_partitions,
            group.rebalance_timeout,
            stopping.clone(),
        )
        .map_err(runtime)?;
        let membership_thread = membership.thread;
        let follower = {
            let h = herder.clone();
            let s = stop_rx.clone();
            let (owned, acks) = (membership.owned, membership.acks);
            tokio::spawn(async move { h.follow(updates_rx, owned, acks, s).await })
        };
        info!(worker = %worker_id, group = %group.id, "joined the worker group");
        let api = rest::Api {
            herder: herder.clone(),
            metrics: Metrics::new(),
            cluster_id: Default::default(),
        };
        let mut served = Vec::new();
        for l in listeners {
            info!(
                "serving the REST API on {}",
                l.local_addr().map(|a| a.to_string()).unwrap_or_default()
            );
            served.push(tokio::spawn(rest::serve(l, api.clone(), stop_rx.clone())));
        }
        crate::shutdown::signal().await;
        let _ = stop_tx.send(true);
        let _ = follower.await;
        herder.shutdown().await;
        stopping.store(true, Ordering::Relaxed);
        for s in served {
            let _ = s.await;
        }
        let _ = tokio::task::spawn_blocking(move || membership_thread.join()).await;
        Ok(())
    });
    stopping.store(true, Ordering::Relaxed);
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}
