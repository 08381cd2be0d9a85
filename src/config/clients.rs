//! Which keys reach each Kafka client of a flow, by MirrorMaker 2's precedence rules
//! (`MirrorConnectorConfig` for its own clients, Connect's `Worker` for the worker's). The keys
//! are still Java client keys; `kafka::props` translates them for librdkafka.

use super::keys::{self, Scope};
use super::model::{ClientKind, Flow, Props, Side};
use super::properties::Setting;

/// Keys under `consumer.`/`producer.`/`admin.` that are connector settings, not client settings.
fn is_connector_setting(key: &str) -> bool {
    keys::lookup(key).is_some_and(|d| d.scope == Scope::Connector)
        || [
            "producer.override.",
            "consumer.override.",
            "admin.override.",
        ]
        .iter()
        .any(|p| key.starts_with(p))
}

fn copy_stripped(from: &Props, prefix: &str, to: &mut Props, filter: impl Fn(&str) -> bool) {
    for (k, s) in from {
        if is_connector_setting(k) {
            continue;
        }
        if let Some(rest) = k.strip_prefix(prefix) {
            if filter(rest) {
                to.insert(rest.to_string(), s.clone());
            }
        }
    }
}

impl Flow {
    /// A client MirrorMaker 2 itself creates on one side of the flow (admin clients, the
    /// offset-syncs producer and consumer, the checkpoint consumer): `{side}.cluster.{security}`,
    /// then the flow's `{kind}.*`, then `{side}.{kind}.*` (that is, `A.{kind}.*`).
    pub fn client_props(&self, side: Side, kind: ClientKind) -> Props {
        let mut out = Props::new();
        let side = side.as_str();
        let c = &self.connector;
        copy_stripped(
            c,
            &format!("{side}.cluster."),
            &mut out,
            keys::is_client_security_key,
        );
        copy_stripped(c, &format!("{}.", kind.as_str()), &mut out, |_| true);
        copy_stripped(c, &format!("{side}.{}.", kind.as_str()), &mut out, |_| true);
        out
    }

    /// The consumer that reads the records to replicate: the source consumer, with auto-commit
    /// forced off and `auto.offset.reset` defaulting to `earliest`, as in MirrorSourceTask.
    pub fn replication_consumer_props(&self) -> Props {
        let mut out = self.client_props(Side::Source, ClientKind::Consumer);
        out.insert(
            "enable.auto.commit".into(),
            Setting::default_for("enable.auto.commit", "false"),
        );
        out.entry("auto.offset.reset".into())
            .or_insert_with(|| Setting::default_for("auto.offset.reset", "earliest"));
        out
    }

    /// A client of the Connect worker on the target cluster; the producer is the one that writes
    /// replicated records, checkpoints and heartbeats. Worker connection and security keys, then
    /// the worker's `{kind}.*` (from `B.{kind}.*`), then the flow's `{kind}.override.*`.
    pub fn worker_client_props(&self, kind: ClientKind) -> Props {
        let mut out = Props::new();
        for (k, s) in &self.worker {
            if keys::is_client_security_key(k) {
                out.insert(k.clone(), s.clone());
            }
        }
        let prefix = format!("{}.", kind.as_str());
        for (k, s) in &self.worker {
            if let Some(rest) = k.strip_prefix(&prefix) {
                out.insert(rest.to_string(), s.clone());
            }
        }
        let prefix = format!("{}.override.", kind.as_str());
        for (k, s) in &self.connector {
            if let Some(rest) = k.strip_prefix(&prefix) {
                out.insert(rest.to_string(), s.clone());
            }
        }
        out
    }

    /// Every client map of this flow with a label, for validation and `validate` output.
    pub fn all_client_props(&self) -> Vec<(String, Props)> {
        let mut all = Vec::new();
        for side in [Side::Source, Side::Target] {
            for kind in [
                ClientKind::Consumer,
                ClientKind::Producer,
                ClientKind::Admin,
            ] {
                let label = format!("{} {} ({})", side.as_str(), kind.as_str(), self.alias(side));
                let props = if side == Side::Source && kind == ClientKind::Consumer {
                    self.replication_consumer_props()
                } else {
                    self.client_props(side, kind)
                };
                all.push((label, props));
            }
        }
        for kind in [
            ClientKind::Producer,
            ClientKind::Consumer,
            ClientKind::Admin,
        ] {
            let label = format!("worker {} ({})", kind.as_str(), self.target);
            all.push((label, self.worker_client_props(kind)));
        }
        all
    }
}
