//! Failover tooling for operators: a group's offsets translated from the checkpoints (what
//! Java's `RemoteClusterUtils.translateOffsets` returns), optionally committed (`translate`);
//! whether a flow has drained (`drain`); groups moved to the other cluster and back with a
//! checklist (`switch`), back through the offset syncs where a group read remote topics
//! (`reverse`); and the replication topology seen from one cluster's heartbeats (`topology`).

mod drain;
mod reverse;
mod switch;
mod topology;
mod translate;

use crate::config::{join_errors, ClientKind, Flow, Mm2Config, Side};
use crate::kafka::props::{translate as translate_props, ClientProps};

pub use drain::{flow_lag, PartitionLag};
pub use reverse::{reverse_translate, SyncPoint};
pub use switch::{failback, failover, SwitchOptions};
pub use topology::topology;
pub use translate::translate_offsets;

/// Why a tool failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Kafka(String),
    /// A cluster could not be reached (bad input: its address or settings).
    #[error("cannot reach {cluster}: {message}")]
    Unreachable { cluster: String, message: String },
    /// The clusters are not ready for what was asked (a flow not drained).
    #[error("{0}")]
    NotReady(String),
}

pub(crate) fn client(flow: &Flow, side: Side, kind: ClientKind) -> Result<ClientProps, ToolError> {
    translate_props(&flow.client_props(side, kind), &flow.name())
        .map(|(p, _)| p)
        .map_err(|e| ToolError::Usage(join_errors(&e)))
}

pub(crate) fn find_flow<'a>(
    cfg: &'a Mm2Config,
    source: &str,
    target: &str,
) -> Result<&'a Flow, ToolError> {
    for alias in [source, target] {
        if !cfg.clusters.iter().any(|c| c == alias) {
            return Err(ToolError::Usage(format!(
                "`{alias}` is not one of the clusters ({})",
                cfg.clusters.join(", ")
            )));
        }
    }
    cfg.flow(source, target)
        .ok_or_else(|| ToolError::Usage(format!("mm2.properties has no flow {source}->{target}")))
}
