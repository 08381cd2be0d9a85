//! The HTTP listener (`listeners`): Kafka Connect's REST API on its paths, with its JSON shapes,
//! status codes and `{"error_code","message"}` errors, plus `GET /metrics` in Prometheus format.

pub mod basic_auth;
mod connectors;
pub mod dto;
mod error;
mod jaas;
mod loggers;
mod plugins;
pub mod tls;

use std::sync::{Arc, OnceLock, RwLock};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;

use crate::connect::herder::{Herder, HerderError};
use crate::metrics::Metrics;

pub use error::ApiError;

/// The herders whose connectors the API serves: one, or one per flow of connect-mirror-maker
/// (registered once its group is joined).
#[derive(Clone, Default)]
pub struct Herders(Arc<RwLock<Vec<Herder>>>);

impl Herders {
    pub fn one(herder: Herder) -> Self {
        Herders(Arc::new(RwLock::new(vec![herder])))
    }

    pub fn add(&self, herder: Herder) {
        self.0.write().expect("herders lock").push(herder);
    }

    fn all(&self) -> Vec<Herder> {
        self.0.read().expect("herders lock").clone()
    }

    pub fn first(&self) -> Option<Herder> {
        self.all().into_iter().next()
    }

    /// Every connector name, sorted.
    pub async fn connectors(&self) -> Vec<String> {
        let mut names = Vec::new();
        for h in self.all() {
            names.extend(h.connectors().await);
        }
        names.sort();
        names
    }

    /// The herder that has connector `name`.
    pub async fn of(&self, name: &str) -> Option<Herder> {
        for h in self.all() {
            if h.connectors().await.iter().any(|n| n == name) {
                return Some(h);
            }
        }
        None
    }
}

/// What the handlers serve.
#[derive(Clone)]
pub struct Api {
    pub herders: Herders,
    pub metrics: Metrics,
    /// The id of the Kafka cluster the worker uses, once known.
    pub cluster_id: Arc<OnceLock<String>>,
}

impl Api {
    /// The herder of an existing connector, or Connect's 404.
    pub async fn herder_of(&self, name: &str) -> Result<Herder, ApiError> {
        self.herders
            .of(name)
            .await
            .ok_or_else(|| HerderError::NotFound(name.to_string()).into())
    }

    /// The herder that has, or would get, connector `name`.
    pub async fn herder_for_write(&self, name: &str) -> Result<Herder, ApiError> {
        match self.herders.of(name).await {
            Some(h) => Ok(h),
            None => self.herders.first().ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "the worker has not joined its group yet",
                )
            }),
        }
    }
}

/// The routes, testable without a socket.
pub fn router(api: Api) -> Router {
    use connectors as c;
    Router::new()
        .route("/", get(root))
        .route("/metrics", get(prometheus))
        .route("/connectors", get(c::list).post(c::create))
        .route("/connectors/{name}", get(c::info).delete(c::delete))
        .route(
            "/connectors/{name}/config",
            get(c::config).put(c::put_config).patch(c::patch_config),
        )
        .route("/connectors/{name}/status", get(c::status))
        .route("/connectors/{name}/tasks", get(c::tasks))
        .route("/connectors/{name}/tasks/{id}/status", get(c::task_status))
        .route(
            "/connectors/{name}/tasks/{id}/restart",
            post(c::restart_task),
        )
        .route("/connectors/{name}/restart", post(c::restart))
        .route("/connectors/{name}/pause", put(c::pause))
        .route("/connectors/{name}/resume", put(c::resume))
        .route("/connectors/{name}/stop", put(c::stop))
        .route("/connectors/{name}/topics", get(c::topics))
        .route("/connectors/{name}/topics/reset", put(c::reset_topics))
        .route(
            "/connectors/{name}/offsets",
            get(c::offsets)
                .patch(c::alter_offsets)
                .delete(c::reset_offsets),
        )
        .route("/connector-plugins", get(plugins::list))
        .route("/connector-plugins/{plugin}/config", get(plugins::config))
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .route("/admin/loggers", get(loggers::list))
        .route("/admin/loggers/{name}", get(loggers::get).put(loggers::set))
        .fallback(error::not_found)
        .with_state(api)
}

async fn root(State(api): State<Api>) -> Json<serde_json::Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("MM2_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": api.cluster_id.get(),
    }))
}

async fn prometheus(State(api): State<Api>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        api.metrics.render(),
    )
}

/// Binds `addr` (`host:port`, an empty host meaning every interface).
pub async fn bind(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let addr = match addr.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => addr.to_string(),
    };
    tokio::net::TcpListener::bind(addr).await
}

/// Binds every `listeners` address; the error names the one that cannot be bound.
pub async fn bind_all(addrs: &[String]) -> Result<Vec<tokio::net::TcpListener>, String> {
    let mut out = Vec::new();
    for addr in addrs {
        let l = bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} (listeners): {e}"))?;
        out.push(l);
    }
    Ok(out)
}

/// Serves `api` on every listener until `stop` turns true, one task each.
pub fn serve_all(
    listeners: Vec<tokio::net::TcpListener>,
    api: &Api,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<Result<(), String>>> {
    listeners
        .into_iter()
        .map(|l| {
            let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
            tracing::info!("serving the REST API and metrics on {addr}");
            let (api, stop) = (api.clone(), stop.clone());
            tokio::spawn(async move {
                serve(l, api, stop)
                    .await
                    .map_err(|e| format!("HTTP listener: {e}"))
            })
        })
        .collect()
}

/// A Connect launcher's life: serves `api` until SIGINT or SIGTERM, then tells everything to
/// stop, runs `shutdown` (the herder's, or leaving the group) and waits for the listeners.
pub async fn serve_until_signal(
    listeners: Vec<tokio::net::TcpListener>,
    api: &Api,
    stop: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let served = serve_all(listeners, api, &stop.subscribe());
    crate::shutdown::signal().await;
    let _ = stop.send(true);
    shutdown.await;
    for s in served {
        let _ = s.await;
    }
}

/// Serves until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Api,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router(api))
        .with_graceful_shutdown(async move {
            crate::shutdown::stopped(&mut stop).await;
        })
        .await
}

/// The worker id Connect shows in statuses: the advertised `host:port` of the REST listener.
pub fn worker_id(bound: Option<std::net::SocketAddr>) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    match bound {
        Some(a) if a.ip().is_unspecified() => format!("{host}:{}", a.port()),
        Some(a) => a.to_string(),
        None => host,
    }
}
