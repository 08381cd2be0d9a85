//! `connect-mirror-maker plan` against the two brokers: it writes nothing to either cluster, and
//! what it prints (as a table and as JSON) is what a run of the same mm2.properties then does:
//! the remote topics created or grown, their configs, the exclusions and their reasons, and
//! the groups checkpointed and synced. Bad input exits 2 with a message naming the problem.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use serde_json::Value;

/// Creates a topic with config overrides and waits until its metadata shows every partition.
async fn create_topic_with(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) {
    let new = configs.iter().fold(
        NewTopic::new(topic, partitions, TopicReplication::Fixed(1)),
        |n, (k, v)| n.set(k, v),
    );
    let res = admin(bootstrap)
        .create_topics(
            &[new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics");
    assert!(res.iter().all(Result::is_ok), "create {topic}: {res:?}");
    wait_for(Duration::from_secs(30), || {
        topics(bootstrap).get(topic) == Some(&(partitions as usize))
    });
}

/// Runs an async check from a `wait_for` condition.
fn now<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(fut))
}

/// The topics of `bootstrap` whose names hold any of `marks`, with partition counts: what a
/// plan or run of this test's flow could create (aliases and the unique token are in every name
/// it would write).
fn ours(bootstrap: &str, marks: &[&str]) -> std::collections::BTreeMap<String, usize> {
    topics(bootstrap)
        .into_iter()
        .filter(|(t, _)| marks.iter().any(|m| t.contains(m)))
        .collect()
}

fn plan(path: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["plan", path];
    args.extend_from_slice(extra);
    mm2(&args)
}

fn ok_stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "plan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The rows of the table section whose title starts with `title`, split on whitespace
/// (header dropped).
fn section(table: &str, title: &str) -> Vec<Vec<String>> {
    let mut lines = table.lines().skip_while(|l| !l.starts_with(title)).skip(1);
    let _header = lines.next();
    lines
        .take_while(|l| !l.is_empty())
        .filter(|l| l.trim() != "(none)")
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plan_writes_nothing_and_a_run_does_what_it_printed() {
    common::require_brokers!();
    let (a, b) = aliases();
    let u = unique("plan");
    let (kept, grown, other) = (
        format!("{u}-kept"),
        format!("{u}-grown"),
        format!("{u}-other"),
    );
    let internal = format!("{u}-x.internal");
    let looped = format!("{b}.{u}-loop");
    let (g_kept, g_other, g_filtered) = (format!("{u}-g1"), format!("{u}-g2"), format!("{u}-h"));
    let src = source_bootstrap();
    let dst = target_bootstrap();

    create_topic_with(
        &src,
        &kept,
        3,
        &[
            ("retention.ms", "123456789"),
            ("retention.bytes", "987654321"),
        ],
    )
    .await;
    create_topic_with(&src, &grown, 2, &[("retention.ms", "99999999")]).await;
    for t in [&other, &internal, &looped] {
        create_topic(&src, t, 1).await;
    }
    produce(&src, &kept, &sample_records(30, 3)).await;
    // The remote topic of `grown` exists with fewer partitions: the plan adds them.
    let grown_remote = format!("{a}.{grown}");
    create_topic(&dst, &grown_remote, 1).await;
    commit(&src, &g_kept, &kept, 0, 5);
    commit(&src, &g_other, &other, 0, 0);
    commit(&src, &g_filtered, &kept, 0, 1);

    let extra = format!(
        "{a}->{b}.topics = {u}-kept, {u}-grown, {u}-x.internal, {b}\\.{u}-loop\n\
         {a}->{b}.groups = {u}-g.*\n\
         config.properties.exclude = retention.bytes\n\
         emit.checkpoints.interval.seconds = 1\nrefresh.groups.interval.seconds = 1\n\
         sync.group.offsets.enabled = true\nsync.group.offsets.interval.seconds = 1\n\
         refresh.topics.interval.seconds = 1\n"
    );
    let text = flow_config(&a, &b, &extra);
    let file = TempFile::new("mm2.properties", &text);
    let path = file.path.to_str().unwrap();

    let marks = [a.as_str(), b.as_str(), u.as_str()];
    let (src_before, dst_before) = (ours(&src, &marks), ours(&dst, &marks));
    let table = ok_stdout(&plan(path, &[]));
    let json: Value = serde_json::from_str(&ok_stdout(&plan(path, &["--format", "json"])))
        .expect("--format json is one JSON document");

    // (1) Nothing was written: no topic (remote, internal, checkpoints, offset syncs, worker
    // topics) appeared on either side, the grown topic kept its partitions and configs, and no
    // group offset was committed on the target.
    assert_eq!(ours(&src, &marks), src_before, "plan wrote to the source");
    assert_eq!(ours(&dst, &marks), dst_before, "plan wrote to the target");
    assert_eq!(
        topic_override(&dst, &grown_remote, "retention.ms").await,
        None
    );
    assert_eq!(committed(&dst, &g_kept, &format!("{a}.{kept}"), 0), None);

    // (3) The JSON document carries the facts the table prints.
    let flows = json["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    let flow = &flows[0];
    assert_eq!(
        (str_of(flow, "source"), str_of(flow, "target")),
        (a.clone(), b.clone())
    );
    let planned: Vec<&Value> = flow["topics"].as_array().unwrap().iter().collect();
    let json_topics: BTreeSet<(String, String, i64, String)> = planned
        .iter()
        .filter(|t| str_of(t, "source").contains(&u))
        .map(|t| {
            (
                str_of(t, "source"),
                str_of(t, "remote"),
                t["partitions"].as_i64().unwrap(),
                str_of(t, "action"),
            )
        })
        .collect();
    assert_eq!(
        json_topics,
        BTreeSet::from([
            (kept.clone(), format!("{a}.{kept}"), 3, "create".to_string()),
            (
                grown.clone(),
                grown_remote.clone(),
                2,
                "add-partitions".to_string()
            ),
        ])
    );
    let table_topics: BTreeSet<(String, String, i64, String)> = section(&table, "topics (")
        .into_iter()
        .filter(|r| r[0].contains(&u))
        .map(|r| {
            (
                r[0].clone(),
                r[1].clone(),
                r[2].parse().unwrap(),
                r[3].clone(),
            )
        })
        .collect();
    assert_eq!(table_topics, json_topics, "table:\n{table}");

    let configs = |t: &str| -> BTreeSet<(String, String, String)> {
        planned
            .iter()
            .filter(|p| str_of(p, "source") == t)
            .flat_map(|p| p["configs"].as_array().unwrap().iter())
            .map(|c| (str_of(c, "name"), str_of(c, "op"), str_of(c, "value")))
            .collect()
    };
    // Besides the overrides made here, the broker's own dynamic settings (such as
    // min.insync.replicas, which this flow's config.properties.exclude does not list) are
    // planned too: a run sets each of them, as checked below.
    let set = |v: &str| ("retention.ms".to_string(), "set".to_string(), v.to_string());
    let retention = |t: &str| -> BTreeSet<_> {
        configs(t)
            .into_iter()
            .filter(|c| c.0.starts_with("retention."))
            .collect()
    };
    assert_eq!(retention(&kept), BTreeSet::from([set("123456789")]));
    // The existing remote topic has the broker's default now: the config sync changes it.
    let change = (
        "retention.ms".to_string(),
        "change".to_string(),
        "99999999".to_string(),
    );
    assert_eq!(retention(&grown), BTreeSet::from([change]));
    let table_configs: BTreeSet<(String, String, String, String)> =
        section(&table, "topic configs")
            .into_iter()
            .filter(|r| r[0].contains(&u) && r[1].starts_with("retention."))
            .map(|r| (r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone()))
            .collect();
    assert_eq!(
        table_configs,
        BTreeSet::from([
            (
                format!("{a}.{kept}"),
                "retention.ms".into(),
                "set".into(),
                "123456789".into()
            ),
            (
                grown_remote.clone(),
                "retention.ms".into(),
                "change".into(),
                "99999999".into()
            ),
        ])
    );

    let json_excluded: BTreeSet<(String, String, String)> = flow["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            str_of(e, "name").contains(&u)
                || str_of(e, "topic").contains(&u)
                || str_of(e, "name") == "__consumer_offsets"
        })
        .map(|e| {
            let name = match e["topic"].as_str() {
                Some(t) => format!("{t}:{}", str_of(e, "name")),
                None => str_of(e, "name"),
            };
            (str_of(e, "kind"), name, str_of(e, "reason"))
        })
        .collect();
    let x = |k: &str, n: &str, r: &str| (k.to_string(), n.to_string(), r.to_string());
    assert_eq!(
        json_excluded,
        BTreeSet::from([
            x("topic", &other, "filter"),
            x("topic", &internal, "internal"),
            x("topic", &looped, "loop"),
            x("topic", "__consumer_offsets", "internal"),
            x(
                "config",
                &format!("{kept}:retention.bytes"),
                "excluded config"
            ),
            x("group", &g_other, "no replicated topics"),
            x("group", &g_filtered, "filter"),
        ])
    );
    let table_excluded: BTreeSet<(String, String, String)> = section(&table, "excluded (")
        .into_iter()
        .filter(|r| r[1].contains(&u) || r[1] == "__consumer_offsets")
        .map(|r| (r[0].clone(), r[1].clone(), r[2..].join(" ")))
        .collect();
    assert_eq!(table_excluded, json_excluded, "table:\n{table}");

    let groups = &flow["groups"];
    let json_groups: Vec<(String, bool)> = groups["checkpointed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| str_of(g, "group").contains(&u))
        .map(|g| (str_of(g, "group"), g["sync_offsets"].as_bool().unwrap()))
        .collect();
    assert_eq!(json_groups, vec![(g_kept.clone(), true)]);
    let table_groups: Vec<Vec<String>> = section(&table, "groups:")
        .into_iter()
        .filter(|r| r[0].contains(&u))
        .collect();
    assert_eq!(
        table_groups,
        vec![vec![g_kept.clone(), "yes".into(), "yes".into()]]
    );

    // (2) A run does what the plan printed. Every remote topic it said would be created (the
    // shared brokers' heartbeat topics included) appears with the printed partition count, and
    // the grown one reaches its count.
    let mm2 = Mm2::start(&text).await;
    let expected: Vec<(String, usize)> = planned
        .iter()
        .filter(|t| str_of(t, "action") != "matches")
        .map(|t| {
            (
                str_of(t, "remote"),
                t["partitions"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    wait_for(Duration::from_secs(60), || {
        let have = topics(&dst);
        expected.iter().all(|(t, n)| have.get(t) == Some(n))
    });
    // The configs it planned are set, the excluded one is not.
    wait_for(Duration::from_secs(60), || {
        now(topic_override(&dst, &grown_remote, "retention.ms")).as_deref() == Some("99999999")
    });
    let kept_remote = format!("{a}.{kept}");
    assert_eq!(
        topic_override(&dst, &kept_remote, "retention.ms")
            .await
            .as_deref(),
        Some("123456789")
    );
    assert_eq!(
        topic_override(&dst, &kept_remote, "retention.bytes").await,
        None
    );
    // The planned group is checkpointed and its offsets synced; the excluded ones are not
    // (they would have been checkpointed in the same round as the planned one).
    wait_for(Duration::from_secs(60), || {
        !checkpoints_of(&dst, &a, &g_kept).is_empty()
            && committed(&dst, &g_kept, &kept_remote, 0).is_some()
    });
    assert!(checkpoints_of(&dst, &a, &g_other).is_empty());
    assert!(checkpoints_of(&dst, &a, &g_filtered).is_empty());
    // Exactly the planned remote topics of this test's source topics exist: none for the
    // filtered, internal or looping topics.
    let remote_of_ours: BTreeSet<String> = topics(&dst)
        .into_keys()
        .filter(|t| t.starts_with(&format!("{a}.")) && t.contains(&u))
        .collect();
    assert_eq!(
        remote_of_ours,
        BTreeSet::from([kept_remote.clone(), grown_remote.clone()])
    );
    mm2.stop().await;
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    common::require_brokers!();
    let (a, b) = aliases();
    let good = TempFile::new("mm2.properties", &flow_config(&a, &b, ""));
    let out = plan(good.path.to_str().unwrap(), &["--clusters", "nosuch"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`nosuch` is not one of the clusters"), "{err}");

    let bad = TempFile::new("mm2.properties", &flow_config(&a, &b, "tasks.max = many\n"));
    let out = plan(bad.path.to_str().unwrap(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("tasks.max") && err.contains("many"), "{err}");

    // The target on a closed local port: the plan fails fast and names it.
    let closed = free_port();
    let text = format!(
        "clusters = {a}, {b}\n{a}.bootstrap.servers = {}\n{b}.bootstrap.servers = 127.0.0.1:{closed}\n\
         {a}->{b}.enabled = true\nadmin.timeout.ms = 2000\n{b}.request.timeout.ms = 2000\n",
        source_bootstrap()
    );
    let unreachable = TempFile::new("mm2.properties", &text);
    let started = std::time::Instant::now();
    let out = plan(unreachable.path.to_str().unwrap(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("cannot read cluster `{b}`")), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}
