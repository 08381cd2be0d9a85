//! The Connect runtime pieces MirrorMaker 2 runs on: stored source offsets in Connect's format,
//! task threads, and the per-flow herder.

pub mod herder;
pub mod offsets;
pub mod worker;
