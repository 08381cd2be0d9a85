//! Connect's error body, `{"error_code": <HTTP status>, "message": ...}`, for every failure,
//! including bodies that are not JSON and paths that do not exist.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::connect::herder::HerderError;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error_code": self.status.as_u16(), "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

impl From<HerderError> for ApiError {
    fn from(e: HerderError) -> Self {
        let status = match &e {
            HerderError::NotFound(_) | HerderError::TaskNotFound(..) => StatusCode::NOT_FOUND,
            HerderError::AlreadyExists(_) => StatusCode::CONFLICT,
            HerderError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HerderError::Connect(c) if c.is_bad_request() => StatusCode::BAD_REQUEST,
            HerderError::Internal(_) | HerderError::Connect(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        let status = match e {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(
            status,
            format!("Request body is not valid: {}", e.body_text()),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request(e.body_text())
    }
}

/// For unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::error::Error;
    use crate::kafka::KafkaError;

    fn status(e: impl Into<HerderError>) -> StatusCode {
        ApiError::from(e.into()).status
    }

    /// A connector's failure is the request's fault only when the connector refused what was
    /// asked; a failure of Kafka or of a file is the worker's.
    #[test]
    fn connector_failures_map_by_kind() {
        assert_eq!(
            status(Error::InvalidOffsets("bad".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(Error::NotSupported("support resetting offsets")),
            StatusCode::BAD_REQUEST
        );
        let kafka = Error::kafka("cannot write offsets to o", KafkaError::Canceled);
        assert_eq!(status(kafka), StatusCode::INTERNAL_SERVER_ERROR);
        let io = std::io::Error::other("disk full");
        assert_eq!(
            status(Error::io("cannot write f", io)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let stopped = ApiError::from(HerderError::from(Error::Stopped("the herder")));
        assert_eq!(stopped.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(stopped.message, "the herder has stopped");
    }
}
