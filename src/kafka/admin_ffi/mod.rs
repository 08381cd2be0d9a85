//! Admin API calls that rust-rdkafka's safe `AdminClient` lacks, called through librdkafka's C API
//! (`rdkafka::bindings`): incremental topic-config changes, topic ACLs, and consumer groups and
//! their committed offsets.
//!
//! Every call takes the `AdminClient`'s librdkafka handle, sends the request with its result
//! directed to a queue of our own ([`ResultQueue`]), and awaits the single result event on it.
//! librdkafka wakes the waiting task through a queue callback, so no thread blocks; the request
//! carries `timeout` as its librdkafka request timeout, after which librdkafka itself answers with
//! a timed-out result.
//!
//! Ownership rules, from librdkafka's `rdkafka.h`: the request functions copy their inputs, so the
//! resources, bindings and lists we build are ours to destroy once the request is sent; everything
//! read from a result event lives as long as the event, so it is copied into owned Rust values
//! before the event is destroyed. Every librdkafka object is held by an [`Owned`] guard (or
//! [`ResultQueue`]) that destroys it exactly once, on every path.
//!
//! Dropping a returned future before it completes is safe: the queue is destroyed, and librdkafka
//! discards the result when it arrives.

// These admin calls exist only in librdkafka's C API (rust-rdkafka has no safe wrapper for
// them); every unsafe block and impl says why it is sound.
#![allow(unsafe_code)]

mod acls;
mod configs;
mod groups;

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::ClientContext;
use tokio::sync::Notify;

pub use acls::{
    create_acls, describe_topic_acls, AclBinding, AclOperation, AclPatternType, AclPermission,
    AclResourceType,
};
pub use configs::{incremental_alter_topic_configs, AlterKind, ConfigOp, TopicConfigChanges};
pub use groups::{
    alter_consumer_group_offsets, describe_consumer_groups, list_consumer_group_offsets,
    list_consumer_groups, GroupDescription, GroupListing, GroupOffset, GroupState,
};

/// A failed admin call, or one failed item of a call's per-item results.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// The cluster has no authorizer, so it keeps no ACLs (broker error SECURITY_DISABLED).
    #[error("the cluster has no authorizer configured (SECURITY_DISABLED), so it has no acls")]
    SecurityDisabled,
    #[error("{operation} timed out after {timeout:?}")]
    Timeout {
        operation: String,
        timeout: Duration,
    },
    /// The request as a whole failed: no broker answered, the broker refused it, and so on.
    #[error("{operation} failed: {message}")]
    Request { operation: String, message: String },
    /// The request could not be built from the arguments; nothing was sent.
    #[error("invalid {operation} request: {message}")]
    InvalidRequest { operation: String, message: String },
    #[error("incremental alter configs of topic `{topic}` failed: {message}")]
    AlterTopicConfigs { topic: String, message: String },
    #[error("create acl [{binding}] failed: {message}")]
    CreateAcl { binding: String, message: String },
    #[error("list offsets of consumer group `{group}` failed for `{topic}` partition {partition}: {message}")]
    ListGroupOffset {
        group: String,
        topic: String,
        partition: i32,
        message: String,
    },
    #[error("alter offset of consumer group `{group}` for `{topic}` partition {partition} failed: {message}")]
    AlterGroupOffset {
        group: String,
        topic: String,
        partition: i32,
        message: String,
    },
    /// librdkafka answered with a different kind of event than the request produces.
    #[error("{operation} failed: librdkafka answered with an unexpected `{event}` event")]
    UnexpectedResult { operation: String, event: String },
}

impl AdminError {
    fn invalid(operation: &str, message: impl Into<String>) -> AdminError {
        AdminError::InvalidRequest {
            operation: operation.to_string(),
            message: message.into(),
        }
    }
}

/// librdkafka's upper bound for an admin request timeout (`rd_kafka_AdminOptions_init`).
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// How long after the request timeout we stop waiting for librdkafka's own timed-out answer.
const ANSWER_GRACE: Duration = Duration::from_secs(2);

/// Sends one admin request and waits for its result event.
///
/// `send` receives the client handle, the options (carrying the request timeout) and the result
/// queue, and must call the `rd_kafka_*` request function with them; the pointers are valid only
/// during that call. It builds and frees its own inputs, and returns an error instead of sending
/// when it cannot build them. The returned event has no event-level error.
async fn request<C, F>(
    admin: &AdminClient<C>,
    api: rd::rd_kafka_admin_op_t,
    operation: &str,
    timeout: Duration,
    send: F,
) -> Result<Event, AdminError>
where
    C: ClientContext,
    F: FnOnce(
        *mut rd::rd_kafka_t,
        *const rd::rd_kafka_AdminOptions_t,
        *mut rd::rd_kafka_queue_t,
    ) -> Result<(), AdminError>,
{
    let timeout = timeout.min(MAX_REQUEST_TIMEOUT);
    // The raw pointers stay in this block, so the future holds none across the await.
    let queue = {
        let rk = admin.inner().native_ptr();
        let queue = ResultQueue::new(rk);
        let options = admin_options(rk, api, timeout, operation)?;
        send(rk, options.ptr(), queue.ptr())?;
        queue
    };
    let deadline = tokio::time::Instant::now() + timeout + ANSWER_GRACE;
    let event = queue
        .next(deadline)
        .await
        .ok_or_else(|| AdminError::Timeout {
            operation: operation.to_string(),
            timeout,
        })?;
    event.check(operation, timeout)?;
    Ok(event)
}

/// Admin options for `api` with `timeout` as the request timeout.
fn admin_options(
    rk: *mut rd::rd_kafka_t,
    api: rd::rd_kafka_admin_op_t,
    timeout: Duration,
    operation: &str,
) -> Result<Owned<rd::rd_kafka_AdminOptions_t>, AdminError> {
    // SAFETY: `rk` is a live client handle (borrowed from the AdminClient by our caller); the new
    // options are owned by the guard, which destroys them with their destroy function.
    let options = unsafe {
        Owned::from_ptr(
            rd::rd_kafka_AdminOptions_new(rk, api),
            rd::rd_kafka_AdminOptions_destroy,
        )
    }
    .ok_or_else(|| AdminError::invalid(operation, "librdkafka refused the admin options"))?;
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let mut errstr = [0 as c_char; 256];
    // SAFETY: the options are live, and `errstr` is a writable buffer of the length passed.
    let err = unsafe {
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.ptr(),
            millis,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        // SAFETY: librdkafka NUL-terminates what it writes, and the buffer starts zeroed.
        let message = unsafe { string(errstr.as_ptr()) };
        return Err(AdminError::invalid(operation, message));
    }
    Ok(options)
}

/// An owned librdkafka object, destroyed exactly once with its destroy function when dropped.
struct Owned<T> {
    ptr: NonNull<T>,
    destroy: unsafe extern "C" fn(*mut T),
}

impl<T> Owned<T> {
    /// Takes ownership of `ptr`; `None` if it is null.
    ///
    /// # Safety
    /// A non-null `ptr` must point to a live object that nothing else owns or frees, and
    /// `destroy` must be the function that frees it.
    unsafe fn from_ptr(ptr: *mut T, destroy: unsafe extern "C" fn(*mut T)) -> Option<Owned<T>> {
        NonNull::new(ptr).map(|ptr| Owned { ptr, destroy })
    }

    fn ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: we own the object (`from_ptr`'s contract) and this is the only place freeing it.
        unsafe { (self.destroy)(self.ptr.as_ptr()) }
    }
}

/// An admin result event.
struct Event(Owned<rd::rd_kafka_event_t>);

// SAFETY: a librdkafka event may be read and destroyed from any thread; `Event` owns it
// exclusively and only reads it through `&self`.
unsafe impl Send for Event {}

impl Event {
    fn ptr(&self) -> *mut rd::rd_kafka_event_t {
        self.0.ptr()
    }

    /// The event-level error, as an `AdminError`.
    fn check(&self, operation: &str, timeout: Duration) -> Result<(), AdminError> {
        // SAFETY: the event is live; the error string lives as long as the event and is copied.
        let (code, text) = unsafe {
            (
                rd::rd_kafka_event_error(self.ptr()),
                string(rd::rd_kafka_event_error_string(self.ptr())),
            )
        };
        use rd::rd_kafka_resp_err_t::*;
        match code {
            RD_KAFKA_RESP_ERR_NO_ERROR => Ok(()),
            RD_KAFKA_RESP_ERR_SECURITY_DISABLED => Err(AdminError::SecurityDisabled),
            RD_KAFKA_RESP_ERR__TIMED_OUT => Err(AdminError::Timeout {
                operation: operation.to_string(),
                timeout,
            }),
            _ => Err(AdminError::Request {
                operation: operation.to_string(),
                message: error_message(code, &text),
            }),
        }
    }

    /// The typed result (`rd_kafka_event_*_result`), which lives as long as the event.
    fn result(
        &self,
        operation: &str,
        get: unsafe extern "C" fn(*mut rd::rd_kafka_event_t) -> *const rd::rd_kafka_event_t,
    ) -> Result<*const rd::rd_kafka_event_t, AdminError> {
        // SAFETY: the event is live; the accessor returns null for an event of another type.
        let result = unsafe { get(self.ptr()) };
        if result.is_null() {
            return Err(AdminError::UnexpectedResult {
                operation: operation.to_string(),
                // SAFETY: the event is live; the name is a static string.
                event: unsafe { string(rd::rd_kafka_event_name(self.ptr())) },
            });
        }
        Ok(result)
    }
}

/// A queue of our own that receives one request's result event, with a callback that wakes the
/// awaiting task when librdkafka enqueues to it.
struct ResultQueue {
    queue: NonNull<rd::rd_kafka_queue_t>,
    /// Signalled by `wake`; the callback's opaque pointer points into this allocation, which
    /// lives until the callback is removed in `drop`.
    ready: Arc<Notify>,
}

// SAFETY: librdkafka queues are thread-safe (every operation takes the queue lock), and the
// `Notify` is `Sync`; `ResultQueue` owns the queue and destroys it once.
unsafe impl Send for ResultQueue {}
// SAFETY: shared access only polls the queue, which librdkafka locks; awaiting futures hold
// `&ResultQueue` across `.await`, so spawned tasks need it to be `Sync`.
unsafe impl Sync for ResultQueue {}

impl ResultQueue {
    fn new(rk: *mut rd::rd_kafka_t) -> ResultQueue {
        // SAFETY: `rk` is a live client handle; the queue is owned by the returned value.
        let queue = unsafe { rd::rd_kafka_queue_new(rk) };
        let queue = NonNull::new(queue).expect("rd_kafka_queue_new returned null");
        let ready = Arc::new(Notify::new());
        // SAFETY: the queue is live; the opaque pointer stays valid until `drop` removes the
        // callback (under the queue lock, so no call is in progress afterwards) and then
        // releases `ready`.
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(
                queue.as_ptr(),
                Some(wake),
                Arc::as_ptr(&ready) as *mut c_void,
            );
        }
        ResultQueue { queue, ready }
    }

    fn ptr(&self) -> *mut rd::rd_kafka_queue_t {
        self.queue.as_ptr()
    }

    /// The next event, or `None` once `deadline` passes.
    async fn next(&self, deadline: tokio::time::Instant) -> Option<Event> {
        loop {
            // SAFETY: the queue is live; a returned event is ours to destroy.
            let event = unsafe { rd::rd_kafka_queue_poll(self.ptr(), 0) };
            // SAFETY: a non-null event from `rd_kafka_queue_poll` is owned by the caller.
            if let Some(event) = unsafe { Owned::from_ptr(event, rd::rd_kafka_event_destroy) } {
                return Some(Event(event));
            }
            // A wake-up between the poll and here leaves a permit, so none is lost.
            tokio::time::timeout_at(deadline, self.ready.notified())
                .await
                .ok()?;
        }
    }
}

impl Drop for ResultQueue {
    fn drop(&mut self) {
        // SAFETY: the queue is live and ours. Removing the callback takes the queue lock, which
        // librdkafka also holds while calling it, so `wake` cannot run with `ready` after this;
        // destroying the queue disables it, and librdkafka discards a late result.
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(self.ptr(), None, ptr::null_mut());
            rd::rd_kafka_queue_destroy(self.ptr());
        }
    }
}

/// Called by librdkafka, from one of its threads, when an event lands on an empty result queue.
unsafe extern "C" fn wake(_rk: *mut rd::rd_kafka_t, opaque: *mut c_void) {
    // SAFETY: `opaque` is the `Notify` of a `ResultQueue`, alive while the callback is installed.
    let ready = unsafe { &*(opaque as *const Notify) };
    ready.notify_one();
}

/// A copy of a C string; empty for null.
///
/// # Safety
/// `s` must be null or point to a NUL-terminated string that stays valid during the call.
unsafe fn string(s: *const c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated (the caller's contract).
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

/// The elements of a C array returned by librdkafka; empty for null.
///
/// # Safety
/// A non-null `ptr` must point to `len` initialised elements that outlive `'a`.
unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: non-null, `len` elements, alive for `'a` (the caller's contract).
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// `text` (or librdkafka's description of `code` when empty), followed by the code's name:
/// "Broker: Unknown member (UNKNOWN_MEMBER_ID)".
fn error_message(code: rd::rd_kafka_resp_err_t, text: &str) -> String {
    // SAFETY: both return static strings for any code.
    let (description, name) = unsafe {
        (
            string(rd::rd_kafka_err2str(code)),
            string(rd::rd_kafka_err2name(code)),
        )
    };
    let text = if text.is_empty() { &description } else { text };
    format!("{text} ({name})")
}

/// The code and message of a librdkafka error object, `None` for null or no error.
///
/// # Safety
/// `err` must be null or a live `rd_kafka_error_t`.
unsafe fn error_object(
    err: *const rd::rd_kafka_error_t,
) -> Option<(rd::rd_kafka_resp_err_t, String)> {
    if err.is_null() {
        return None;
    }
    // SAFETY: a live error object (the caller's contract); its string is copied.
    let (code, text) = unsafe {
        (
            rd::rd_kafka_error_code(err),
            string(rd::rd_kafka_error_string(err)),
        )
    };
    (code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
        .then(|| (code, error_message(code, &text)))
}

/// `s` as a C string, or an invalid-request error naming `what` if it contains a NUL byte.
fn c_string(s: &str, what: &str, operation: &str) -> Result<CString, AdminError> {
    CString::new(s)
        .map_err(|_| AdminError::invalid(operation, format!("{what} {s:?} contains a NUL byte")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::client::DefaultClientContext;
    use rdkafka::ClientConfig;

    fn offline_admin() -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .create()
            .expect("admin client")
    }

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn futures_are_send() {
        let admin = offline_admin();
        let t = Duration::from_secs(1);
        assert_send(&incremental_alter_topic_configs(&admin, &[], t));
        assert_send(&describe_topic_acls(&admin, t));
        assert_send(&create_acls(&admin, &[], t));
        assert_send(&list_consumer_groups(&admin, t));
        assert_send(&describe_consumer_groups(&admin, &[], t));
        assert_send(&list_consumer_group_offsets(&admin, "g", t));
        assert_send(&alter_consumer_group_offsets(
            &admin,
            "g",
            &Default::default(),
            t,
        ));
    }

    #[test]
    fn error_messages_name_the_code() {
        use rd::rd_kafka_resp_err_t::*;
        assert_eq!(
            error_message(RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, ""),
            "Broker: Unknown member (UNKNOWN_MEMBER_ID)"
        );
        assert_eq!(
            error_message(RD_KAFKA_RESP_ERR_INVALID_CONFIG, "bad value"),
            "bad value (INVALID_CONFIG)"
        );
    }

    /// No broker listens, so librdkafka answers with its own timeout at the request timeout.
    #[tokio::test]
    async fn unreachable_cluster_times_out() {
        let admin = offline_admin();
        let started = std::time::Instant::now();
        let err = list_consumer_group_offsets(&admin, "g", Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_millis(300) + ANSWER_GRACE);
    }

    /// Dropping the future mid-request destroys the queue; the late answer is discarded.
    #[tokio::test]
    async fn cancelled_request_is_clean() {
        let admin = offline_admin();
        let call = list_consumer_groups(&admin, Duration::from_millis(200));
        assert!(tokio::time::timeout(Duration::from_millis(20), call)
            .await
            .is_err());
        tokio::time::sleep(Duration::from_millis(400)).await;
        drop(admin);
    }
}
