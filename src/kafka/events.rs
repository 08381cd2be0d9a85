//! Serves the main event queue of clients nobody polls. rust-rdkafka routes a client's logs and
//! errors to its main queue; its `AdminClient` polls only its own result queue, so without this
//! an admin client's "connection refused" never reaches the log and its events pile up.

// The pump reads the client's main queue through librdkafka's C API, which rust-rdkafka does not
// expose safely; every unsafe block and impl says why it is sound.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::client::{client_error, log};

/// A thread that drains one client's main queue until dropped.
pub struct EventPump {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A raw client handle that may cross to the pump thread.
struct Handle(*mut rd::rd_kafka_t);
// SAFETY: librdkafka handles are thread-safe; the pump is joined before the client is dropped
// (see `EventPump::start`).
unsafe impl Send for Handle {}

impl EventPump {
    /// Starts draining `client`'s main queue. `keep_alive` must own the client, so that the
    /// client outlives the thread; it is dropped when the pump stops.
    pub fn start<C, K>(client: &Client<C>, keep_alive: K, name: String) -> EventPump
    where
        C: rdkafka::ClientContext,
        K: Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = Handle(client.native_ptr());
        let thread = std::thread::Builder::new()
            .name("mm2-events".into())
            .spawn(move || {
                let handle = handle;
                // SAFETY: the handle is live (kept alive by `keep_alive`); the queue reference is
                // destroyed below.
                let queue = unsafe { rd::rd_kafka_queue_get_main(handle.0) };
                while !flag.load(Ordering::Relaxed) {
                    // SAFETY: `queue` is a live queue reference; a returned event is ours.
                    let event = unsafe { rd::rd_kafka_queue_poll(queue, 100) };
                    if !event.is_null() {
                        // SAFETY: a non-null event from the queue; destroyed right after use.
                        unsafe {
                            handle_event(event, &name);
                            rd::rd_kafka_event_destroy(event);
                        }
                    }
                }
                // SAFETY: releases the reference taken above, once.
                unsafe { rd::rd_kafka_queue_destroy(queue) };
                drop(keep_alive);
            })
            .expect("spawn event thread");
        EventPump {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EventPump {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Logs a log or error event; other events (stats) are discarded.
///
/// # Safety
/// `event` must be a live event.
unsafe fn handle_event(event: *mut rd::rd_kafka_event_t, name: &str) {
    // SAFETY: the caller guarantees `event` is live; the strings it returns live as long as it.
    unsafe {
        match rd::rd_kafka_event_type(event) {
            rd::RD_KAFKA_EVENT_LOG => {
                let (mut fac, mut msg): (*const c_char, *const c_char) =
                    (std::ptr::null(), std::ptr::null());
                let mut level: c_int = 0;
                if rd::rd_kafka_event_log(event, &mut fac, &mut msg, &mut level) == 0 {
                    let fac = CStr::from_ptr(fac).to_string_lossy();
                    let msg = CStr::from_ptr(msg).to_string_lossy();
                    log(name, level_of(level), fac.trim(), msg.trim());
                }
            }
            rd::RD_KAFKA_EVENT_ERROR => {
                let code: RDKafkaErrorCode = rd::rd_kafka_event_error(event).into();
                let reason =
                    CStr::from_ptr(rd::rd_kafka_event_error_string(event)).to_string_lossy();
                client_error(name, &KafkaError::Global(code), reason.trim());
            }
            _ => {}
        }
    }
}

/// Syslog levels, as librdkafka numbers them.
fn level_of(level: c_int) -> RDKafkaLogLevel {
    match level {
        0 => RDKafkaLogLevel::Emerg,
        1 => RDKafkaLogLevel::Alert,
        2 => RDKafkaLogLevel::Critical,
        3 => RDKafkaLogLevel::Error,
        4 => RDKafkaLogLevel::Warning,
        5 => RDKafkaLogLevel::Notice,
        6 => RDKafkaLogLevel::Info,
        _ => RDKafkaLogLevel::Debug,
    }
}
