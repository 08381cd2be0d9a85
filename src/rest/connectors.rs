//! `/connectors/...`: create, configure, inspect and steer connectors and their tasks.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{Api, ApiError};
use crate::connect::connector::{ConfigMap, OffsetEntry};
use crate::connect::status::TargetState;

type Result<T> = std::result::Result<T, ApiError>;

/// A JSON body; an empty or malformed one is a 400 naming the problem.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request("Request body is missing"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid: {e}")))
}

/// The values of a repeated query parameter (`?expand=status&expand=info`).
fn query_values(query: &Option<String>, key: &str) -> Vec<String> {
    query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
        .collect()
}

fn query_flag(query: &Option<String>, key: &str) -> Result<bool> {
    match query_values(query, key).last().map(String::as_str) {
        None => Ok(false),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "Invalid value for query parameter {key}: {v}"
        ))),
    }
}

pub async fn list(State(api): State<Api>, RawQuery(query): RawQuery) -> Result<Response> {
    let names = api.herders.connectors().await;
    let expand = query_values(&query, "expand");
    if expand.is_empty() {
        return Ok(Json(names).into_response());
    }
    let mut out = Map::new();
    for name in names {
        // A connector deleted meanwhile is left out.
        let Ok(herder) = api.herder_of(&name).await else {
            continue;
        };
        let mut item = Map::new();
        if expand.iter().any(|e| e == "status") {
            if let Ok(s) = herder.status(&name).await {
                item.insert("status".into(), json!(s));
            }
        }
        if expand.iter().any(|e| e == "info") {
            if let Ok(i) = herder.info(&name).await {
                item.insert("info".into(), json!(i));
            }
        }
        out.insert(name, Value::Object(item));
    }
    Ok(Json(Value::Object(out)).into_response())
}

#[derive(Deserialize)]
struct CreateRequest {
    name: Option<String>,
    config: Option<ConfigMap>,
    /// KIP-980: RUNNING (the default), PAUSED or STOPPED.
    initial_state: Option<String>,
}

pub async fn create(State(api): State<Api>, bytes: Bytes) -> Result<Response> {
    let req: CreateRequest = body(&bytes)?;
    let mut config = req.config.unwrap_or_default();
    let name = match (req.name, config.get("name")) {
        (Some(n), Some(c)) if &n != c => {
            return Err(ApiError::bad_request(format!(
                "Connector name configuration ({c}) doesn't match connector name in the URL ({n})"
            )))
        }
        (Some(n), _) => n,
        (None, Some(c)) => c.clone(),
        (None, None) => {
            return Err(ApiError::bad_request(
                "Connector name is required and cannot be empty",
            ))
        }
    };
    config.insert("name".into(), name.clone());
    let initial = match req.initial_state.as_deref() {
        None | Some("RUNNING") => None,
        Some("PAUSED") => Some(TargetState::Paused),
        Some("STOPPED") => Some(TargetState::Stopped),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid initial state {other}: expected one of RUNNING, PAUSED, STOPPED"
            )))
        }
    };
    let info = api
        .herder_for_write(&name)
        .await?
        .create(&name, config, initial)
        .await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

pub async fn info(State(api): State<Api>, Path(name): Path<String>) -> Result<Response> {
    Ok(Json(api.herder_of(&name).await?.info(&name).await?).into_response())
}

pub async fn config(State(api): State<Api>, Path(name): Path<String>) -> Result<Response> {
    Ok(Json(api.herder_of(&name).await?.config(&name).await?).into_response())
}

/// PATCH: the body names the keys to change, `null` for a key to remove (KIP-477).
pub async fn patch_config(
    State(api): State<Api>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let patch: BTreeMap<String, Option<String>> = body(&bytes)?;
    if let Some(Some(c)) = patch.get("name") {
        if *c != name {
            return Err(ApiError::bad_request(format!(
                "Connector name configuration ({c}) doesn't match connector name in the URL ({name})"
            )));
        }
    }
    let info = api
        .herder_of(&name)
        .await?
        .patch_config(&name, patch)
        .await?;
    Ok(Json(info).into_response())
}

pub async fn put_config(
    State(api): State<Api>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let config: ConfigMap = body(&bytes)?;
    if let Some(c) = config.get("name") {
        if *c != name {
            return Err(ApiError::bad_request(format!(
                "Connector name configuration ({c}) doesn't match connector name in the URL ({name})"
            )));
        }
    }
    let (info, created) = api
        .herder_for_write(&name)
        .await?
        .put_config(&name, config)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info)).into_response())
}

pub async fn delete(State(api): State<Api>, Path(name): Path<String>) -> Result<StatusCode> {
    api.herder_of(&name).await?.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn status(State(api): State<Api>, Path(name): Path<String>) -> Result<Response> {
    Ok(Json(api.herder_of(&name).await?.status(&name).await?).into_response())
}

pub async fn tasks(State(api): State<Api>, Path(name): Path<String>) -> Result<Response> {
    Ok(Json(api.herder_of(&name).await?.tasks(&name).await?).into_response())
}

fn task_id(id: &str) -> Result<usize> {
    id.parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("Invalid task id {id}")))
}

pub async fn task_status(
    State(api): State<Api>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response> {
    let id = task_id(&id)?;
    Ok(Json(api.herder_of(&name).await?.task_status(&name, id).await?).into_response())
}

pub async fn restart(
    State(api): State<Api>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let include_tasks = query_flag(&query, "includeTasks")?;
    let only_failed = query_flag(&query, "onlyFailed")?;
    let state = api
        .herder_of(&name)
        .await?
        .restart(&name, include_tasks, only_failed)
        .await?;
    if !include_tasks && !only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok((StatusCode::ACCEPTED, Json(state)).into_response())
}

pub async fn restart_task(
    State(api): State<Api>,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let id = task_id(&id)?;
    api.herder_of(&name).await?.restart_task(&name, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn pause(State(api): State<Api>, Path(name): Path<String>) -> Result<StatusCode> {
    api.herder_of(&name).await?.pause(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn resume(State(api): State<Api>, Path(name): Path<String>) -> Result<StatusCode> {
    api.herder_of(&name).await?.resume(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn stop(State(api): State<Api>, Path(name): Path<String>) -> Result<StatusCode> {
    api.herder_of(&name)
        .await?
        .set_target_stopped(&name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn topics(State(api): State<Api>, Path(name): Path<String>) -> Result<Response> {
    let topics = api.herder_of(&name).await?.topics(&name).await?;
    let mut out = BTreeMap::new();
    out.insert(name, json!({ "topics": topics }));
    Ok(Json(out).into_response())
}

pub async fn reset_topics(State(api): State<Api>, Path(name): Path<String>) -> Result<StatusCode> {
    api.herder_of(&name).await?.reset_topics(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn offsets(State(api): State<Api>, Path(name): Path<String>) -> Result<Response> {
    let offsets = api.herder_of(&name).await?.offsets(&name).await?;
    Ok(Json(json!({ "offsets": offsets })).into_response())
}

#[derive(Deserialize)]
struct OffsetsRequest {
    offsets: Option<Vec<OffsetEntry>>,
}

pub async fn alter_offsets(
    State(api): State<Api>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<Response> {
    let req: OffsetsRequest = body(&bytes)?;
    let offsets = req.offsets.filter(|o| !o.is_empty()).ok_or_else(|| {
        ApiError::bad_request(
            "Partitions / offsets need to be provided for an alter offsets request",
        )
    })?;
    api.herder_of(&name)
        .await?
        .alter_offsets(&name, Some(offsets))
        .await?;
    Ok(
        Json(json!({ "message": "The offsets for this connector have been altered successfully" }))
            .into_response(),
    )
}

pub async fn reset_offsets(State(api): State<Api>, Path(name): Path<String>) -> Result<Response> {
    api.herder_of(&name)
        .await?
        .alter_offsets(&name, None)
        .await?;
    Ok(
        Json(json!({ "message": "The offsets for this connector have been reset successfully" }))
            .into_response(),
    )
}
