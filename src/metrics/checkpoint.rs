//! MirrorCheckpointConnector's metric (`MirrorCheckpointMetrics`): checkpoint-latency-ms, the
//! time from listing the source group's offsets to the checkpoint's acknowledgement, per group
//! and target-side partition, with min, max and avg over the last minute. Plus what Java
//! lacks: checkpoint-staleness-seconds per group, the time since the group's checkpoints were
//! last brought up to date, computed when scraped so that it grows while checkpointing stalls.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus::{GaugeVec, Opts, Registry};

use super::table::{Column, Kind, Row, Table};
use super::window::Window;
use super::MetricNames;

const LABELS: &[&str] = &["source", "target", "group", "topic", "partition"];
const GROUP_LABELS: &[&str] = &["source", "target", "group"];

/// The metric families, registered once.
#[derive(Clone)]
pub struct CheckpointMetrics {
    names: MetricNames,
    /// Latency last, min, max and avg per (group, topic, partition): a table, as there are
    /// thousands (see `table`).
    latency: Arc<Table>,
    staleness: GaugeVec,
    /// (source, target, group) labels → when the group was last up to date (wall ms).
    fresh_at: Arc<Mutex<HashMap<[String; 3], i64>>>,
}

impl CheckpointMetrics {
    pub fn register(registry: &Registry, names: MetricNames) -> Self {
        let prefix = names.checkpoint_prefix();
        let register = |v: GaugeVec| {
            registry
                .register(Box::new(v.clone()))
                .expect("registered once");
            v
        };
        let g = |suffix: &str, help: &str| {
            Column::new(
                format!("{prefix}checkpoint_latency_ms{suffix}"),
                help,
                Kind::Gauge,
            )
        };
        let latency = Table::new(
            vec![
                g("", "Time from listing source group offsets to the checkpoint's acknowledgement, in ms (last value)"),
                g("_min", "Checkpoint latency in ms (minimum over the last minute)"),
                g("_max", "Checkpoint latency in ms (maximum over the last minute)"),
                g("_avg", "Checkpoint latency in ms (average over the last minute)"),
            ],
            LABELS,
        );
        CheckpointMetrics {
            names,
            latency: Arc::new(latency),
            staleness: register(
                GaugeVec::new(
                    Opts::new(
                        format!("{prefix}checkpoint_staleness_seconds"),
                        "Seconds since the group's checkpoints were last brought up to date (its offsets listed and every checkpoint that moved written)",
                    ),
                    GROUP_LABELS,
                )
                .expect("valid metric"),
            ),
            fresh_at: Arc::default(),
        }
    }

    /// A recorder for one flow.
    pub fn flow(&self, source: &str, target: &str) -> CheckpointLatency {
        CheckpointLatency {
            family: self.clone(),
            source: self.names.label(source),
            target: self.names.label(target),
            series: HashMap::new(),
            groups: BTreeSet::new(),
        }
    }

    /// Appends the latency families in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        self.latency.render(out);
    }

    /// Sets every group's staleness as of `now_ms` (wall clock); call before a scrape.
    pub fn refresh(&self, now_ms: i64) {
        for (labels, at) in self.fresh_at.lock().expect("fresh lock").iter() {
            let l: [&str; 3] = std::array::from_fn(|i| labels[i].as_str());
            let secs = (now_ms - at).max(0) as f64 / 1000.0;
            self.staleness.with_label_values(&l).set(secs);
        }
    }
}

/// Per-(group, topic, partition) latency and per-group staleness of one flow.
pub struct CheckpointLatency {
    family: CheckpointMetrics,
    source: String,
    target: String,
    series: HashMap<(String, String, i32), (Window, Arc<Row>)>,
    groups: BTreeSet<String>,
}

impl CheckpointLatency {
    pub fn record(&mut self, group: &str, topic: &str, partition: i32, latency_ms: i64) {
        let now = Instant::now();
        let key = (group.to_string(), topic.to_string(), partition);
        let (family, source, target) = (&self.family, &self.source, &self.target);
        let (window, row) = self.series.entry(key).or_insert_with(|| {
            let (group, topic) = (family.names.label(group), family.names.label(topic));
            let p = partition.to_string();
            let labels = [source.as_str(), target.as_str(), &group, &topic, p.as_str()];
            let row = family.latency.row(&labels);
            row.show();
            (Window::new(now), row)
        });
        window.record(latency_ms as f64, now);
        let s = window.summary(now);
        for (i, v) in [s.last, s.min, s.max, s.avg].into_iter().enumerate() {
            row.set(i, v);
        }
    }

    /// Group `group` was up to date as of `at_ms` (when its source offsets were listed).
    pub fn fresh(&mut self, group: &str, at_ms: i64) {
        self.groups.insert(group.to_string());
        let key = self.group_key(group);
        self.family
            .fresh_at
            .lock()
            .expect("fresh lock")
            .insert(key, at_ms);
    }

    /// Forgets the groups no longer checkpointed, and their series.
    pub fn retain_groups(&mut self, groups: &[String]) {
        let gone: Vec<String> = self
            .groups
            .iter()
            .filter(|g| !groups.contains(g))
            .cloned()
            .collect();
        for g in gone {
            self.groups.remove(&g);
            let key = self.group_key(&g);
            let l: [&str; 3] = std::array::from_fn(|i| key[i].as_str());
            let _ = self.family.staleness.remove_label_values(&l);
            self.family
                .fresh_at
                .lock()
                .expect("fresh lock")
                .remove(&key);
            // Their rows go with them.
            self.series.retain(|(group, _, _), _| *group != g);
        }
    }

    fn group_key(&self, group: &str) -> [String; 3] {
        [
            self.source.clone(),
            self.target.clone(),
            self.family.names.label(group),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staleness(registry: &Registry) -> Vec<(String, f64)> {
        registry
            .gather()
            .iter()
            .filter(|f| f.name().ends_with("checkpoint_staleness_seconds"))
            .flat_map(|f| f.get_metric().to_vec())
            .map(|m| {
                let group = m
                    .get_label()
                    .iter()
                    .find(|l| l.name() == "group")
                    .map(|l| l.value().to_string())
                    .unwrap_or_default();
                (group, m.get_gauge().get_value())
            })
            .collect()
    }

    #[test]
    fn staleness_grows_until_the_group_is_fresh_again_and_goes_with_it() {
        let registry = Registry::new();
        let m = CheckpointMetrics::register(&registry, MetricNames::Strimzi);
        let mut flow = m.flow("A", "B");
        flow.fresh("g:1", 10_000);
        m.refresh(12_500);
        assert_eq!(staleness(&registry), vec![("\"g:1\"".to_string(), 2.5)]);
        m.refresh(20_000);
        assert_eq!(staleness(&registry)[0].1, 10.0);
        flow.fresh("g:1", 19_000);
        m.refresh(20_000);
        assert_eq!(staleness(&registry)[0].1, 1.0);
        flow.record("g:1", "A.t", 0, 7);
        let mut latency = String::new();
        m.render(&mut latency);
        assert!(latency.contains(
            r#"kafka_connect_mirror_mirrorcheckpointconnector_checkpoint_latency_ms_max{group="\"g:1\"",partition="0",source="A",target="B",topic="A.t"} 7"#
        ), "{latency}");
        flow.retain_groups(&[]);
        m.refresh(30_000);
        assert!(staleness(&registry).is_empty());
        latency.clear();
        m.render(&mut latency);
        assert!(
            latency.is_empty(),
            "the group's latency series go too: {latency}"
        );
    }
}
