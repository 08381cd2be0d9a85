//! The dashboards and alert rules people already run select series that connect-mirror-maker
//! serves: Strimzi's MirrorMaker 2 Grafana dashboard and its Kafka Connect alert rules (copied
//! into tests/data/strimzi, see its SOURCE file), and our own deploy/grafana dashboard and
//! deploy/prometheus alerts. Every selector of every expression is checked against a live
//! scrape of a flow that replicates records, heartbeats and a consumer group: the metric is
//! served, with every label the selector names, and with values its matchers accept.
//!
//! Left out, as the issue says: the JVM's and the container's metrics (`jvm_*`,
//! `container_*`), `up` (Prometheus adds it), and matchers on the labels a PodMonitor or a
//! Grafana variable supplies (`strimzi_io_*`, `namespace`, `pod`, `$…` values).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use promql_parser::parser::{self, Expr, VectorSelector};
use promql_parser::util::{walk_expr, ExprVisitor};
use serde_json::Value;

use common::*;

/// Labels that the scrape configuration (Strimzi's PodMonitor relabelings, Prometheus's
/// target labels) adds, not the process.
const SCRAPE_LABELS: &[&str] = &[
    "namespace",
    "pod",
    "kubernetes_pod_name",
    "kubernetes_namespace",
    "container",
    "job",
    "instance",
    "node_name",
    "node_ip",
];

/// Connect's states, the values a `status` label may take (a healthy run shows `running` only).
const STATES: &[&str] = &[
    "running",
    "paused",
    "failed",
    "unassigned",
    "restarting",
    "stopped",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strimzi_and_our_dashboards_and_alerts_select_served_series() {
    common::require_brokers!();
    let mut selectors = Vec::new();
    for (file, exprs) in [
        (
            "tests/data/strimzi/strimzi-kafka-mirror-maker-2.json",
            dashboard_expressions("tests/data/strimzi/strimzi-kafka-mirror-maker-2.json"),
        ),
        (
            "tests/data/strimzi/prometheus-kafka-connect-rules.yaml",
            rule_expressions("tests/data/strimzi/prometheus-kafka-connect-rules.yaml"),
        ),
        (
            "deploy/grafana/connect-mirror-maker.json",
            dashboard_expressions("deploy/grafana/connect-mirror-maker.json"),
        ),
        (
            "deploy/prometheus/alerts.yml",
            rule_expressions("deploy/prometheus/alerts.yml"),
        ),
    ] {
        assert!(!exprs.is_empty(), "{file}: no expressions found");
        for e in exprs {
            for s in vector_selectors(&e).unwrap_or_else(|err| panic!("{file}: {e}: {err}")) {
                selectors.push((file, e.clone(), s));
            }
        }
    }

    // A flow with something in every family: records, a heartbeats topic, a group to checkpoint.
    let (a, b) = aliases();
    let (topic, _) = seeded_source_topic("dashboards", 2, 20).await;
    let heartbeats = format!("{}.heartbeats", unique("dashboards"));
    create_topic(&source_bootstrap(), &heartbeats, 1).await;
    produce(&source_bootstrap(), &heartbeats, &sample_records(3, 1)).await;
    let group = unique("dashboards-group");
    for p in 0..2 {
        commit(&source_bootstrap(), &group, &topic, p, 5);
    }
    let mm2 = Mm2::start(&flow_config(
        &a,
        &b,
        &format!(
            "{a}->{b}.topics = {topic}\n{a}->{b}.groups = {group}\n\
             emit.checkpoints.interval.seconds = 1\nrefresh.groups.interval.seconds = 1\n\
             listeners = http://127.0.0.1:0\n"
        ),
    ))
    .await;
    read_exactly(
        &target_bootstrap(),
        &format!("{a}.{topic}"),
        2,
        20,
        Duration::from_secs(60),
    );

    // Series appear as the tasks publish (about every second).
    let deadline = Instant::now() + Duration::from_secs(60);
    let unmet = loop {
        let (status, body) = http_get(mm2.http[0], "/metrics");
        assert_eq!(status, 200);
        let series = parse_exposition(&body);
        let unmet: Vec<String> = selectors
            .iter()
            .filter_map(|(file, e, s)| {
                check(s, &series)
                    .err()
                    .map(|why| format!("{file}: {e}\n    {why}"))
            })
            .collect();
        if unmet.is_empty() || Instant::now() > deadline {
            break unmet;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    mm2.stop().await;
    // The heartbeats topic would be replicated by every later flow from A: take it away.
    let _ = admin(&source_bootstrap())
        .delete_topics(&[&heartbeats], &rdkafka::admin::AdminOptions::new())
        .await;
    assert!(unmet.is_empty(), "unmet selectors:\n{}", unmet.join("\n"));
}

/// One selector's verdict on the scraped series.
fn check(s: &VectorSelector, series: &[(String, BTreeMap<String, String>)]) -> Result<(), String> {
    let name = s.name.clone().unwrap_or_default();
    if name.starts_with("jvm_") || name.starts_with("container_") || name == "up" {
        return Ok(());
    }
    let of_name: Vec<&BTreeMap<String, String>> = series
        .iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, l)| l)
        .collect();
    if of_name.is_empty() {
        return Err(format!("{name} is not served"));
    }
    let mut strict = Vec::new();
    for m in &s.matchers.matchers {
        if m.name == "__name__" || SCRAPE_LABELS.contains(&m.name.as_str()) {
            continue;
        }
        if m.name.starts_with("strimzi_io_") {
            continue;
        }
        if !of_name.iter().any(|l| l.contains_key(&m.name)) {
            return Err(format!("{name} has no label {}", m.name));
        }
        if m.value.contains('$') {
            continue; // a Grafana variable's value
        }
        if m.name == "status" {
            let wanted = STATES.iter().any(|s| m.is_match(s));
            if !wanted {
                return Err(format!("{name}: no Connect state matches {m}"));
            }
            continue;
        }
        strict.push(m);
    }
    let matched = of_name.iter().any(|labels| {
        strict
            .iter()
            .all(|m| labels.get(&m.name).is_some_and(|v| m.is_match(v)))
    });
    if matched {
        return Ok(());
    }
    let seen: Vec<String> = strict
        .iter()
        .map(|m| {
            let values: std::collections::BTreeSet<&String> =
                of_name.iter().filter_map(|l| l.get(&m.name)).collect();
            format!("{m} against {values:?}")
        })
        .collect();
    Err(format!("no series of {name} matches: {}", seen.join("; ")))
}

/// Every vector selector of a PromQL expression.
fn vector_selectors(expr: &str) -> Result<Vec<VectorSelector>, String> {
    struct Collect(Vec<VectorSelector>);
    impl ExprVisitor for Collect {
        type Error = String;
        fn pre_visit(&mut self, e: &Expr) -> Result<bool, String> {
            match e {
                Expr::VectorSelector(v) => self.0.push(v.clone()),
                Expr::MatrixSelector(m) => self.0.push(m.vs.clone()),
                _ => {}
            }
            Ok(true)
        }
    }
    let parsed = parser::parse(expr)?;
    let mut c = Collect(Vec::new());
    walk_expr(&mut c, &parsed)?;
    Ok(c.0)
}

/// The PromQL of a Grafana dashboard: panel targets (`expr`) and query variables
/// (`query_result(…)`, `label_values(…, label)`), with Grafana's `$__…` ranges made concrete.
fn dashboard_expressions(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo_path(path)).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    collect_queries(&dashboard, &mut out);
    out.into_iter()
        .map(|e| {
            e.replace("$__rate_interval", "5m")
                .replace("$__interval", "1m")
                .replace("$__range", "1h")
        })
        .collect()
}

fn collect_queries(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) if !e.is_empty() => out.push(e.clone()),
                    ("query", Value::String(q)) => {
                        if let Some(inner) = q
                            .strip_prefix("query_result(")
                            .and_then(|r| r.strip_suffix(')'))
                        {
                            out.push(inner.to_string());
                        } else if let Some(inner) = q
                            .strip_prefix("label_values(")
                            .and_then(|r| r.rsplit_once(','))
                        {
                            out.push(inner.0.to_string());
                        }
                    }
                    _ => collect_queries(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_queries(i, out)),
        _ => {}
    }
}

/// The `expr` of every rule of a Prometheus rules file (or PrometheusRule), single-line or a
/// `|` block.
fn rule_expressions(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo_path(path)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        if let Some(rest) = line.trim_start().strip_prefix("expr:") {
            let rest = rest.trim();
            if rest == "|" || rest == ">" {
                let mut block = Vec::new();
                while i + 1 < lines.len() {
                    let next = lines[i + 1];
                    let next_indent = next.len() - next.trim_start().len();
                    if !next.trim().is_empty() && next_indent <= indent {
                        break;
                    }
                    block.push(next.trim());
                    i += 1;
                }
                out.push(block.join("\n"));
            } else {
                out.push(unquote_yaml(rest));
            }
        }
        i += 1;
    }
    out
}

/// A YAML scalar's text: single-quoted ('' is a quote), double-quoted (with `\\` and `\"`), or
/// plain.
fn unquote_yaml(s: &str) -> String {
    if let Some(inner) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return inner.replace("''", "'");
    }
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return inner.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    s.to_string()
}

fn repo_path(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The series of a Prometheus text exposition: each sample's name and labels.
fn parse_exposition(text: &str) -> Vec<(String, BTreeMap<String, String>)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, rest) = match l.find(['{', ' ']) {
                Some(i) => l.split_at(i),
                None => (l, ""),
            };
            let mut labels = BTreeMap::new();
            if let Some(body) = rest.strip_prefix('{') {
                let mut chars = body.chars();
                loop {
                    let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    let key = key.trim_start_matches(',').to_string();
                    if key.is_empty() || key.starts_with('}') {
                        break;
                    }
                    assert_eq!(chars.next(), Some('"'), "{l}");
                    let mut value = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => match chars.next() {
                                Some('n') => value.push('\n'),
                                Some(c) => value.push(c),
                                None => break,
                            },
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.insert(key, value);
                }
            }
            (name.to_string(), labels)
        })
        .collect()
}

#[test]
fn the_exposition_parser_reads_quoted_and_escaped_label_values() {
    let series = parse_exposition(
        "# HELP x y\nplain 1\nx{a=\"1\",b=\"\\\"q->r\\\"\",c=\"back\\\\slash\"} 2\n",
    );
    assert_eq!(series[0], ("plain".to_string(), BTreeMap::new()));
    let labels = &series[1].1;
    assert_eq!(labels["a"], "1");
    assert_eq!(labels["b"], "\"q->r\"");
    assert_eq!(labels["c"], "back\\slash");
}

#[test]
fn rule_expressions_read_single_lines_and_blocks() {
    let dir = std::env::temp_dir().join(unique("rules"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.yaml");
    std::fs::write(
        &path,
        "rules:\n  - alert: A\n    expr: sum(x{a=\"1\"}) > 0\n    for: 1m\n  - alert: B\n    expr: |\n      max(y)\n      > 2\n    for: 2m\n",
    )
    .unwrap();
    let exprs = rule_expressions(path.to_str().unwrap());
    assert_eq!(exprs, vec!["sum(x{a=\"1\"}) > 0", "max(y)\n> 2"]);
}
