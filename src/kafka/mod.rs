//! Kafka client glue, and the only module that imports rdkafka: the others work with its domain
//! types (topic-partitions, records, offsets, group offsets) and name no rdkafka type but the
//! error, re-exported here as [`KafkaError`].

pub mod admin;
pub mod admin_ffi;
pub mod awaited_producer;
pub mod client;
pub mod consumer;
pub mod context;
pub mod events;
pub mod fence;
pub mod group;
pub mod group_admin;
pub mod log;
pub mod producer;
pub mod props;
pub mod record_batch;
pub mod topic_partition;
pub mod transaction;
pub mod validate;
pub mod wire;

pub use props::ClientProps;
/// The error of every Kafka client call, for modules that report one without calling rdkafka.
pub use rdkafka::error::KafkaError;
pub use topic_partition::TopicPartition;
