//! Kafka Connect's worker metrics, under the names Strimzi's JMX exporter rules give Java's
//! MBeans, so that its dashboards and its Connect alert rules read ours:
//! - `connect-worker-metrics`: `kafka_connect_worker_connector_count`, `…_task_count`, and per
//!   connector `kafka_connect_worker_connector_{total,running,paused,failed,unassigned,
//!   destroyed,restarting}_task_count{connector}`;
//! - `connect-worker-rebalance-metrics`: `kafka_connect_worker_rebalance_rebalancing`,
//!   `…_completed_rebalances_total`, `…_time_since_last_rebalance_ms`,
//!   `…_rebalance_{avg,max}_time_ms`;
//! - `connect-coordinator-metrics`: `kafka_connect_coordinator_assigned_{connectors,tasks}{clientid}`;
//! - `connector-metrics` and `connector-task-metrics` status, as the exporter turns a string
//!   attribute into a label: `kafka_connect_connector_status{connector,status} 1` and
//!   `kafka_connect_connector_task_status{connector,task,status} 1`.
//!
//! Like Java's, they count what runs on this worker. They are computed when scraped from each
//! herder's snapshot ([`WorkerSnapshot`]), so no series outlives the unit it describes. Several
//! herders in one process (connect-mirror-maker's flows) add up, as the JVM's one MBean of each
//! kind would show them; the coordinator metrics keep one series per herder (its client id).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus::proto::MetricFamily;
use prometheus::{Gauge, GaugeVec, IntCounter, Opts, Registry};

use super::jmx;
use super::window::Window;

/// One connector or task this worker runs, and its state, spelled as Connect's status
/// attribute (`running`, `paused`, `failed`, `unassigned`, `restarting`, `stopped`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub connector: String,
    pub task: Option<usize>,
    pub state: &'static str,
}

/// What one herder runs, as of a scrape.
#[derive(Debug, Clone, Default)]
pub struct WorkerSnapshot {
    /// The group member's client id (`client.id`, else Java's `connect-<worker id>`; a flow's
    /// name in connect-mirror-maker); `None` for a standalone worker, which has no coordinator.
    pub client_id: Option<String>,
    pub units: Vec<Unit>,
    pub rebalance: Option<RebalanceSnapshot>,
}

/// A group member's rebalances.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RebalanceSnapshot {
    pub rebalancing: bool,
    pub completed: u64,
    /// Milliseconds since the last rebalance completed; infinite before the first, as Java.
    pub since_last_ms: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
}

/// A group member's rebalance history, fed by the herder as its membership changes.
#[derive(Clone)]
pub struct RebalanceStats(Arc<Mutex<Rebalances>>);

struct Rebalances {
    started: Option<Instant>,
    completed: u64,
    last_completed: Option<Instant>,
    durations: Window,
}

impl Default for RebalanceStats {
    fn default() -> Self {
        RebalanceStats(Arc::new(Mutex::new(Rebalances {
            started: None,
            completed: 0,
            last_completed: None,
            durations: Window::new(Instant::now()),
        })))
    }
}

impl RebalanceStats {
    /// The member's work was revoked: a rebalance is under way.
    pub fn started(&self) {
        let mut r = self.0.lock().expect("rebalance lock");
        r.started.get_or_insert_with(Instant::now);
    }

    /// The member received its new assignment.
    pub fn completed(&self) {
        let now = Instant::now();
        let mut r = self.0.lock().expect("rebalance lock");
        if let Some(started) = r.started.take() {
            let took = now.duration_since(started).as_secs_f64() * 1000.0;
            r.durations.record(took, now);
        }
        r.completed += 1;
        r.last_completed = Some(now);
    }

    pub fn snapshot(&self) -> RebalanceSnapshot {
        let now = Instant::now();
        let mut r = self.0.lock().expect("rebalance lock");
        let window = r.durations.summary(now);
        RebalanceSnapshot {
            rebalancing: r.started.is_some(),
            completed: r.completed,
            since_last_ms: r.last_completed.map_or(f64::INFINITY, |t| {
                now.duration_since(t).as_secs_f64() * 1000.0
            }),
            avg_ms: window.avg,
            max_ms: window.max,
        }
    }
}

/// The task states Connect counts per connector, with the metric each goes to.
const TASK_COUNTS: [(&str, &str); 6] = [
    ("running", "running"),
    ("paused", "paused"),
    ("failed", "failed"),
    ("unassigned", "unassigned"),
    ("restarting", "restarting"),
    // Connect has no `destroyed` state of a status; a task that is gone is not counted, and
    // `stopped` tasks (of a stopped connector) are shut down, which Connect counts as destroyed.
    ("stopped", "destroyed"),
];

/// The families of `snapshots`, freshly built for one scrape.
pub fn gather(snapshots: &[WorkerSnapshot]) -> Vec<MetricFamily> {
    let registry = Registry::new();
    let gauge = |name: &str, help: &str| {
        let g = Gauge::new(name, help).expect("valid metric");
        registry
            .register(Box::new(g.clone()))
            .expect("registered once");
        g
    };
    let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
        let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
        registry
            .register(Box::new(g.clone()))
            .expect("registered once");
        g
    };

    let units: Vec<&Unit> = snapshots.iter().flat_map(|s| &s.units).collect();
    gauge(
        "kafka_connect_worker_connector_count",
        "The number of connectors run in this worker",
    )
    .set(units.iter().filter(|u| u.task.is_none()).count() as f64);
    gauge(
        "kafka_connect_worker_task_count",
        "The number of tasks run in this worker",
    )
    .set(units.iter().filter(|u| u.task.is_some()).count() as f64);

    // Per connector, every count (zeros included), as Java registers them all at once.
    let mut per_connector: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    for u in &units {
        let counts = per_connector
            .entry(jmx::label(&u.connector).into_owned())
            .or_default();
        if u.task.is_some() {
            *counts.entry("total").or_default() += 1;
            if let Some((_, metric)) = TASK_COUNTS.iter().find(|(s, _)| *s == u.state) {
                *counts.entry(metric).or_default() += 1;
            }
        }
    }
    let task_counts: Vec<(&str, GaugeVec)> = std::iter::once("total")
        .chain(TASK_COUNTS.iter().map(|(_, m)| *m))
        .map(|m| {
            let g = gauge_vec(
                &format!("kafka_connect_worker_connector_{m}_task_count"),
                &format!("The number of {m} tasks of the connector on this worker"),
                &["connector"],
            );
            (m, g)
        })
        .collect();
    for (connector, counts) in &per_connector {
        for (m, g) in &task_counts {
            g.with_label_values(&[connector])
                .set(counts.get(m).copied().unwrap_or(0) as f64);
        }
    }

    let connector_status = gauge_vec(
        "kafka_connect_connector_status",
        "The status of the connector, as a label",
        &["connector", "status"],
    );
    let task_status = gauge_vec(
        "kafka_connect_connector_task_status",
        "The status of the connector task, as a label",
        &["connector", "task", "status"],
    );
    for u in &units {
        let connector = jmx::label(&u.connector);
        match u.task {
            None => connector_status
                .with_label_values(&[connector.as_ref(), u.state])
                .set(1.0),
            Some(t) => task_status
                .with_label_values(&[connector.as_ref(), &t.to_string(), u.state])
                .set(1.0),
        }
    }

    let members: Vec<(&str, &WorkerSnapshot)> = snapshots
        .iter()
        .filter_map(|s| s.client_id.as_deref().map(|c| (c, s)))
        .collect();
    if !members.is_empty() {
        let assigned_connectors = gauge_vec(
            "kafka_connect_coordinator_assigned_connectors",
            "The number of connector instances currently assigned to this consumer",
            &["clientid"],
        );
        let assigned_tasks = gauge_vec(
            "kafka_connect_coordinator_assigned_tasks",
            "The number of tasks currently assigned to this consumer",
            &["clientid"],
        );
        for (client_id, s) in &members {
            let c = jmx::label(client_id);
            let connectors = s.units.iter().filter(|u| u.task.is_none()).count();
            assigned_connectors
                .with_label_values(&[&c])
                .set(connectors as f64);
            assigned_tasks
                .with_label_values(&[&c])
                .set((s.units.len() - connectors) as f64);
        }
    }

    let rebalances: Vec<RebalanceSnapshot> = snapshots.iter().filter_map(|s| s.rebalance).collect();
    if !rebalances.is_empty() {
        let max = |f: fn(&RebalanceSnapshot) -> f64| {
            rebalances
                .iter()
                .map(f)
                .filter(|v| !v.is_nan())
                .fold(f64::NAN, f64::max)
        };
        gauge(
            "kafka_connect_worker_rebalance_rebalancing",
            "Whether this worker is currently rebalancing",
        )
        .set(if rebalances.iter().any(|r| r.rebalancing) {
            1.0
        } else {
            0.0
        });
        let completed = IntCounter::new(
            "kafka_connect_worker_rebalance_completed_rebalances_total",
            "The total number of rebalances completed by this worker",
        )
        .expect("valid metric");
        registry
            .register(Box::new(completed.clone()))
            .expect("registered once");
        completed.inc_by(rebalances.iter().map(|r| r.completed).sum());
        gauge(
            "kafka_connect_worker_rebalance_time_since_last_rebalance_ms",
            "The time in milliseconds since this worker completed the most recent rebalance",
        )
        .set(
            rebalances
                .iter()
                .map(|r| r.since_last_ms)
                .fold(f64::INFINITY, f64::min),
        );
        gauge(
            "kafka_connect_worker_rebalance_rebalance_avg_time_ms",
            "The average time in milliseconds spent by this worker to rebalance",
        )
        .set(max(|r| r.avg_ms));
        gauge(
            "kafka_connect_worker_rebalance_rebalance_max_time_ms",
            "The maximum time in milliseconds spent by this worker to rebalance",
        )
        .set(max(|r| r.max_ms));
    }
    registry.gather()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(connector: &str, task: Option<usize>, state: &'static str) -> Unit {
        Unit {
            connector: connector.into(),
            task,
            state,
        }
    }

    fn text(snapshots: &[WorkerSnapshot]) -> String {
        use prometheus::Encoder;
        let mut buf = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&gather(snapshots), &mut buf)
            .unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn counts_states_and_rebalances_of_every_herder() {
        let source = "a->b.MirrorSourceConnector";
        let flow = WorkerSnapshot {
            client_id: Some("a->b".into()),
            units: vec![
                unit(source, None, "running"),
                unit(source, Some(0), "running"),
                unit(source, Some(1), "failed"),
            ],
            rebalance: Some(RebalanceSnapshot {
                rebalancing: false,
                completed: 2,
                since_last_ms: 1500.0,
                avg_ms: 40.0,
                max_ms: 60.0,
            }),
        };
        let other = WorkerSnapshot {
            client_id: Some("c->b".into()),
            units: vec![unit("c->b.MirrorCheckpointConnector", Some(0), "paused")],
            rebalance: Some(RebalanceSnapshot {
                rebalancing: true,
                completed: 1,
                since_last_ms: f64::INFINITY,
                avg_ms: f64::NAN,
                max_ms: f64::NAN,
            }),
        };
        let t = text(&[flow, other]);
        let q = r#""a->b.MirrorSourceConnector""#.replace('"', "\\\"");
        for line in [
            "kafka_connect_worker_connector_count 1".to_string(),
            "kafka_connect_worker_task_count 3".into(),
            format!("kafka_connect_worker_connector_total_task_count{{connector=\"{q}\"}} 2"),
            format!("kafka_connect_worker_connector_running_task_count{{connector=\"{q}\"}} 1"),
            format!("kafka_connect_worker_connector_failed_task_count{{connector=\"{q}\"}} 1"),
            format!("kafka_connect_worker_connector_paused_task_count{{connector=\"{q}\"}} 0"),
            format!("kafka_connect_connector_status{{connector=\"{q}\",status=\"running\"}} 1"),
            format!(
                "kafka_connect_connector_task_status{{connector=\"{q}\",status=\"failed\",task=\"1\"}} 1"
            ),
            r#"kafka_connect_coordinator_assigned_connectors{clientid="\"a->b\""} 1"#.into(),
            r#"kafka_connect_coordinator_assigned_tasks{clientid="\"a->b\""} 2"#.into(),
            r#"kafka_connect_coordinator_assigned_tasks{clientid="\"c->b\""} 1"#.into(),
            "kafka_connect_worker_rebalance_rebalancing 1".into(),
            "kafka_connect_worker_rebalance_completed_rebalances_total 3".into(),
            "kafka_connect_worker_rebalance_time_since_last_rebalance_ms 1500".into(),
            "kafka_connect_worker_rebalance_rebalance_max_time_ms 60".into(),
        ] {
            assert!(t.lines().any(|l| l == line), "{line} not in:\n{t}");
        }
    }

    #[test]
    fn a_standalone_worker_has_no_coordinator_or_rebalance_series() {
        let t = text(&[WorkerSnapshot {
            client_id: None,
            units: vec![unit("file-source", None, "running")],
            rebalance: None,
        }]);
        assert!(t.contains(
            "kafka_connect_connector_status{connector=\"file-source\",status=\"running\"} 1"
        ));
        assert!(!t.contains("coordinator"), "{t}");
        assert!(!t.contains("rebalance"), "{t}");
    }

    #[test]
    fn rebalance_stats_follow_revocations_and_assignments() {
        let stats = RebalanceStats::default();
        assert_eq!(stats.snapshot().since_last_ms, f64::INFINITY);
        stats.started();
        assert!(stats.snapshot().rebalancing);
        stats.completed();
        let s = stats.snapshot();
        assert!(!s.rebalancing);
        assert_eq!(s.completed, 1);
        assert!(s.max_ms >= 0.0 && s.since_last_ms < 60_000.0, "{s:?}");
    }
}
