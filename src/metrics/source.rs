//! MirrorSourceConnector's per-partition metrics (`MirrorSourceMetrics`): record-count,
//! record-rate, byte-count, byte-rate, record-age-ms and replication-latency-ms with min, max and
//! avg; plus what Java lacks: replication-lag (records behind the source's end offset) and
//! replication-lag-seconds (the age of the oldest record not yet on the target, the recovery
//! point objective).
//!
//! The hot path records into a [`PartitionMetrics`] owned by the task thread (no locks) and
//! publishes to Prometheus about once a second. Lag in seconds is computed when scraped, from
//! the timestamp the task last published, so it keeps growing while a stalled task publishes
//! nothing. A partition's series go when its task stops, as Java removes a task's metrics.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use prometheus::{
    Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use super::window::Window;
use super::MetricNames;

const LABELS: &[&str] = &["source", "target", "topic", "partition"];

/// No record is outstanding: the partition is caught up.
const CAUGHT_UP: i64 = i64::MIN;
/// Records are outstanding, but none has been read yet, so their age is unknown.
const UNKNOWN: i64 = i64::MAX;

/// The metric families, registered once.
#[derive(Clone)]
pub struct SourceMetrics {
    names: MetricNames,
    record_count: IntCounterVec,
    lost_record_count: IntCounterVec,
    byte_count: IntCounterVec,
    record_rate: GaugeVec,
    byte_rate: GaugeVec,
    record_age: [GaugeVec; 4],
    replication_latency: [GaugeVec; 4],
    lag: IntGaugeVec,
    lag_seconds: GaugeVec,
    /// Each live partition's oldest outstanding timestamp, for the scrape-time lag in seconds.
    clocks: Arc<Mutex<Vec<LagClock>>>,
}

/// A partition's oldest outstanding timestamp (gone with its task) and its lag-seconds gauge.
type LagClock = (Weak<AtomicI64>, Gauge);

struct Family<'a> {
    registry: &'a Registry,
    prefix: &'static str,
}

impl Family<'_> {
    fn register<C: prometheus::core::Collector + Clone + 'static>(&self, c: C) -> C {
        self.registry
            .register(Box::new(c.clone()))
            .expect("registered once");
        c
    }

    fn opts(&self, name: &str, help: &str) -> Opts {
        Opts::new(format!("{}{name}", self.prefix), help)
    }

    fn gauge(&self, name: &str, help: &str) -> GaugeVec {
        self.register(GaugeVec::new(self.opts(name, help), LABELS).expect("valid metric"))
    }

    fn counter(&self, name: &str, help: &str) -> IntCounterVec {
        self.register(IntCounterVec::new(self.opts(name, help), LABELS).expect("valid metric"))
    }

    fn stat(&self, name: &str, help: &str) -> [GaugeVec; 4] {
        [
            self.gauge(name, &format!("{help} (last value)")),
            self.gauge(
                &format!("{name}_min"),
                &format!("{help} (minimum over the last minute)"),
            ),
            self.gauge(
                &format!("{name}_max"),
                &format!("{help} (maximum over the last minute)"),
            ),
            self.gauge(
                &format!("{name}_avg"),
                &format!("{help} (average over the last minute)"),
            ),
        ]
    }
}

impl SourceMetrics {
    pub fn register(registry: &Registry, names: MetricNames) -> Self {
        let f = Family {
            registry,
            prefix: names.source_prefix(),
        };
        let lag = f.register(
            IntGaugeVec::new(
                f.opts(
                    "replication_lag",
                    "Records in the source partition not yet replicated (end offset minus next offset to replicate)",
                ),
                LABELS,
            )
            .expect("valid metric"),
        );
        SourceMetrics {
            names,
            record_count: f.counter(
                "record_count",
                "Records replicated and acknowledged by the target",
            ),
            lost_record_count: f.counter(
                "lost_record_count",
                "Source records deleted (retention, deleted records) before they were replicated",
            ),
            byte_count: f.counter("byte_count", "Value bytes of records replicated"),
            record_rate: f.gauge("record_rate", "Records replicated per second"),
            byte_rate: f.gauge("byte_rate", "Value bytes replicated per second"),
            record_age: f.stat(
                "record_age_ms",
                "Age of records when read from the source, in ms",
            ),
            replication_latency: f.stat(
                "replication_latency_ms",
                "Time from a record's timestamp to its acknowledgement by the target, in ms",
            ),
            lag,
            lag_seconds: f.gauge(
                "replication_lag_seconds",
                "Age in seconds of the oldest record of the source partition not yet on the target (0 when caught up; NaN until one is read)",
            ),
            clocks: Arc::default(),
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
        let labels: [String; 4] =
            [source, target, remote_topic, p.as_str()].map(|v| self.names.label(v));
        let l: [&str; 4] = std::array::from_fn(|i| labels[i].as_str());
        let four = |v: &[GaugeVec; 4]| -> [Gauge; 4] {
            std::array::from_fn(|i| v[i].with_label_values(&l))
        };
        let clock = Arc::new(AtomicI64::new(UNKNOWN));
        self.clocks.lock().expect("clocks lock").push((
            Arc::downgrade(&clock),
            self.lag_seconds.with_label_values(&l),
        ));
        let now = Instant::now();
        PartitionMetrics {
            record_count: self.record_count.with_label_values(&l),
            lost_record_count: self.lost_record_count.with_label_values(&l),
            byte_count: self.byte_count.with_label_values(&l),
            record_rate: self.record_rate.with_label_values(&l),
            byte_rate: self.byte_rate.with_label_values(&l),
            record_age: four(&self.record_age),
            replication_latency: four(&self.replication_latency),
            lag: self.lag.with_label_values(&l),
            clock,
            records: Window::new(now),
            bytes: Window::new(now),
            age: Window::new(now),
            latency: Window::new(now),
            pending_records: 0,
            pending_bytes: 0,
            family: self.clone(),
            labels,
        }
    }

    /// Sets every live partition's lag in seconds as of `now_ms` (wall clock); call before a
    /// scrape.
    pub fn refresh(&self, now_ms: i64) {
        let mut clocks = self.clocks.lock().expect("clocks lock");
        clocks.retain(|(clock, gauge)| {
            let Some(clock) = clock.upgrade() else {
                return false;
            };
            gauge.set(lag_seconds(clock.load(Ordering::Relaxed), now_ms));
            true
        });
    }

    fn remove(&self, labels: &[String; 4]) {
        let l: [&str; 4] = std::array::from_fn(|i| labels[i].as_str());
        // Errors mean "never created", which is fine.
        let _ = self.record_count.remove_label_values(&l);
        let _ = self.lost_record_count.remove_label_values(&l);
        let _ = self.byte_count.remove_label_values(&l);
        let _ = self.record_rate.remove_label_values(&l);
        let _ = self.byte_rate.remove_label_values(&l);
        for v in self.record_age.iter().chain(&self.replication_latency) {
            let _ = v.remove_label_values(&l);
        }
        let _ = self.lag.remove_label_values(&l);
        let _ = self.lag_seconds.remove_label_values(&l);
    }
}

/// The lag in seconds for an oldest outstanding timestamp (or [`CAUGHT_UP`], [`UNKNOWN`]).
fn lag_seconds(oldest_ms: i64, now_ms: i64) -> f64 {
    match oldest_ms {
        CAUGHT_UP => 0.0,
        UNKNOWN => f64::NAN,
        // A CreateTime ahead of this clock is not negative lag.
        ts => (now_ms - ts).max(0) as f64 / 1000.0,
    }
}

/// One partition's statistics, owned by the task that replicates it.
pub struct PartitionMetrics {
    record_count: IntCounter,
    lost_record_count: IntCounter,
    byte_count: IntCounter,
    record_rate: Gauge,
    byte_rate: Gauge,
    record_age: [Gauge; 4],
    replication_latency: [Gauge; 4],
    lag: IntGauge,
    clock: Arc<AtomicI64>,
    records: Window,
    bytes: Window,
    age: Window,
    latency: Window,
    pending_records: u64,
    pending_bytes: u64,
    family: SourceMetrics,
    labels: [String; 4],
}

/// Where a partition stands, for the lag metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outstanding {
    /// Records in the source not yet on the target.
    pub records: i64,
    /// The timestamp of the oldest record read and not yet acknowledged, if any.
    pub oldest_in_flight: Option<i64>,
    /// The timestamp of the last record the target acknowledged, if any.
    pub last_acked: Option<i64>,
}

impl Outstanding {
    /// The timestamp the lag in seconds counts from. With nothing in flight but records still
    /// to read, the next one was appended after the last acknowledged one, so the age of that
    /// one bounds the lag from above: an alert on it errs on the safe side.
    fn oldest(&self) -> i64 {
        if self.records <= 0 && self.oldest_in_flight.is_none() {
            return CAUGHT_UP;
        }
        self.oldest_in_flight.or(self.last_acked).unwrap_or(UNKNOWN)
    }
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

    /// Records found deleted from the source before they were replicated.
    pub fn lost(&mut self, records: u64) {
        self.lost_record_count.inc_by(records);
    }

    /// Sets the replication lag, in records and (through the scrape) in seconds.
    pub fn set_lag(&mut self, outstanding: Outstanding) {
        self.lag.set(outstanding.records.max(0));
        self.clock.store(outstanding.oldest(), Ordering::Relaxed);
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

impl Drop for PartitionMetrics {
    fn drop(&mut self) {
        self.family.remove(&self.labels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outstanding(records: i64, in_flight: Option<i64>, acked: Option<i64>) -> Outstanding {
        Outstanding {
            records,
            oldest_in_flight: in_flight,
            last_acked: acked,
        }
    }

    #[test]
    fn lag_in_seconds_counts_from_the_oldest_outstanding_record() {
        let now = 100_000;
        let secs = |o: Outstanding| lag_seconds(o.oldest(), now);
        assert_eq!(secs(outstanding(0, None, Some(1_000))), 0.0);
        assert_eq!(secs(outstanding(5, Some(90_000), Some(80_000))), 10.0);
        // In flight although the (older) end offset says caught up: still outstanding.
        assert_eq!(secs(outstanding(0, Some(99_000), None)), 1.0);
        // Behind with nothing read yet: bounded by the last acknowledged record.
        assert_eq!(secs(outstanding(7, None, Some(40_000))), 60.0);
        assert!(secs(outstanding(7, None, None)).is_nan());
        // A timestamp from the future is no lag.
        assert_eq!(secs(outstanding(1, Some(200_000), None)), 0.0);
    }

    #[test]
    fn a_stopped_partition_leaves_no_series() {
        let registry = Registry::new();
        let m = SourceMetrics::register(&registry, MetricNames::Strimzi);
        let mut p = m.partition("A", "B", "A.t", 0);
        p.set_lag(outstanding(3, Some(0), None));
        p.acked(Some(5), Instant::now());
        p.publish(Instant::now());
        m.refresh(2_000);
        let names = |r: &Registry| -> Vec<String> {
            r.gather()
                .iter()
                .filter(|f| !f.get_metric().is_empty())
                .map(|f| f.name().to_string())
                .collect()
        };
        let live = names(&registry);
        assert!(live.contains(&"kafka_connect_mirror_mirrorsourceconnector_record_count".into()));
        assert!(live.contains(
            &"kafka_connect_mirror_mirrorsourceconnector_replication_lag_seconds".into()
        ));
        drop(p);
        m.refresh(3_000);
        assert!(names(&registry).is_empty(), "{:?}", names(&registry));
    }
}
