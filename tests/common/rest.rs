//! Waiting on the Connect REST API of a running worker until connectors and tasks reach a
//! state.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use super::{http, http_json, wait_until};

/// How long a connector may take to reach a state.
const STATE_TIMEOUT: Duration = Duration::from_secs(60);

/// `/connectors/<name>`, with the `>` of a flow's connector names (`A->B.MirrorSourceConnector`)
/// escaped as a URL needs it.
pub fn connector_path(name: &str) -> String {
    format!("/connectors/{}", name.replace('>', "%3E"))
}

/// Polls `GET /connectors/<name>/status` until `cond` holds for it, and returns that status.
/// Every answer must be 200.
pub fn wait_status(addr: SocketAddr, name: &str, cond: impl FnMut(&Value) -> bool) -> Value {
    poll_status(addr, name, true, cond)
}

/// As `wait_status`, but an answer other than 200 (a worker that does not know the connector
/// yet) is waited out too.
pub fn wait_status_known(addr: SocketAddr, name: &str, cond: impl FnMut(&Value) -> bool) -> Value {
    poll_status(addr, name, false, cond)
}

fn poll_status(
    addr: SocketAddr,
    name: &str,
    only_200: bool,
    mut cond: impl FnMut(&Value) -> bool,
) -> Value {
    let path = format!("{}/status", connector_path(name));
    let mut last = (0, String::new());
    let mut status = Value::Null;
    let held = wait_until(STATE_TIMEOUT, || {
        last = http(addr, "GET", &path, None);
        assert!(!only_200 || last.0 == 200, "GET {path}: {last:?}");
        if last.0 != 200 {
            return false;
        }
        status = serde_json::from_str(&last.1).unwrap_or_else(|e| panic!("{path}: {e}: {last:?}"));
        cond(&status)
    });
    assert!(held, "{name}: not in the awaited state: {last:?}");
    status
}

/// Waits until `name` and its `tasks` tasks (exactly as many) are all in `state`; returns the
/// status.
pub fn wait_state(addr: SocketAddr, name: &str, state: &str, tasks: usize) -> Value {
    wait_status(addr, name, |s| {
        s["connector"]["state"] == state
            && s["tasks"]
                .as_array()
                .is_some_and(|t| t.len() == tasks && t.iter().all(|t| t["state"] == state))
    })
}

/// The workers of a status's tasks, whatever their state.
pub fn task_workers(status: &Value) -> BTreeSet<String> {
    tasks_of(status)
        .iter()
        .map(|t| t["worker_id"].as_str().unwrap().to_string())
        .collect()
}

/// How many of a status's tasks are RUNNING.
pub fn running_tasks(status: &Value) -> usize {
    tasks_of(status)
        .iter()
        .filter(|t| t["state"] == "RUNNING")
        .count()
}

fn tasks_of(status: &Value) -> Vec<Value> {
    status["tasks"].as_array().cloned().unwrap_or_default()
}

/// Polls `GET /connectors?expand=status` until `cond` holds for it, and returns it.
pub fn wait_connectors(addr: SocketAddr, mut cond: impl FnMut(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let held = wait_until(STATE_TIMEOUT, || {
        last = http_json(addr, "GET", "/connectors?expand=status", None, 200);
        cond(&last)
    });
    assert!(held, "connectors not in the awaited state: {last}");
    last
}

/// Of an expanded `/connectors?expand=status` answer: how many connectors and tasks are
/// RUNNING, and on which workers.
pub fn running_units(connectors: &Value) -> (usize, BTreeSet<String>) {
    let mut running = 0;
    let mut workers = BTreeSet::new();
    for (_, c) in connectors.as_object().unwrap() {
        let st = &c["status"];
        for u in std::iter::once(&st["connector"]).chain(st["tasks"].as_array().unwrap()) {
            if u["state"] == "RUNNING" {
                running += 1;
                workers.insert(u["worker_id"].as_str().unwrap().to_string());
            }
        }
    }
    (running, workers)
}
