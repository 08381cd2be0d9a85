//! A sink connector's offsets are its consumer group's (`connect-<name>`), shown and changed in
//! KIP-875's shape: partition `{"kafka_topic":..,"kafka_partition":..}`, offset
//! `{"kafka_offset":..}`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::connector::OffsetEntry;
use super::sink_runner::group_id;
use crate::kafka::admin::Admin;
use crate::kafka::admin_ffi::GroupOffset;
use crate::kafka::props::ClientProps;
use crate::kafka::TopicPartition;

const TIMEOUT: Duration = Duration::from_secs(30);

fn admin(props: &ClientProps, connector: &str) -> Result<Admin, String> {
    Admin::new(
        props,
        "worker",
        &format!("{connector}|offsets-admin"),
        TIMEOUT,
    )
    .map_err(|e| e.to_string())
}

/// The group's committed offsets.
pub async fn read(props: &ClientProps, connector: &str) -> Result<Vec<OffsetEntry>, String> {
    let admin = admin(props, connector)?;
    let offsets = admin
        .group_offsets(&group_id(connector))
        .await
        .map_err(|e| e.to_string())?;
    Ok(offsets
        .into_iter()
        .map(|(tp, o)| OffsetEntry {
            partition: json!({ "kafka_topic": tp.topic, "kafka_partition": tp.partition }),
            offset: Some(json!({ "kafka_offset": o.offset })),
        })
        .collect())
}

/// The partition and offset of one entry, as Connect checks them.
fn parse(e: &OffsetEntry) -> Result<(TopicPartition, Option<i64>), String> {
    let topic = e.partition.get("kafka_topic").and_then(Value::as_str);
    let partition = e.partition.get("kafka_partition").and_then(Value::as_i64);
    let (Some(topic), Some(partition)) = (topic, partition) else {
        return Err(format!(
            "Sink connector partitions must have the keys kafka_topic (string) and kafka_partition (integer): {}",
            e.partition
        ));
    };
    let offset = match &e.offset {
        None => None,
        Some(o) => match o.get("kafka_offset").and_then(Value::as_i64) {
            Some(v) if v >= 0 => Some(v),
            _ => {
                return Err(format!(
                    "Sink connector offsets must have a non-negative integer kafka_offset: {o}"
                ))
            }
        },
    };
    Ok((TopicPartition::new(topic, partition as i32), offset))
}

/// Commits new offsets for the (inactive) group.
pub async fn alter(
    props: &ClientProps,
    connector: &str,
    entries: &[OffsetEntry],
) -> Result<(), String> {
    let mut offsets = BTreeMap::new();
    for e in entries {
        match parse(e)? {
            (tp, Some(offset)) => {
                offsets.insert(tp, GroupOffset { offset, metadata: String::new() });
            }
            (tp, None) => {
                return Err(format!(
                    "removing the offset of {tp} alone is not supported; reset all of the connector's offsets with DELETE"
                ))
            }
        }
    }
    let admin = admin(props, connector)?;
    let results = admin
        .alter_group_offsets(&group_id(connector), &offsets)
        .await
        .map_err(|e| e.to_string())?;
    for (tp, r) in results {
        r.map_err(|e| format!("{tp}: {e}"))?;
    }
    Ok(())
}

/// Deletes the group, so the connector starts over from `auto.offset.reset`.
pub async fn reset(props: &ClientProps, connector: &str) -> Result<(), String> {
    let admin = admin(props, connector)?;
    // A group that never committed is not found, which counts as deleted: nothing to reset.
    admin
        .delete_group(&group_id(connector))
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_checked_as_connect_checks_them() {
        let e = |p: Value, o: Option<Value>| OffsetEntry {
            partition: p,
            offset: o,
        };
        let p = json!({"kafka_topic": "t", "kafka_partition": 2});
        assert_eq!(
            parse(&e(p.clone(), Some(json!({"kafka_offset": 5})))).unwrap(),
            (TopicPartition::new("t", 2), Some(5))
        );
        assert_eq!(
            parse(&e(p.clone(), None)).unwrap(),
            (TopicPartition::new("t", 2), None)
        );
        assert!(parse(&e(p, Some(json!({"kafka_offset": -1})))).is_err());
        assert!(parse(&e(json!({"topic": "t"}), None)).is_err());
    }
}
