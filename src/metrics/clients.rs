//! The Kafka clients' metrics that Strimzi's dashboards query, derived from librdkafka's
//! statistics (`statistics.interval.ms`): Java's `consumer-fetch-manager-metrics` records-lag
//! per partition, the `incoming-byte-total` and `outgoing-byte-total` of consumers and producers,
//! and a producer's `buffer-available-bytes`. Labels are as Strimzi's JMX exporter shows them:
//! `clientid` quoted as in MBean names, topics with `.` as `_` (the form every Kafka version
//! serves).
//!
//! One registry for the process: librdkafka reports from its own threads through every client's
//! context, and a client is the process's whatever launcher built it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use crate::kafka::stats::{ClientStats, PartitionStats};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

use super::jmx;

/// The client metric families.
pub struct ClientMetrics {
    registry: Registry,
    records_lag: IntGaugeVec,
    /// (client type, direction) → counter, e.g. ("consumer", "incoming").
    bytes: HashMap<(&'static str, &'static str), IntCounterVec>,
    buffer_available: IntGaugeVec,
    /// Per client: the byte totals last seen, and the partitions whose lag it reported.
    seen: Mutex<HashMap<String, Seen>>,
}

#[derive(Default)]
struct Seen {
    rx: i64,
    tx: i64,
    lagging: BTreeSet<(String, String)>,
}

static GLOBAL: OnceLock<ClientMetrics> = OnceLock::new();

/// The process's client metrics.
pub fn global() -> &'static ClientMetrics {
    GLOBAL.get_or_init(ClientMetrics::new)
}

impl ClientMetrics {
    fn new() -> Self {
        let registry = Registry::new();
        let records_lag = IntGaugeVec::new(
            Opts::new(
                "kafka_consumer_fetch_manager_records_lag",
                "Records between the consumer's position and the partition's end (librdkafka consumer_lag)",
            ),
            &["clientid", "topic", "partition"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(records_lag.clone()))
            .expect("registered once");
        let mut bytes = HashMap::new();
        for kind in ["consumer", "producer"] {
            for dir in ["incoming", "outgoing"] {
                let c = IntCounterVec::new(
                    Opts::new(
                        format!("kafka_{kind}_{dir}_byte_total"),
                        format!("Bytes {dir} on every broker connection of the {kind}"),
                    ),
                    &["clientid"],
                )
                .expect("valid metric");
                registry
                    .register(Box::new(c.clone()))
                    .expect("registered once");
                bytes.insert((kind, dir), c);
            }
        }
        let buffer_available = IntGaugeVec::new(
            Opts::new(
                "kafka_producer_buffer_available_bytes",
                "Bytes the producer's queue can still take (queue.buffering.max.kbytes less what is queued)",
            ),
            &["clientid"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(buffer_available.clone()))
            .expect("registered once");
        ClientMetrics {
            registry,
            records_lag,
            bytes,
            buffer_available,
            seen: Mutex::default(),
        }
    }

    /// Takes one statistics report of a client.
    pub fn observe(&self, stats: &ClientStats) {
        let kind: &'static str = match stats.client_type.as_str() {
            "consumer" => "consumer",
            "producer" => "producer",
            _ => return,
        };
        let id = jmx::label(&stats.client_id).into_owned();
        let mut seen = self.seen.lock().expect("client metrics lock");
        let s = seen.entry(id.clone()).or_default();
        // librdkafka reports totals; a counter takes the increase.
        for (dir, total, last) in [
            ("incoming", stats.rx_bytes, &mut s.rx),
            ("outgoing", stats.tx_bytes, &mut s.tx),
        ] {
            if total > *last {
                self.bytes[&(kind, dir)]
                    .with_label_values(&[&id])
                    .inc_by((total - *last) as u64);
                *last = total;
            }
        }
        if kind == "producer" {
            let free = stats.msg_size_max.saturating_sub(stats.msg_size);
            self.buffer_available
                .with_label_values(&[&id])
                .set(i64::try_from(free).unwrap_or(i64::MAX));
            return;
        }
        let mut lagging = BTreeSet::new();
        for (name, topic) in &stats.topics {
            let topic_label = name.replace('.', "_");
            for (p, partition) in &topic.partitions {
                // -1 is librdkafka's internal unassigned partition.
                let Some(lag) = records_lag(partition).filter(|_| *p >= 0) else {
                    continue;
                };
                let p = p.to_string();
                self.records_lag
                    .with_label_values(&[&id, &topic_label, &p])
                    .set(lag);
                lagging.insert((topic_label.clone(), p));
            }
        }
        // Partitions the client no longer reports (unassigned) leave no stale series.
        for (topic, p) in s.lagging.difference(&lagging) {
            let _ = self.records_lag.remove_label_values(&[&id, topic, p]);
        }
        s.lagging = lagging;
    }

    pub fn gather(&self) -> Vec<MetricFamily> {
        self.registry.gather()
    }
}

/// Java's records-lag: the partition's end less the consumer's position (the next record the
/// application gets), once both are known. librdkafka's own `consumer_lag` counts from the
/// committed offset instead, which a MirrorMaker task never commits (its positions go to the
/// offsets topic), so it is used only when no position is known.
fn records_lag(p: &PartitionStats) -> Option<i64> {
    if p.hi_offset >= 0 && p.app_offset >= 0 {
        return Some((p.hi_offset - p.app_offset).max(0));
    }
    (p.consumer_lag >= 0).then_some(p.consumer_lag)
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

    fn stats(json: &str) -> ClientStats {
        ClientStats::decode(json.as_bytes()).expect("statistics")
    }

    #[test]
    fn derives_lag_and_bytes_from_librdkafka_statistics() {
        let m = ClientMetrics::new();
        let base = r#""name":"c#consumer-1","ts":1,"time":1,"age":1,"replyq":0,"msg_cnt":0,
            "msg_size":0,"msg_max":0,"msg_size_max":0,"simple_cnt":0,"metadata_cache_cnt":0,
            "tx":0,"txmsgs":0,"txmsg_bytes":0,"rx":0,"rxmsgs":0,"rxmsg_bytes":0,"brokers":{}"#;
        // `app` -1: no position yet, so librdkafka's committed-offset lag `lag` stands.
        let partition = |n: i32, app: i64, hi: i64, lag: i64| {
            format!(
                r#""{n}":{{"partition":{n},"broker":1,"leader":1,"desired":true,"unknown":false,
                "msgq_cnt":0,"msgq_bytes":0,"xmit_msgq_cnt":0,"xmit_msgq_bytes":0,"fetchq_cnt":0,
                "fetchq_size":0,"fetch_state":"active","query_offset":0,"next_offset":0,
                "app_offset":{app},"stored_offset":0,"committed_offset":0,"eof_offset":0,
                "lo_offset":0,"hi_offset":{hi},"ls_offset":0,"consumer_lag":{lag},"consumer_lag_stored":0,
                "txmsgs":0,"txbytes":0,"rxmsgs":0,"rxbytes":0,"msgs":0,"rx_ver_drops":0,
                "msgs_inflight":0,"next_ack_seq":0,"next_err_seq":0,"acked_msgid":0}}"#
            )
        };
        let report = |rx: i64, parts: &[String]| {
            stats(&format!(
                r#"{{{base},"client_id":"A->B|MirrorSourceConnector-0|replication-consumer",
                "type":"consumer","tx_bytes":5,"rx_bytes":{rx},"topics":{{"my.topic":{{
                "topic":"my.topic","age":0,"metadata_age":0,
                "batchsize":{{"min":0,"max":0,"avg":0,"sum":0,"cnt":0,"stddev":0,"hdrsize":0,
                "p50":0,"p75":0,"p90":0,"p95":0,"p99":0,"p99_99":0,"outofrange":0}},
                "batchcnt":{{"min":0,"max":0,"avg":0,"sum":0,"cnt":0,"stddev":0,"hdrsize":0,
                "p50":0,"p75":0,"p90":0,"p95":0,"p99":0,"p99_99":0,"outofrange":0}},
                "partitions":{{{}}}}}}}}}"#,
                parts.join(",")
            ))
        };
        m.observe(&report(
            100,
            &[
                partition(0, 3, 10, -1),
                partition(1, -1, -1, -1),
                partition(2, -1, 10, 4),
                partition(-1, 0, 3, 3),
            ],
        ));
        let first = text(&m);
        assert!(
            first.contains(r#"partition="2",topic="my_topic"} 4"#),
            "{first}"
        );
        m.observe(&report(250, &[partition(0, 8, 10, -1)]));
        let text = text(&m);
        let id = r#"clientid="\"A->B|MirrorSourceConnector-0|replication-consumer\"""#;
        assert!(
            text.contains(&format!(
                r#"kafka_consumer_fetch_manager_records_lag{{{id},partition="0",topic="my_topic"}} 2"#
            )),
            "{text}"
        );
        assert!(!text.contains(r#"partition="1""#) && !text.contains(r#"partition="-1""#));
        assert!(
            !text.contains(r#"partition="2""#),
            "no longer reported: {text}"
        );
        assert!(text.contains(&format!("kafka_consumer_incoming_byte_total{{{id}}} 250")));
        assert!(text.contains(&format!("kafka_consumer_outgoing_byte_total{{{id}}} 5")));
    }
}
