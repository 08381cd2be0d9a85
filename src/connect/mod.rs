//! The Kafka Connect runtime: connectors and their tasks, the herder that runs them with their
//! target states and statuses, converters, and source offsets in Connect's format.

pub mod config_log;
pub mod connector;
pub mod converter;
pub mod error;
pub mod group;
pub mod herder;
pub mod internal_topic;
pub mod membership;
pub mod offsets;
pub mod panic;
pub mod plugin_info;
pub mod sink_offsets;
pub mod sink_runner;
pub mod source_runner;
pub mod status;
pub mod status_log;
pub mod stored_names;
pub mod worker;
pub mod worker_env;

pub use error::Error;
