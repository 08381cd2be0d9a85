//! The Kafka protocol spoken directly, for the batch path: connections to brokers (TLS and SASL
//! as the record path's librdkafka settings say), requests pipelined on them, and the cluster's
//! metadata. Messages and their versions come from the `kafka-protocol` crate; this module only
//! frames them, authenticates and routes them to the right broker.

pub mod cluster;
pub mod connection;
pub mod error;
pub mod partitioner;
pub mod sasl;
pub mod security;

pub use cluster::{Cluster, Leader};
pub use connection::Connection;
pub use error::WireError;
pub use security::Security;
