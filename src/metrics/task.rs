//! Kafka Connect's metrics of one source task, under the names Strimzi's JMX exporter rules give
//! Java's `source-task-metrics` and `connector-task-metrics` MBeans:
//! `kafka_connect_source_task_source_record_{poll,write}_total`,
//! `kafka_connect_source_task_source_record_active_count` (records read and not yet
//! acknowledged by the target) and `kafka_connect_connector_task_offset_commit_{avg,max}_time_ms`
//! (over Kafka's one-minute window). Labels `connector` (quoted as in an MBean name) and `task`.
//!
//! As with the partition metrics, the task thread counts locally and publishes about once a
//! second; the series go when the task stops.

use std::time::{Duration, Instant};

use prometheus::{
    Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::window::Window;

const LABELS: &[&str] = &["connector", "task"];

/// The metric families, registered once.
#[derive(Clone)]
pub struct TaskMetricsFamily {
    poll_total: IntCounterVec,
    write_total: IntCounterVec,
    active_count: IntGaugeVec,
    commit_avg: GaugeVec,
    commit_max: GaugeVec,
    batch_total: IntCounterVec,
}

/// Every value of the `copy` label.
pub const BATCH_COPY_KINDS: [&str; 7] = [
    "as_is",
    "coalesced",
    "cropped",
    "compacted",
    "old_format",
    "too_large",
    "log_append_time",
];

/// The batch path's batches are counted by how they were copied: `as_is`, or the reason they
/// were re-encoded.
pub const BATCH_COPY_LABEL: &str = "copy";

fn register<C: prometheus::core::Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

impl TaskMetricsFamily {
    pub fn register(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str| {
            register(
                registry,
                IntCounterVec::new(Opts::new(name, help), LABELS).expect("valid metric"),
            )
        };
        let gauge = |name: &str, help: &str| {
            register(
                registry,
                GaugeVec::new(Opts::new(name, help), LABELS).expect("valid metric"),
            )
        };
        TaskMetricsFamily {
            poll_total: counter(
                "kafka_connect_source_task_source_record_poll_total",
                "Records read from the source by this task",
            ),
            write_total: counter(
                "kafka_connect_source_task_source_record_write_total",
                "Records this task wrote to the target and the target acknowledged",
            ),
            active_count: register(
                registry,
                IntGaugeVec::new(
                    Opts::new(
                        "kafka_connect_source_task_source_record_active_count",
                        "Records read by this task and not yet acknowledged by the target",
                    ),
                    LABELS,
                )
                .expect("valid metric"),
            ),
            commit_avg: gauge(
                "kafka_connect_connector_task_offset_commit_avg_time_ms",
                "Average time this task took to commit its offsets, over the last minute",
            ),
            commit_max: gauge(
                "kafka_connect_connector_task_offset_commit_max_time_ms",
                "Longest time this task took to commit its offsets, over the last minute",
            ),
            batch_total: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "kafka_connect_source_task_source_batch_total",
                        "Record batches the batch path sent to the target: copied as they are (copy=as_is) or re-encoded, by reason",
                    ),
                    &["connector", "task", BATCH_COPY_LABEL],
                )
                .expect("valid metric"),
            ),
        }
    }

    /// The metrics of task `task` of connector `connector` (its name in the REST API).
    pub fn task(&self, connector: &str, task: usize) -> TaskMetrics {
        let labels = [super::jmx::label(connector).into_owned(), task.to_string()];
        let l = [labels[0].as_str(), labels[1].as_str()];
        TaskMetrics {
            poll_total: self.poll_total.with_label_values(&l),
            write_total: self.write_total.with_label_values(&l),
            active_count: self.active_count.with_label_values(&l),
            commit_avg: self.commit_avg.with_label_values(&l),
            commit_max: self.commit_max.with_label_values(&l),
            commits: Window::new(Instant::now()),
            polled: 0,
            written: 0,
            family: self.clone(),
            labels,
        }
    }
}

/// One task's statistics, owned by its thread.
pub struct TaskMetrics {
    poll_total: IntCounter,
    write_total: IntCounter,
    active_count: IntGauge,
    commit_avg: Gauge,
    commit_max: Gauge,
    commits: Window,
    polled: u64,
    written: u64,
    family: TaskMetricsFamily,
    labels: [String; 2],
}

impl TaskMetrics {
    /// Records read from the source.
    pub fn polled(&mut self, records: u64) {
        self.polled += records;
    }

    /// Records the target acknowledged.
    pub fn written(&mut self, records: u64) {
        self.written += records;
    }

    /// An offset commit (source offsets, and in exactly-once mode the transaction) and how
    /// long it took.
    pub fn committed(&mut self, took: Duration, now: Instant) {
        self.commits.record(took.as_secs_f64() * 1000.0, now);
    }

    /// Batches the batch path sent, copied as `how` says (`as_is`, or why they were
    /// re-encoded).
    pub fn batches(&self, how: &str, n: u64) {
        let l = [self.labels[0].as_str(), self.labels[1].as_str(), how];
        self.family.batch_total.with_label_values(&l).inc_by(n);
    }

    /// Copies the local statistics to Prometheus; `active` records are in flight.
    pub fn publish(&mut self, active: usize, now: Instant) {
        self.poll_total.inc_by(std::mem::take(&mut self.polled));
        self.write_total.inc_by(std::mem::take(&mut self.written));
        self.active_count.set(active as i64);
        let s = self.commits.summary(now);
        self.commit_avg.set(s.avg);
        self.commit_max.set(s.max);
    }
}

impl Drop for TaskMetrics {
    fn drop(&mut self) {
        let f = &self.family;
        let l = [self.labels[0].as_str(), self.labels[1].as_str()];
        // An error means the series was never created, which is fine.
        let _ = f.poll_total.remove_label_values(&l);
        let _ = f.write_total.remove_label_values(&l);
        let _ = f.active_count.remove_label_values(&l);
        let _ = f.commit_avg.remove_label_values(&l);
        let _ = f.commit_max.remove_label_values(&l);
        for how in BATCH_COPY_KINDS {
            let _ = f.batch_total.remove_label_values(&[l[0], l[1], how]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_publishes_counts_and_commit_times_and_its_series_go_with_it() {
        let registry = Registry::new();
        let family = TaskMetricsFamily::register(&registry);
        let mut t = family.task("a->b.MirrorSourceConnector", 3);
        t.polled(10);
        t.written(7);
        let now = Instant::now();
        t.committed(Duration::from_millis(4), now);
        t.committed(Duration::from_millis(8), now);
        t.publish(3, now);
        let text = render(&registry);
        let labels = r#"{connector="\"a->b.MirrorSourceConnector\"",task="3"}"#;
        for line in [
            format!("kafka_connect_source_task_source_record_poll_total{labels} 10"),
            format!("kafka_connect_source_task_source_record_write_total{labels} 7"),
            format!("kafka_connect_source_task_source_record_active_count{labels} 3"),
            format!("kafka_connect_connector_task_offset_commit_avg_time_ms{labels} 6"),
            format!("kafka_connect_connector_task_offset_commit_max_time_ms{labels} 8"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        drop(t);
        assert!(!render(&registry).contains("MirrorSourceConnector"));
    }

    fn render(registry: &Registry) -> String {
        use prometheus::Encoder;
        let mut buf = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&registry.gather(), &mut buf)
            .unwrap();
        String::from_utf8(buf).unwrap()
    }
}
