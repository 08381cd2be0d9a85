//! Which connectors and tasks this worker runs, decided by Kafka's consumer-group protocol: all
//! workers of a group join the group `group.id` subscribed to the offsets topic, whose
//! partitions the round-robin assignor deals out; unit `i` (a number derived from the
//! connector's name and the task's id) belongs to whoever holds partition `i mod partitions`,
//! where `partitions` is the topic's real partition count (see `token_count`). Before a
//! rebalance hands a partition to another worker, this worker stops the units it held (eager protocol, as
//! Connect's first protocol), so two workers never run the same task knowingly. A worker that
//! dies loses its partitions when its session times out.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{info, warn};

use super::error::Error;
use crate::kafka::group::{join_token_group, RebalanceListener};
use crate::kafka::props::ClientProps;

/// The partitions this worker holds, or `None` between a revocation and the next assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAssignment {
    pub generation: u64,
    pub partitions: Option<BTreeSet<i32>>,
    pub tokens: i32,
}

impl GroupAssignment {
    /// Owns everything (a standalone worker).
    pub fn all() -> Self {
        GroupAssignment {
            generation: 0,
            partitions: Some(BTreeSet::from([0])),
            tokens: 1,
        }
    }

    pub fn owns(&self, index: usize) -> bool {
        self.partitions
            .as_ref()
            .is_some_and(|p| p.contains(&((index as i32) % self.tokens.max(1))))
    }

    /// Whether this worker runs connector `name`'s job.
    pub fn owns_connector(&self, name: &str) -> bool {
        self.owns(first_token(name))
    }

    /// Whether this worker runs task `id` of connector `name`.
    pub fn owns_task(&self, name: &str, id: usize) -> bool {
        self.owns(first_token(name) + 1 + id)
    }
}

/// The unit number of a connector; its task `i` is unit `first + 1 + i`. It depends on the name
/// alone (FNV-1a, the same in every process and version), so assignment changes only when the
/// group rebalances, never because another connector came or went, and a connector's tasks
/// fall on consecutive partitions, that is on different workers.
pub fn first_token(name: &str) -> usize {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % (1 << 31)) as usize
}

/// The number of tokens of an assignment: the offsets topic's partition count as this member
/// learnt it when the assignment arrived, `fresh`, or else the last one known. Never below the
/// highest partition held, which the count the leader dealt from had.
///
/// Why this count and not `offset.storage.partitions`: the round-robin assignor deals out the
/// partitions the topic really has, so a unit hashed onto a partition the topic lacks would
/// have no owner (a pre-created topic of 1 partition ran nothing).
///
/// Why every worker ends up with the same count: the leader dealt the partitions from the
/// metadata it fetched before joining, and each member (the leader too) asks a broker for the
/// count once its assignment arrives. Partitions are only ever added. If some were added while
/// the group rebalanced, a member's fresh count exceeds the one the group was formed with; the
/// answer goes through the member's own consumer, and librdkafka rejoins the group when a
/// subscribed topic's partition count changes, so a new rebalance follows at once, revoking
/// everything first (eager), and after it every member holds a partition of the same, final
/// count. Partitions added later, in a quiet group, reach the members by librdkafka's metadata
/// refresh (`topic.metadata.refresh.interval.ms`) and cause the same rebalance.
fn token_count(fresh: Option<i32>, known: i32, partitions: &BTreeSet<i32>) -> i32 {
    let highest = partitions.last().map_or(0, |p| p + 1);
    fresh.unwrap_or(known).max(highest).max(1)
}

/// Publishes each assignment, and on a revocation waits until the herder acknowledged that
/// it stopped what it ran.
struct Listener {
    /// The last token count known, for an assignment whose count the cluster did not tell.
    tokens: AtomicI32,
    owned: watch::Sender<GroupAssignment>,
    /// Generations the herder has finished applying.
    acks: Mutex<mpsc::Receiver<u64>>,
    ack_timeout: Duration,
    stop: Arc<AtomicBool>,
}

impl Listener {
    fn publish(&self, partitions: Option<BTreeSet<i32>>) -> u64 {
        let generation = self.owned.borrow().generation + 1;
        self.owned.send_replace(GroupAssignment {
            generation,
            partitions,
            tokens: self.tokens.load(Ordering::Relaxed),
        });
        generation
    }
}

impl RebalanceListener for Listener {
    fn revoked(&self) {
        // Stop everything before anyone else may start it.
        let generation = self.publish(None);
        if self.stop.load(Ordering::Relaxed) {
            return;
        }
        let acks = self.acks.lock().expect("acks lock");
        let deadline = Instant::now() + self.ack_timeout;
        loop {
            match acks.recv_timeout(Duration::from_millis(100)) {
                Ok(g) if g >= generation => break,
                // The herder has stopped everything and gone.
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                _ if Instant::now() > deadline => {
                    warn!("units not stopped within the rebalance timeout");
                    break;
                }
                _ => {}
            }
        }
    }

    fn assigned(&self, partitions: BTreeSet<i32>, partition_count: Option<i32>) {
        let known = self.tokens.load(Ordering::Relaxed);
        if partition_count.is_none() {
            warn!("cannot learn the offsets topic's partition count; sharing work over the last known, {known}");
        }
        let tokens = token_count(partition_count, known, &partitions);
        self.tokens.store(tokens, Ordering::Relaxed);
        info!(partitions = ?partitions, tokens, "group assignment");
        self.publish(Some(partitions));
    }
}

/// A running membership: the assignment to follow, and where to acknowledge each generation.
pub struct Membership {
    pub owned: watch::Receiver<GroupAssignment>,
    pub acks: mpsc::Sender<u64>,
    /// Ends once the worker has left the group, after `stop`.
    pub thread: std::thread::JoinHandle<()>,
}

/// Joins `group` (set as `group.id` in `props`) subscribed to `topic`, found with `tokens`
/// partitions at start, polling on a thread of its own until `stop`.
pub fn join(
    props: &ClientProps,
    topic: &str,
    tokens: i32,
    rebalance_timeout: Duration,
    stop: Arc<AtomicBool>,
) -> Result<Membership, Error> {
    let mut props = props.clone();
    props.set("partition.assignment.strategy", "roundrobin", false);
    props.set("enable.auto.commit", "false", false);
    let (owned_tx, owned_rx) = watch::channel(GroupAssignment {
        generation: 0,
        partitions: None,
        tokens,
    });
    let (ack_tx, ack_rx) = mpsc::channel();
    let name = format!("{}|membership", props.get("group.id").unwrap_or_default());
    let listener = Listener {
        tokens: AtomicI32::new(tokens),
        owned: owned_tx,
        acks: Mutex::new(ack_rx),
        ack_timeout: rebalance_timeout,
        stop: stop.clone(),
    };
    let thread = join_token_group(&props, &name, topic, listener, stop)
        .map_err(|e| Error::kafka("cannot join the group", e))?;
    Ok(Membership {
        owned: owned_rx,
        acks: ack_tx,
        thread,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_partitions_round_robin() {
        let o = GroupAssignment {
            generation: 1,
            partitions: Some(BTreeSet::from([1, 4])),
            tokens: 5,
        };
        let owned: Vec<usize> = (0..12).filter(|i| o.owns(*i)).collect();
        assert_eq!(owned, vec![1, 4, 6, 9, 11]);
        assert!(!GroupAssignment {
            partitions: None,
            ..o
        }
        .owns(1));
        assert!((0..10).all(|i| GroupAssignment::all().owns(i)));
    }

    #[test]
    fn tokens_are_the_topics_real_partition_count() {
        let held = |p: &[i32]| p.iter().copied().collect::<BTreeSet<i32>>();
        // A pre-created topic of 1 partition, with offset.storage.partitions = 25 known at start.
        assert_eq!(token_count(Some(1), 25, &held(&[0])), 1);
        assert_eq!(token_count(Some(5), 25, &held(&[1, 3])), 5);
        // The cluster did not answer: the last count known.
        assert_eq!(token_count(None, 5, &held(&[0, 2, 4])), 5);
        // Never below what the leader dealt from.
        assert_eq!(token_count(Some(3), 3, &held(&[0, 6])), 7);
        assert_eq!(token_count(None, 0, &held(&[])), 1);
        // With the real count, every unit has an owner among the members.
        let members = [held(&[0]), held(&[])];
        let tokens = token_count(Some(1), 25, &members[0]);
        for unit in 0..100 {
            let owners = members
                .iter()
                .filter(|p| {
                    GroupAssignment {
                        generation: 1,
                        partitions: Some((*p).clone()),
                        tokens,
                    }
                    .owns(unit)
                })
                .count();
            assert_eq!(owners, 1, "unit {unit}");
        }
    }

    #[test]
    fn unit_numbers_are_the_same_in_every_process() {
        // Golden values (FNV-1a 64, kept to 31 bits, computed independently): workers of one
        // group, possibly different builds during an upgrade, must agree on them.
        assert_eq!(first_token("source-1"), 1_708_412_666);
        assert_eq!(first_token("A->B.MirrorSourceConnector"), 132_812_592);
    }
}
