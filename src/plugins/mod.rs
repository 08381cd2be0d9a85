//! The connector plugins of connect-standalone and connect-distributed, found by their Java
//! class names and aliases: FileStreamSource, FileStreamSink, and MirrorMaker 2's
//! MirrorSource, MirrorCheckpoint and MirrorHeartbeat (see `mirror::plugin_config`).

pub mod file_io;
pub mod file_sink;
pub mod file_source;

use std::sync::Arc;

use crate::connect::connector::{ConfigMap, Connector};
use crate::connect::herder::ConnectorFactory;
use crate::connect::plugin_info::{names_class, KeyDef, PluginInfo, Validation};
use crate::connect::status::ConnectorType;
use crate::connect::worker_env::{transaction_boundary, WorkerEnv};
use crate::mirror::flow_connectors::MIRROR_KEYS;
use crate::mirror::plugin_config as mirror;

/// Builds a connector of a plugin for a worker.
type Create = fn(&str, &ConfigMap, &Arc<WorkerEnv>) -> Result<Arc<dyn Connector>, String>;

/// A connector plugin.
struct Plugin {
    class: &'static str,
    kind: ConnectorType,
    keys: &'static [KeyDef],
    /// Plugin-specific checks beyond the key types.
    check: fn(&ConfigMap, &mut Validation),
    create: Create,
}

const PLUGINS: &[Plugin] = &[
    Plugin {
        class: file_source::CLASS,
        kind: ConnectorType::Source,
        keys: file_source::KEYS,
        check: file_source::check,
        create: file_source::create,
    },
    Plugin {
        class: file_sink::CLASS,
        kind: ConnectorType::Sink,
        keys: file_sink::KEYS,
        check: file_sink::check,
        create: file_sink::create,
    },
    Plugin {
        class: mirror::SOURCE_CLASS,
        kind: ConnectorType::Source,
        keys: MIRROR_KEYS,
        check: mirror::check,
        create: mirror::create_source,
    },
    Plugin {
        class: mirror::CHECKPOINT_CLASS,
        kind: ConnectorType::Source,
        keys: MIRROR_KEYS,
        check: mirror::check,
        create: mirror::create_checkpoint,
    },
    Plugin {
        class: mirror::HEARTBEAT_CLASS,
        kind: ConnectorType::Source,
        keys: MIRROR_KEYS,
        check: mirror::check,
        create: mirror::create_heartbeat,
    },
];

/// The exactly-once keys every source connector accepts (Connect's `SourceConnectorConfig`).
const SOURCE_KEYS: &[KeyDef] = &[
    KeyDef::new(
        "exactly.once.support",
        "STRING",
        "Permitted values are requested, required. If set to \"required\", forces a preflight check for the connector to ensure that it can provide exactly-once semantics with the given configuration.",
    )
    .default("requested")
    .group("Exactly Once Support"),
    KeyDef::new(
        "transaction.boundary",
        "STRING",
        "Permitted values are: poll, interval, connector. If set to 'poll', a new producer transaction will be started and committed for every batch of records that each task from this connector provides to Connect. If set to 'interval', will commit transactions only after a user-defined time interval has passed.",
    )
    .default("poll")
    .group("Exactly Once Support"),
    KeyDef::new(
        "transaction.boundary.interval.ms",
        "LONG",
        "If 'transaction.boundary' is set to 'interval', determines the interval for producer transaction commits by connector tasks. If unset, defaults to the value of the worker-level 'offset.flush.interval.ms' property.",
    )
    .group("Exactly Once Support"),
];

fn find(name: &str) -> Option<&'static Plugin> {
    PLUGINS.iter().find(|p| names_class(name, p.class))
}

/// The plugins, bound to a worker.
pub struct Plugins {
    pub env: Arc<WorkerEnv>,
}

impl ConnectorFactory for Plugins {
    fn create(&self, name: &str, config: &ConfigMap) -> Result<Arc<dyn Connector>, Vec<String>> {
        let class = config
            .get("connector.class")
            .map(String::as_str)
            .unwrap_or_default();
        let v = self
            .validate(class, config)
            .ok_or_else(|| vec![format!("connector.class: Failed to find any class that implements Connector and which name matches {class}")])?;
        if v.error_count() > 0 {
            return Err(v.messages());
        }
        let plugin = find(class).expect("validated");
        (plugin.create)(name, config, &self.env).map_err(|e| vec![e])
    }

    fn plugins(&self) -> Vec<PluginInfo> {
        PLUGINS
            .iter()
            .map(|p| PluginInfo {
                class: p.class.to_string(),
                kind: p.kind,
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .collect()
    }

    fn validate(&self, plugin: &str, config: &ConfigMap) -> Option<Validation> {
        let p = find(plugin)?;
        let mut v = Validation::new(p.class, p.keys);
        if p.kind == ConnectorType::Source {
            v.defs.extend(SOURCE_KEYS.iter().cloned());
            if let Err((key, e)) = transaction_boundary(config) {
                v.error(key, e);
            }
            if let Some(s) = config.get("exactly.once.support") {
                if !matches!(s.trim().to_lowercase().as_str(), "requested" | "required") {
                    v.error(
                        "exactly.once.support",
                        format!("Invalid value {s} for configuration exactly.once.support: String must be one of: requested, required"),
                    );
                }
            }
        }
        v.check_types(config);
        for which in ["key", "value"] {
            if let Err(e) = self.env.converter(which, config) {
                v.error(&format!("{which}.converter"), e.to_string());
            }
        }
        (p.check)(config, &mut v);
        Some(v)
    }
}
