//! Kafka client glue. The only module that imports rdkafka: every other module sees domain types.

pub mod admin;
pub mod admin_ffi;
pub mod client;
pub mod events;
pub mod fence;
pub mod group;
pub mod log;
pub mod props;
pub mod validate;

pub use props::ClientProps;
