//! MirrorCheckpointConnector's metric (`MirrorCheckpointMetrics`): checkpoint-latency-ms, the
//! time from listing the source group's offsets to the checkpoint's acknowledgement, per group
//! and target-side partition, with min, max and avg over the last minute.

use std::collections::HashMap;
use std::time::Instant;

use prometheus::{Gauge, GaugeVec, Opts, Registry};

use super::window::Window;

const LABELS: &[&str] = &["source", "target", "group", "topic", "partition"];

/// The metric family, registered once.
#[derive(Clone)]
pub struct CheckpointMetrics {
    latency: [GaugeVec; 4],
}

impl CheckpointMetrics {
    pub fn register(registry: &Registry) -> Self {
        let g = |suffix: &str, help: &str| {
            let v = GaugeVec::new(
                Opts::new(
                    format!(
                        "kafka_connect_mirror_checkpoint_connector_checkpoint_latency_ms{suffix}"
                    ),
                    help,
                ),
                LABELS,
            )
            .expect("valid metric");
            registry
                .register(Box::new(v.clone()))
                .expect("registered once");
            v
        };
        CheckpointMetrics {
            latency: [
                g("", "Time from listing source group offsets to the checkpoint's acknowledgement, in ms (last value)"),
                g("_min", "Checkpoint latency in ms (minimum over the last minute)"),
                g("_max", "Checkpoint latency in ms (maximum over the last minute)"),
                g("_avg", "Checkpoint latency in ms (average over the last minute)"),
            ],
        }
    }

    /// A recorder for one flow.
    pub fn flow(&self, source: &str, target: &str) -> CheckpointLatency {
        CheckpointLatency {
            family: self.clone(),
            source: source.to_string(),
            target: target.to_string(),
            series: HashMap::new(),
        }
    }
}

/// Per-(group, topic, partition) latency of one flow.
pub struct CheckpointLatency {
    family: CheckpointMetrics,
    source: String,
    target: String,
    series: HashMap<(String, String, i32), (Window, [Gauge; 4])>,
}

impl CheckpointLatency {
    pub fn record(&mut self, group: &str, topic: &str, partition: i32, latency_ms: i64) {
        let now = Instant::now();
        let key = (group.to_string(), topic.to_string(), partition);
        let (family, source, target) = (&self.family, &self.source, &self.target);
        let (window, gauges) = self.series.entry(key).or_insert_with(|| {
            let p = partition.to_string();
            let labels = [source.as_str(), target.as_str(), group, topic, p.as_str()];
            (
                Window::new(now),
                std::array::from_fn(|i| family.latency[i].with_label_values(&labels)),
            )
        });
        window.record(latency_ms as f64, now);
        let s = window.summary(now);
        for (g, v) in gauges.iter().zip([s.last, s.min, s.max, s.avg]) {
            g.set(v);
        }
    }
}
