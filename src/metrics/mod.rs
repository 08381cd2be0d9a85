//! Prometheus metrics, with MirrorMaker 2's metric names in the form Strimzi's JMX exporter rules
//! give them (`kafka_connect_mirror_source_connector_record_count{source,target,topic,partition}`),
//! so existing dashboards work. Served as text at `GET /metrics`.

pub mod checkpoint;
pub mod source;
pub mod window;

use prometheus::{Encoder, Registry, TextEncoder};

pub use checkpoint::{CheckpointLatency, CheckpointMetrics};
pub use source::{PartitionMetrics, SourceMetrics};

/// Every metric of this process.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub source: SourceMetrics,
    pub checkpoint: CheckpointMetrics,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let source = SourceMetrics::register(&registry);
        let checkpoint = CheckpointMetrics::register(&registry);
        Metrics {
            registry,
            source,
            checkpoint,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding of gathered metrics");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
