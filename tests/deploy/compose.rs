//! deploy/compose: `docker compose config` where the compose plugin is installed (not on the
//! machines here: no container engine runs, and the trial has not been run); everywhere, the
//! file read as YAML for its wiring: mounted files exist, mm2.properties names the brokers'
//! advertised addresses and passes `connect-mirror-maker validate`, Prometheus scrapes both
//! processes with a config promtool accepts as mounted, Grafana gets the datasource and the
//! dashboard.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{mm2, TempFile};
use crate::manifest::{list, listeners_port, properties, property, text};
use crate::tools::{self, repo, run, run_ok, tool, yaml_file};

fn compose_dir() -> PathBuf {
    repo().join("deploy/compose")
}

/// The compose file, parsed (anchors and `<<` merges resolved by PyYAML).
fn compose(python: &Path) -> Value {
    yaml_file(python, &compose_dir().join("compose.yaml")).remove(0)
}

/// A service's bind mounts: host path (resolved from deploy/compose) -> path in the container.
fn mounts(service: &Value) -> BTreeMap<String, PathBuf> {
    list(service, "/volumes")
        .iter()
        .map(|v| {
            let spec = v.as_str().expect("short volume syntax");
            let mut parts = spec.split(':');
            let (host, container) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(host.starts_with('.'), "{spec}: not a file of this checkout");
            (container.to_string(), compose_dir().join(host))
        })
        .collect()
}

/// The services that build connect-mirror-maker's image.
fn mirror_makers(compose: &Value) -> Vec<(&String, &Value)> {
    compose["services"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| s["build"]["dockerfile"] == "deploy/docker/Dockerfile")
        .collect()
}

#[test]
fn compose_config_where_compose_is_installed() {
    let file = compose_dir().join("compose.yaml");
    let version = Command::new("docker").args(["compose", "version"]).output();
    if !version.is_ok_and(|v| v.status.success()) {
        // Not installed by scripts/test.sh (Debian has no compose plugin for this docker, and no
        // engine runs here), so this skips even where the tools are required;
        // compose_trial_is_wired reads the file without it.
        let _ = writeln!(
            std::io::stderr(),
            "skipped compose_config_where_compose_is_installed: `docker compose` is not \
             available on this machine"
        );
        return;
    }
    run_ok(
        Command::new("docker")
            .args(["compose", "-f"])
            .arg(&file)
            .args(["config", "--quiet"]),
        None,
    );
}

#[test]
fn compose_trial_is_wired() {
    let python = tool!(tools::python());
    let promtool = tool!(tools::promtool());
    let compose = compose(&python);
    let services = &compose["services"];
    for name in ["kafka-a", "kafka-b", "prometheus", "grafana"] {
        assert!(services[name].is_object(), "no service {name}");
    }
    for (name, service) in services.as_object().unwrap() {
        for host in mounts(service).values() {
            assert!(
                host.exists(),
                "{name} mounts {}, which does not exist",
                host.display()
            );
        }
    }

    // Two connect-mirror-maker processes on one mm2.properties.
    let mm2s = mirror_makers(&compose);
    assert!(
        mm2s.len() >= 2,
        "the flow is not shared: {} process(es)",
        mm2s.len()
    );
    let config_in_container = text(mm2s[0].1, "/command/0");
    let config = mounts(mm2s[0].1)
        .remove(config_in_container)
        .unwrap_or_else(|| panic!("{config_in_container} is not mounted"));
    for (name, service) in &mm2s {
        assert_eq!(service["command"], mm2s[0].1["command"], "{name}");
        assert_eq!(
            mounts(service).get(config_in_container),
            Some(&config),
            "{name}"
        );
    }
    let out = mm2(&["validate", config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );

    // Each cluster's bootstrap servers are its broker's advertised listener.
    let props = properties(&std::fs::read_to_string(&config).unwrap());
    for alias in property(&props, "clusters").split(',').map(str::trim) {
        let bootstrap = property(&props, &format!("{alias}.bootstrap.servers"));
        let (host, _) = bootstrap.split_once(':').unwrap();
        let advertised = text(&services[host], "/environment/KAFKA_ADVERTISED_LISTENERS");
        assert!(
            advertised.ends_with(&format!("//{bootstrap}")),
            "{alias}.bootstrap.servers = {bootstrap}, but {host} advertises {advertised}"
        );
    }

    // Prometheus scrapes every process on the listeners port, with a config promtool accepts
    // with the files laid out as the container sees them.
    let port = listeners_port(&props);
    let prometheus = &services["prometheus"];
    let root = TempFile::new("README", "the Prometheus container's files");
    for (in_container, host) in mounts(prometheus) {
        let at = root.dir().join(in_container.trim_start_matches('/'));
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::copy(&host, &at).unwrap();
    }
    let config_flag = list(prometheus, "/command")
        .iter()
        .find_map(|a| a.as_str()?.strip_prefix("--config.file="))
        .expect("prometheus --config.file");
    let prometheus_yml = root.dir().join(config_flag.trim_start_matches('/'));
    let checked = run(
        Command::new(&promtool)
            .args(["check", "config"])
            .arg(&prometheus_yml),
        None,
    );
    assert!(
        checked.status.success(),
        "promtool check config: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let scrape = yaml_file(&python, &prometheus_yml).remove(0);
    let targets: Vec<&str> = list(&scrape, "/scrape_configs")
        .iter()
        .filter(|c| c["job_name"] == "connect-mirror-maker")
        .flat_map(|c| list(c, "/static_configs"))
        .flat_map(|s| list(s, "/targets"))
        .filter_map(Value::as_str)
        .collect();
    for (name, _) in &mm2s {
        let target = format!("{name}:{port}");
        assert!(
            targets.contains(&target.as_str()),
            "{target} is not scraped: {targets:?}"
        );
    }

    // Grafana: the datasource is this Prometheus, and the dashboard file is deploy/grafana's,
    // in the folder its provider reads.
    let grafana = &services["grafana"];
    let grafana_mounts = mounts(grafana);
    let provisioning = |dir: &str| {
        grafana_mounts
            .get(&format!("/etc/grafana/provisioning/{dir}"))
            .unwrap_or_else(|| panic!("no provisioning/{dir} mount"))
    };
    let datasource_files = std::fs::read_dir(provisioning("datasources")).unwrap();
    let urls: Vec<String> = datasource_files
        .flat_map(|f| {
            let doc = yaml_file(&python, &f.unwrap().path()).remove(0);
            list(&doc, "/datasources")
                .iter()
                .filter(|d| d["type"] == "prometheus")
                .map(|d| text(d, "/url").to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        urls.iter().any(|u| u.starts_with("http://prometheus:9090")),
        "no datasource points at the prometheus service: {urls:?}"
    );
    let dashboard = repo().join("deploy/grafana/connect-mirror-maker.json");
    let (dashboard_in_container, _) = grafana_mounts
        .iter()
        .find(|(_, host)| host.canonicalize().ok() == dashboard.canonicalize().ok())
        .expect("deploy/grafana/connect-mirror-maker.json is not mounted");
    let providers: Vec<String> = std::fs::read_dir(provisioning("dashboards"))
        .unwrap()
        .flat_map(|f| {
            let doc = yaml_file(&python, &f.unwrap().path()).remove(0);
            list(&doc, "/providers")
                .iter()
                .map(|p| text(p, "/options/path").to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let folder = Path::new(dashboard_in_container).parent().unwrap();
    assert!(
        providers.iter().any(|p| Path::new(p) == folder),
        "no dashboard provider reads {}: {providers:?}",
        folder.display()
    );
}
