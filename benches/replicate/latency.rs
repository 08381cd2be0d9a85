//! End-to-end latency: records produced to the source at a steady rate, timed from their append
//! on the source (the source topic uses LogAppendTime, and both MirrorMaker 2s copy the
//! timestamp) to the moment a consumer of the target receives them.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

pub struct Percentiles {
    pub p50: i64,
    pub p99: i64,
    pub max: i64,
    pub received: usize,
}

impl Percentiles {
    fn of(mut ms: Vec<i64>) -> Percentiles {
        ms.sort_unstable();
        let at = |q: f64| {
            ms.get(((ms.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(-1)
        };
        Percentiles {
            p50: at(0.5),
            p99: at(0.99),
            max: ms.last().copied().unwrap_or(-1),
            received: ms.len(),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A consumer of `topic` on the target from its beginning, once the replicator created it.
pub fn target_consumer(bootstrap: &str, topic: &str, partitions: i32) -> BaseConsumer {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-latency")
        .set("fetch.wait.max.ms", "5")
        .create()
        .expect("latency consumer");
    let deadline = Instant::now() + Duration::from_secs(120);
    while c
        .fetch_metadata(Some(topic), Duration::from_secs(1))
        .map(|m| m.topics()[0].partitions().len() as i32)
        .unwrap_or(0)
        < partitions
    {
        assert!(Instant::now() < deadline, "{topic} was not created");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    c
}

/// Produces `rate_mb` MB/s of `size`-byte records to `topic` over `partitions` for `seconds`,
/// while `consumer` receives them from the target; the latencies seen.
pub fn measure(
    source: &str,
    topic: &str,
    partitions: i32,
    size: usize,
    rate_mb: f64,
    seconds: u64,
    consumer: &BaseConsumer,
) -> Percentiles {
    let per_second = (rate_mb * 1e6 / size as f64).max(1.0);
    let total = (per_second * seconds as f64) as u64;
    let (source, topic) = (source.to_string(), topic.to_string());
    let producer = std::thread::spawn(move || {
        let p: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &source)
            .set("linger.ms", "1")
            .set("queue.buffering.max.kbytes", "262144")
            .create()
            .unwrap();
        let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(7);
        let values: Vec<Vec<u8>> = (0..256)
            .map(|_| crate::data::json_value(&mut rng, size))
            .collect();
        let start = Instant::now();
        let mut sent = 0u64;
        while sent < total {
            // Every record due by now, then a millisecond's rest.
            let due = ((start.elapsed().as_secs_f64() * per_second) as u64).min(total);
            while sent < due {
                let record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&topic)
                    .partition((sent % partitions as u64) as i32)
                    .payload(&values[sent as usize % values.len()][..]);
                if p.send(record).is_ok() {
                    sent += 1;
                } else {
                    p.poll(Duration::from_millis(1));
                }
            }
            p.poll(Duration::ZERO);
            std::thread::sleep(Duration::from_millis(1));
        }
        p.flush(Duration::from_secs(60)).unwrap();
    });
    let mut latencies = Vec::with_capacity(total as usize);
    let deadline = Instant::now() + Duration::from_secs(seconds + 60);
    while (latencies.len() as u64) < total && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            if let Some(ts) = m.timestamp().to_millis() {
                latencies.push(now_ms() - ts);
            }
        }
    }
    producer.join().unwrap();
    Percentiles::of(latencies)
}

impl crate::Bench {
    /// Latency of both MirrorMaker 2s at 10 MB/s and at half the maximum each reached on 1 KiB
    /// records (from `throughput`'s table, when it ran), 1 KiB records over 8 partitions.
    pub fn latency(&mut self, table: &crate::report::Table) -> Vec<String> {
        use crate::replicators::{start, Replicator};
        const SECONDS: u64 = 20;
        let mut lines = vec![format!(
            "| replicator | load | p50 ms | p99 ms | max ms | records |\n|---|---|---|---|---|---|"
        )];
        // The floor: one broker hop, produced to the source and consumed from it.
        let topic = crate::data::create_topic(
            &self.source,
            "bench-latency-alone",
            8,
            &[("message.timestamp.type", "LogAppendTime")],
        );
        let consumer = target_consumer(&self.source, &topic, 8);
        let p = measure(&self.source, &topic, 8, 1024, 10.0, SECONDS, &consumer);
        lines.push(format!(
            "| the source broker alone (no replication) | 10 MB/s | {} | {} | {} | {} |",
            p.p50, p.p99, p.max, p.received
        ));
        println!("{}", lines.last().unwrap());
        crate::data::delete_topics_containing(&self.source, &[&topic]);
        let chosen = std::env::var("BENCH_REPLICATORS").unwrap_or_default();
        for who in [Replicator::JavaDefaults, Replicator::Ours]
            .into_iter()
            .filter(|w| w.label().contains(chosen.as_str()))
        {
            let mut rates = vec![10.0];
            if let Some(row) = table.find("1 KiB JSON, uncompressed", who) {
                rates.push(row.mb_per_s / 2.0);
            }
            for rate in rates {
                let topic = crate::data::create_topic(
                    &self.source,
                    "bench-latency",
                    8,
                    &[("message.timestamp.type", "LogAppendTime")],
                );
                // Produced while timed, not loaded before: a flow's shape only.
                let backlog = crate::data::Backlog::of_mb(0.0, 1024, 8, "none");
                let source = self.source.clone();
                let flow = self.flow(&source, &topic, &backlog);
                let running = start(who, &flow);
                let consumer = target_consumer(&self.target, &flow.remote_topic(), 8);
                // The replicator is running once the remote topic exists; a first second of
                // traffic lets its tasks start before anything is timed.
                let _ = measure(&self.source, &topic, 8, 1024, 1.0, 1, &consumer);
                let p = measure(&self.source, &topic, 8, 1024, rate, SECONDS, &consumer);
                drop(running);
                let line = format!(
                    "| {} | {rate:.0} MB/s | {} | {} | {} | {} |",
                    who.label(),
                    p.p50,
                    p.p99,
                    p.max,
                    p.received
                );
                println!("{line}");
                lines.push(line);
                crate::data::delete_topics_containing(&self.source, &[&topic]);
                crate::data::delete_topics_containing(&self.target, &[&topic]);
            }
        }
        lines
    }
}
