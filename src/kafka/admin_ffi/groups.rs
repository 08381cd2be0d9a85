//! Consumer groups: list and describe them, and read and alter their committed offsets.

use std::collections::BTreeMap;
use std::ffi::c_char;
use std::ptr;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::bindings::rd_kafka_consumer_group_state_t as NativeState;
use rdkafka::client::ClientContext;

use super::{c_string, error_message, error_object, request, slice, string, AdminError, Owned};

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    pub state: GroupState,
    /// A group that only stores offsets and has no members or protocol (empty protocol type).
    pub is_simple: bool,
}

/// A group as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: GroupState,
    pub members: usize,
    /// Why this group could not be described; the other fields are then meaningless.
    pub error: Option<String>,
}

impl GroupDescription {
    /// No consumer uses the group (Empty, or Dead: it does not exist), so its offsets may be set.
    pub fn is_inactive(&self) -> bool {
        matches!(self.state, GroupState::Empty | GroupState::Dead) && self.members == 0
    }
}

/// A committed offset: the next record the group will read, and the committer's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOffset {
    pub offset: i64,
    pub metadata: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    Unknown,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
    /// No members: the only state in which a non-member may commit offsets.
    Empty,
}

impl GroupState {
    fn from_native(state: NativeState) -> GroupState {
        match state {
            NativeState::RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE => {
                GroupState::PreparingRebalance
            }
            NativeState::RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE => {
                GroupState::CompletingRebalance
            }
            NativeState::RD_KAFKA_CONSUMER_GROUP_STATE_STABLE => GroupState::Stable,
            NativeState::RD_KAFKA_CONSUMER_GROUP_STATE_DEAD => GroupState::Dead,
            NativeState::RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY => GroupState::Empty,
            _ => GroupState::Unknown,
        }
    }
}

const LIST: &str = "list consumer groups";
const DESCRIBE: &str = "describe consumer groups";

/// Every consumer group of the cluster. Fails if any broker could not be asked, since a partial
/// list cannot be told from a complete one.
pub async fn list_consumer_groups<C: ClientContext>(
    admin: &AdminClient<C>,
    timeout: Duration,
) -> Result<Vec<GroupListing>, AdminError> {
    let api = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS;
    let event = request(admin, api, LIST, timeout, |rk, options, queue| {
        // SAFETY: all pointers are live (`request`'s contract).
        unsafe { rd::rd_kafka_ListConsumerGroups(rk, options, queue) };
        Ok(())
    })
    .await?;
    let result = event.result(LIST, rd::rd_kafka_event_ListConsumerGroups_result)?;
    let (mut valid_count, mut error_count) = (0, 0);
    // SAFETY: `result` is this event's ListConsumerGroups result; both arrays and their elements
    // live as long as `event`, which outlives the reads below.
    let (valid, errors) = unsafe {
        (
            slice(
                rd::rd_kafka_ListConsumerGroups_result_valid(result, &mut valid_count),
                valid_count,
            ),
            slice(
                rd::rd_kafka_ListConsumerGroups_result_errors(result, &mut error_count),
                error_count,
            ),
        )
    };
    let errors: Vec<String> = errors
        .iter()
        // SAFETY: live error objects of the result.
        .filter_map(|&e| unsafe { error_object(e) }.map(|(_, message)| message))
        .collect();
    if !errors.is_empty() {
        return Err(AdminError::Request {
            operation: LIST.to_string(),
            message: errors.join("; "),
        });
    }
    let groups = valid
        .iter()
        .map(|&listing| {
            // SAFETY: a live listing of the result; its group id is copied.
            unsafe {
                GroupListing {
                    group_id: string(rd::rd_kafka_ConsumerGroupListing_group_id(listing)),
                    state: GroupState::from_native(rd::rd_kafka_ConsumerGroupListing_state(
                        listing,
                    )),
                    is_simple: rd::rd_kafka_ConsumerGroupListing_is_simple_consumer_group(listing)
                        != 0,
                }
            }
        })
        .collect();
    Ok(groups)
}

/// Describes `groups`, one description per group (in the broker's order). A group that does not
/// exist is reported as `Dead`, without an error.
pub async fn describe_consumer_groups<C: ClientContext>(
    admin: &AdminClient<C>,
    groups: &[String],
    timeout: Duration,
) -> Result<Vec<GroupDescription>, AdminError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let api = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS;
    let event = request(admin, api, DESCRIBE, timeout, |rk, options, queue| {
        let names = groups
            .iter()
            .map(|g| c_string(g, "group id", DESCRIBE))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        // SAFETY: all pointers are live; `ptrs` holds `ptrs.len()` C strings (owned by `names`),
        // which librdkafka copies.
        unsafe {
            rd::rd_kafka_DescribeConsumerGroups(rk, ptrs.as_mut_ptr(), ptrs.len(), options, queue)
        };
        Ok(())
    })
    .await?;
    let result = event.result(DESCRIBE, rd::rd_kafka_event_DescribeConsumerGroups_result)?;
    let mut count = 0;
    // SAFETY: `result` is this event's DescribeConsumerGroups result; the array and its
    // descriptions live as long as `event`, which outlives the reads below.
    let descriptions = unsafe {
        slice(
            rd::rd_kafka_DescribeConsumerGroups_result_groups(result, &mut count),
            count,
        )
    };
    // SAFETY: each is a live description of the result, which `event` keeps alive.
    let groups = descriptions
        .iter()
        .map(|&desc| unsafe { description(desc) })
        .collect();
    Ok(groups)
}

/// One group of a DescribeConsumerGroups result, with its strings and error copied.
///
/// # Safety
/// `desc` must be a live description of a live result.
unsafe fn description(desc: *const rd::rd_kafka_ConsumerGroupDescription_t) -> GroupDescription {
    // SAFETY: `desc` is live (the caller's contract); what is read is copied.
    let (group_id, state, members, error) = unsafe {
        (
            string(rd::rd_kafka_ConsumerGroupDescription_group_id(desc)),
            GroupState::from_native(rd::rd_kafka_ConsumerGroupDescription_state(desc)),
            rd::rd_kafka_ConsumerGroupDescription_member_count(desc),
            error_object(rd::rd_kafka_ConsumerGroupDescription_error(desc)),
        )
    };
    match error {
        // A group that does not exist is Dead, as Kafka reports it to the DescribeGroups
        // versions librdkafka sends; tansu on sqlite (and DescribeGroups v6+) answer
        // GROUP_ID_NOT_FOUND instead.
        Some((rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, _)) => {
            GroupDescription {
                group_id,
                state: GroupState::Dead,
                members: 0,
                error: None,
            }
        }
        error => GroupDescription {
            group_id,
            state,
            members,
            error: error.map(|(_, message)| message),
        },
    }
}

/// The committed offsets of `group` on every partition it has committed to. Partitions without a
/// committed offset (negative) are left out.
pub async fn list_consumer_group_offsets<C: ClientContext>(
    admin: &AdminClient<C>,
    group: &str,
    timeout: Duration,
) -> Result<BTreeMap<(String, i32), GroupOffset>, AdminError> {
    let operation = format!("list offsets of consumer group `{group}`");
    let api = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS;
    let event = request(admin, api, &operation, timeout, |rk, options, queue| {
        let group_id = c_string(group, "group id", &operation)?;
        // SAFETY: `group_id` is a C string that librdkafka copies; null partitions mean "all";
        // the returned request is ours and freed by the guard.
        let list = unsafe {
            Owned::from_ptr(
                rd::rd_kafka_ListConsumerGroupOffsets_new(group_id.as_ptr(), ptr::null()),
                rd::rd_kafka_ListConsumerGroupOffsets_destroy,
            )
        }
        .ok_or_else(|| AdminError::invalid(&operation, "librdkafka refused the request"))?;
        let mut ptrs = [list.ptr()];
        // SAFETY: all pointers are live; librdkafka copies the one request, which `list` frees.
        unsafe { rd::rd_kafka_ListConsumerGroupOffsets(rk, ptrs.as_mut_ptr(), 1, options, queue) };
        Ok(())
    })
    .await?;
    let result = event.result(
        &operation,
        rd::rd_kafka_event_ListConsumerGroupOffsets_result,
    )?;
    // SAFETY: `result` is this event's result; everything read lives as long as `event`.
    let partitions = unsafe {
        group_partitions(
            rd::rd_kafka_ListConsumerGroupOffsets_result_groups,
            result,
            &operation,
        )
    }?;
    let mut offsets = BTreeMap::new();
    for p in partitions {
        // SAFETY: a live element of the result's list; its strings are copied.
        let (topic, metadata) = unsafe { (string(p.topic), metadata(p)) };
        if p.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(AdminError::ListGroupOffset {
                group: group.to_string(),
                topic,
                partition: p.partition,
                message: error_message(p.err, ""),
            });
        }
        if p.offset >= 0 {
            let offset = GroupOffset {
                offset: p.offset,
                metadata,
            };
            offsets.insert((topic, p.partition), offset);
        }
    }
    Ok(offsets)
}

/// Commits `offsets` for `group` as a non-member, and returns each partition's outcome. The broker
/// accepts this only while the group has no active members; otherwise every partition (or the
/// request as a whole) fails with the broker's error. `Err` means nothing was committed.
pub async fn alter_consumer_group_offsets<C: ClientContext>(
    admin: &AdminClient<C>,
    group: &str,
    offsets: &BTreeMap<(String, i32), GroupOffset>,
    timeout: Duration,
) -> Result<Vec<((String, i32), Result<(), AdminError>)>, AdminError> {
    if offsets.is_empty() {
        return Ok(Vec::new());
    }
    let operation = format!("alter offsets of consumer group `{group}`");
    if let Some(((topic, partition), o)) = offsets.iter().find(|(_, o)| o.offset < 0) {
        let message = format!(
            "offset {} for `{topic}` partition {partition} is negative",
            o.offset
        );
        return Err(AdminError::invalid(&operation, message));
    }
    let api = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS;
    let event = request(admin, api, &operation, timeout, |rk, options, queue| {
        let group_id = c_string(group, "group id", &operation)?;
        let partitions = partition_list(rk, offsets, &operation)?;
        // SAFETY: `group_id` and the list are live and copied by librdkafka; the returned
        // request is ours and freed by the guard.
        let alter = unsafe {
            Owned::from_ptr(
                rd::rd_kafka_AlterConsumerGroupOffsets_new(group_id.as_ptr(), partitions.ptr()),
                rd::rd_kafka_AlterConsumerGroupOffsets_destroy,
            )
        }
        .ok_or_else(|| AdminError::invalid(&operation, "librdkafka refused the request"))?;
        let mut ptrs = [alter.ptr()];
        // SAFETY: all pointers are live; librdkafka copies the one request, which `alter` frees.
        unsafe { rd::rd_kafka_AlterConsumerGroupOffsets(rk, ptrs.as_mut_ptr(), 1, options, queue) };
        Ok(())
    })
    .await?;
    let result = event.result(
        &operation,
        rd::rd_kafka_event_AlterConsumerGroupOffsets_result,
    )?;
    // SAFETY: `result` is this event's result; everything read lives as long as `event`.
    let partitions = unsafe {
        group_partitions(
            rd::rd_kafka_AlterConsumerGroupOffsets_result_groups,
            result,
            &operation,
        )
    }?;
    Ok(alter_outcomes(group, partitions))
}

/// Each partition's outcome in an AlterConsumerGroupOffsets result; `partitions` must be
/// [`group_partitions`]' slice of a live event (its topic pointers are read).
fn alter_outcomes(
    group: &str,
    partitions: &[rd::rd_kafka_topic_partition_t],
) -> Vec<((String, i32), Result<(), AdminError>)> {
    partitions
        .iter()
        .map(|p| {
            // SAFETY: a live element of the result's list; the topic is copied.
            let topic = unsafe { string(p.topic) };
            let outcome = if p.err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                Ok(())
            } else {
                Err(AdminError::AlterGroupOffset {
                    group: group.to_string(),
                    topic: topic.clone(),
                    partition: p.partition,
                    message: error_message(p.err, ""),
                })
            };
            ((topic, p.partition), outcome)
        })
        .collect()
}

/// The partitions of the single group result of a List- or AlterConsumerGroupOffsets result,
/// after checking the group's own error.
///
/// # Safety
/// `result` must be the matching result of a live event; the returned slice borrows from that
/// event and must not outlive it.
unsafe fn group_partitions<'a>(
    groups: unsafe extern "C" fn(
        *const rd::rd_kafka_event_t,
        *mut usize,
    ) -> *mut *const rd::rd_kafka_group_result_t,
    result: *const rd::rd_kafka_event_t,
    operation: &str,
) -> Result<&'a [rd::rd_kafka_topic_partition_t], AdminError> {
    let mut count = 0;
    // SAFETY: `result` is live and matches `groups` (the caller's contract).
    let groups = unsafe { slice(groups(result, &mut count), count) };
    let [group] = groups else {
        return Err(AdminError::Request {
            operation: operation.to_string(),
            message: format!(
                "librdkafka returned {} group results for one group",
                groups.len()
            ),
        });
    };
    // SAFETY: a live group result; its error object lives as long as the result.
    if let Some((_, message)) = unsafe { error_object(rd::rd_kafka_group_result_error(*group)) } {
        return Err(AdminError::Request {
            operation: operation.to_string(),
            message,
        });
    }
    // SAFETY: a live group result; the list and its elements live as long as the result.
    unsafe {
        let list = rd::rd_kafka_group_result_partitions(*group);
        if list.is_null() {
            return Ok(&[]);
        }
        Ok(slice(
            (*list).elems,
            usize::try_from((*list).cnt).unwrap_or(0),
        ))
    }
}

/// The metadata of a partition element, lossily as UTF-8.
///
/// # Safety
/// `p` must be a live element.
unsafe fn metadata(p: &rd::rd_kafka_topic_partition_t) -> String {
    // SAFETY: `metadata` points to `metadata_size` bytes owned by the element (or is null).
    let bytes = unsafe { slice(p.metadata as *const u8, p.metadata_size) };
    String::from_utf8_lossy(bytes).into_owned()
}

/// A native partition list with `offsets`, their metadata allocated with librdkafka's allocator
/// so that destroying the list frees it.
fn partition_list(
    rk: *mut rd::rd_kafka_t,
    offsets: &BTreeMap<(String, i32), GroupOffset>,
    operation: &str,
) -> Result<Owned<rd::rd_kafka_topic_partition_list_t>, AdminError> {
    let size = i32::try_from(offsets.len()).unwrap_or(i32::MAX);
    // SAFETY: the new list is ours and freed by the guard (which frees its elements' metadata).
    let list = unsafe {
        Owned::from_ptr(
            rd::rd_kafka_topic_partition_list_new(size),
            rd::rd_kafka_topic_partition_list_destroy,
        )
    }
    .expect("rd_kafka_topic_partition_list_new returned null");
    for ((topic, partition), o) in offsets {
        let topic = c_string(topic, "topic name", operation)?;
        // SAFETY: the list is live; librdkafka copies the topic and returns the new element,
        // valid until the list changes (we finish with it before the next add).
        let elem = unsafe {
            &mut *rd::rd_kafka_topic_partition_list_add(list.ptr(), topic.as_ptr(), *partition)
        };
        elem.offset = o.offset;
        if !o.metadata.is_empty() {
            let len = o.metadata.len();
            // SAFETY: librdkafka's allocator, which frees element metadata on destroy; `len`
            // bytes are copied into the fresh buffer, which the element then owns.
            unsafe {
                let buf = rd::rd_kafka_mem_malloc(rk, len) as *mut u8;
                assert!(!buf.is_null(), "rd_kafka_mem_malloc({len}) failed");
                ptr::copy_nonoverlapping(o.metadata.as_ptr(), buf, len);
                elem.metadata = buf.cast();
            }
            elem.metadata_size = len;
        }
    }
    Ok(list)
}
