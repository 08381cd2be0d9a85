//! What to start and stop so that this worker runs exactly what it should: decided from the
//! connectors' target states and task counts, what runs here now, and the group's assignment.
//! Pure, so the decisions are tested without connectors, threads or Kafka.

use std::collections::{BTreeMap, BTreeSet};

use crate::connect::membership::GroupAssignment;
use crate::connect::status::{State, TargetState};

/// What a connector should be, as its config says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub target: TargetState,
    /// How many task configs it has.
    pub tasks: usize,
}

/// What of a connector runs on this worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Running {
    pub connector: bool,
    pub tasks: BTreeSet<usize>,
}

/// One step towards the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    StartConnector(String),
    /// Stops the connector's job, which another worker now owns, and forgets its status here.
    ReleaseConnector(String),
    StartTask(String, usize),
    /// Stops a task another worker now owns, and forgets its status here.
    ReleaseTask(String, usize),
    /// Stops the connector's job and tasks, and shows `state` for the units this worker owns
    /// (`connector`, and the tasks listed).
    Park {
        name: String,
        state: State,
        connector: bool,
        tasks: Vec<usize>,
    },
    /// Drops a stopped connector's task configs (Connect writes empty ones); only its owner
    /// does.
    RetireTasks(String),
    /// Forgets the task statuses of a stopped connector.
    ForgetTasks(String),
}

impl Action {
    /// The connector the action is about.
    pub fn connector(&self) -> &str {
        match self {
            Action::StartConnector(name)
            | Action::ReleaseConnector(name)
            | Action::StartTask(name, _)
            | Action::ReleaseTask(name, _)
            | Action::Park { name, .. }
            | Action::RetireTasks(name)
            | Action::ForgetTasks(name) => name,
        }
    }
}

/// The actions, connector by connector in name order, that make `running` match `desired`
/// under `assignment`.
pub fn plan(
    desired: &BTreeMap<String, Desired>,
    running: &BTreeMap<String, Running>,
    assignment: &GroupAssignment,
) -> Vec<Action> {
    let idle = Running::default();
    let mut actions = Vec::new();
    for (name, want) in desired {
        let now = running.get(name).unwrap_or(&idle);
        let owns_connector = assignment.owns_connector(name);
        match want.target {
            TargetState::Started => {
                if owns_connector && !now.connector {
                    actions.push(Action::StartConnector(name.clone()));
                } else if !owns_connector && now.connector {
                    actions.push(Action::ReleaseConnector(name.clone()));
                }
                for id in 0..want.tasks {
                    let owns = assignment.owns_task(name, id);
                    if owns && !now.tasks.contains(&id) {
                        actions.push(Action::StartTask(name.clone(), id));
                    } else if !owns && now.tasks.contains(&id) {
                        actions.push(Action::ReleaseTask(name.clone(), id));
                    }
                }
            }
            TargetState::Paused => actions.push(Action::Park {
                name: name.clone(),
                state: State::Paused,
                connector: owns_connector,
                tasks: (0..want.tasks)
                    .filter(|id| assignment.owns_task(name, *id))
                    .collect(),
            }),
            TargetState::Stopped => {
                actions.push(Action::Park {
                    name: name.clone(),
                    state: State::Stopped,
                    connector: owns_connector,
                    tasks: Vec::new(),
                });
                if want.tasks > 0 && owns_connector {
                    actions.push(Action::RetireTasks(name.clone()));
                }
                actions.push(Action::ForgetTasks(name.clone()));
            }
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::membership::first_token;

    fn want(target: TargetState, tasks: usize) -> BTreeMap<String, Desired> {
        BTreeMap::from([("c".to_string(), Desired { target, tasks })])
    }

    fn runs(connector: bool, tasks: &[usize]) -> BTreeMap<String, Running> {
        BTreeMap::from([(
            "c".to_string(),
            Running {
                connector,
                tasks: tasks.iter().copied().collect(),
            },
        )])
    }

    /// An assignment of `tokens` partitions holding exactly the ones of `units` of "c" (0 is
    /// the connector, 1 + i task i).
    fn holding(units: &[usize]) -> GroupAssignment {
        let tokens = 8;
        let first = first_token("c");
        GroupAssignment {
            generation: 1,
            partitions: Some(
                units
                    .iter()
                    .map(|u| ((first + u) % tokens) as i32)
                    .collect(),
            ),
            tokens: tokens as i32,
        }
    }

    #[test]
    fn a_started_connector_starts_what_this_worker_owns() {
        let actions = plan(
            &want(TargetState::Started, 2),
            &BTreeMap::new(),
            &GroupAssignment::all(),
        );
        assert_eq!(
            actions,
            vec![
                Action::StartConnector("c".into()),
                Action::StartTask("c".into(), 0),
                Action::StartTask("c".into(), 1),
            ]
        );
        assert!(plan(
            &want(TargetState::Started, 2),
            &runs(true, &[0, 1]),
            &GroupAssignment::all()
        )
        .is_empty());
    }

    #[test]
    fn units_that_moved_away_are_released_and_new_ones_started() {
        // Owns task 1 only; runs the connector and task 0 from before the rebalance.
        let actions = plan(
            &want(TargetState::Started, 2),
            &runs(true, &[0]),
            &holding(&[2]),
        );
        assert_eq!(
            actions,
            vec![
                Action::ReleaseConnector("c".into()),
                Action::ReleaseTask("c".into(), 0),
                Action::StartTask("c".into(), 1),
            ]
        );
    }

    #[test]
    fn between_assignments_everything_is_released() {
        let revoked = GroupAssignment {
            generation: 2,
            partitions: None,
            tokens: 8,
        };
        let actions = plan(&want(TargetState::Started, 1), &runs(true, &[0]), &revoked);
        assert_eq!(
            actions,
            vec![
                Action::ReleaseConnector("c".into()),
                Action::ReleaseTask("c".into(), 0),
            ]
        );
    }

    #[test]
    fn a_paused_connector_parks_and_marks_only_owned_units() {
        let actions = plan(
            &want(TargetState::Paused, 2),
            &runs(true, &[0, 1]),
            &holding(&[2]),
        );
        assert_eq!(
            actions,
            vec![Action::Park {
                name: "c".into(),
                state: State::Paused,
                connector: false,
                tasks: vec![1],
            }]
        );
    }

    #[test]
    fn a_stopped_connector_retires_its_tasks_where_it_is_owned() {
        let park = Action::Park {
            name: "c".into(),
            state: State::Stopped,
            connector: true,
            tasks: vec![],
        };
        let actions = plan(
            &want(TargetState::Stopped, 2),
            &runs(true, &[0, 1]),
            &GroupAssignment::all(),
        );
        assert_eq!(
            actions,
            vec![
                park.clone(),
                Action::RetireTasks("c".into()),
                Action::ForgetTasks("c".into())
            ]
        );
        // Not the owner: it leaves the task configs to the owner.
        let actions = plan(
            &want(TargetState::Stopped, 2),
            &BTreeMap::new(),
            &holding(&[1]),
        );
        assert_eq!(
            actions,
            vec![
                Action::Park {
                    name: "c".into(),
                    state: State::Stopped,
                    connector: false,
                    tasks: vec![],
                },
                Action::ForgetTasks("c".into())
            ]
        );
        // No task configs left: nothing to retire.
        let actions = plan(
            &want(TargetState::Stopped, 0),
            &BTreeMap::new(),
            &GroupAssignment::all(),
        );
        assert_eq!(actions, vec![park, Action::ForgetTasks("c".into())]);
    }
}
