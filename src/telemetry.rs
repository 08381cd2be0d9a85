//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`). The filter can be
//! changed while running (`PUT /admin/loggers/{name}`), as Connect changes log4j levels.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

type Handle = reload::Handle<EnvFilter, Registry>;

/// The live filter: a root level and per-logger (module path) levels.
struct Levels {
    handle: Handle,
    root: String,
    loggers: BTreeMap<String, String>,
}

static LEVELS: OnceLock<Mutex<Levels>> = OnceLock::new();

/// Installs the global subscriber once; later calls do nothing (tests call it freely).
pub fn init() {
    install(false);
}

/// As [`init`], writing through the test harness (shown for failing tests only).
pub fn init_for_tests() {
    install(true);
}

fn install(test: bool) {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info"));
    let (layer, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let registry = tracing_subscriber::registry().with(layer);
    let installed = if test {
        registry.with(fmt.with_test_writer()).try_init().is_ok()
    } else {
        registry
            .with(fmt.with_writer(std::io::stderr))
            .try_init()
            .is_ok()
    };
    if installed {
        let (root, loggers) = parse(&spec);
        let _ = LEVELS.set(Mutex::new(Levels {
            handle,
            root,
            loggers,
        }));
    }
}

fn parse(spec: &str) -> (String, BTreeMap<String, String>) {
    let mut root = "info".to_string();
    let mut loggers = BTreeMap::new();
    for d in spec.split(',').filter(|d| !d.is_empty()) {
        match d.split_once('=') {
            Some((name, level)) => {
                loggers.insert(name.to_string(), level.to_lowercase());
            }
            None => root = d.to_lowercase(),
        }
    }
    (root, loggers)
}

/// Connect's level names for the current root and per-logger levels (`root` included).
pub fn levels() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(l) = LEVELS.get() {
        let l = l.lock().expect("levels lock");
        out.insert("root".to_string(), l.root.to_uppercase());
        for (k, v) in &l.loggers {
            out.insert(k.clone(), v.to_uppercase());
        }
    }
    out
}

/// The tracing level for a log4j level name, or Connect's message for a bad one.
pub fn check_level(level: &str) -> Result<&'static str, String> {
    Ok(match level.to_uppercase().as_str() {
        "OFF" => "off",
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "INFO" => "info",
        "DEBUG" => "debug",
        "TRACE" | "ALL" => "trace",
        _ => return Err(format!("Invalid log level '{level}'.")),
    })
}

/// Sets the level of a logger (`root` for all) from a log4j level name; returns the loggers
/// affected, as Connect does.
pub fn set_level(logger: &str, level: &str) -> Result<Vec<String>, String> {
    let level = check_level(level)?;
    let lock = LEVELS.get().ok_or("logging is not initialised")?;
    let mut l = lock.lock().expect("levels lock");
    // Work on a copy: a logger name the filter cannot take changes nothing.
    let (mut root, mut loggers) = (l.root.clone(), l.loggers.clone());
    let mut affected = if logger == "root" {
        root = level.to_string();
        let mut all = vec!["root".to_string()];
        all.extend(loggers.keys().cloned());
        loggers.clear();
        all
    } else {
        let prefix = format!("{logger}::");
        let children: Vec<String> = loggers
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        for c in &children {
            loggers.remove(c);
        }
        loggers.insert(logger.to_string(), level.to_string());
        let mut affected = vec![logger.to_string()];
        affected.extend(children);
        affected
    };
    let mut spec = root.clone();
    for (k, v) in &loggers {
        spec.push_str(&format!(",{k}={v}"));
    }
    let filter =
        EnvFilter::try_new(&spec).map_err(|e| format!("Invalid logger '{logger}': {e}"))?;
    l.handle
        .reload(filter)
        .map_err(|e| format!("cannot change the log filter: {e}"))?;
    l.root = root;
    l.loggers = loggers;
    affected.sort();
    Ok(affected)
}
