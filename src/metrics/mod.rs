//! Prometheus metrics, served as text at `GET /metrics`. By default they carry the names and
//! labels Strimzi's JMX exporter rules give Java's MBeans (`kafka_connect_mirror_mirrorsourceconnector_*`,
//! `kafka_connect_mirror_mirrorcheckpointconnector_*`, the Kafka clients' `kafka_consumer_*` and
//! `kafka_producer_*`), so Strimzi's MirrorMaker 2 dashboard and alert rules work unchanged;
//! [`MetricNames::Legacy`] keeps this project's earlier MirrorMaker family names
//! (`kafka_connect_mirror_source_connector_*`, `kafka_connect_mirror_checkpoint_connector_*`),
//! selected in connect-mirror-maker with `metrics.names = legacy`.

pub mod checkpoint;
pub mod clients;
pub mod jmx;
pub mod source;
pub mod table;
pub mod task;
pub mod window;
pub mod worker;

use prometheus::{Encoder, Registry, TextEncoder};

pub use checkpoint::{CheckpointLatency, CheckpointMetrics};
pub use source::{Outstanding, PartitionMetrics, SourceMetrics};
pub use task::{TaskMetrics, TaskMetricsFamily};
pub use worker::{RebalanceStats, WorkerSnapshot};

/// Which names the MirrorMaker metric families carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricNames {
    /// Strimzi's JMX exporter names, with label values quoted as in MBean names.
    #[default]
    Strimzi,
    /// The names of this project's first releases, with plain label values.
    Legacy,
}

impl MetricNames {
    fn source_prefix(self) -> &'static str {
        match self {
            MetricNames::Strimzi => "kafka_connect_mirror_mirrorsourceconnector_",
            MetricNames::Legacy => "kafka_connect_mirror_source_connector_",
        }
    }

    fn checkpoint_prefix(self) -> &'static str {
        match self {
            MetricNames::Strimzi => "kafka_connect_mirror_mirrorcheckpointconnector_",
            MetricNames::Legacy => "kafka_connect_mirror_checkpoint_connector_",
        }
    }

    /// A label value as this family shows it.
    fn label(self, value: &str) -> String {
        match self {
            MetricNames::Strimzi => jmx::label(value).into_owned(),
            MetricNames::Legacy => value.to_string(),
        }
    }
}

/// Every metric of this process.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub source: SourceMetrics,
    pub checkpoint: CheckpointMetrics,
    pub task: TaskMetricsFamily,
}

impl Metrics {
    /// The default (Strimzi) names.
    pub fn new() -> Self {
        Self::with_names(MetricNames::default())
    }

    pub fn with_names(names: MetricNames) -> Self {
        let registry = Registry::new();
        let source = SourceMetrics::new(names);
        let checkpoint = CheckpointMetrics::register(&registry, names);
        let task = TaskMetricsFamily::register(&registry);
        #[cfg(target_os = "linux")]
        {
            // process_cpu_seconds_total, process_resident_memory_bytes, … (no JVM to show).
            let process = prometheus::process_collector::ProcessCollector::for_self();
            registry
                .register(Box::new(process))
                .expect("registered once");
        }
        Metrics {
            registry,
            source,
            checkpoint,
            task,
        }
    }

    /// The Prometheus text exposition of every metric, the clients' included.
    pub fn render(&self) -> String {
        self.render_workers(&[])
    }

    /// As [`render`](Self::render), with the Connect worker metrics of `workers` (one
    /// snapshot per herder, taken for this scrape).
    pub fn render_workers(&self, workers: &[WorkerSnapshot]) -> String {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.source.refresh(now_ms);
        self.checkpoint.refresh(now_ms);
        let mut families = self.registry.gather();
        families.extend(clients::global().gather());
        families.extend(worker::gather(workers));
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut buf)
            .expect("text encoding of gathered metrics");
        let mut text = String::from_utf8(buf).expect("prometheus text is UTF-8");
        // Per-partition families, kept apart from the registry (see `table`).
        self.source.render(&mut text);
        self.checkpoint.render(&mut text);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
