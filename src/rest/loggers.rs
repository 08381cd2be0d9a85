//! `/admin/loggers`: read and change log levels while running.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::ApiError;
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

pub async fn set(Path(name): Path<String>, bytes: Bytes) -> Result<Json<Vec<String>>, ApiError> {
    let req: LevelRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid: {e}")))?;
    let level = req
        .level
        .ok_or_else(|| ApiError::bad_request("The request body must specify a 'level' field"))?;
    telemetry::set_level(&name, &level)
        .map(Json)
        .map_err(ApiError::bad_request)
}
