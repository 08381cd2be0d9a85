//! MirrorSourceConnector's per-partition metrics (`MirrorSourceMetrics`): record-count,
//! record-rate, byte-count, byte-rate, record-age-ms and replication-latency-ms with min, max and
//! avg, plus replication-lag (records behind the source's end offset), which Java lacks.
//!
//! The hot path records into a [`PartitionMetrics`] owned by the task thread (no locks) and
//! publishes to Prometheus about once a second.

use std::time::Instant;

use prometheus::{
    Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::window::Window;

const PREFIX: &str = "kafka_connect_mirror_source_connector_";
const LABELS: &[&str] = &["source", "target", "topic", "partition"];

/// The metric families, registered once.
#[derive(Clone)]
pub struct SourceMetrics {
    record_count: IntCounterVec,
    byte_count: IntCounterVec,
    record_rate: GaugeVec,
    byte_rate: GaugeVec,
    record_age: [GaugeVec; 4],
    replication_latency: [GaugeVec; 4],
    lag: IntGaugeVec,
}

fn gauge(registry: &Registry, name: &str, help: &str) -> GaugeVec {
    let g =
        GaugeVec::new(Opts::new(format!("{PREFIX}{name}"), help), LABELS).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

fn stat(registry: &Registry, name: &str, help: &str) -> [GaugeVec; 4] {
    [
        gauge(registry, name, &format!("{help} (last value)")),
        gauge(
            registry,
            &format!("{name}_min"),
            &format!("{help} (minimum over the last minute)"),
        ),
        gauge(
            registry,
            &format!("{name}_max"),
            &format!("{help} (maximum over the last minute)"),
        ),
        gauge(
            registry,
            &format!("{name}_avg"),
            &format!("{help} (average over the last minute)"),
        ),
    ]
}

impl SourceMetrics {
    pub fn register(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str| {
            let c = IntCounterVec::new(Opts::new(format!("{PREFIX}{name}"), help), LABELS)
                .expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let lag = IntGaugeVec::new(
            Opts::new(
                format!("{PREFIX}replication_lag"),
                "Records in the source partition not yet replicated (end offset minus next offset to replicate)",
            ),
            LABELS,
        )
        .expect("valid metric");
        registry
            .register(Box::new(lag.clone()))
            .expect("registered once");
        SourceMetrics {
            record_count: counter(
                "record_count",
                "Records replicated and acknowledged by the target",
            ),
            byte_count: counter("byte_count", "Value bytes of records replicated"),
            record_rate: gauge(registry, "record_rate", "Records replicated per second"),
            byte_rate: gauge(registry, "byte_rate", "Value bytes replicated per second"),
            record_age: stat(
                registry,
                "record_age_ms",
                "Age of records when read from the source, in ms",
            ),
            replication_latency: stat(
                registry,
                "replication_latency_ms",
                "Time from a record's timestamp to its acknowledgement by the target, in ms",
            ),
            lag,
        }
    }

    /// The metrics of one partition, labelled with the remote (target-side) topic as in Java.
    pub fn partition(
        &self,
        source: &str,
        target: &str,
        remote_topic: &str,
        partition: i32,
    ) -> PartitionMetrics {
        let p = partition.to_string();
        let labels = [source, target, remote_topic, p.as_str()];
        let four = |v: &[GaugeVec; 4]| -> [Gauge; 4] {
            std::array::from_fn(|i| v[i].with_label_values(&labels))
        };
        let now = Instant::now();
        PartitionMetrics {
            record_count: self.record_count.with_label_values(&labels),
            byte_count: self.byte_count.with_label_values(&labels),
            record_rate: self.record_rate.with_label_values(&labels),
            byte_rate: self.byte_rate.with_label_values(&labels),
            record_age: four(&self.record_age),
            replication_latency: four(&self.replication_latency),
            lag: self.lag.with_label_values(&labels),
            records: Window::new(now),
            bytes: Window::new(now),
            age: Window::new(now),
            latency: Window::new(now),
            pending_records: 0,
            pending_bytes: 0,
        }
    }
}

/// One partition's statistics, owned by the task that replicates it.
pub struct PartitionMetrics {
    record_count: IntCounter,
    byte_count: IntCounter,
    record_rate: Gauge,
    byte_rate: Gauge,
    record_age: [Gauge; 4],
    replication_latency: [Gauge; 4],
    lag: IntGauge,
    records: Window,
    bytes: Window,
    age: Window,
    latency: Window,
    pending_records: u64,
    pending_bytes: u64,
}

impl PartitionMetrics {
    /// A record read from the source: its value size and age (`now - timestamp`), as Java
    /// records at poll time.
    pub fn polled(&mut self, value_bytes: usize, age_ms: Option<i64>, now: Instant) {
        self.pending_bytes += value_bytes as u64;
        self.bytes.record(value_bytes as f64, now);
        if let Some(age) = age_ms {
            self.age.record(age as f64, now);
        }
    }

    /// A record acknowledged by the target, with its latency since its timestamp.
    pub fn acked(&mut self, latency_ms: Option<i64>, now: Instant) {
        self.pending_records += 1;
        self.records.record(1.0, now);
        if let Some(l) = latency_ms {
            self.latency.record(l as f64, now);
        }
    }

    /// Sets the replication lag, in records.
    pub fn set_lag(&mut self, records: i64) {
        self.lag.set(records.max(0));
    }

    /// Copies the local statistics to Prometheus.
    pub fn publish(&mut self, now: Instant) {
        self.record_count
            .inc_by(std::mem::take(&mut self.pending_records));
        self.byte_count
            .inc_by(std::mem::take(&mut self.pending_bytes));
        self.record_rate.set(self.records.summary(now).rate);
        self.byte_rate.set(self.bytes.summary(now).rate);
        for (gauges, window) in [
            (&self.record_age, &mut self.age),
            (&self.replication_latency, &mut self.latency),
        ] {
            let s = window.summary(now);
            for (g, v) in gauges.iter().zip([s.last, s.min, s.max, s.avg]) {
                g.set(v);
            }
        }
    }
}
