//! The Kafka clients' metrics that Strimzi's dashboards query, kept by the source tasks that own
//! the clients: Java's `consumer-fetch-manager-metrics` records-lag per partition, a
//! replication consumer's `incoming-byte-total`, a replication producer's `outgoing-byte-total`
//! and `buffer-available-bytes`. Labels are as Strimzi's JMX exporter shows them: `clientid`
//! quoted as in MBean names, topics with `.` as `_` (the form every Kafka version serves).
//!
//! Not from librdkafka's statistics: with `statistics.interval.ms` set, librdkafka keeps two
//! HDR histograms per topic in every client, which at thousands of topics cost more memory than
//! the rest of the flow (1,000 topics × 2 partitions peaked at 219 to 228 MiB with them, 124 MiB
//! without). So the byte totals count the records' keys and values as the task reads
//! and writes them (Java counts network bytes, with protocol overhead and after compression),
//! the records-lag is the end offset of the last fetch less the task's position, and the buffer
//! is the producer's capacity less the bytes of records not yet acknowledged.
//!
//! One registry for the process, as Java's clients register in one JMX server.

use std::sync::OnceLock;

use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::jmx;

/// The client metric families.
pub struct ClientMetrics {
    registry: Registry,
    records_lag: IntGaugeVec,
    incoming: IntCounterVec,
    outgoing: IntCounterVec,
    buffer_available: IntGaugeVec,
}

static GLOBAL: OnceLock<ClientMetrics> = OnceLock::new();

/// The process's client metrics.
pub fn global() -> &'static ClientMetrics {
    GLOBAL.get_or_init(ClientMetrics::new)
}

impl ClientMetrics {
    fn new() -> Self {
        let registry = Registry::new();
        let register = |c: Box<dyn prometheus::core::Collector>| {
            registry.register(c).expect("registered once");
        };
        let by_client = ["clientid"];
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            register(Box::new(g.clone()));
            g
        };
        let counters = |name: &str, help: &str| {
            let c = IntCounterVec::new(Opts::new(name, help), &by_client).expect("valid metric");
            register(Box::new(c.clone()));
            c
        };
        let records_lag = gauges(
            "kafka_consumer_fetch_manager_records_lag",
            "Records between the consumer's position and the partition's end offset as of its last fetch",
            &["clientid", "topic", "partition"],
        );
        let incoming = counters(
            "kafka_consumer_incoming_byte_total",
            "Bytes of the records (keys and values) the consumer fetched and the task read",
        );
        let outgoing = counters(
            "kafka_producer_outgoing_byte_total",
            "Bytes of the records (keys and values) sent through the producer",
        );
        let buffer_available = gauges(
            "kafka_producer_buffer_available_bytes",
            "Bytes the producer's queue can still take (queue.buffering.max.kbytes less the records not yet acknowledged)",
            &by_client,
        );
        ClientMetrics {
            registry,
            records_lag,
            incoming,
            outgoing,
            buffer_available,
        }
    }

    /// The metrics of the consumer with client id `client_id`.
    pub fn consumer(&self, client_id: &str) -> ConsumerMetrics {
        let id = jmx::label(client_id).into_owned();
        ConsumerMetrics {
            incoming: self.incoming.with_label_values(&[&id]),
            family: self.records_lag.clone(),
            owner: (self.incoming.clone(), None),
            id,
        }
    }

    /// The metrics of the producer with client id `client_id`, whose queue takes `capacity`
    /// bytes.
    pub fn producer(&self, client_id: &str, capacity: u64) -> ProducerMetrics {
        let id = jmx::label(client_id).into_owned();
        let available = self.buffer_available.with_label_values(&[&id]);
        available.set(i64::try_from(capacity).unwrap_or(i64::MAX));
        ProducerMetrics {
            outgoing: self.outgoing.with_label_values(&[&id]),
            available,
            capacity,
            queued: 0,
            owner: (self.outgoing.clone(), Some(self.buffer_available.clone())),
            id,
        }
    }

    pub fn gather(&self) -> Vec<MetricFamily> {
        self.registry.gather()
    }
}

/// The families a client's series belong to, to remove them with the client.
type Owner = (IntCounterVec, Option<IntGaugeVec>);

fn remove(owner: &Owner, id: &str) {
    // Errors mean "already removed" (another client with the same id), which is fine.
    let _ = owner.0.remove_label_values(&[id]);
    if let Some(g) = &owner.1 {
        let _ = g.remove_label_values(&[id]);
    }
}

/// A replication consumer's series; gone when dropped, as Java removes a closed client's.
pub struct ConsumerMetrics {
    id: String,
    incoming: IntCounter,
    family: IntGaugeVec,
    owner: Owner,
}

impl ConsumerMetrics {
    /// Records read, with their bytes.
    pub fn read(&self, bytes: u64) {
        self.incoming.inc_by(bytes);
    }

    /// The records-lag series of one assigned partition (created on its first value).
    pub fn partition(&self, topic: &str, partition: i32) -> RecordsLag {
        RecordsLag {
            labels: [
                self.id.clone(),
                topic.replace('.', "_"),
                partition.to_string(),
            ],
            family: self.family.clone(),
            gauge: None,
        }
    }
}

impl Drop for ConsumerMetrics {
    fn drop(&mut self) {
        remove(&self.owner, &self.id);
    }
}

/// One partition's records-lag: the series exists from its first value until the partition is
/// no longer assigned (dropped).
pub struct RecordsLag {
    labels: [String; 3],
    family: IntGaugeVec,
    gauge: Option<IntGauge>,
}

impl RecordsLag {
    pub fn set(&mut self, lag: i64) {
        let (labels, family) = (&self.labels, &self.family);
        self.gauge
            .get_or_insert_with(|| {
                let l: [&str; 3] = std::array::from_fn(|i| labels[i].as_str());
                family.with_label_values(&l)
            })
            .set(lag.max(0));
    }
}

impl Drop for RecordsLag {
    fn drop(&mut self) {
        if self.gauge.is_some() {
            let l: [&str; 3] = std::array::from_fn(|i| self.labels[i].as_str());
            let _ = self.family.remove_label_values(&l);
        }
    }
}

/// A replication producer's series; gone when dropped.
pub struct ProducerMetrics {
    id: String,
    outgoing: IntCounter,
    available: IntGauge,
    capacity: u64,
    /// Bytes sent and not yet acknowledged (or refused).
    queued: u64,
    owner: Owner,
}

impl ProducerMetrics {
    /// A record of `bytes` handed to the producer.
    pub fn sent(&mut self, bytes: u64) {
        self.outgoing.inc_by(bytes);
        self.queued += bytes;
    }

    /// A record of `bytes` the producer reported on (written or not).
    pub fn reported(&mut self, bytes: u64) {
        self.queued = self.queued.saturating_sub(bytes);
    }

    /// Copies the room left in the queue to its gauge (done once a second, not per record).
    pub fn publish(&self) {
        let free = self.capacity.saturating_sub(self.queued);
        self.available.set(i64::try_from(free).unwrap_or(i64::MAX));
    }
}

impl Drop for ProducerMetrics {
    fn drop(&mut self) {
        remove(&self.owner, &self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &ClientMetrics) -> String {
        let mut buf = Vec::new();
        prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &m.gather(), &mut buf)
            .unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn a_consumer_counts_bytes_and_lag_under_java_labels_until_dropped() {
        let m = ClientMetrics::new();
        let c = m.consumer("A->B|MirrorSourceConnector-0|replication-consumer");
        let id = r#"clientid="\"A->B|MirrorSourceConnector-0|replication-consumer\"""#;
        let mut idle = c.partition("my.topic", 1);
        let mut p = c.partition("my.topic", 0);
        c.read(250);
        p.set(4);
        p.set(-3);
        let t = text(&m);
        assert!(t.contains(&format!("kafka_consumer_incoming_byte_total{{{id}}} 250")));
        assert!(
            t.contains(&format!(
                r#"kafka_consumer_fetch_manager_records_lag{{{id},partition="0",topic="my_topic"}} 0"#
            )),
            "{t}"
        );
        assert!(!t.contains(r#"partition="1""#), "no value yet, no series");
        idle.set(1);
        drop(p);
        let t = text(&m);
        assert!(!t.contains(r#"partition="0""#) && t.contains(r#"partition="1""#));
        drop((idle, c));
        assert!(!text(&m).contains("clientid"), "{}", text(&m));
    }

    #[test]
    fn a_producer_reports_the_room_left_in_its_queue() {
        let m = ClientMetrics::new();
        let mut p = m.producer("connector-producer-A->B.MirrorSourceConnector-0", 1000);
        let id = r#"clientid="\"connector-producer-A->B.MirrorSourceConnector-0\"""#;
        let available = |m: &ClientMetrics| {
            text(m)
                .lines()
                .find(|l| l.starts_with("kafka_producer_buffer_available_bytes{"))
                .map(|l| l.rsplit(' ').next().unwrap().to_string())
        };
        assert_eq!(available(&m).as_deref(), Some("1000"));
        p.sent(300);
        p.sent(500);
        p.reported(300);
        p.publish();
        assert_eq!(available(&m).as_deref(), Some("500"));
        p.reported(900);
        p.publish();
        assert_eq!(
            available(&m).as_deref(),
            Some("1000"),
            "never above capacity"
        );
        assert!(text(&m).contains(&format!("kafka_producer_outgoing_byte_total{{{id}}} 800")));
        drop(p);
        assert!(available(&m).is_none());
    }
}
