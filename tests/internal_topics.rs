//! Internal topics of another shape than the ones we create, as an operator, a Strimzi setup or
//! an earlier Java install may have left them (issue 24, case 3): an offsets topic of 1, 5 or
//! 25 partitions shares the work by its real count and replicates everything; a config topic
//! of two partitions and an offsets topic that is not compacted are refused at start with
//! Java's message, by connect-mirror-maker and connect-distributed alike, which then exit
//! with an error instead of retrying; and Java MirrorMaker refuses the same config topic with
//! the same words.

mod common;

use std::time::Duration;

use common::*;
use rdkafka::admin::AdminOptions;

/// Creates `topic` on `bootstrap` with `partitions` and `cleanup.policy`, as an operator would
/// before MirrorMaker first starts, and waits until its metadata shows every partition.
async fn precreate(bootstrap: &str, topic: &str, partitions: i32, cleanup_policy: &str) {
    create_topic_with(
        bootstrap,
        topic,
        partitions,
        &[("cleanup.policy", cleanup_policy)],
    )
    .await;
}

/// With `mm2-offsets.<source>.internal` pre-created with `partitions` partitions, every record
/// of a 3-partition topic replicates once, in order, and the source offsets are stored.
async fn replicates_with_an_offsets_topic_of(partitions: i32) {
    let (a, b) = aliases();
    let offsets_topic = format!("mm2-offsets.{a}.internal");
    precreate(&target_bootstrap(), &offsets_topic, partitions, "compact").await;
    let (topic, sent) = seeded_source_topic("shape", 3, 90).await;
    // Two tasks and a checkpoint connector: several units to share over the partitions.
    let mm2 = Mm2::start(&flow_config(
        &a,
        &b,
        &format!("tasks.max = 2\n{a}->{b}.topics = {topic}\n"),
    ))
    .await;
    let remote = format!("{a}.{topic}");
    let got = read_exactly(
        &target_bootstrap(),
        &remote,
        3,
        sent.len(),
        Duration::from_secs(60),
    );
    assert_same_partitions(&got, &sent, 3);
    let target = target_bootstrap();
    // Stored offsets are the proof that the tasks ran under the group and committed.
    wait_for(Duration::from_secs(30), || {
        stored_offsets(&target, &a, &topic) == vec![(0, 29), (1, 29), (2, 29)]
    });
    mm2.stop().await;
    assert_eq!(
        topics(&target)[&offsets_topic],
        partitions as usize,
        "the operator's topic is used as it is"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offsets_topic_of_1_partition_runs_everything() {
    common::require_brokers!();
    replicates_with_an_offsets_topic_of(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offsets_topic_of_5_partitions_runs_everything() {
    common::require_brokers!();
    replicates_with_an_offsets_topic_of(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offsets_topic_of_25_partitions_runs_everything() {
    common::require_brokers!();
    replicates_with_an_offsets_topic_of(25).await;
}

/// Runs connect-mirror-maker (in this process) on `text` and returns the error it stops with,
/// by itself, within 60 s.
async fn refused(text: &str) -> String {
    let cfg = app_config(text);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let running = mm2::app::start(cfg, rx).await.expect("starts");
    let outcome = tokio::time::timeout(Duration::from_secs(60), running.wait())
        .await
        .expect("stops by itself within 60 s, without retrying");
    drop(stop);
    outcome.expect_err("stops with an error").to_string()
}

fn config_topic_message(topic: &str) -> String {
    format!(
        "Topic '{topic}' supplied via the 'config.storage.topic' property is required to have a \
         single partition in order to guarantee consistency of connector configurations, but \
         found 2 partitions."
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_topic_of_two_partitions_stops_connect_mirror_maker() {
    common::require_brokers!();
    let (a, b) = aliases();
    let config_topic = format!("mm2-configs.{a}.internal");
    precreate(&target_bootstrap(), &config_topic, 2, "compact").await;
    let (topic, _) = seeded_source_topic("shape", 1, 5).await;
    let error = refused(&flow_config(
        &a,
        &b,
        &format!("{a}->{b}.topics = {topic}\n"),
    ))
    .await;
    assert_eq!(error, config_topic_message(&config_topic));
    assert!(
        !topic_exists(&target_bootstrap(), &format!("{a}.{topic}")),
        "nothing ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offsets_topic_not_compacted_stops_connect_mirror_maker() {
    common::require_brokers!();
    let (a, b) = aliases();
    let offsets_topic = format!("mm2-offsets.{a}.internal");
    precreate(&target_bootstrap(), &offsets_topic, 25, "delete").await;
    let error = refused(&flow_config(&a, &b, "")).await;
    assert_eq!(
        error,
        format!(
            "Topic '{offsets_topic}' supplied via the 'offset.storage.topic' property is required \
             to have 'cleanup.policy=compact' to guarantee consistency and durability of source \
             connector offsets, but found the topic currently has 'cleanup.policy=delete'. \
             Continuing would likely result in eventually losing source connector offsets and \
             problems restarting this Connect cluster in the future. Change the \
             'offset.storage.topic' property in the Connect worker configurations to use a topic \
             with 'cleanup.policy=compact'."
        )
    );
}

/// connect-distributed on a status topic that is compacted and deleted alike, and then on a
/// config topic of two partitions: each time the worker exits with status 1 and Java's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_distributed_exits_on_an_internal_topic_of_another_shape() {
    common::require_brokers!();
    let id = unique("shape-worker");
    let (config, offsets, status) = (
        format!("{id}-configs"),
        format!("{id}-offsets"),
        format!("{id}-status"),
    );
    precreate(&target_bootstrap(), &status, 5, "compact,delete").await;
    let props = format!(
        "bootstrap.servers={}\ngroup.id={id}\n\
         key.converter=org.apache.kafka.connect.storage.StringConverter\n\
         value.converter=org.apache.kafka.connect.storage.StringConverter\n\
         config.storage.topic={config}\noffset.storage.topic={offsets}\n\
         status.storage.topic={status}\n\
         config.storage.replication.factor=1\noffset.storage.replication.factor=1\n\
         status.storage.replication.factor=1\n\
         listeners=http://127.0.0.1:{}\n",
        target_bootstrap(),
        free_port(),
    );
    let file = TempFile::new("worker.properties", &props);
    let run = || {
        let mut child = Launch::new(env!("CARGO_BIN_EXE_connect-distributed"))
            .arg(&file.path)
            .spawn_to(std::process::Stdio::null(), std::process::Stdio::piped());
        let stderr = child.stderr.take().expect("stderr");
        let log = ProcessLog::collect(stderr, "connect-distributed");
        let exited = wait_until(Duration::from_secs(60), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        if !exited {
            terminate(&mut child, Duration::from_secs(10));
            panic!("still running after 60 s; its log:\n{}", log.finish());
        }
        let status = child.wait().expect("status");
        (status.code(), log.finish())
    };

    let (code, log) = run();
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains(&format!(
            "connect-distributed: error: Topic '{status}' supplied via the 'status.storage.topic' \
             property is required to have 'cleanup.policy=compact' to guarantee consistency and \
             durability of connector and task statuses, but found the topic currently has \
             'cleanup.policy=compact,delete'."
        )),
        "{log}"
    );

    // The other two topics were created by the first run; the status topic is mended, and the
    // config topic given a second partition.
    admin(&target_bootstrap())
        .alter_configs(
            &[
                rdkafka::admin::AlterConfig::new(rdkafka::admin::ResourceSpecifier::Topic(&status))
                    .set("cleanup.policy", "compact"),
            ],
            &AdminOptions::new(),
        )
        .await
        .expect("alter_configs")
        .into_iter()
        .for_each(|r| {
            r.expect("altered");
        });
    admin(&target_bootstrap())
        .create_partitions(
            &[rdkafka::admin::NewPartitions::new(&config, 2)],
            &AdminOptions::new(),
        )
        .await
        .expect("create_partitions")
        .into_iter()
        .for_each(|r| {
            r.expect("partition added");
        });
    let (code, log) = run();
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains(&format!(
            "connect-distributed: error: {}",
            config_topic_message(&config)
        )),
        "{log}"
    );
}

/// Java MirrorMaker 2 on the same shape: its herder thread logs the same message and the JVM
/// exits with status 1, which is what ours does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_refuses_a_config_topic_of_two_partitions_with_the_same_message() {
    common::require_brokers!();
    let (a, b) = aliases();
    let config_topic = format!("mm2-configs.{a}.internal");
    precreate(&target_bootstrap(), &config_topic, 2, "compact").await;
    let config = format!(
        "clusters = {a}, {b}\n\
         {a}.bootstrap.servers = {}\n\
         {b}.bootstrap.servers = {}\n\
         {a}->{b}.enabled = true\n\
         {a}->{b}.topics = none\n\
         {}",
        source_bootstrap(),
        target_bootstrap(),
        one_broker_settings(&b),
    );
    let mut java = JavaPeer::mirror_maker(&config, &["--clusters", &b]);
    let log_path = java.log_path();
    let expected = config_topic_message(&config_topic);
    let logged = wait_until(Duration::from_secs(120), || {
        std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains(&expected))
    });
    assert!(
        logged,
        "Java did not log the message; its log ends:\n{}",
        java.log_tail(40)
    );
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        log.contains("Uncaught exception in herder work thread, exiting:"),
        "{}",
        java.log_tail(40)
    );
    // The JVM exits by itself (its shutdown waits for the herders, up to about a minute).
    let exited = wait_until(Duration::from_secs(120), || !java.running());
    assert!(
        exited,
        "Java still runs; its log ends:\n{}",
        java.log_tail(20)
    );
}
