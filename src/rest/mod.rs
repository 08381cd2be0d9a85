//! The HTTP listeners (`listeners`, http and https): Kafka Connect's REST API on its paths, with
//! its JSON shapes, status codes and `{"error_code","message"}` errors, `GET /health`
//! (KIP-1017), and `GET /metrics` in Prometheus format; optionally behind Connect's basic
//! authentication.

pub mod basic_auth;
mod connectors;
pub mod dto;
mod error;
pub mod health;
mod jaas;
mod loggers;
mod plugins;
pub mod server;
pub mod tls;
mod tls_listener;

use std::sync::{Arc, OnceLock, RwLock};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post, put, MethodRouter};
use axum::{middleware, Json, Router};
use serde_json::json;

use crate::connect::herder::{Herder, HerderError};
use crate::metrics::Metrics;

pub use error::ApiError;
pub use health::Health;
pub use server::{Server, ServerError};

/// The herders whose connectors the API serves: one, or one per flow of connect-mirror-maker
/// (registered once its group is joined).
#[derive(Clone, Default)]
pub struct Herders(Arc<RwLock<Vec<Herder>>>);

impl Herders {
    pub fn one(herder: Herder) -> Self {
        Herders(Arc::new(RwLock::new(vec![herder])))
    }

    /// Adds a herder; how many there are now.
    pub fn add(&self, herder: Herder) -> usize {
        let mut all = self.0.write().expect("herders lock");
        all.push(herder);
        all.len()
    }

    fn all(&self) -> Vec<Herder> {
        self.0.read().expect("herders lock").clone()
    }

    pub fn first(&self) -> Option<Herder> {
        self.all().into_iter().next()
    }

    /// Answers once every herder has answered a ping (see [`Herder::ping`]).
    pub async fn ping_all(&self) -> Result<(), HerderError> {
        for h in self.all() {
            h.ping().await?;
        }
        Ok(())
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

    /// What each herder runs, for the worker metrics.
    pub fn worker_snapshots(&self) -> Vec<crate::metrics::WorkerSnapshot> {
        self.all().iter().map(Herder::worker_snapshot).collect()
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
    /// Startup progress, for `GET /health`.
    pub health: Health,
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

/// The routes; with `auth`, every one of them requires basic authentication.
pub fn router(api: Api, auth: Option<Arc<basic_auth::BasicAuth>>) -> Router {
    use connectors as c;
    // Per method router: a method a path does not serve answers 405 unauthenticated, as in
    // Connect, whose authentication filter runs only on a matched resource method.
    let open = |m: MethodRouter<Api>| match &auth {
        Some(a) => m.route_layer(middleware::from_fn_with_state(
            a.clone(),
            basic_auth::require,
        )),
        None => m,
    };
    // Requests that need the herder wait while a Connect worker starts, as those on connectors
    // queue on Connect's herder.
    let gate = middleware::from_fn_with_state(api.clone(), health::await_startup);
    let queued = |m: MethodRouter<Api>| open(m.route_layer(gate.clone()));
    Router::new()
        .route("/", open(get(root)))
        .route("/health", open(get(health::health)))
        .route("/metrics", open(get(prometheus)))
        .route("/connectors", queued(get(c::list).post(c::create)))
        .route("/connectors/{name}", queued(get(c::info).delete(c::delete)))
        .route(
            "/connectors/{name}/config",
            queued(get(c::config).put(c::put_config).patch(c::patch_config)),
        )
        .route("/connectors/{name}/status", queued(get(c::status)))
        .route("/connectors/{name}/tasks", queued(get(c::tasks)))
        .route(
            "/connectors/{name}/tasks/{id}/status",
            queued(get(c::task_status)),
        )
        .route(
            "/connectors/{name}/tasks/{id}/restart",
            queued(post(c::restart_task)),
        )
        .route("/connectors/{name}/restart", queued(post(c::restart)))
        .route("/connectors/{name}/pause", queued(put(c::pause)))
        .route("/connectors/{name}/resume", queued(put(c::resume)))
        .route("/connectors/{name}/stop", queued(put(c::stop)))
        .route("/connectors/{name}/topics", queued(get(c::topics)))
        .route(
            "/connectors/{name}/topics/reset",
            queued(put(c::reset_topics)),
        )
        .route(
            "/connectors/{name}/offsets",
            queued(
                get(c::offsets)
                    .patch(c::alter_offsets)
                    .delete(c::reset_offsets),
            ),
        )
        // The plugins are the herder's, and so is a cluster-wide log level's config topic.
        .route("/connector-plugins", queued(get(plugins::list)))
        .route(
            "/connector-plugins/{plugin}/config",
            queued(get(plugins::config)),
        )
        .route(
            "/connector-plugins/{plugin}/config/validate",
            queued(put(plugins::validate)),
        )
        .route("/admin/loggers", open(get(loggers::list)))
        .route(
            "/admin/loggers/{name}",
            open(get(loggers::get).merge(put(loggers::set).route_layer(gate.clone()))),
        )
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
        api.metrics.render_workers(&api.herders.worker_snapshots()),
    )
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
