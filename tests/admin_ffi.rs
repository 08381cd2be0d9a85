//! The raw Admin API wrappers of `mm2::kafka::admin_ffi` against a real Kafka cluster (A of
//! scripts/test.sh, which runs Kafka's StandardAuthorizer). Results are read back through
//! rdkafka's safe API where it has one, so a wrapper that sends or reads the wrong thing fails
//! here.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use mm2::kafka::admin_ffi::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(10);

fn group_consumer(group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", source_bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer")
}

/// Commits `offsets` for `group` as a non-member, through the safe API.
async fn commit(group: &str, offsets: &[(&str, i32, i64, &str)]) {
    let mut tpl = TopicPartitionList::new();
    for &(topic, partition, offset, metadata) in offsets {
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
            .unwrap();
        tpl.find_partition(topic, partition)
            .unwrap()
            .set_metadata(metadata);
    }
    let consumer = group_consumer(group);
    tokio::task::spawn_blocking(move || {
        consumer.commit(&tpl, CommitMode::Sync).expect("commit");
        drop(consumer); // closing blocks
    })
    .await
    .unwrap();
}

/// The committed offsets of `group` on `topic` partitions `0..partitions`, through the safe API.
async fn committed(
    group: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<(String, i32), GroupOffset> {
    let consumer = group_consumer(group);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_range(topic, 0, partitions - 1);
    tokio::task::spawn_blocking(move || {
        let tpl = consumer.committed_offsets(tpl, T).expect("committed");
        tpl.elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) => Some((
                    (e.topic().to_string(), e.partition()),
                    GroupOffset {
                        offset,
                        metadata: e.metadata().to_string(),
                    },
                )),
                _ => None,
            })
            .collect()
    })
    .await
    .unwrap()
}

fn offsets(topic: &str, entries: &[(i32, i64, &str)]) -> BTreeMap<(String, i32), GroupOffset> {
    entries
        .iter()
        .map(|&(partition, offset, metadata)| {
            let offset = GroupOffset {
                offset,
                metadata: metadata.to_string(),
            };
            ((topic.to_string(), partition), offset)
        })
        .collect()
}

/// Offsets without their metadata, which tansu does not keep.
fn offset_values(offsets: &BTreeMap<(String, i32), GroupOffset>) -> BTreeMap<(String, i32), i64> {
    offsets.iter().map(|(k, v)| (k.clone(), v.offset)).collect()
}

/// A subscribed consumer that joins `group` and stays a member until dropped.
struct ActiveMember {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ActiveMember {
    fn join(group: &str, topic: &str) -> ActiveMember {
        let stop = Arc::new(AtomicBool::new(false));
        let joined = Arc::new(AtomicBool::new(false));
        let consumer = group_consumer(group);
        consumer.subscribe(&[topic]).expect("subscribe");
        let (stop2, joined2) = (stop.clone(), joined.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let _ = consumer.poll(Duration::from_millis(100));
                if consumer.assignment().is_ok_and(|a| a.count() > 0) {
                    joined2.store(true, Ordering::Relaxed);
                }
            }
        });
        let member = ActiveMember {
            stop,
            thread: Some(thread),
        };
        wait_for(Duration::from_secs(30), || joined.load(Ordering::Relaxed));
        member
    }
}

impl Drop for ActiveMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[tokio::test]
async fn set_then_delete_a_topic_config() {
    common::require_brokers!();
    let bootstrap = source_bootstrap();
    let admin = admin(&bootstrap);
    let topic = unique("cfg");
    create_topic(&bootstrap, &topic, 1).await;

    let set = TopicConfigChanges {
        topic: topic.clone(),
        ops: vec![
            ConfigOp::set("retention.ms", "3600000"),
            ConfigOp::set("cleanup.policy", "compact"),
        ],
    };
    let results = incremental_alter_topic_configs(&admin, &[set], T)
        .await
        .unwrap();
    assert_eq!(results, vec![(topic.clone(), Ok(()))]);
    assert_eq!(
        topic_config(&bootstrap, &topic, "retention.ms")
            .await
            .as_deref(),
        Some("3600000")
    );
    assert_eq!(
        topic_config(&bootstrap, &topic, "cleanup.policy")
            .await
            .as_deref(),
        Some("compact")
    );

    // Deleting one key leaves the other as it is (what the legacy AlterConfigs would not do).
    let delete = TopicConfigChanges {
        topic: topic.clone(),
        ops: vec![ConfigOp::delete("retention.ms")],
    };
    let results = incremental_alter_topic_configs(&admin, &[delete], T)
        .await
        .unwrap();
    assert_eq!(results, vec![(topic.clone(), Ok(()))]);
    let retention = topic_config(&bootstrap, &topic, "retention.ms").await;
    assert_ne!(retention.as_deref(), Some("3600000"), "the default is back");
    assert_eq!(
        topic_config(&bootstrap, &topic, "cleanup.policy")
            .await
            .as_deref(),
        Some("compact")
    );
}

#[tokio::test]
async fn config_changes_per_topic_are_independent() {
    common::require_brokers!();
    let bootstrap = source_bootstrap();
    let admin = admin(&bootstrap);
    let (a, b) = (unique("cfg-a"), unique("cfg-b"));
    create_topic(&bootstrap, &a, 1).await;
    create_topic(&bootstrap, &b, 1).await;
    let changes = [
        TopicConfigChanges {
            topic: a.clone(),
            ops: vec![ConfigOp::set("retention.ms", "1000")],
        },
        TopicConfigChanges {
            topic: b.clone(),
            ops: vec![ConfigOp::set("retention.ms", "2000")],
        },
    ];
    let mut results = incremental_alter_topic_configs(&admin, &changes, T)
        .await
        .unwrap();
    results.sort_by(|x, y| x.0.cmp(&y.0));
    let mut expected = vec![(a.clone(), Ok(())), (b.clone(), Ok(()))];
    expected.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(results, expected);
    assert_eq!(
        topic_config(&bootstrap, &a, "retention.ms")
            .await
            .as_deref(),
        Some("1000")
    );
    assert_eq!(
        topic_config(&bootstrap, &b, "retention.ms")
            .await
            .as_deref(),
        Some("2000")
    );
}

#[tokio::test]
async fn invalid_config_changes_are_refused_before_sending() {
    common::require_brokers!();
    let admin = admin(&source_bootstrap());
    let topic = unique("cfg-invalid");
    let no_value = TopicConfigChanges {
        topic: topic.clone(),
        ops: vec![ConfigOp {
            name: "retention.ms".into(),
            kind: AlterKind::Set,
            value: None,
        }],
    };
    let err = incremental_alter_topic_configs(&admin, &[no_value], T)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::InvalidRequest { .. }), "{err}");
    assert!(err.to_string().contains("retention.ms"), "{err}");

    // librdkafka itself refuses a topic given twice.
    let once = TopicConfigChanges {
        topic: topic.clone(),
        ops: vec![ConfigOp::set("retention.ms", "1000")],
    };
    let err = incremental_alter_topic_configs(&admin, &[once.clone(), once], T)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::Request { .. }), "{err}");
    assert!(err.to_string().contains("Duplicate"), "{err}");

    assert_eq!(
        incremental_alter_topic_configs(&admin, &[], T).await,
        Ok(vec![])
    );
}

#[tokio::test]
async fn committed_offsets_are_listed_exactly() {
    common::require_brokers!();
    let bootstrap = source_bootstrap();
    let admin = admin(&bootstrap);
    let (topic, other) = (unique("grp-offsets"), unique("grp-offsets-other"));
    create_topic(&bootstrap, &topic, 3).await;
    create_topic(&bootstrap, &other, 1).await;
    let group = unique("grp");
    commit(
        &group,
        &[
            (&topic, 0, 5, "m0"),
            (&topic, 1, 7, ""),
            (&topic, 2, 0, "m2"),
            (&other, 0, 42, ""),
        ],
    )
    .await;

    let listed = list_consumer_group_offsets(&admin, &group, T)
        .await
        .unwrap();
    let mut expected = offsets(&topic, &[(0, 5, ""), (1, 7, ""), (2, 0, "")]);
    expected.extend(offsets(&other, &[(0, 42, "")]));
    assert_eq!(offset_values(&listed), offset_values(&expected));
    // Metadata as the broker keeps it (tansu keeps none), read through the safe API.
    let mut safe = committed(&group, &topic, 3).await;
    safe.extend(committed(&group, &other, 1).await);
    assert_eq!(listed, safe);

    let unknown = list_consumer_group_offsets(&admin, &unique("grp-none"), T).await;
    assert_eq!(unknown, Ok(BTreeMap::new()));
}

#[tokio::test]
async fn offsets_of_an_empty_group_can_be_altered() {
    common::require_brokers!();
    let bootstrap = source_bootstrap();
    let admin = admin(&bootstrap);
    let topic = unique("grp-alter");
    create_topic(&bootstrap, &topic, 3).await;
    let group = unique("grp");
    commit(&group, &[(&topic, 0, 5, ""), (&topic, 1, 7, "")]).await;

    let wanted = offsets(&topic, &[(0, 100, "mm2"), (1, 0, ""), (2, 9, "")]);
    let results = alter_consumer_group_offsets(&admin, &group, &wanted, T)
        .await
        .unwrap();
    let keys: Vec<_> = results.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, wanted.keys().cloned().collect::<Vec<_>>());
    for (tp, result) in &results {
        assert_eq!(result, &Ok(()), "{tp:?}");
    }

    let listed = list_consumer_group_offsets(&admin, &group, T)
        .await
        .unwrap();
    assert_eq!(offset_values(&listed), offset_values(&wanted));
    assert_eq!(listed, committed(&group, &topic, 3).await);

    let negative = offsets(&topic, &[(0, -1, "")]);
    let err = alter_consumer_group_offsets(&admin, &group, &negative, T)
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::InvalidRequest { .. }), "{err}");
    let nothing = alter_consumer_group_offsets(&admin, &group, &BTreeMap::new(), T).await;
    assert_eq!(nothing, Ok(vec![]));
}

#[tokio::test]
async fn an_empty_group_is_listed_and_described() {
    common::require_brokers!();
    let bootstrap = source_bootstrap();
    let admin = admin(&bootstrap);
    let topic = unique("grp-list");
    create_topic(&bootstrap, &topic, 1).await;
    let group = unique("grp");
    commit(&group, &[(&topic, 0, 1, "")]).await;

    let listed = list_consumer_groups(&admin, T).await.unwrap();
    assert!(
        listed.iter().any(|g| g.group_id == group),
        "{group} not in {listed:?}"
    );

    let described = describe_consumer_groups(&admin, std::slice::from_ref(&group), T)
        .await
        .unwrap();
    let expected = GroupDescription {
        group_id: group.clone(),
        state: GroupState::Empty,
        members: 0,
        error: None,
    };
    assert_eq!(described, vec![expected]);
    assert_eq!(describe_consumer_groups(&admin, &[], T).await, Ok(vec![]));
}

/// A group that does not exist can be given offsets: no error and no members. Kafka answers
/// Dead (or GROUP_ID_NOT_FOUND from DescribeGroups v6+, which is reported as Dead).
/// sync.group.offsets and `offsets translate --apply` rely on it.
#[tokio::test]
async fn a_group_that_does_not_exist_can_be_given_offsets() {
    common::require_brokers!();
    let group = unique("grp-none");
    let described =
        describe_consumer_groups(&admin(&source_bootstrap()), std::slice::from_ref(&group), T)
            .await
            .unwrap();
    let expected = GroupDescription {
        group_id: group,
        state: GroupState::Dead,
        members: 0,
        error: None,
    };
    assert_eq!(described, vec![expected]);
}

#[tokio::test]
async fn offsets_of_an_active_group_are_not_altered() {
    common::require_brokers!();
    let bootstrap = source_bootstrap();
    let admin = admin(&bootstrap);
    let topic = unique("grp-active");
    create_topic(&bootstrap, &topic, 2).await;
    let group = unique("grp");
    let member = ActiveMember::join(&group, &topic);

    let described = describe_consumer_groups(&admin, std::slice::from_ref(&group), T)
        .await
        .unwrap();
    assert_eq!(described.len(), 1);
    assert_eq!(described[0].state, GroupState::Stable, "{described:?}");

    let wanted = offsets(&topic, &[(0, 3, ""), (1, 4, "")]);
    let outcome = alter_consumer_group_offsets(&admin, &group, &wanted, T).await;
    let errors: Vec<AdminError> = match outcome {
        Err(e) => vec![e],
        Ok(results) => {
            assert_eq!(results.len(), 2, "{results:?}");
            results.into_iter().map(|(_, r)| r.unwrap_err()).collect()
        }
    };
    for e in &errors {
        // The broker's reason (Kafka and tansu: UNKNOWN_MEMBER_ID) reaches the caller.
        let text = e.to_string();
        assert!(text.contains(&group) && text.contains("Broker:"), "{text}");
    }
    let listed = list_consumer_group_offsets(&admin, &group, T)
        .await
        .unwrap();
    assert_eq!(listed, BTreeMap::new(), "nothing was committed");
    drop(member);
}

/// ACLs created through Kafka's authorizer are described back exactly, of both pattern types
/// and both permissions; ACLs on other resource types are not listed as topic ACLs.
#[tokio::test]
async fn topic_acls_are_created_and_described() {
    common::require_brokers!();
    let admin = admin(&source_bootstrap());
    let topic = unique("acl-topic");
    let principal = format!("User:{}", unique("alice"));
    let acl = |resource_type, name: &str, pattern_type, operation, permission| AclBinding {
        resource_type,
        name: name.to_string(),
        pattern_type,
        principal: principal.clone(),
        host: "*".to_string(),
        operation,
        permission,
    };
    let topic_acls = vec![
        acl(
            AclResourceType::Topic,
            &topic,
            AclPatternType::Literal,
            AclOperation::Read,
            AclPermission::Allow,
        ),
        acl(
            AclResourceType::Topic,
            &format!("{topic}-"),
            AclPatternType::Prefixed,
            AclOperation::Write,
            AclPermission::Deny,
        ),
    ];
    let group_acl = acl(
        AclResourceType::Group,
        &topic,
        AclPatternType::Literal,
        AclOperation::Read,
        AclPermission::Allow,
    );
    let mut all = topic_acls.clone();
    all.push(group_acl);
    let outcomes = create_acls(&admin, &all, T).await.unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");

    // The authorizer applies new ACLs from the metadata log: poll until they are there.
    let deadline = Instant::now() + T;
    let mut mine = loop {
        let mine: Vec<AclBinding> = describe_topic_acls(&admin, T)
            .await
            .unwrap()
            .into_iter()
            .filter(|b| b.principal == principal)
            .collect();
        if mine.len() >= topic_acls.len() || Instant::now() > deadline {
            break mine;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    mine.sort();
    let mut want = topic_acls;
    want.sort();
    assert_eq!(mine, want);
}
