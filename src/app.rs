//! Composition root: loads the configuration and runs or describes the flows. The only module
//! that knows every other.

use std::io::Write;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::warn;

use crate::cli::{ConfigArgs, PlanArgs, TopologyArgs, TranslateArgs};
use crate::config::{self, ConfigErrors, Environment, Mm2Config, Props, Warning};
use crate::config::{ClientKind, Flow};
use crate::failover::{self, ToolError};
use crate::kafka::props::translate;
use crate::kafka::validate::check_clients;
use crate::metrics::Metrics;
use crate::mirror::flow_worker;
use crate::rest;

/// Why the process stops with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A bad configuration: exit status 2.
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    /// Bad arguments to a command: exit status 2.
    #[error("{0}")]
    Usage(String),
    /// A failure while running.
    #[error("{0}")]
    Runtime(String),
}

/// Loads and fully checks a configuration: syntax, MirrorMaker 2 rules, and every client setting.
pub fn load(args: &ConfigArgs, env: &Environment) -> Result<(Mm2Config, Vec<Warning>), AppError> {
    let cfg = config::load(&args.config_path(), &args.clusters, env)?;
    let mut warnings = cfg.warnings.clone();
    warnings.extend(check_clients(&cfg)?);
    Ok((cfg, warnings))
}

/// `validate`: prints the resolved flows with secrets hidden, then the warnings.
pub fn validate(args: &ConfigArgs, out: &mut dyn Write) -> Result<(), AppError> {
    let (cfg, warnings) = load(args, &Environment::Process)?;
    describe(&cfg, &warnings, out).map_err(|e| AppError::Runtime(format!("cannot write: {e}")))
}

fn show(props: &Props, out: &mut dyn Write, indent: &str) -> std::io::Result<()> {
    for (k, s) in props {
        let v = if s.sensitive {
            "[hidden]"
        } else {
            s.value.as_str()
        };
        writeln!(out, "{indent}{k} = {v}    # {} ({})", s.key, s.origin)?;
    }
    Ok(())
}

/// Writes a human-readable description of the resolved configuration.
pub fn describe(cfg: &Mm2Config, warnings: &[Warning], out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "clusters: {}", cfg.clusters.join(", "))?;
    for flow in &cfg.flows {
        let what = if flow.settings.enabled {
            "replication enabled: MirrorSourceConnector, MirrorCheckpointConnector, MirrorHeartbeatConnector"
        } else {
            "heartbeats only: MirrorHeartbeatConnector"
        };
        writeln!(out, "\nflow {}: {what}", flow.name())?;
        writeln!(out, "  connector configuration:")?;
        show(&flow.connector, out, "    ")?;
        writeln!(out, "  worker configuration (on {}):", flow.target)?;
        show(&flow.worker, out, "    ")?;
        writeln!(out, "  clients (librdkafka settings):")?;
        for (label, props) in flow.all_client_props() {
            writeln!(out, "    {label}:")?;
            if let Ok((client, _)) = translate(&props, &label) {
                for (k, v) in client.redacted() {
                    writeln!(out, "      {k} = {v}")?;
                }
            }
        }
    }
    if !warnings.is_empty() {
        writeln!(out, "\nwarnings:")?;
        for w in warnings {
            writeln!(out, "  {w}")?;
        }
    }
    Ok(())
}

/// Runs the flows until SIGINT or SIGTERM.
pub fn run(args: &ConfigArgs) -> Result<(), AppError> {
    let (cfg, warnings) = load(args, &Environment::Process)?;
    for w in &warnings {
        warn!("{w}");
    }
    block_on(async {
        let (stop_tx, stop_rx) = watch::channel(false);
        let running = start(cfg, stop_rx).await?;
        crate::shutdown::signal().await;
        let _ = stop_tx.send(true);
        running.wait().await
    })?
}

/// Runs `fut` to its end on a multi-threaded runtime of its own, the way every command of the
/// three binaries runs.
pub fn block_on<T>(fut: impl std::future::Future<Output = T>) -> Result<T, AppError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Runtime(format!("cannot start the runtime: {e}")))?;
    let result = rt.block_on(fut);
    // A metadata request to an unreachable cluster may still be waiting on a blocking thread:
    // it holds nothing that needs saving, so do not wait for its timeout.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(result)
}

/// Everything a running process owns; [`Running::wait`] returns when all of it has stopped.
pub struct Running {
    tasks: JoinSet<Result<(), String>>,
    pub metrics: Metrics,
    /// The bound HTTP addresses, in `listeners` order.
    pub http: Vec<std::net::SocketAddr>,
}

impl Running {
    pub async fn wait(mut self) -> Result<(), AppError> {
        let mut first_error = None;
        while let Some(r) = self.tasks.join_next().await {
            if let Ok(Err(e)) = r {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), |e| Err(AppError::Runtime(e)))
    }
}

/// Starts the flows' connectors on one herder and the HTTP listeners; they stop when `stop`
/// turns true.
pub async fn start(cfg: Mm2Config, stop: watch::Receiver<bool>) -> Result<Running, AppError> {
    let metrics = Metrics::with_names(cfg.driver.metric_names);
    let mut tasks = JoinSet::new();
    if cfg.driver.internal_rest {
        tracing::info!(
            "dedicated.mode.enable.internal.rest = true: nothing to serve, as workers coordinate \
             through Kafka; the REST API and metrics are served only on `listeners`"
        );
    }
    let listeners = if cfg.driver.listeners_set {
        rest::bind_all(&cfg.driver.listeners)
            .await
            .map_err(AppError::Runtime)?
    } else {
        Vec::new()
    };
    let http: Vec<std::net::SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let flows: Vec<Arc<Flow>> = cfg.flows.into_iter().map(Arc::new).collect();
    let herders = rest::Herders::default();
    let worker_id = rest::worker_id(http.first().copied());
    for flow in &flows {
        let (f, m, w, h, s) = (
            flow.clone(),
            metrics.clone(),
            worker_id.clone(),
            herders.clone(),
            stop.clone(),
        );
        // The process reports a flow's failure as its exit message.
        tasks.spawn(async move {
            let run = flow_worker::run(f, m, w, move |herder| h.add(herder), s);
            run.await.map_err(|e| e.to_string())
        });
    }
    let api = rest::Api {
        herders,
        metrics: metrics.clone(),
        cluster_id: Default::default(),
    };
    if let Some(flow) = flows.first() {
        tasks.spawn(find_cluster_id(flow.clone(), api.cluster_id.clone()));
    }
    for served in rest::serve_all(listeners, &api, &stop) {
        tasks.spawn(async move { served.await.unwrap_or_else(|e| Err(e.to_string())) });
    }
    Ok(Running {
        tasks,
        metrics,
        http,
    })
}

/// Learns the Kafka cluster id of the first flow's target, for `GET /`.
async fn find_cluster_id(
    flow: Arc<Flow>,
    cell: Arc<std::sync::OnceLock<String>>,
) -> Result<(), String> {
    let label = format!("{} worker", flow.name());
    let Ok((props, _)) = translate(&flow.worker_client_props(ClientKind::Admin), &label) else {
        return Ok(());
    };
    let name = format!("{}|cluster-id", flow.name());
    let id = tokio::task::spawn_blocking(move || crate::kafka::admin::cluster_id(&props, &name))
        .await
        .ok()
        .flatten();
    if let Some(id) = id {
        let _ = cell.set(id);
    }
    Ok(())
}

fn tool_error(e: ToolError) -> AppError {
    match e {
        ToolError::Usage(m) => AppError::Usage(m),
        ToolError::Kafka(m) => AppError::Runtime(m),
    }
}

/// `offsets translate`.
pub fn translate_offsets(args: &TranslateArgs) -> Result<(), AppError> {
    let config_args = ConfigArgs {
        config: Some(args.config.clone()),
        clusters: Vec::new(),
    };
    let (cfg, _) = load(&config_args, &Environment::Process)?;
    block_on(failover::translate_offsets(
        &cfg,
        &args.source,
        &args.target,
        &args.group,
        args.apply,
        &mut std::io::stdout(),
    ))?
    .map_err(tool_error)
}

/// `topology`.
pub fn topology(args: &TopologyArgs) -> Result<(), AppError> {
    let config_args = ConfigArgs {
        config: Some(args.config.clone()),
        clusters: Vec::new(),
    };
    let (cfg, _) = load(&config_args, &Environment::Process)?;
    block_on(failover::topology(
        &cfg,
        &args.cluster,
        &mut std::io::stdout(),
    ))?
    .map_err(tool_error)
}

/// `plan`: what the flows would do, written nowhere. A cluster that cannot be read is bad input
/// (exit status 2), as a bad configuration is: nothing ran, so nothing failed at run time.
pub fn plan(args: &PlanArgs) -> Result<(), AppError> {
    let (cfg, _) = load(&args.config, &Environment::Process)?;
    block_on(crate::plan::run(&cfg, args.format, &mut std::io::stdout()))?.map_err(|e| match e {
        crate::plan::PlanError::Io(_) => AppError::Runtime(e.to_string()),
        _ => AppError::Usage(e.to_string()),
    })
}
