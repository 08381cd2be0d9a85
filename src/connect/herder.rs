//! One herder per flow (`source->target`), as MirrorMaker 2 runs a Connect herder per cluster
//! pair: it prepares the worker's offsets topic on the target, loads the stored source offsets,
//! runs the MirrorSourceConnector, and (re)starts its tasks whenever the assignment changes.

use std::sync::Arc;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::{ClientKind, Flow};
use crate::kafka::admin::Admin;
use crate::kafka::log::{ensure_compacted_topic, read_to_end};
use crate::kafka::props::translate;
use crate::metrics::Metrics;
use crate::mirror::scheduler::retry;
use crate::mirror::source_connector::{Assignment, SourceConnector};
use crate::mirror::source_task::{self, SourceTaskSpec, TaskDeps};
use crate::mirror::{checkpoint_task, heartbeat};

use super::offsets::OffsetStore;
use super::worker::{stop_all, TaskHandle};

/// Why a herder cannot run.
#[derive(Debug, thiserror::Error)]
pub enum HerderError {
    #[error("flow {flow}: {message}")]
    Setup { flow: String, message: String },
}

fn setup_err(flow: &Flow, e: impl std::fmt::Display) -> HerderError {
    HerderError::Setup {
        flow: flow.name(),
        message: e.to_string(),
    }
}

/// Runs one flow until `stop` turns true: heartbeats always; when the flow is enabled, the
/// source connector with its tasks and the checkpoint connector.
pub async fn run(
    flow: Arc<Flow>,
    metrics: Metrics,
    mut stop: watch::Receiver<bool>,
) -> Result<(), HerderError> {
    let mut side = vec![tokio::spawn(heartbeat::run(flow.clone(), stop.clone()))];
    let result = if flow.settings.enabled {
        side.push(tokio::spawn(checkpoint_task::run(
            flow.clone(),
            metrics.clone(),
            stop.clone(),
        )));
        run_source(&flow, &metrics, stop).await
    } else {
        info!(flow = %flow.name(), "replication not enabled; heartbeats only");
        crate::shutdown::stopped(&mut stop).await;
        Ok(())
    };
    for task in side {
        if let Ok(Err(e)) = task.await {
            warn!(flow = %flow.name(), "{e}");
        }
    }
    result
}

async fn run_source(
    flow: &Arc<Flow>,
    metrics: &Metrics,
    mut stop: watch::Receiver<bool>,
) -> Result<(), HerderError> {
    let (flow, metrics) = (flow.clone(), metrics.clone());
    let Some(offsets) = prepare(&flow, &mut stop).await? else {
        return Ok(());
    };
    let (tasks_tx, mut tasks_rx) = watch::channel::<Assignment>(Vec::new());
    let connector = SourceConnector::new(flow.clone()).map_err(|e| setup_err(&flow, e))?;
    let connector = tokio::spawn(connector.run(tasks_tx, stop.clone()));
    let mut running: Vec<TaskHandle> = Vec::new();
    loop {
        tokio::select! {
            _ = crate::shutdown::stopped(&mut stop) => break,
            changed = tasks_rx.changed() => {
                if changed.is_err() {
                    break;
                }
                let assignment = tasks_rx.borrow_and_update().clone();
                let old = std::mem::take(&mut running);
                tokio::task::spawn_blocking(move || stop_all(old)).await.expect("stop tasks");
                running = start_tasks(&flow, &assignment, &offsets, &metrics);
                info!(flow = %flow.name(), tasks = running.len(), "tasks started");
            }
        }
    }
    let _ = connector.await;
    tokio::task::spawn_blocking(move || stop_all(running))
        .await
        .expect("stop tasks");
    Ok(())
}

/// Creates the offsets topic and loads the stored offsets, retrying while the target is down.
async fn prepare(
    flow: &Arc<Flow>,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<Arc<OffsetStore>>, HerderError> {
    let label = format!("{} worker", flow.name());
    let (admin_props, _) = translate(&flow.worker_client_props(ClientKind::Admin), &label)
        .map_err(|e| setup_err(flow, e[0].to_string()))?;
    let (consumer_props, _) = translate(&flow.worker_client_props(ClientKind::Consumer), &label)
        .map_err(|e| setup_err(flow, e[0].to_string()))?;
    let name = format!("{}|worker-admin", flow.name());
    let admin = Admin::new(
        &admin_props,
        &flow.target,
        &name,
        flow.settings.admin_timeout,
    )
    .map_err(|e| setup_err(flow, e))?;
    let w = &flow.worker_settings;
    let attempt = || async {
        ensure_compacted_topic(
            &admin,
            &w.offset_storage_topic,
            w.offset_storage_partitions,
            w.offset_storage_replication_factor,
        )
        .await
        .map_err(|e| e.to_string())?;
        let (props, topic) = (consumer_props.clone(), w.offset_storage_topic.clone());
        let (name, timeout) = (
            format!("{}|offsets-reader", flow.name()),
            flow.settings.admin_timeout,
        );
        let records =
            tokio::task::spawn_blocking(move || read_to_end(&props, &name, &topic, timeout))
                .await
                .expect("offsets reader")
                .map_err(|e| e.to_string())?;
        Ok::<_, String>(OffsetStore::from_records(
            records.iter().map(|(k, v)| (k.as_deref(), v.as_deref())),
        ))
    };
    let what = format!("cannot prepare the worker on {}", flow.target);
    let Some(store) = retry(&flow.name(), &what, stop, attempt).await else {
        return Ok(None);
    };
    info!(flow = %flow.name(), offsets = store.len(), topic = %w.offset_storage_topic, "loaded stored source offsets");
    Ok(Some(Arc::new(store)))
}

fn start_tasks(
    flow: &Arc<Flow>,
    assignment: &Assignment,
    offsets: &Arc<OffsetStore>,
    metrics: &Metrics,
) -> Vec<TaskHandle> {
    assignment
        .iter()
        .enumerate()
        .map(|(i, partitions)| {
            let spec = SourceTaskSpec {
                flow: flow.clone(),
                task: i,
                partitions: partitions.clone(),
            };
            let (offsets, source_metrics) = (offsets.clone(), metrics.source.clone());
            let name = format!("{}|MirrorSourceConnector-{i}", flow.name());
            TaskHandle::spawn(name, move |stop| {
                let deps = TaskDeps {
                    offsets: offsets.clone(),
                    metrics: source_metrics.clone(),
                    stop,
                };
                source_task::run(spec.clone(), deps)
            })
        })
        .collect()
}
