//! What a connect-standalone or connect-distributed worker gives its connectors: the worker's
//! client settings, its offset store, its default converters and its flush interval.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Origin, Props, Setting};
use crate::kafka::props::{translate, ClientProps};
use crate::mirror::scheduler::join_errors;

use super::connector::ConfigMap;
use super::converter::Converter;
use super::offsets::OffsetStore;

/// The worker side of every task.
pub struct WorkerEnv {
    /// The worker properties, Java keys.
    pub props: Props,
    pub offsets: Arc<OffsetStore>,
    pub offset_flush_interval: Duration,
    pub key_converter: Converter,
    pub value_converter: Converter,
    /// Where connectors that have metrics (the Mirror connectors) record them.
    pub metrics: crate::metrics::Metrics,
}

/// The client kinds a worker creates.
#[derive(Debug, Clone, Copy)]
pub enum Client {
    Producer,
    Consumer,
    Admin,
}

impl Client {
    fn prefix(self) -> &'static str {
        match self {
            Client::Producer => "producer.",
            Client::Consumer => "consumer.",
            Client::Admin => "admin.",
        }
    }
}

impl WorkerEnv {
    /// A client of the worker for one connector, as Connect builds it: the worker's connection
    /// and security keys, then `producer.`/`consumer.`/`admin.` worker keys, then the
    /// connector's `producer.override.` (etc.) keys, translated for librdkafka.
    pub fn client(&self, kind: Client, connector: &ConfigMap) -> Result<ClientProps, String> {
        let mut props = Props::new();
        for (k, s) in &self.props {
            if crate::config::keys::is_client_security_key(k) {
                props.insert(k.clone(), s.clone());
            }
        }
        for (k, s) in &self.props {
            if let Some(rest) = k.strip_prefix(kind.prefix()) {
                props.insert(rest.to_string(), s.clone());
            }
        }
        let overrides = format!("{}override.", kind.prefix());
        for (k, v) in connector {
            if let Some(rest) = k.strip_prefix(&overrides) {
                props.insert(
                    rest.to_string(),
                    Setting::new(k.clone(), v.clone(), Origin::Default),
                );
            }
        }
        let label = format!("worker {}", kind.prefix().trim_end_matches('.'));
        translate(&props, &label)
            .map(|(p, _)| p)
            .map_err(|e| join_errors(&e))
    }

    /// The connector's converter for keys (`key`) or values (`value`): its own
    /// `key.converter` with `key.converter.*` settings, else the worker's.
    pub fn converter(&self, which: &str, connector: &ConfigMap) -> Result<Converter, String> {
        let key = format!("{which}.converter");
        match connector.get(&key) {
            None if which == "key" => Ok(self.key_converter),
            None => Ok(self.value_converter),
            Some(class) => Converter::from_config(class, &prefixed(connector, &key)),
        }
    }
}

/// The settings under `<prefix>.`, with the prefix removed.
pub fn prefixed(map: &ConfigMap, prefix: &str) -> BTreeMap<String, String> {
    let p = format!("{prefix}.");
    map.iter()
        .filter_map(|(k, v)| k.strip_prefix(&p).map(|r| (r.to_string(), v.clone())))
        .collect()
}
