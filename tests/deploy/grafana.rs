//! deploy/grafana: the dashboard is a Grafana dashboard (panels with PromQL targets on a
//! datasource variable), shows what operating replication needs, and every query parses as
//! PromQL (promtool). That each selects series connect-mirror-maker serves is checked against a
//! live scrape in tests/dashboards.rs.

use std::collections::BTreeSet;
use std::process::Command;

use regex::Regex;
use serde_json::Value;

use crate::common::TempFile;
use crate::manifest::{list, text};
use crate::tools::{self, repo, run_ok, tool};

/// What the dashboard must show: (what, a metric one of its queries reads).
const SHOWN: &[(&str, &str)] = &[
    (
        "lag in records",
        "kafka_connect_mirror_mirrorsourceconnector_replication_lag",
    ),
    (
        "lag in seconds",
        "kafka_connect_mirror_mirrorsourceconnector_replication_lag_seconds",
    ),
    (
        "throughput",
        "kafka_connect_mirror_mirrorsourceconnector_byte_count",
    ),
    (
        "throughput in records",
        "kafka_connect_mirror_mirrorsourceconnector_record_count",
    ),
    (
        "replication latency",
        "kafka_connect_mirror_mirrorsourceconnector_replication_latency_ms_max",
    ),
    (
        "checkpoint latency",
        "kafka_connect_mirror_mirrorcheckpointconnector_checkpoint_latency_ms_max",
    ),
    ("task states", "kafka_connect_connector_task_status"),
    (
        "failed tasks",
        "kafka_connect_worker_connector_failed_task_count",
    ),
    ("memory", "process_resident_memory_bytes"),
    ("CPU", "process_cpu_seconds_total"),
];

fn dashboard() -> Value {
    let path = repo().join("deploy/grafana/connect-mirror-maker.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every panel, those inside collapsed rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for p in list(dashboard, "/panels") {
        all.push(p);
        all.extend(list(p, "/panels"));
    }
    all
}

/// Every PromQL expression: the panels' targets, and the selectors of query variables
/// (`label_values(SELECTOR, label)`).
fn expressions(dashboard: &Value) -> Vec<String> {
    let mut exprs: Vec<String> = panels(dashboard)
        .iter()
        .flat_map(|p| list(p, "/targets"))
        .map(|t| text(t, "/expr").to_string())
        .collect();
    let label_values = Regex::new(r"^label_values\((.*),\s*\w+\)$").unwrap();
    for var in list(dashboard, "/templating/list") {
        if var["type"] == "query" {
            let query = text(var, "/query/query");
            let selector = label_values.captures(query).unwrap_or_else(|| {
                panic!("variable {}: not label_values(...): {query}", var["name"])
            });
            exprs.push(selector[1].to_string());
        }
    }
    exprs
}

/// The metric names an expression selects: identifiers right before a `{` matcher.
fn metrics(expr: &str) -> BTreeSet<String> {
    let selector = Regex::new(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{").unwrap();
    selector
        .captures_iter(expr)
        .map(|c| c[1].to_string())
        .collect()
}

#[test]
fn dashboard_is_a_grafana_dashboard() {
    let d = dashboard();
    for key in ["/title", "/uid"] {
        assert!(!text(&d, key).is_empty(), "{key}");
    }
    assert!(
        d["schemaVersion"].as_u64().is_some_and(|v| v >= 30),
        "schemaVersion"
    );
    let datasource = list(&d, "/templating/list")
        .iter()
        .find(|v| v["type"] == "datasource" && v["query"] == "prometheus")
        .map(|v| text(v, "/name").to_string())
        .expect("a Prometheus datasource variable");
    let uid = format!("${{{datasource}}}");
    let mut ids = BTreeSet::new();
    for p in panels(&d) {
        let title = text(p, "/title");
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "{title}: id taken twice"
        );
        let grid = &p["gridPos"];
        let (x, w, h) = (
            grid["x"].as_u64().unwrap(),
            grid["w"].as_u64().unwrap(),
            grid["h"].as_u64().unwrap(),
        );
        assert!(w > 0 && h > 0 && x + w <= 24, "{title}: gridPos {grid}");
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(
            p["datasource"]["uid"],
            uid.as_str(),
            "{title}: not on the datasource variable"
        );
        let targets = list(p, "/targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            assert!(
                !text(t, "/expr").trim().is_empty(),
                "{title}: an empty query"
            );
            assert_eq!(
                t["datasource"]["uid"],
                uid.as_str(),
                "{title}: a target elsewhere"
            );
            assert!(t["refId"].is_string(), "{title}: a target without refId");
        }
    }
}

#[test]
fn dashboard_shows_lag_throughput_latency_checkpoints_tasks_memory_cpu() {
    let used: BTreeSet<String> = expressions(&dashboard())
        .iter()
        .flat_map(|e| metrics(e))
        .collect();
    for (what, metric) in SHOWN {
        assert!(
            used.contains(*metric),
            "the dashboard shows no {what} ({metric})"
        );
    }
}

#[test]
fn dashboard_queries_parse_as_promql() {
    let promtool = tool!(tools::promtool());
    let exprs = expressions(&dashboard());
    // Grafana's variables as values Prometheus would see: intervals become durations, the
    // others a value (they are used inside matchers).
    let interval = Regex::new(r"\$__(rate_interval|interval|range)").unwrap();
    let variable = Regex::new(r"\$\{?\w+\}?").unwrap();
    let rules: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let e = interval.replace_all(e, "5m");
            let e = variable.replace_all(&e, "x");
            serde_json::json!({"record": format!("dashboard:query_{i}"), "expr": e})
        })
        .collect();
    // JSON is YAML: a rule file promtool reads.
    let file = TempFile::new(
        "dashboard-rules.yml",
        &serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]}).to_string(),
    );
    let out = run_ok(
        Command::new(&promtool)
            .args(["check", "rules"])
            .arg(&file.path),
        None,
    );
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", exprs.len())),
        "{out}"
    );
}
