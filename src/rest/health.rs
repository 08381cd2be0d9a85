//! `GET /health` (KIP-1017): whether the worker has completed startup, and whether its
//! herders still answer. Connect's shapes and codes: 200 `healthy`, 503 `starting`, 500
//! `unhealthy`, each as `{"status":..,"message":..}`.
//!
//! Two differences from Connect, both in the answer's timing only: while the worker starts, the
//! 503 comes at once instead of after Connect's 10 s deadline (which a starting herder always
//! misses), and in connect-mirror-maker "started" means every flow has joined its worker group.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::sync::watch;

use super::{Api, ApiError};

/// How long the herders have to answer a health check (Connect's
/// `RestServer.DEFAULT_HEALTH_CHECK_TIMEOUT_MS`).
pub const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request on `/connectors` waits for startup to complete (Connect's
/// `RestServer.DEFAULT_REST_REQUEST_TIMEOUT_MS`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

const HEALTHY: &str = "Worker has completed startup and is ready to handle requests.";
const STARTING: &str = "Worker is still starting up.";
const UNHEALTHY: &str =
    "Worker was unable to handle this request and may be unable to handle other requests.";

/// What the worker is doing while it starts, as Connect reports a herder's stage.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stage {
    description: String,
    began: SystemTime,
}

impl Stage {
    /// Connect's `Stage.summarize` of a stage still under way.
    fn summarize(&self) -> String {
        format!(
            "The worker is currently {}, which began at {}.",
            self.description,
            java_instant(self.began)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Starting(Option<Stage>),
    Ready,
}

/// The worker's startup progress, shared by the launcher (which reports it) and the REST API.
#[derive(Clone)]
pub struct Health {
    phase: Arc<watch::Sender<Phase>>,
    /// Whether requests on `/connectors` wait for startup, as Connect's queue on its herder
    /// makes them; connect-mirror-maker serves each flow as soon as it has joined instead.
    gated: bool,
}

impl Health {
    /// A Connect worker (connect-standalone, connect-distributed): one herder, started once.
    pub fn gated() -> Self {
        Health::new(true)
    }

    /// connect-mirror-maker: the flows' herders come up one by one and are served as they do.
    pub fn ungated() -> Self {
        Health::new(false)
    }

    fn new(gated: bool) -> Self {
        Health {
            phase: Arc::new(watch::Sender::new(Phase::Starting(None))),
            gated,
        }
    }

    /// Records what the starting worker is doing now.
    pub fn stage(&self, description: impl Into<String>) {
        let stage = Stage {
            description: description.into(),
            began: SystemTime::now(),
        };
        self.phase.send_if_modified(|p| match p {
            Phase::Starting(s) => {
                *s = Some(stage);
                true
            }
            Phase::Ready => false,
        });
    }

    /// Startup is complete.
    pub fn ready(&self) {
        self.phase.send_replace(Phase::Ready);
    }

    pub fn is_ready(&self) -> bool {
        *self.phase.borrow() == Phase::Ready
    }

    /// Waits until startup is complete, `timeout` at most; the stage if it is not.
    async fn wait_ready(&self, timeout: Duration) -> Result<(), Option<Stage>> {
        let mut rx = self.phase.subscribe();
        // The guard `wait_for` returns is dropped at once: the phase is read again below.
        let _ = tokio::time::timeout(timeout, async {
            let _ = rx.wait_for(|p| *p == Phase::Ready).await;
        })
        .await;
        let phase = rx.borrow().clone();
        match phase {
            Phase::Starting(stage) => Err(stage),
            Phase::Ready => Ok(()),
        }
    }
}

/// The body of every `/health` answer: Connect's `WorkerStatus`, its fields in Connect's order.
#[derive(Debug, serde::Serialize)]
struct WorkerStatus {
    status: &'static str,
    message: String,
}

fn worker_status(status: &'static str, message: &str, stage: Option<&Stage>) -> Json<WorkerStatus> {
    let message = match stage {
        Some(s) => format!("{message} {}", s.summarize()),
        None => message.to_string(),
    };
    Json(WorkerStatus { status, message })
}

/// `GET /health`.
pub async fn health(State(api): State<Api>) -> Response {
    let starting = match &*api.health.phase.borrow() {
        Phase::Starting(stage) => Some(stage.clone()),
        Phase::Ready => None,
    };
    if let Some(stage) = starting {
        let body = worker_status("starting", STARTING, stage.as_ref());
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    verdict(api.herders.ping_all(), HEALTH_CHECK_TIMEOUT).await
}

/// A started worker's answer: healthy if `probe` (every herder answering) completes within
/// `deadline`. A herder that has stopped is Connect's error body, as its callback's exception
/// would be.
async fn verdict(
    probe: impl std::future::Future<Output = Result<(), crate::connect::herder::HerderError>>,
    deadline: Duration,
) -> Response {
    match tokio::time::timeout(deadline, probe).await {
        Ok(Ok(())) => (StatusCode::OK, worker_status("healthy", HEALTHY, None)).into_response(),
        Ok(Err(e)) => ApiError::from(e).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            worker_status("unhealthy", UNHEALTHY, None),
        )
            .into_response(),
    }
}

/// Middleware of the `/connectors` routes: while a Connect worker starts, a request waits for
/// it, and times out with Connect's 500 after [`REQUEST_TIMEOUT`].
pub async fn await_startup(State(api): State<Api>, request: Request, next: Next) -> Response {
    if api.health.gated {
        if let Err(stage) = api.health.wait_ready(REQUEST_TIMEOUT).await {
            let message = match stage {
                Some(s) => format!("Request timed out. {}", s.summarize()),
                None => "Request timed out".to_string(),
            };
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
        }
    }
    next.run(request).await
}

/// `time` as Java's `Instant.toString` writes a millisecond instant:
/// `2024-10-25T03:33:01.123Z`, the fraction left out when it is zero.
fn java_instant(time: SystemTime) -> String {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    let (h, min, s, frac) = (secs / 3600, secs / 60 % 60, secs % 60, ms_of_day % 1000);
    let fraction = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:03}")
    };
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}{fraction}Z")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::herder::HerderError;
    use serde_json::json;

    async fn body(r: Response) -> (StatusCode, serde_json::Value) {
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn instants_are_written_as_java_writes_them() {
        let at = |ms| UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(java_instant(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            java_instant(at(1_729_827_181_123)),
            "2024-10-25T03:33:01.123Z"
        );
        assert_eq!(
            java_instant(at(951_782_400_050)),
            "2000-02-29T00:00:00.050Z"
        );
    }

    #[tokio::test]
    async fn a_starting_worker_names_its_stage() {
        let h = Health::gated();
        assert!(!h.is_ready());
        assert_eq!(h.wait_ready(Duration::ZERO).await, Err(None));
        h.stage("ensuring membership in the cluster");
        let Err(Some(stage)) = h.wait_ready(Duration::ZERO).await else {
            panic!("not starting")
        };
        let message = worker_status("starting", STARTING, Some(&stage)).0.message;
        assert!(
            message.starts_with(
                "Worker is still starting up. The worker is currently ensuring membership in \
                 the cluster, which began at "
            ) && message.ends_with("Z."),
            "{message}"
        );
        h.ready();
        h.stage("too late");
        assert!(h.is_ready());
        assert_eq!(h.wait_ready(Duration::ZERO).await, Ok(()));
    }

    #[tokio::test]
    async fn a_herder_that_does_not_answer_in_time_is_unhealthy() {
        let stuck = std::future::pending::<Result<(), HerderError>>();
        let (status, json) = body(verdict(stuck, Duration::from_millis(10)).await).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json["status"], "unhealthy");
        assert_eq!(json["message"], UNHEALTHY);
        let (status, json) = body(verdict(async { Ok(()) }, HEALTH_CHECK_TIMEOUT).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json, json!({"status": "healthy", "message": HEALTHY}));
        let stopped = async { Err(HerderError::Internal("The herder is shutting down".into())) };
        let (status, json) = body(verdict(stopped, HEALTH_CHECK_TIMEOUT).await).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json["error_code"], 500);
    }
}
