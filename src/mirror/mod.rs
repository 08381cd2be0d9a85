//! The MirrorMaker 2 connectors: MirrorSource (topics, configs, ACLs, records, offset syncs),
//! with their byte formats (`wire`).

pub mod checkpoint;
pub mod checkpoint_task;
pub mod flow_connectors;
pub mod flow_state;
pub mod flow_worker;
pub mod group_sync;
pub mod heartbeat;
pub mod offset_sync;
pub mod offset_sync_store;
pub mod plugin_config;
pub mod scheduler;
pub mod source_connector;
pub mod source_task;
pub mod topic_sync;
pub mod wire;
