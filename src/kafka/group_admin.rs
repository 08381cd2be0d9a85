//! Consumer-group administration on an [`Admin`] client, in domain terms: list and describe
//! groups, read and alter their committed offsets keyed by [`TopicPartition`], and delete a
//! group. Each call waits for the admin's timeout. The C-API calls are in `admin_ffi::groups`.

use std::collections::BTreeMap;

use rdkafka::admin::AdminOptions;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::admin::Admin;
use super::admin_ffi::{self, AdminError, GroupDescription, GroupListing, GroupOffset};
use super::topic_partition::TopicPartition;

/// Why a group could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteGroupError {
    /// The request as a whole failed.
    #[error(transparent)]
    Request(#[from] KafkaError),
    #[error("cannot delete group {group}: {code}")]
    Group {
        group: String,
        code: RDKafkaErrorCode,
    },
}

/// Each partition's outcome of altering a group's offsets.
pub type AlterResults = Vec<(TopicPartition, Result<(), AdminError>)>;

impl Admin {
    /// Every consumer group of the cluster.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>, AdminError> {
        admin_ffi::list_consumer_groups(self.client(), self.timeout()).await
    }

    /// The state and membership of each of `groups`.
    pub async fn describe_groups(
        &self,
        groups: &[String],
    ) -> Result<Vec<GroupDescription>, AdminError> {
        admin_ffi::describe_consumer_groups(self.client(), groups, self.timeout()).await
    }

    /// The committed offsets of `group` (partitions without one are left out).
    pub async fn group_offsets(
        &self,
        group: &str,
    ) -> Result<BTreeMap<TopicPartition, GroupOffset>, AdminError> {
        let offsets =
            admin_ffi::list_consumer_group_offsets(self.client(), group, self.timeout()).await?;
        Ok(offsets.into_iter().map(|(tp, o)| (tp.into(), o)).collect())
    }

    /// Commits `offsets` for `group` as a non-member (the group must have no active members);
    /// each partition's outcome. `Err` means nothing was committed.
    pub async fn alter_group_offsets(
        &self,
        group: &str,
        offsets: &BTreeMap<TopicPartition, GroupOffset>,
    ) -> Result<AlterResults, AdminError> {
        let offsets: BTreeMap<(String, i32), GroupOffset> = offsets
            .iter()
            .map(|(tp, o)| ((tp.topic.clone(), tp.partition), o.clone()))
            .collect();
        let results =
            admin_ffi::alter_consumer_group_offsets(self.client(), group, &offsets, self.timeout())
                .await?;
        Ok(results.into_iter().map(|(tp, r)| (tp.into(), r)).collect())
    }

    /// Deletes `group` with its committed offsets; a group that does not exist (it never
    /// committed) counts as deleted.
    pub async fn delete_group(&self, group: &str) -> Result<(), DeleteGroupError> {
        // The request timeout alone: librdkafka's operation timeout is for topic and record
        // operations, not DeleteGroups.
        let options = AdminOptions::new().request_timeout(Some(self.timeout()));
        let results = self.client().delete_groups(&[group], &options).await?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
                Err((group, code)) => return Err(DeleteGroupError::Group { group, code }),
            }
        }
        Ok(())
    }
}
