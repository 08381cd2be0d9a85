//! deploy/prometheus: the alerts pass `promtool check rules` and their unit tests, every alert
//! has a test where it fires and one where it does not, the configs pass `promtool check config`,
//! and the Kubernetes PrometheusRule carries the same groups.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::manifest::{list, text};
use crate::tools::{self, repo, run_ok, tool, yaml_file};

fn alerts_file() -> PathBuf {
    repo().join("deploy/prometheus/alerts.yml")
}

/// The promtool unit test files, deploy/prometheus/tests/*.yml.
fn unit_test_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy/prometheus/tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no unit tests in deploy/prometheus/tests"
    );
    files
}

fn rules(alerts: &Value) -> Vec<&Value> {
    list(alerts, "/groups")
        .iter()
        .flat_map(|g| list(g, "/rules"))
        .collect()
}

#[test]
fn alerts_pass_promtool_check_rules() {
    let promtool = tool!(tools::promtool());
    let python = tool!(tools::python());
    let alerts = yaml_file(&python, &alerts_file());
    let count = rules(&alerts[0]).len();
    assert!(count > 0, "alerts.yml holds no rules");
    let out = run_ok(
        Command::new(&promtool)
            .args(["check", "rules"])
            .arg(alerts_file()),
        None,
    );
    assert!(
        out.contains(&format!("SUCCESS: {count} rules found")),
        "promtool did not read the {count} rules:\n{out}"
    );
}

#[test]
fn alerts_pass_their_unit_tests() {
    let promtool = tool!(tools::promtool());
    for file in unit_test_files() {
        let out = run_ok(
            Command::new(&promtool).args(["test", "rules"]).arg(&file),
            None,
        );
        assert!(out.contains("SUCCESS"), "{}:\n{out}", file.display());
    }
}

#[test]
fn every_alert_is_tested_firing_and_not_firing() {
    let python = tool!(tools::python());
    let alerts = yaml_file(&python, &alerts_file());
    let (mut firing, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    for file in unit_test_files() {
        let doc = &yaml_file(&python, &file)[0];
        for test in list(doc, "/tests") {
            for case in list(test, "/alert_rule_test") {
                let name = text(case, "/alertname").to_string();
                if list(case, "/exp_alerts").is_empty() {
                    quiet.insert(name);
                } else {
                    firing.insert(name);
                }
            }
        }
    }
    for rule in rules(&alerts[0]) {
        let Some(name) = rule["alert"].as_str() else {
            continue;
        };
        assert!(firing.contains(name), "no unit test shows {name} firing");
        assert!(quiet.contains(name), "no unit test shows {name} not firing");
    }
}

#[test]
fn prometheus_config_passes_promtool_check_config() {
    let promtool = tool!(tools::promtool());
    // Checks the rule files it names too.
    let out = run_ok(
        Command::new(&promtool)
            .args(["check", "config"])
            .arg(repo().join("deploy/prometheus/prometheus.yml")),
        None,
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn prometheus_rule_carries_the_alerts() {
    let python = tool!(tools::python());
    let alerts = yaml_file(&python, &alerts_file());
    let rule = &yaml_file(
        &python,
        &repo().join("deploy/kubernetes/base/prometheusrule.yaml"),
    )[0];
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(
        rule["spec"]["groups"], alerts[0]["groups"],
        "deploy/kubernetes/base/prometheusrule.yaml's spec.groups differ from \
         deploy/prometheus/alerts.yml: regenerate them as the file's header says"
    );
}
