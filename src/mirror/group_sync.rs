//! `sync.group.offsets`: commits each checkpointed group's latest translated offsets to its
//! target group, on its own schedule beside checkpoint emission (as Java's MirrorCheckpointTask
//! runs it on its scheduler thread), so a long emission round never holds it up.
//!
//! The checkpointer publishes a [`SyncView`] after each round; a sync round describes the groups
//! on the target in one request, then lists and commits the inactive ones' offsets, many groups
//! at a time. A group that has members is never touched, and no partition is moved backwards.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::kafka::admin::Admin;
use crate::kafka::admin_ffi::GroupOffset;
use crate::kafka::TopicPartition;

use super::checkpoint::{offsets_to_sync, GroupSelector};

/// How many group requests (offsets listed or committed) are in flight at once: enough to hide
/// the round trips over thousands of groups, few enough to spare the group coordinators.
pub const GROUP_REQUESTS: usize = 32;

/// Each checkpointed group selected now, with its latest checkpoints: target topic-partition ->
/// (downstream offset, metadata).
pub type SyncView = BTreeMap<String, BTreeMap<TopicPartition, (i64, String)>>;

/// Runs `f` for each item, at most [`GROUP_REQUESTS`] at once; the results in the items' order.
pub async fn per_group<'a, I, T, F, Fut>(items: &'a [I], f: F) -> Vec<(&'a I, T)>
where
    F: Fn(&'a I) -> Fut,
    Fut: Future<Output = T> + 'a,
{
    stream::iter(items.iter().map(|item| {
        let fut = f(item);
        async move { (item, fut.await) }
    }))
    .buffered(GROUP_REQUESTS)
    .collect()
    .await
}

/// Commits translated offsets to the target groups.
pub struct GroupSyncer {
    pub flow: String,
    pub target_alias: String,
    pub target: Admin,
    pub selector: GroupSelector,
    pub view: watch::Receiver<Arc<SyncView>>,
}

impl GroupSyncer {
    /// One round: every inactive target group of the view gets the offsets that move it
    /// forward.
    pub async fn sync(&self) {
        let view = self.view.borrow().clone();
        if view.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let groups: Vec<String> = view.keys().cloned().collect();
        let described = match self.target.describe_groups(&groups).await {
            Ok(d) => d,
            Err(e) => {
                return warn!(flow = %self.flow, "describing groups on {}: {e}", self.target_alias)
            }
        };
        let mut inactive = Vec::new();
        for d in described {
            if let Some(e) = &d.error {
                warn!(flow = %self.flow, "describing group {} on {}: {e}", d.group_id, self.target_alias);
            } else if self.selector.syncs_offsets(&d) {
                inactive.push(d.group_id);
            }
        }
        let described_in = started.elapsed();
        per_group(&inactive, |g| self.sync_group(g, &view[g])).await;
        debug!(flow = %self.flow, groups = groups.len(), inactive = inactive.len(), "group sync round: described in {described_in:?}, done in {:?}", started.elapsed());
    }

    /// Commits one inactive target group's translated offsets that move it forward.
    async fn sync_group(&self, group: &str, latest: &BTreeMap<TopicPartition, (i64, String)>) {
        let target: BTreeMap<TopicPartition, i64> = match self.target.group_offsets(group).await {
            Ok(o) => o.into_iter().map(|(tp, o)| (tp, o.offset)).collect(),
            Err(e) => {
                return warn!(flow = %self.flow, "listing offsets of group {group} on {}: {e}", self.target_alias);
            }
        };
        let to_sync: BTreeMap<TopicPartition, GroupOffset> = offsets_to_sync(latest, &target)
            .into_iter()
            .map(|(tp, (offset, metadata))| (tp, GroupOffset { offset, metadata }))
            .collect();
        if to_sync.is_empty() {
            return;
        }
        match self.target.alter_group_offsets(group, &to_sync).await {
            Ok(results) => {
                for (tp, r) in results {
                    if let Err(e) = r {
                        warn!(flow = %self.flow, "group {group} {tp} not synced (likely consumers are using it): {e}");
                    }
                }
            }
            Err(e) => warn!(flow = %self.flow, "syncing offsets of group {group}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn per_group_keeps_the_order_and_bounds_what_is_in_flight() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let items: Vec<usize> = (0..200).collect();
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let out = per_group(&items, |i| {
            let (now, most) = (&now, &most);
            async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                // Later items finish first: the order of results must not follow completion.
                tokio::time::sleep(std::time::Duration::from_micros((200 - *i) as u64)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                i * 2
            }
        })
        .await;
        let doubled: Vec<usize> = out.iter().map(|(_, v)| *v).collect();
        assert_eq!(doubled, (0..200).map(|i| i * 2).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= GROUP_REQUESTS);
        assert!(most.load(Ordering::SeqCst) > 1, "requests overlap");
    }
}
