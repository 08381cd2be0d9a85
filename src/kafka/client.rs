//! Creates rdkafka clients from translated settings, and forwards librdkafka's logs and errors
//! to `tracing` under the client's name (e.g. `A->B source consumer`), dropping repeats. The
//! contexts that call the forwarder are in `context.rs`.

use rdkafka::client::ClientContext;
use rdkafka::config::{FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, KafkaResult};
use tracing::{debug, error, info, warn};

use super::props::ClientProps;

// The contexts live in `context.rs`; these names are the ones every client module imports.
pub use super::context::{DeliveryContext, LogContext};

/// True when the same line of the same client was logged less than a minute ago: a client
/// retrying an unreachable cluster repeats itself many times a second.
pub fn repeated(name: &str, msg: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};
    static SEEN: OnceLock<Mutex<HashMap<(String, String), Instant>>> = OnceLock::new();
    let mut seen = SEEN.get_or_init(Default::default).lock().expect("log lock");
    let key = (name.to_string(), msg.to_string());
    if seen
        .get(&key)
        .is_some_and(|at| at.elapsed() < Duration::from_secs(60))
    {
        return true;
    }
    if seen.len() > 10_000 {
        seen.clear();
    }
    seen.insert(key, Instant::now());
    false
}

/// The experimental librdkafka setting the replication producer sets itself.
const OWN_EXPERIMENTAL_SETTING: &str = "enable.gapless.guarantee";

/// librdkafka's log line, at the matching level; repeats within a minute are dropped.
pub fn log(name: &str, level: RDKafkaLogLevel, fac: &str, msg: &str) {
    // Settings this project chooses on purpose (see `source_task::clients`): librdkafka's
    // warning that they are experimental is for whoever set them, not for the operator.
    let level = if fac == "CONFWARN" && msg.contains(OWN_EXPERIMENTAL_SETTING) {
        RDKafkaLogLevel::Debug
    } else {
        level
    };
    if level as i32 <= RDKafkaLogLevel::Warning as i32 && repeated(name, msg) {
        return;
    }
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            error!(client = name, facility = fac, "{msg}")
        }
        RDKafkaLogLevel::Warning => warn!(client = name, facility = fac, "{msg}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            info!(client = name, facility = fac, "{msg}")
        }
        RDKafkaLogLevel::Debug => debug!(client = name, facility = fac, "{msg}"),
    }
}

/// A client-level error: librdkafka retries by itself (brokers down, timeouts), so these are
/// warnings unless fatal.
pub fn client_error(name: &str, error: &KafkaError, reason: &str) {
    if repeated(name, reason) {
        return;
    }
    if matches!(
        error.rdkafka_error_code(),
        Some(rdkafka::types::RDKafkaErrorCode::Fatal)
    ) {
        error!(client = name, "fatal client error: {reason}");
    } else {
        warn!(client = name, "{reason} (retrying)");
    }
}

/// Creates any rdkafka client (consumer, producer, admin) with `ctx`. `client.id` defaults to
/// the context's name, as Java MirrorMaker 2 suffixes its clients' ids with flow and role.
pub fn create<T, C>(props: &ClientProps, client_id: &str, ctx: C) -> KafkaResult<T>
where
    C: ClientContext,
    T: FromClientConfigAndContext<C>,
{
    let mut config = props.client_config();
    if props.get("client.id").is_none() {
        config.set("client.id", client_id);
    }
    config.set_log_level(RDKafkaLogLevel::Warning);
    config.create_with_context(ctx)
}
