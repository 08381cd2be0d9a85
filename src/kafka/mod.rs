//! Kafka client glue. The only module that imports rdkafka: every other module sees domain types.

pub mod props;
pub mod validate;

pub use props::ClientProps;
