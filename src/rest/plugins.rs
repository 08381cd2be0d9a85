//! `/connector-plugins`: the connector classes this worker offers, and config validation.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use super::{Api, ApiError};
use crate::connect::connector::ConfigMap;
use crate::connect::plugin_info::{names_class, PluginInfo};

pub async fn list(State(api): State<Api>) -> Json<Vec<PluginInfo>> {
    let mut plugins = api
        .herders
        .first()
        .map(|h| h.factory().plugins())
        .unwrap_or_default();
    plugins.sort_by(|a, b| a.class.cmp(&b.class));
    Json(plugins)
}

pub async fn validate(
    State(api): State<Api>,
    Path(plugin): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let config: ConfigMap = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Request body is not valid: {e}")))?;
    if let Some(class) = config.get("connector.class") {
        let known = api
            .herders
            .first()
            .map(|h| h.factory().plugins())
            .unwrap_or_default();
        let same = known
            .iter()
            .any(|p| names_class(&plugin, &p.class) && names_class(class, &p.class));
        if !same {
            return Err(ApiError::bad_request(format!(
                "Included connector type {class} does not match request type {plugin}"
            )));
        }
    }
    let validation = api
        .herders
        .first()
        .and_then(|h| h.factory().validate(&plugin, &config))
        .ok_or_else(|| no_plugin(&plugin))?;
    Ok(Json(validation.to_json(&config)))
}

/// `GET /connector-plugins/{plugin}/config` (KIP-769): the plugin's config keys.
pub async fn config(
    State(api): State<Api>,
    Path(plugin): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    api.herders
        .first()
        .and_then(|h| h.factory().validate(&plugin, &ConfigMap::new()))
        .map(|v| Json(v.definitions()))
        .ok_or_else(|| no_plugin(&plugin))
}

/// Connect's 404 for a plugin name that names no connector class.
fn no_plugin(plugin: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "Failed to find any class that implements Connector and which name matches {plugin}"
        ),
    )
}
