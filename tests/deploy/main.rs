//! Checks of deploy/: the Kubernetes overlays rendered by `kubectl kustomize` and validated
//! (kubernetes-validate for the built-in kinds, the Prometheus Operator's models for PodMonitor
//! and PrometheusRule) and read for what production needs; the Prometheus alerts through
//! `promtool check` and their unit tests; the Grafana dashboard; the compose trial.
//!
//! The tools come from scripts/test.sh (kubectl from install_deps, promtool and a Python venv
//! from scripts/deploy-tools.sh). Without them a test says "skipped", unless
//! TEST_REQUIRE_BROKERS is set (scripts/test.sh), where a missing tool fails it.

#[path = "../common/mod.rs"]
mod common;

mod compose;
mod grafana;
mod kubernetes;
mod manifest;
mod prometheus;
mod tools;
