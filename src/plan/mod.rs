//! `plan`: what the enabled flows would do to their target clusters, read from both clusters
//! and written nowhere. Every decision comes from the code the running connectors use
//! ([`TopicSelector`](crate::mirror::topic_sync::TopicSelector) and
//! [`GroupSelector`](crate::mirror::checkpoint::GroupSelector)), so the plan cannot drift from a
//! run. Reading is in [`read`], deciding in [`decide`], printing in [`render`].

pub mod decide;
pub mod model;
pub mod read;
pub mod render;

use std::io::Write;

use crate::config::Mm2Config;

pub use model::Plan;

/// How the plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables, one section per flow.
    #[default]
    Table,
    /// One JSON document.
    Json,
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Client settings that cannot be turned into a client (a bad configuration).
    #[error("{0}")]
    Settings(String),
    /// A cluster could not be read: unreachable, or it refused a request.
    #[error("cannot read cluster `{cluster}` (flow {flow}): {message}")]
    Cluster {
        cluster: String,
        flow: String,
        message: String,
    },
    #[error("cannot write the plan: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads both clusters of every enabled flow of `cfg` (already restricted to `--clusters`) and
/// returns what a run would do.
pub async fn make(cfg: &Mm2Config) -> Result<Plan, PlanError> {
    let mut flows = Vec::new();
    for flow in cfg.flows.iter().filter(|f| f.settings.enabled) {
        let snapshot = read::snapshot(flow).await?;
        flows.push(decide::decide(flow, &snapshot));
    }
    Ok(Plan { flows })
}

/// `plan`: makes the plan and prints it in `format`.
pub async fn run(cfg: &Mm2Config, format: Format, out: &mut dyn Write) -> Result<(), PlanError> {
    let plan = make(cfg).await?;
    match format {
        Format::Table => render::table(&plan, out)?,
        Format::Json => render::json(&plan, out)?,
    }
    Ok(())
}
