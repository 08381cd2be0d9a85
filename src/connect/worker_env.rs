//! What a connect-standalone or connect-distributed worker gives its connectors: the worker's
//! client settings, its offset store, its default converters, its flush interval and whether
//! source tasks write exactly once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Origin, Props, Setting, TransactionBoundary};
use crate::kafka::fence::fence_producers;
use crate::kafka::props::{translate, ClientProps};

use super::connector::{BoxFuture, ConfigMap};
use super::converter::Converter;
use super::error::Error;
use super::offsets::OffsetStore;
use super::source_runner::Transactions;

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
    /// The worker's `group.id` when `exactly.once.source.support=enabled` (distributed only).
    pub exactly_once: Option<String>,
}

/// Connect's transactional id of a source task: `<group.id>-<connector>-<task>`, so that Java
/// workers and these fence each other when they take turns.
pub fn transactional_id(group: &str, connector: &str, task: usize) -> String {
    format!("{group}-{connector}-{task}")
}

/// A source connector's `transaction.boundary`: `poll` (the default) or `interval`, with
/// `transaction.boundary.interval.ms`. No built-in connector defines its own boundaries, so
/// `connector` is refused, as Java's validation refuses it for them.
/// An error names the key it is about.
pub fn transaction_boundary(
    config: &ConfigMap,
) -> Result<TransactionBoundary, (&'static str, String)> {
    let interval = match config.get("transaction.boundary.interval.ms") {
        None => None,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(ms) => Some(Duration::from_millis(ms)),
            Err(_) => {
                return Err((
                    "transaction.boundary.interval.ms",
                    format!("Invalid value {v} for configuration transaction.boundary.interval.ms: Not a number of type LONG"),
                ))
            }
        },
    };
    match config
        .get("transaction.boundary")
        .map(|b| b.trim().to_lowercase())
        .as_deref()
    {
        None | Some("poll") => Ok(TransactionBoundary::Poll),
        Some("interval") => Ok(TransactionBoundary::Interval(interval)),
        Some("connector") => Err((
            "transaction.boundary",
            "The connector does not support connector-defined transaction boundaries".to_string(),
        )),
        Some(other) => Err((
            "transaction.boundary",
            format!("Invalid value {other} for configuration transaction.boundary: String must be one of: poll, interval, connector"),
        )),
    }
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
    pub fn client(&self, kind: Client, connector: &ConfigMap) -> Result<ClientProps, Error> {
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
            .map_err(Error::ClientSettings)
    }

    /// How a source task of `connector` writes: in transactions when the worker has
    /// exactly-once support enabled, else `None` (at least once).
    pub fn transactions(
        &self,
        connector: &str,
        task: usize,
        config: &ConfigMap,
    ) -> Result<Option<Transactions>, Error> {
        let Some(group) = &self.exactly_once else {
            return Ok(None);
        };
        Ok(Some(Transactions {
            id: transactional_id(group, connector, task),
            boundary: transaction_boundary(config).map_err(|(_, e)| Error::Config(e))?,
        }))
    }

    /// The connector's converter for keys (`key`) or values (`value`): its own
    /// `key.converter` with `key.converter.*` settings, else the worker's.
    pub fn converter(&self, which: &str, connector: &ConfigMap) -> Result<Converter, Error> {
        let key = format!("{which}.converter");
        match connector.get(&key) {
            None if which == "key" => Ok(self.key_converter),
            None => Ok(self.value_converter),
            Some(class) => {
                Converter::from_config(class, &prefixed(connector, &key)).map_err(Error::Config)
            }
        }
    }
}

/// Fences the producers of a source connector's first `tasks` tasks when the worker's source
/// tasks write exactly once (see [`crate::connect::connector::Connector::fence_zombies`]).
pub fn fence_zombies(
    env: &WorkerEnv,
    connector: &str,
    config: &ConfigMap,
    tasks: usize,
) -> BoxFuture<'static, Result<(), Error>> {
    let Some(group) = env.exactly_once.clone() else {
        return Box::pin(async { Ok(()) });
    };
    let ids: Vec<String> = (0..tasks)
        .map(|t| transactional_id(&group, connector, t))
        .collect();
    let props = env.client(Client::Producer, config);
    Box::pin(async move {
        let props = props?;
        tokio::task::spawn_blocking(move || fence_producers(&props, &ids, Duration::from_secs(30)))
            .await?
            .map_err(Error::from)
    })
}

/// The settings under `<prefix>.`, with the prefix removed.
pub fn prefixed(map: &ConfigMap, prefix: &str) -> BTreeMap<String, String> {
    let p = format!("{prefix}.");
    map.iter()
        .filter_map(|(k, v)| k.strip_prefix(&p).map(|r| (r.to_string(), v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn transaction_boundaries_are_poll_or_interval() {
        assert_eq!(
            transaction_boundary(&config(&[])),
            Ok(TransactionBoundary::Poll)
        );
        assert_eq!(
            transaction_boundary(&config(&[
                ("transaction.boundary", "interval"),
                ("transaction.boundary.interval.ms", "250"),
            ])),
            Ok(TransactionBoundary::Interval(Some(Duration::from_millis(
                250
            ))))
        );
        assert_eq!(
            transaction_boundary(&config(&[("transaction.boundary", "Interval")])),
            Ok(TransactionBoundary::Interval(None))
        );
        let refused = |pairs: &[(&str, &str)]| transaction_boundary(&config(pairs)).unwrap_err().0;
        assert_eq!(
            refused(&[("transaction.boundary", "connector")]),
            "transaction.boundary"
        );
        assert_eq!(
            refused(&[("transaction.boundary", "often")]),
            "transaction.boundary"
        );
        assert_eq!(
            refused(&[("transaction.boundary.interval.ms", "soon")]),
            "transaction.boundary.interval.ms"
        );
    }

    #[test]
    fn only_an_exactly_once_worker_gives_tasks_transactional_ids() {
        let mut env = WorkerEnv {
            props: Props::new(),
            offsets: Default::default(),
            offset_flush_interval: Duration::from_secs(1),
            key_converter: Converter::ByteArray,
            value_converter: Converter::ByteArray,
            metrics: crate::metrics::Metrics::new(),
            exactly_once: None,
        };
        assert!(env
            .transactions("c", 0, &ConfigMap::new())
            .unwrap()
            .is_none());
        env.exactly_once = Some("connect-cluster".into());
        let t = env
            .transactions("c", 2, &ConfigMap::new())
            .unwrap()
            .unwrap();
        assert_eq!(t.id, "connect-cluster-c-2");
        assert_eq!(t.boundary, TransactionBoundary::Poll);
    }
}
