//! Composition root: loads the configuration and runs or describes the flows. The only module
//! that knows every other.

use std::io::Write;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::warn;

use crate::cli::{
    ConfigArgs, Format, PlanArgs, SwitchArgs, TopologyArgs, TranslateArgs, VerifyArgs,
};
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
    /// `verify` found differences (already reported on stdout): exit status 1.
    #[error("verify found {0} differences")]
    Differences(usize),
}

impl From<rest::ServerError> for AppError {
    fn from(e: rest::ServerError) -> Self {
        if e.is_config() {
            AppError::Usage(e.to_string())
        } else {
            AppError::Runtime(e.to_string())
        }
    }
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
        let mut stopping = running.stopping.clone();
        tokio::select! {
            () = crate::shutdown::signal() => {}
            // A flow that cannot start stops the process (see `start`).
            () = crate::shutdown::stopped(&mut stopping) => {}
        }
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
    /// Turns true once everything is to stop: on `stop`, or when a flow failed.
    pub stopping: watch::Receiver<bool>,
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
///
/// A flow that fails (it cannot start, as when an internal topic has the wrong shape) stops
/// everything else too, so that the process exits with its error: Java's MirrorMaker exits
/// the JVM when one flow's herder fails to start.
pub async fn start(cfg: Mm2Config, stop: watch::Receiver<bool>) -> Result<Running, AppError> {
    let (halt, halted) = watch::channel(false);
    let halt = Arc::new(halt);
    let stop = either(stop, halted);
    let metrics = Metrics::with_names(cfg.driver.metric_names);
    let mut tasks = JoinSet::new();
    if cfg.driver.internal_rest {
        tracing::info!(
            "dedicated.mode.enable.internal.rest = true: nothing to serve, as workers coordinate \
             through Kafka; the REST API and metrics are served only on `listeners`"
        );
    }
    let server = if cfg.driver.listeners_set {
        rest::Server::open(&cfg.driver.rest).await?
    } else {
        rest::Server::none()
    };
    let http = server.addrs();
    let flows: Vec<Arc<Flow>> = cfg.flows.into_iter().map(Arc::new).collect();
    let herders = rest::Herders::default();
    let health = rest::Health::ungated();
    let starting = Starting::new(&flows, health.clone());
    let worker_id = rest::worker_id(server.advertised_addr());
    for flow in &flows {
        let (f, m, w, h, s) = (
            flow.clone(),
            metrics.clone(),
            worker_id.clone(),
            herders.clone(),
            stop.clone(),
        );
        let (starting, name, halt) = (starting.clone(), flow.name(), halt.clone());
        // The process reports a flow's failure as its exit message.
        tasks.spawn(async move {
            let register = move |herder| {
                h.add(herder);
                starting.joined(&name);
            };
            let run = flow_worker::run(f, m, w, register, s);
            run.await.map_err(|e| {
                halt.send_replace(true);
                e.to_string()
            })
        });
    }
    let api = rest::Api {
        herders,
        metrics: metrics.clone(),
        cluster_id: Default::default(),
        health,
    };
    if let Some(flow) = flows.first() {
        tasks.spawn(find_cluster_id(flow.clone(), api.cluster_id.clone()));
    }
    for served in server.serve(&api, &stop) {
        tasks.spawn(async move { served.await.unwrap_or_else(|e| Err(e.to_string())) });
    }
    Ok(Running {
        tasks,
        metrics,
        http,
        stopping: stop,
    })
}

/// A stop signal that turns true when `stop` does (or its sender is gone) or `halt` turns true
/// (its sender going is no reason to stop: the flows hold it, and there may be none).
fn either(
    mut stop: watch::Receiver<bool>,
    mut halt: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(*stop.borrow() || *halt.borrow());
    tokio::spawn(async move {
        let halted = async {
            if halt.wait_for(|h| *h).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = crate::shutdown::stopped(&mut stop) => {}
            () = halted => {}
            // Nobody listens any more.
            () = tx.closed() => return,
        }
        tx.send_replace(true);
    });
    rx
}

/// The flows that have not joined their worker groups yet: the worker is healthy once none
/// is left, and until then its health names them.
#[derive(Clone)]
struct Starting {
    pending: Arc<std::sync::Mutex<Vec<String>>>,
    health: rest::Health,
}

impl Starting {
    fn new(flows: &[Arc<Flow>], health: rest::Health) -> Self {
        let s = Starting {
            pending: Arc::new(std::sync::Mutex::new(
                flows.iter().map(|f| f.name()).collect(),
            )),
            health,
        };
        s.report(&s.pending.lock().expect("pending lock"));
        s
    }

    fn joined(&self, flow: &str) {
        let mut pending = self.pending.lock().expect("pending lock");
        pending.retain(|f| f != flow);
        self.report(&pending);
    }

    fn report(&self, pending: &[String]) {
        match pending {
            [] => self.health.ready(),
            [one] => self
                .health
                .stage(format!("joining the worker group of flow {one}")),
            many => self.health.stage(format!(
                "joining the worker groups of flows {}",
                many.join(", ")
            )),
        }
    }
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
        // An address or its settings are wrong: bad input, as for a malformed file.
        e @ ToolError::Unreachable { .. } => AppError::Usage(e.to_string()),
        ToolError::Kafka(m) | ToolError::NotReady(m) => AppError::Runtime(m),
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

/// Which way `switch` moves the groups.
#[derive(Debug, Clone, Copy)]
pub enum Switch {
    Failover,
    Failback,
}

/// `failover` and `failback`.
pub fn switch(args: &SwitchArgs, way: Switch) -> Result<(), AppError> {
    let config_args = ConfigArgs {
        config: Some(args.config.clone()),
        clusters: Vec::new(),
    };
    let (cfg, _) = load(&config_args, &Environment::Process)?;
    let opts = failover::SwitchOptions {
        source: args.source.clone(),
        target: args.target.clone(),
        groups: args.groups.clone(),
        max_lag: args.max_lag,
        force: args.force,
        apply: args.apply,
    };
    let mut out = std::io::stdout();
    block_on(async {
        match way {
            Switch::Failover => failover::failover(&cfg, &opts, &mut out).await,
            Switch::Failback => failover::failback(&cfg, &opts, &mut out).await,
        }
    })?
    .map_err(tool_error)
}

/// `verify`: prints the report; differences make the outcome [`AppError::Differences`].
pub fn verify(args: &VerifyArgs) -> Result<(), AppError> {
    use crate::verify::{self, Options, VerifyError};
    let config_args = ConfigArgs {
        config: Some(args.config.clone()),
        clusters: Vec::new(),
    };
    let (cfg, _) = load(&config_args, &Environment::Process)?;
    let opts = Options {
        source: args.source.clone(),
        target: args.target.clone(),
        topics: args.topics.clone(),
        groups: args.groups.clone(),
        sample: args.sample,
        window: args.window,
        include_tail: args.include_tail,
    };
    let report = block_on(verify::verify(&cfg, &opts))?.map_err(|e| match e {
        VerifyError::Usage(_) | VerifyError::Unreachable { .. } => AppError::Usage(e.to_string()),
        VerifyError::Kafka(m) => AppError::Runtime(m),
    })?;
    let out = &mut std::io::stdout();
    match args.format {
        Format::Table => report.write_table(out),
        Format::Json => report.write_json(out),
    }
    .map_err(|e| AppError::Runtime(format!("cannot write: {e}")))?;
    match report.differences.len() {
        0 => Ok(()),
        n => Err(AppError::Differences(n)),
    }
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
