//! Naming and filtering: the replication policy (remote topic names, internal topics, loop
//! detection) and the topic, group and config-property filters.

pub mod filter;
pub mod replication;

pub use filter::{ConfigPropertyFilter, GroupFilter, TopicFilter};
pub use replication::ReplicationPolicy;
