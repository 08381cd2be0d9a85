//! The timing pieces the connectors share (MirrorMaker 2's `Scheduler`): periodic jobs that are
//! off when their interval is, retries with backoff that give way to shutdown, and wall-clock
//! milliseconds for record timestamps.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};
use tracing::warn;

use crate::shutdown::stopped;

/// Milliseconds since the epoch, as Kafka timestamps count.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A periodic job first due after `first`; `None` (never due) when `period` is.
pub fn every(period: Option<Duration>, first: Duration) -> Option<Interval> {
    period.map(|p| {
        let mut i = interval_at(Instant::now() + first, p);
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        i
    })
}

/// Waits for the job's next run; forever for a disabled job.
pub async fn tick(job: &mut Option<Interval>) {
    match job {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Runs `attempt` until it succeeds, logging each failure and backing off from 1 s to 60 s.
/// Returns `None` if `stop` turns true first.
pub async fn retry<T, E, F, Fut>(
    flow: &str,
    what: &str,
    stop: &mut watch::Receiver<bool>,
    mut attempt: F,
) -> Option<T>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Duration::from_secs(1);
    loop {
        tokio::select! {
            r = attempt() => match r {
                Ok(v) => return Some(v),
                Err(e) => warn!(flow, "{what}: {e}; retrying in {backoff:?}"),
            },
            _ = stopped(stop) => return None,
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped(stop) => return None,
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}
