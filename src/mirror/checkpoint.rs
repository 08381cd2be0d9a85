//! Checkpoint computation (`MirrorCheckpointTask`): translate a source group's committed offsets
//! through the offset syncs, name the target-side topic, and emit only checkpoints that move
//! forward (or follow a deliberate rewind of the source group).

use std::collections::{BTreeMap, HashMap};

use crate::config::FlowSettings;
use crate::kafka::admin_ffi::GroupDescription;
use crate::kafka::TopicPartition;
use crate::policy::{GroupFilter, ReplicationPolicy, TopicFilter};

use super::offset_sync_store::OffsetSyncStore;
use super::wire::Checkpoint;

/// A committed source offset with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOffset {
    pub offset: i64,
    pub metadata: String,
}

/// The last checkpoint of every (group, target topic, partition), loaded from the checkpoints
/// topic at start and updated with every emission.
#[derive(Debug, Default)]
pub struct CheckpointStore {
    last: HashMap<String, HashMap<TopicPartition, Checkpoint>>,
}

impl CheckpointStore {
    /// Builds the store from the checkpoints topic, in order (later wins).
    pub fn from_checkpoints(checkpoints: impl IntoIterator<Item = Checkpoint>) -> Self {
        let mut store = CheckpointStore::default();
        for c in checkpoints {
            store.update(c);
        }
        store
    }

    pub fn update(&mut self, c: Checkpoint) {
        self.last
            .entry(c.group.clone())
            .or_default()
            .insert(TopicPartition::new(c.topic.clone(), c.partition), c);
    }

    /// `checkpointIsMoreRecent`: new partition, a rewound source group, or a downstream offset
    /// further ahead. Anything else would repeat or move the target backwards.
    pub fn is_more_recent(&self, c: &Checkpoint) -> bool {
        match self
            .last
            .get(&c.group)
            .and_then(|g| g.get(&TopicPartition::new(c.topic.clone(), c.partition)))
        {
            None => true,
            Some(last) => {
                c.upstream_offset < last.upstream_offset
                    || c.downstream_offset > last.downstream_offset
            }
        }
    }

    /// The latest checkpoints of a group: target topic-partition → (downstream offset, metadata).
    pub fn group(&self, group: &str) -> BTreeMap<TopicPartition, (i64, String)> {
        self.last
            .get(group)
            .map(|g| {
                g.iter()
                    .map(|(tp, c)| (tp.clone(), (c.downstream_offset, c.metadata.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn groups(&self) -> Vec<String> {
        self.last.keys().cloned().collect()
    }
}

/// What one flow's checkpoints need to know.
pub struct Translator<'a> {
    pub policy: &'a ReplicationPolicy,
    pub topics: &'a TopicFilter,
    pub source: &'a str,
    pub target: &'a str,
}

impl Translator<'_> {
    /// `renameTopicPartition`: a topic that came from the target goes back to its original name,
    /// any other becomes the remote topic.
    pub fn target_topic(&self, upstream_topic: &str) -> String {
        if self.policy.topic_source(upstream_topic).as_deref() == Some(self.target) {
            self.policy.original_topic(upstream_topic)
        } else {
            self.policy.format_remote_topic(self.source, upstream_topic)
        }
    }

    /// The checkpoints to emit for one group's committed offsets.
    pub fn checkpoints(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, SourceOffset>,
        syncs: &OffsetSyncStore,
        previous: &CheckpointStore,
    ) -> Vec<Checkpoint> {
        offsets
            .iter()
            .filter(|(tp, _)| self.topics.should_replicate_topic(&tp.topic))
            .filter_map(|(tp, o)| {
                let downstream = syncs.translate_downstream(&tp.topic, tp.partition, o.offset)?;
                (downstream >= 0).then(|| Checkpoint {
                    group: group.to_string(),
                    topic: self.target_topic(&tp.topic),
                    partition: tp.partition,
                    upstream_offset: o.offset,
                    downstream_offset: downstream,
                    metadata: o.metadata.clone(),
                })
            })
            .filter(|c| previous.is_more_recent(c))
            .collect()
    }
}

/// Why a source consumer group is not checkpointed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupExclusion {
    /// Not in `groups`, or in `groups.exclude`.
    Filter,
    /// None of its committed offsets is on a topic the topic filter replicates.
    NoReplicatedTopics,
}

impl GroupExclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupExclusion::Filter => "filter",
            GroupExclusion::NoReplicatedTopics => "no replicated topics",
        }
    }
}

/// Which source groups MirrorCheckpointConnector checkpoints, and which of their target groups
/// get their offsets synced: shared by the checkpointer and `plan`.
#[derive(Debug, Clone)]
pub struct GroupSelector {
    groups: GroupFilter,
    topics: TopicFilter,
    sync_offsets: bool,
}

impl GroupSelector {
    pub fn new(settings: &FlowSettings) -> Self {
        GroupSelector {
            groups: GroupFilter::new(settings),
            topics: TopicFilter::new(settings),
            sync_offsets: settings.sync_group_offsets.is_some(),
        }
    }

    /// `groups`/`groups.exclude`: decided before the group's offsets are listed.
    pub fn admits(&self, group: &str) -> bool {
        self.groups.should_replicate_group(group)
    }

    /// Why `group`, with offsets committed on `topics`, is not checkpointed, or `None` if it
    /// is: admitted, with at least one committed topic the topic filter replicates.
    pub fn exclusion<'a>(
        &self,
        group: &str,
        mut topics: impl Iterator<Item = &'a str>,
    ) -> Option<GroupExclusion> {
        if !self.admits(group) {
            Some(GroupExclusion::Filter)
        } else if !topics.any(|t| self.topics.should_replicate_topic(t)) {
            Some(GroupExclusion::NoReplicatedTopics)
        } else {
            None
        }
    }

    /// Whether a checkpointed group's offsets are committed to its target group, described as
    /// `target` (`sync.group.offsets.enabled`, and no consumer uses it there).
    pub fn syncs_offsets(&self, target: &GroupDescription) -> bool {
        self.sync_offsets && target.error.is_none() && target.is_inactive()
    }
}

/// What to commit to a target group from its latest checkpoints: only partitions where the
/// target has no offset or is behind (a group is never moved backwards).
pub fn offsets_to_sync(
    converted: &BTreeMap<TopicPartition, (i64, String)>,
    target: &BTreeMap<TopicPartition, i64>,
) -> BTreeMap<TopicPartition, (i64, String)> {
    converted
        .iter()
        .filter(|(tp, (offset, _))| target.get(*tp).is_none_or(|t| *t < 0 || t < offset))
        .map(|(tp, v)| (tp.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Environment, Properties};
    use crate::mirror::wire::OffsetSync;

    fn flow() -> crate::config::Flow {
        flow_between("A", "B")
    }

    /// The flow `source->target` of an mm2.properties with just those two clusters.
    fn flow_between(source: &str, target: &str) -> crate::config::Flow {
        let text = format!(
            "clusters = {source}, {target}\n{source}.bootstrap.servers = a\n\
             {target}.bootstrap.servers = b\n{source}->{target}.enabled = true\n"
        );
        let cfg = config::from_properties(
            Properties::parse(text.as_bytes()).unwrap(),
            &[],
            &Environment::Fixed(Default::default()),
        )
        .unwrap();
        cfg.flow(source, target).unwrap().clone()
    }

    fn offsets(pairs: &[(&str, i32, i64)]) -> BTreeMap<TopicPartition, SourceOffset> {
        pairs
            .iter()
            .map(|(t, p, o)| {
                (
                    TopicPartition::new(*t, *p),
                    SourceOffset {
                        offset: *o,
                        metadata: "m".into(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn translates_renames_filters_and_moves_only_forward() {
        let f = flow();
        let policy = ReplicationPolicy::new(&f.settings.policy);
        let topics = TopicFilter::new(&f.settings);
        let t = Translator {
            policy: &policy,
            topics: &topics,
            source: "A",
            target: "B",
        };
        let mut syncs = OffsetSyncStore::new(true);
        syncs.set_read_to_end();
        for (topic, up, down) in [("orders", 100, 40), ("B.orders", 10, 7)] {
            syncs.add(&OffsetSync {
                topic: topic.into(),
                partition: 0,
                upstream_offset: up,
                downstream_offset: down,
            });
        }
        let mut store = CheckpointStore::default();
        let group = offsets(&[
            ("orders", 0, 150),
            ("orders", 1, 5),
            ("B.orders", 0, 10),
            ("__consumer_offsets", 0, 1),
        ]);
        let cps = t.checkpoints("g", &group, &syncs, &store);
        let got: Vec<(&str, i32, i64, i64)> = cps
            .iter()
            .map(|c| {
                (
                    c.topic.as_str(),
                    c.partition,
                    c.upstream_offset,
                    c.downstream_offset,
                )
            })
            .collect();
        // orders-1 has no sync: no checkpoint; B.orders came from B: back to its own name.
        assert_eq!(got, vec![("orders", 0, 10, 7), ("A.orders", 0, 150, 41)]);
        assert!(cps.iter().all(|c| c.metadata == "m"));
        for c in cps {
            store.update(c);
        }
        assert!(
            t.checkpoints("g", &group, &syncs, &store).is_empty(),
            "repeats are not emitted"
        );
        let rewound = offsets(&[("orders", 0, 100)]);
        assert_eq!(
            t.checkpoints("g", &rewound, &syncs, &store)[0].downstream_offset,
            40,
            "a source rewind is followed"
        );
    }

    fn sync(topic: &str, partition: i32, up: i64, down: i64) -> OffsetSync {
        OffsetSync {
            topic: topic.into(),
            partition,
            upstream_offset: up,
            downstream_offset: down,
        }
    }

    /// The scenarios of Apache's MirrorCheckpointTaskTest (testDownstreamTopicRenaming,
    /// testCheckpoint, testNoCheckpointForTopicWithoutOffsetSyncs,
    /// testCheckpointRecordsMonotonicIfStoreRewinds), their inputs and outputs as facts.
    #[test]
    fn java_checkpoint_task_scenarios() {
        // The clusters as Apache's MirrorCheckpointTaskTest names them.
        let f = flow_between("source1", "target2");
        let policy = ReplicationPolicy::new(&f.settings.policy);
        let topics = TopicFilter::new(&f.settings);
        let t = Translator {
            policy: &policy,
            topics: &topics,
            source: "source1",
            target: "target2",
        };
        // Renaming.
        assert_eq!(t.target_topic("topic3"), "source1.topic3");
        assert_eq!(t.target_topic("target2.topic3"), "topic3");
        assert_eq!(t.target_topic("source6.topic7"), "source1.source6.topic7");

        // Checkpoints: one past a sync, or exactly at it.
        let mut syncs = OffsetSyncStore::new(false);
        syncs.set_read_to_end();
        syncs.add(&sync("topic1", 2, 3, 4));
        syncs.add(&sync("target2.topic5", 6, 7, 8));
        let none = CheckpointStore::default();
        let one = |group: &str, topic: &str, partition: i32, offset: i64| {
            let o = offsets(&[(topic, partition, offset)]);
            let c = t.checkpoints(group, &o, &syncs, &none);
            c.into_iter()
                .map(|c| (c.topic, c.partition, c.upstream_offset, c.downstream_offset))
                .next()
        };
        assert_eq!(
            one("group9", "topic1", 2, 10),
            Some(("source1.topic1".into(), 2, 10, 5))
        );
        assert_eq!(
            one("group11", "target2.topic5", 6, 12),
            Some(("topic5".into(), 6, 12, 9))
        );
        assert_eq!(
            one("group13", "target2.topic5", 6, 7),
            Some(("topic5".into(), 6, 7, 8))
        );
        // No sync for the partition: no checkpoint.
        let mut syncs = OffsetSyncStore::new(false);
        syncs.set_read_to_end();
        syncs.add(&sync("topic1", 0, 3, 4));
        let o = offsets(&[("topic1", 1, 10), ("topic1", 0, 10)]);
        let c = t.checkpoints("group9", &o, &syncs, &none);
        assert_eq!(c.iter().map(|c| c.partition).collect::<Vec<_>>(), vec![0]);

        // The store rewinds its translation of an offset: no checkpoint moves backwards, until
        // the group itself rewinds.
        let mut syncs = OffsetSyncStore::new(false);
        syncs.set_read_to_end();
        let (mut up, mut down) = (11, 4);
        for _ in 0..2 {
            syncs.add(&sync("topic1", 0, up, down));
            (up, down) = (up + 1, down + 1);
        }
        let group_at = up;
        assert_eq!(
            syncs.translate_downstream("topic1", 0, group_at),
            Some(down)
        );
        let mut store = CheckpointStore::default();
        let first = t.checkpoints("g1", &offsets(&[("topic1", 0, group_at)]), &syncs, &store);
        assert_eq!(first.len(), 1);
        for c in first {
            store.update(c);
        }
        for _ in 0..4 {
            syncs.add(&sync("topic1", 0, up, down));
            (up, down) = (up + 1, down + 1);
        }
        syncs.add(&sync("topic1", 0, up, down));
        assert_ne!(
            syncs.translate_downstream("topic1", 0, group_at),
            Some(13 - 11 + 4)
        );
        let again = t.checkpoints("g1", &offsets(&[("topic1", 0, group_at)]), &syncs, &store);
        assert!(again.is_empty(), "a checkpoint moved backwards: {again:?}");
        let rewound = t.checkpoints(
            "g1",
            &offsets(&[("topic1", 0, group_at - 1)]),
            &syncs,
            &store,
        );
        assert_eq!(
            rewound.len(),
            1,
            "the group rewound: its checkpoint follows"
        );
    }

    #[test]
    fn group_offsets_are_never_moved_backwards() {
        let tp = |p| TopicPartition::new("A.t", p);
        let converted: BTreeMap<TopicPartition, (i64, String)> = [
            (tp(0), (10, String::new())),
            (tp(1), (10, String::new())),
            (tp(2), (10, String::new())),
        ]
        .into_iter()
        .collect();
        let target: BTreeMap<TopicPartition, i64> = [(tp(0), 12), (tp(1), 3)].into_iter().collect();
        let sync = offsets_to_sync(&converted, &target);
        assert_eq!(
            sync.keys().map(|tp| tp.partition).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }
}
