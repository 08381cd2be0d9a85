//! `/admin/loggers`: read and change log levels while running.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{Api, ApiError};
use crate::telemetry;

pub async fn list() -> Json<Value> {
    let mut out = Map::new();
    for (name, level) in telemetry::levels() {
        out.insert(name, json!({ "level": level }));
    }
    Json(Value::Object(out))
}

pub async fn get(Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    telemetry::levels()
        .remove(&name)
        .map(|level| Json(json!({ "level": level })))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("Logger {name} not found.")))
}

#[derive(Deserialize)]
struct LevelRequest {
    level: Option<String>,
}

/// `PUT /admin/loggers/{name}`: this worker's level, or with `scope=cluster` (KIP-976) every
/// worker's, through the group's config topic (204). Another scope means this worker, as in
/// Connect.
pub async fn set(
    State(api): State<Api>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let req: LevelRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid: {e}")))?;
    let level = req
        .level
        .ok_or_else(|| ApiError::bad_request("The request body must specify a 'level' field"))?;
    let cluster = query.as_deref().unwrap_or_default().split('&').any(|kv| {
        kv.split_once('=')
            .is_some_and(|(k, v)| k == "scope" && v.eq_ignore_ascii_case("cluster"))
    });
    if cluster {
        let herder = api.herders.first().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the worker has not joined its group yet",
            )
        })?;
        herder.set_cluster_log_level(&name, &level).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    telemetry::set_level(&name, &level)
        .map(|affected| Json(affected).into_response())
        .map_err(ApiError::bad_request)
}
