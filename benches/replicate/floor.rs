//! The floor: a bare librdkafka copy loop, record by record, with nothing else (no offsets, no
//! syncs, no metrics). It runs in its own process (`--floor`) so that it is measured exactly
//! as the replicators are. Its clients carry connect-mirror-maker's replication settings, so
//! the difference between the two is what our process adds, not tuning.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// `--floor SOURCE TARGET TOPIC REMOTE_TOPIC PARTITIONS COMPRESSION`: copies what TOPIC holds
/// now to REMOTE_TOPIC (created here, same partition for each record), then waits to be killed.
pub fn main(args: &[String]) {
    let [source, target, topic, remote, partitions, compression] = args else {
        panic!("--floor SOURCE TARGET TOPIC REMOTE_TOPIC PARTITIONS COMPRESSION");
    };
    let partitions: i32 = partitions.parse().expect("partitions");
    crate::data::create_remote(target, remote, partitions);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", source)
        .set("group.id", "bench-floor")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("floor consumer");
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", target)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "25")
        .set("compression.type", compression)
        .create()
        .expect("floor producer");
    let mut assignment = TopicPartitionList::new();
    let mut total = 0;
    for p in 0..partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .expect("source end offsets");
        total += high;
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    let mut copied = 0;
    while copied < total {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.expect("consume");
        let mut record = BaseRecord::<[u8], [u8]>::to(remote).partition(message.partition());
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(value) = message.payload() {
            record = record.payload(value);
        }
        if let Some(ts) = message.timestamp().to_millis() {
            record = record.timestamp(ts);
        }
        while let Err((e, r)) = producer.send(record) {
            assert!(
                matches!(e.rdkafka_error_code(), Some(RDKafkaErrorCode::QueueFull)),
                "produce: {e}"
            );
            record = r;
            producer.poll(Duration::from_millis(1));
        }
        producer.poll(Duration::ZERO);
        copied += 1;
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    // Stay until killed, as the replicators do, so that the benchmark reads this process's
    // CPU time and memory from /proc alive, not as a zombie.
    loop {
        std::thread::park();
    }
}
