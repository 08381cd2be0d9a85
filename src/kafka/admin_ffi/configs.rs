//! IncrementalAlterConfigs of topic configs: set or delete single keys and leave the others as
//! they are (the legacy AlterConfigs, which the safe API offers, resets every key not sent).

use std::ptr;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::ClientContext;

use super::{c_string, error_message, request, slice, string, AdminError, Owned};

const OPERATION: &str = "incremental alter configs";

/// The config changes of one topic, applied atomically by the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicConfigChanges {
    pub topic: String,
    pub ops: Vec<ConfigOp>,
}

/// One change of one config key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigOp {
    pub name: String,
    pub kind: AlterKind,
    /// The new value: required for `Set`, ignored for `Delete`.
    pub value: Option<String>,
}

impl ConfigOp {
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> ConfigOp {
        ConfigOp {
            name: name.into(),
            kind: AlterKind::Set,
            value: Some(value.into()),
        }
    }

    pub fn delete(name: impl Into<String>) -> ConfigOp {
        ConfigOp {
            name: name.into(),
            kind: AlterKind::Delete,
            value: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterKind {
    /// Give the key a topic-level value.
    Set,
    /// Remove the topic-level value, so the broker's default applies again.
    Delete,
}

impl AlterKind {
    fn to_native(self) -> rd::rd_kafka_AlterConfigOpType_t {
        match self {
            AlterKind::Set => rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
            AlterKind::Delete => {
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE
            }
        }
    }
}

/// Applies `changes`, each topic's atomically, and returns each topic's outcome as the broker
/// reports it. `Err` means nothing was applied: the arguments were invalid (an empty name, a
/// `Set` without a value, a topic or key given twice) or the request failed as a whole.
pub async fn incremental_alter_topic_configs<C: ClientContext>(
    admin: &AdminClient<C>,
    changes: &[TopicConfigChanges],
    timeout: Duration,
) -> Result<Vec<(String, Result<(), AdminError>)>, AdminError> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let api = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS;
    let event = request(admin, api, OPERATION, timeout, |rk, options, queue| {
        let resources = changes
            .iter()
            .map(topic_resource)
            .collect::<Result<Vec<_>, _>>()?;
        let mut ptrs: Vec<_> = resources.iter().map(Owned::ptr).collect();
        // SAFETY: `rk`, `options` and `queue` are live (`request`'s contract); `ptrs` holds
        // `ptrs.len()` live resources, which librdkafka copies, so `resources` frees them after.
        unsafe {
            rd::rd_kafka_IncrementalAlterConfigs(rk, ptrs.as_mut_ptr(), ptrs.len(), options, queue)
        };
        Ok(())
    })
    .await?;
    let result = event.result(OPERATION, rd::rd_kafka_event_IncrementalAlterConfigs_result)?;
    let mut count = 0;
    // SAFETY: `result` is this event's IncrementalAlterConfigs result; the array and the
    // resources in it live as long as `event`, which outlives this function's reads.
    let resources = unsafe {
        let array = rd::rd_kafka_IncrementalAlterConfigs_result_resources(result, &mut count);
        slice(array, count)
    };
    let outcomes = resources
        .iter()
        .map(|&resource| {
            // SAFETY: a live resource of the result; its strings are copied.
            let (topic, code, text) = unsafe {
                (
                    string(rd::rd_kafka_ConfigResource_name(resource)),
                    rd::rd_kafka_ConfigResource_error(resource),
                    string(rd::rd_kafka_ConfigResource_error_string(resource)),
                )
            };
            let outcome = if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                Ok(())
            } else {
                Err(AdminError::AlterTopicConfigs {
                    topic: topic.clone(),
                    message: error_message(code, &text),
                })
            };
            (topic, outcome)
        })
        .collect();
    Ok(outcomes)
}

/// The native config resource for one topic's changes.
fn topic_resource(
    changes: &TopicConfigChanges,
) -> Result<Owned<rd::rd_kafka_ConfigResource_t>, AdminError> {
    let topic = c_string(&changes.topic, "topic name", OPERATION)?;
    // SAFETY: `topic` is a C string that librdkafka copies; null (an empty name) is handled.
    let resource = unsafe {
        Owned::from_ptr(
            rd::rd_kafka_ConfigResource_new(
                rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
                topic.as_ptr(),
            ),
            rd::rd_kafka_ConfigResource_destroy,
        )
    }
    .ok_or_else(|| AdminError::invalid(OPERATION, "a topic name is empty"))?;
    for op in &changes.ops {
        let name = c_string(&op.name, "config name", OPERATION)?;
        let value = match &op.value {
            Some(v) => Some(c_string(v, "config value", OPERATION)?),
            None => None,
        };
        let value_ptr = value.as_ref().map_or(ptr::null(), |v| v.as_ptr());
        // SAFETY: the resource is live; `name` and `value` (or null) are C strings that
        // librdkafka copies; a returned error object is ours and freed by the guard.
        let error = unsafe {
            Owned::from_ptr(
                rd::rd_kafka_ConfigResource_add_incremental_config(
                    resource.ptr(),
                    name.as_ptr(),
                    op.kind.to_native(),
                    value_ptr,
                ),
                rd::rd_kafka_error_destroy,
            )
        };
        if let Some(error) = error {
            // SAFETY: a live error object owned by the guard; its string is copied.
            let message = unsafe { string(rd::rd_kafka_error_string(error.ptr())) };
            return Err(AdminError::invalid(
                OPERATION,
                format!("topic `{}`, config `{}`: {message}", changes.topic, op.name),
            ));
        }
    }
    Ok(resource)
}
