//! MirrorMaker 2 for Kafka, in Rust: replicates topics, topic configs and consumer-group offsets
//! between Kafka clusters, configured by the same `mm2.properties` as Apache Kafka's
//! `connect-mirror-maker`.
//!
//! Module order, lowest first (a module uses only those before it): the leaves `allocator`,
//! `metrics`, `shutdown` and `telemetry` → `config` → `policy` → `kafka` → `connect` → `mirror` →
//! `plugins` → `rest` → `failover` → `verify` → `cli` → `app` → `standalone` → `distributed`. One
//! exception: `rest::dto`, the JSON shapes the herder answers with, uses only `connect`'s leaf
//! types and is used by it.

pub mod allocator;
pub mod app;
pub mod cli;
pub mod config;
pub mod connect;
pub mod distributed;
pub mod failover;
pub mod kafka;
pub mod metrics;
pub mod mirror;
pub mod plan;
pub mod plugins;
pub mod policy;
pub mod rest;
pub mod shutdown;
pub mod standalone;
pub mod telemetry;
pub mod verify;
