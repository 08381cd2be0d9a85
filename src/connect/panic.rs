//! Catching a panic in plugin code (a connector's job, a task body, a herder command), so that
//! it is reported like an error instead of silently ending a thread or a tokio task.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Poll;

/// The text of a panic: `panic!` with a literal gives a `&str`, with format arguments a `String`.
pub fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// Runs `f`, turning a panic into its message.
///
/// Unwind safety is asserted: every caller drops whatever `f` touched after a panic (a task
/// attempt starts again from stored offsets; a connector is reported FAILED and restarted only
/// on request), so no half-updated state is observed afterwards.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| message(&*payload).to_string())
}

/// Awaits `future`, turning a panic in any of its polls into its message (as `catch`, for
/// async code; the same unwind-safety reasoning applies).
pub async fn catch_async<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = Box::pin(future);
    std::future::poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(message(&*payload).to_string())),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_both_payload_kinds_are_kept() {
        assert_eq!(catch(|| panic!("plain")), Err::<(), _>("plain".into()));
        assert_eq!(catch(|| panic!("n={}", 1)), Err::<(), _>("n=1".into()));
        let other = catch(|| std::panic::panic_any(5u8));
        assert_eq!(other, Err::<(), _>("a panic without a message".into()));
        assert_eq!(catch(|| 7), Ok(7));
    }

    #[tokio::test]
    async fn a_panic_in_a_later_poll_is_caught() {
        let caught = catch_async(async {
            tokio::task::yield_now().await;
            panic!("after a yield");
        })
        .await;
        assert_eq!(caught, Err::<(), _>("after a yield".into()));
        assert_eq!(catch_async(async { 3 }).await, Ok(3));
    }
}
