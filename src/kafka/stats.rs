//! The few fields of librdkafka's statistics that the metrics use. librdkafka reports every
//! partition and broker with dozens of fields each, every `statistics.interval.ms`; here the
//! rest is skipped as it is read, never built into rust-rdkafka's full `Statistics`.
//!
//! (The decoding is not what statistics cost most. With statistics on, librdkafka keeps two
//! HDR histograms per topic in every client (`rd_avg_init` of batch size and count); a flow of
//! 1,000 topics × 2 partitions peaked at 219 to 228 MiB with them, 124 MiB without
//! (benches/replicate, scale part, debug build): the next cost to remove.)

use std::collections::HashMap;

use serde::Deserialize;

/// One client's report.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientStats {
    pub client_id: String,
    /// `consumer` or `producer`.
    #[serde(rename = "type")]
    pub client_type: String,
    /// Bytes received and sent, totals since the client started.
    #[serde(default)]
    pub rx_bytes: i64,
    #[serde(default)]
    pub tx_bytes: i64,
    /// A producer's queued bytes, and its queue's capacity.
    #[serde(default)]
    pub msg_size: u64,
    #[serde(default)]
    pub msg_size_max: u64,
    #[serde(default)]
    pub topics: HashMap<String, TopicStats>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TopicStats {
    /// By partition number (-1: librdkafka's internal unassigned partition).
    #[serde(default)]
    pub partitions: HashMap<i32, PartitionStats>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PartitionStats {
    /// The partition's end offset, -1 until known.
    #[serde(default = "unknown")]
    pub hi_offset: i64,
    /// The offset of the next record the application gets, -1 until known.
    #[serde(default = "unknown")]
    pub app_offset: i64,
    /// librdkafka's lag from the committed offset, -1 until known.
    #[serde(default = "unknown")]
    pub consumer_lag: i64,
}

fn unknown() -> i64 {
    -1
}

impl ClientStats {
    /// Decodes a report; `None` when it is not librdkafka's JSON.
    pub fn decode(json: &[u8]) -> Option<ClientStats> {
        serde_json::from_slice(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_used_and_skips_the_rest() {
        let json = br#"{"name":"c","client_id":"id","type":"consumer","ts":1,"rx_bytes":7,
            "tx_bytes":3,"msg_size":0,"msg_size_max":10,
            "brokers":{"b1":{"name":"b1","rtt":{"min":1,"max":2,"p99":2},"toppars":{"t-0":{}}}},
            "topics":{"t":{"topic":"t","age":1,"partitions":{
                "0":{"partition":0,"hi_offset":40,"app_offset":35,"consumer_lag":-1,"fetch_state":"active"},
                "-1":{"partition":-1,"hi_offset":-1}}}}}"#;
        let s = ClientStats::decode(json).expect("decodes");
        assert_eq!(
            (s.client_id.as_str(), s.client_type.as_str()),
            ("id", "consumer")
        );
        assert_eq!((s.rx_bytes, s.tx_bytes, s.msg_size_max), (7, 3, 10));
        let p = s.topics["t"].partitions[&0];
        assert_eq!((p.hi_offset, p.app_offset, p.consumer_lag), (40, 35, -1));
        assert_eq!(
            s.topics["t"].partitions[&-1].app_offset, -1,
            "absent: unknown"
        );
        assert!(ClientStats::decode(b"not json").is_none());
    }
}
