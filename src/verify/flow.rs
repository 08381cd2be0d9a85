//! Whether the flow runs, and so whether the target's tail is checked. While a flow runs, its
//! target holds copies written past the stored source offsets (in flight until the next offset
//! flush), and new ones keep arriving: the tail is checked then only when asked
//! (`--include-tail`). Once it is stopped, the stored offsets are final, and a record past them
//! on the target must be accounted for.
//!
//! A flow runs where its workers are: members of the worker group (`group.id`, by default
//! `<source>-mm2`) on the target cluster. Membership is what the workers themselves keep alive;
//! the status topic is not: a worker that crashes leaves its tasks RUNNING there for good, while
//! the group drops it after `session.timeout.ms`.

use serde::Serialize;

use crate::kafka::admin::Admin;
use crate::kafka::admin_ffi::{GroupDescription, GroupState};

/// What the worker group says of the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FlowState {
    /// Workers are members of the group.
    Running { group: String, members: usize },
    /// The group has no members (or does not exist).
    Stopped { group: String },
    /// The group could not be described: a Connect cluster's workers (protocol `connect`,
    /// which the consumer-group admin API does not describe) or an error.
    Unknown { group: String, reason: String },
}

impl std::fmt::Display for FlowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowState::Running { group, members } => {
                write!(f, "running ({members} members in worker group {group})")
            }
            FlowState::Stopped { group } => {
                write!(f, "stopped (no member in worker group {group})")
            }
            FlowState::Unknown { group, reason } => {
                write!(f, "unknown (worker group {group}: {reason})")
            }
        }
    }
}

/// The flow's state from the description of its worker group (`None`: not described).
pub fn classify(group: &str, described: Result<Option<&GroupDescription>, String>) -> FlowState {
    let group = group.to_string();
    match described {
        Err(reason) => FlowState::Unknown { group, reason },
        Ok(None) => FlowState::Stopped { group },
        Ok(Some(d)) => match &d.error {
            Some(reason) => FlowState::Unknown {
                group,
                reason: reason.clone(),
            },
            // A group whose last member left is Empty; one that never was, Dead.
            None if d.members == 0 && matches!(d.state, GroupState::Empty | GroupState::Dead) => {
                FlowState::Stopped { group }
            }
            None => FlowState::Running {
                group,
                members: d.members,
            },
        },
    }
}

/// Whether the target's tail is checked: when asked, or when the flow is known to be stopped.
/// A flow whose state is unknown counts as running: a false difference on a live flow would
/// send an operator after records that are only in flight.
pub fn checks_tail(include_tail: bool, state: &FlowState) -> bool {
    include_tail || matches!(state, FlowState::Stopped { .. })
}

/// Describes the worker group `group` on the target.
pub async fn state(target: &Admin, group: &str) -> FlowState {
    let described = target
        .describe_groups(&[group.to_string()])
        .await
        .map_err(|e| e.to_string());
    classify(
        group,
        described.as_ref().map(|d| d.first()).map_err(Clone::clone),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(state: GroupState, members: usize, error: Option<&str>) -> GroupDescription {
        GroupDescription {
            group_id: "A-mm2".into(),
            state,
            members,
            error: error.map(String::from),
        }
    }

    #[test]
    fn a_flow_is_stopped_only_when_its_worker_group_has_no_member() {
        let stopped = |s: &FlowState| matches!(s, FlowState::Stopped { .. });
        for state in [GroupState::Empty, GroupState::Dead] {
            assert!(stopped(&classify(
                "A-mm2",
                Ok(Some(&described(state, 0, None)))
            )));
        }
        assert!(stopped(&classify("A-mm2", Ok(None))));
        for state in [
            GroupState::Stable,
            GroupState::PreparingRebalance,
            GroupState::CompletingRebalance,
        ] {
            assert_eq!(
                classify("A-mm2", Ok(Some(&described(state, 2, None)))),
                FlowState::Running {
                    group: "A-mm2".into(),
                    members: 2
                }
            );
        }
        // Java Connect workers: the consumer-group API refuses to describe their group.
        let java = described(
            GroupState::Unknown,
            0,
            Some("GroupId A-mm2 is not a consumer group (connect)."),
        );
        assert!(matches!(
            classify("A-mm2", Ok(Some(&java))),
            FlowState::Unknown { .. }
        ));
        assert!(matches!(
            classify("A-mm2", Err("timed out".into())),
            FlowState::Unknown { .. }
        ));
    }

    #[test]
    fn the_tail_is_checked_when_stopped_or_asked() {
        let group = || "g".to_string();
        let running = FlowState::Running {
            group: group(),
            members: 1,
        };
        let unknown = FlowState::Unknown {
            group: group(),
            reason: "x".into(),
        };
        let stopped = FlowState::Stopped { group: group() };
        assert!(!checks_tail(false, &running));
        assert!(!checks_tail(false, &unknown));
        assert!(checks_tail(false, &stopped));
        assert!(checks_tail(true, &running));
        assert!(checks_tail(true, &unknown));
    }
}
