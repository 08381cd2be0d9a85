//! The HTTP listener (`listeners`): `GET /metrics` in Prometheus text format and `GET /` with the
//! version, on Kafka Connect's paths.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;

use crate::metrics::Metrics;

/// The routes, testable without a socket.
pub fn router(metrics: Metrics) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/metrics", get(prometheus))
        .with_state(metrics)
}

async fn root() -> Json<serde_json::Value> {
    Json(
        json!({ "version": env!("CARGO_PKG_VERSION"), "commit": option_env!("MM2_GIT_COMMIT").unwrap_or("unknown") }),
    )
}

async fn prometheus(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
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

/// Serves until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let _: Option<SocketAddr> = listener.local_addr().ok();
    axum::serve(listener, router(metrics))
        .with_graceful_shutdown(async move {
            let _ = crate::shutdown::stopped(&mut stop).await;
        })
        .await
}
