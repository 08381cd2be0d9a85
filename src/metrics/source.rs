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

use std::sync::Arc;
use std::time::Instant;

use super::table::{Column, Kind, Row, Table};
use super::window::Window;
use super::MetricNames;

const LABELS: &[&str] = &["source", "target", "topic", "partition"];

/// No record is outstanding: the partition is caught up.
const CAUGHT_UP: i64 = i64::MIN;
/// Records are outstanding, but none has been read yet, so their age is unknown.
const UNKNOWN: i64 = i64::MAX;

// A partition's cells, in the order of `columns`.
const RECORD_COUNT: usize = 0;
const LOST_RECORD_COUNT: usize = 1;
const BYTE_COUNT: usize = 2;
const RECORD_RATE: usize = 3;
const BYTE_RATE: usize = 4;
/// Last, min, max, avg.
const RECORD_AGE: usize = 5;
const REPLICATION_LATENCY: usize = 9;
const LAG: usize = 13;
const LAG_SECONDS: usize = 14;
/// The oldest outstanding timestamp (or [`CAUGHT_UP`], [`UNKNOWN`]), for the scrape-time lag
/// in seconds.
const CLOCK: usize = 15;

/// The metric families, registered once.
#[derive(Clone)]
pub struct SourceMetrics {
    names: MetricNames,
    table: Arc<Table>,
}

fn columns(prefix: &str) -> Vec<Column> {
    let c = |name: &str, help: &str, kind| Column::new(format!("{prefix}{name}"), help, kind);
    let stat = |name: &str, help: &str| {
        [
            c(name, &format!("{help} (last value)"), Kind::Gauge),
            c(
                &format!("{name}_min"),
                &format!("{help} (minimum over the last minute)"),
                Kind::Gauge,
            ),
            c(
                &format!("{name}_max"),
                &format!("{help} (maximum over the last minute)"),
                Kind::Gauge,
            ),
            c(
                &format!("{name}_avg"),
                &format!("{help} (average over the last minute)"),
                Kind::Gauge,
            ),
        ]
    };
    let mut columns = vec![
        c(
            "record_count",
            "Records replicated and acknowledged by the target",
            Kind::Counter,
        ),
        c(
            "lost_record_count",
            "Source records deleted (retention, deleted records) before they were replicated",
            Kind::Counter,
        ),
        c(
            "byte_count",
            "Value bytes of records replicated",
            Kind::Counter,
        ),
        c("record_rate", "Records replicated per second", Kind::Gauge),
        c(
            "byte_rate",
            "Value bytes replicated per second",
            Kind::Gauge,
        ),
    ];
    columns.extend(stat(
        "record_age_ms",
        "Age of records when read from the source, in ms",
    ));
    columns.extend(stat(
        "replication_latency_ms",
        "Time from a record's timestamp to its acknowledgement by the target, in ms",
    ));
    columns.push(c(
        "replication_lag",
        "Records in the source partition not yet replicated (end offset minus next offset to replicate)",
        Kind::IntGauge,
    ));
    columns.push(c(
        "replication_lag_seconds",
        "Age in seconds of the oldest record of the source partition not yet on the target (0 when caught up; NaN until one is read)",
        Kind::Gauge,
    ));
    columns.push(c("clock", "", Kind::Hidden));
    columns
}

impl SourceMetrics {
    pub fn new(names: MetricNames) -> Self {
        let table = Table::new(columns(names.source_prefix()), LABELS);
        SourceMetrics {
            names,
            table: Arc::new(table),
        }
    }

    /// The metrics of one partition, labelled with the remote (target-side) topic as in Java.
    /// They show from the partition's first record (or lag) until its task stops.
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
        let row = self.table.row(&l);
        row.set_int(CLOCK, UNKNOWN);
        row.set(LAG_SECONDS, f64::NAN);
        let now = Instant::now();
        PartitionMetrics {
            row,
            records: Window::new(now),
            bytes: Window::new(now),
            age: Window::new(now),
            latency: Window::new(now),
            pending_records: 0,
            pending_bytes: 0,
            active_at: None,
            settled: false,
            touched: false,
        }
    }

    /// Sets every shown partition's lag in seconds as of `now_ms` (wall clock); call before a
    /// scrape.
    pub fn refresh(&self, now_ms: i64) {
        self.table.for_each_shown(|row| {
            row.set(LAG_SECONDS, lag_seconds(row.get_int(CLOCK), now_ms));
        });
    }

    /// Appends the families in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        self.table.render(out);
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
    row: Arc<Row>,
    records: Window,
    bytes: Window,
    age: Window,
    latency: Window,
    pending_records: u64,
    pending_bytes: u64,
    /// When a record was last read or acknowledged.
    active_at: Option<Instant>,
    /// Published caught up, with windows already empty: publishing again changes nothing
    /// until a record comes (see [`PartitionMetrics::is_settled`]).
    settled: bool,
    /// A record was read or acknowledged since the last publish.
    touched: bool,
}

/// How long after its last record a partition's windows are surely empty (two samples of 30 s,
/// with room for the sample that was current).
const WINDOWS_EMPTY_AFTER: std::time::Duration = std::time::Duration::from_secs(90);

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
        self.row.show();
        self.active_at = Some(now);
        self.settled = false;
        self.touched = true;
        self.pending_bytes += value_bytes as u64;
        self.bytes.record(value_bytes as f64, now);
        if let Some(age) = age_ms {
            self.age.record(age as f64, now);
        }
    }

    /// A record acknowledged by the target, with its latency since its timestamp.
    pub fn acked(&mut self, latency_ms: Option<i64>, now: Instant) {
        self.row.show();
        self.active_at = Some(now);
        self.settled = false;
        self.touched = true;
        self.pending_records += 1;
        self.records.record(1.0, now);
        if let Some(l) = latency_ms {
            self.latency.record(l as f64, now);
        }
    }

    /// A batch of `records` copied as a whole (the batch path): its size in bytes as fetched
    /// (compressed, where Java counts record values) and the age of its newest record.
    pub fn polled_batch(&mut self, bytes: usize, age_ms: Option<i64>, now: Instant) {
        self.polled(bytes, age_ms, now);
    }

    /// A batch of `records` acknowledged by the target, with the latency of its newest record.
    pub fn acked_batch(&mut self, records: u64, latency_ms: Option<i64>, now: Instant) {
        self.row.show();
        self.active_at = Some(now);
        self.settled = false;
        self.touched = true;
        self.pending_records += records;
        self.records.record(records as f64, now);
        if let Some(l) = latency_ms {
            self.latency.record(l as f64, now);
        }
    }

    /// Records found deleted from the source before they were replicated.
    pub fn lost(&mut self, records: u64) {
        self.row.show();
        self.row.add(LOST_RECORD_COUNT, records);
    }

    /// Sets the replication lag, in records and (through the scrape) in seconds.
    pub fn set_lag(&mut self, outstanding: Outstanding) {
        if outstanding.records > 0 {
            self.row.show();
        }
        self.row.set_int(LAG, outstanding.records.max(0));
        self.row.set_int(CLOCK, outstanding.oldest());
    }

    /// Caught up, and nothing read or acknowledged since its windows emptied and were
    /// published: an idle partition, which the task need not look at (nor publish) until a
    /// record of it comes. Thousands of idle partitions then cost a flag each per second.
    pub fn is_settled(&self) -> bool {
        self.settled
    }

    /// Caught up at the last [`set_lag`](Self::set_lag), and nothing read or acknowledged
    /// since the last publish: still caught up, as a record that came would have been read.
    pub fn is_still_caught_up(&self) -> bool {
        !self.touched && self.row.get_int(CLOCK) == CAUGHT_UP
    }

    /// Copies the local statistics to Prometheus.
    pub fn publish(&mut self, now: Instant) {
        self.touched = false;
        self.settled = self.row.get_int(CLOCK) == CAUGHT_UP
            && self
                .active_at
                .is_none_or(|t| now.duration_since(t) >= WINDOWS_EMPTY_AFTER);
        let row = &self.row;
        row.add(RECORD_COUNT, std::mem::take(&mut self.pending_records));
        row.add(BYTE_COUNT, std::mem::take(&mut self.pending_bytes));
        row.set(RECORD_RATE, self.records.summary(now).rate);
        row.set(BYTE_RATE, self.bytes.summary(now).rate);
        for (first, window) in [
            (RECORD_AGE, &mut self.age),
            (REPLICATION_LATENCY, &mut self.latency),
        ] {
            let s = window.summary(now);
            for (i, v) in [s.last, s.min, s.max, s.avg].into_iter().enumerate() {
                row.set(first + i, v);
            }
        }
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
    fn a_partition_shows_from_its_first_record_until_its_task_stops() {
        let m = SourceMetrics::new(MetricNames::Strimzi);
        let text = |m: &SourceMetrics| {
            m.refresh(2_000);
            let mut out = String::new();
            m.render(&mut out);
            out
        };
        let mut idle = m.partition("A", "B", "A.t", 1);
        idle.set_lag(outstanding(0, None, None));
        idle.publish(Instant::now());
        assert!(
            text(&m).is_empty(),
            "an idle partition costs nothing: {}",
            text(&m)
        );
        let mut p = m.partition("A", "B", "A.t", 0);
        p.set_lag(outstanding(3, Some(0), None));
        p.acked(Some(5), Instant::now());
        p.publish(Instant::now());
        let live = text(&m);
        let series = r#"{partition="0",source="A",target="B",topic="A.t"}"#;
        for line in [
            format!("kafka_connect_mirror_mirrorsourceconnector_record_count{series} 1"),
            format!("kafka_connect_mirror_mirrorsourceconnector_replication_lag{series} 3"),
            format!("kafka_connect_mirror_mirrorsourceconnector_replication_lag_seconds{series} 2"),
            format!(
                "kafka_connect_mirror_mirrorsourceconnector_replication_latency_ms_max{series} 5"
            ),
        ] {
            assert!(live.contains(&format!("{line}\n")), "{line} in {live}");
        }
        assert!(!live.contains(r#"partition="1""#) && !live.contains("clock"));
        drop(p);
        assert!(text(&m).is_empty(), "{}", text(&m));
    }

    #[test]
    fn an_idle_partition_settles_once_its_windows_are_published_empty() {
        let m = SourceMetrics::new(MetricNames::Strimzi);
        let mut p = m.partition("A", "B", "A.t", 0);
        let start = Instant::now();
        p.polled(10, Some(1), start);
        p.acked(Some(2), start);
        p.set_lag(outstanding(0, None, Some(1)));
        p.publish(start);
        assert!(!p.is_settled(), "its windows still hold the record");
        let later = start + WINDOWS_EMPTY_AFTER;
        p.publish(later);
        assert!(p.is_settled());
        p.polled(10, Some(1), later);
        assert!(!p.is_settled(), "a record wakes it");
        p.set_lag(outstanding(4, None, Some(1)));
        p.publish(later + WINDOWS_EMPTY_AFTER);
        assert!(!p.is_settled(), "behind: not settled");
    }
}
