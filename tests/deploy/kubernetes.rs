//! deploy/kubernetes: each overlay rendered by `kubectl kustomize`, validated, and read for what
//! running in production needs; its mm2.properties checked by `connect-mirror-maker validate`
//! with the Secret's files and variables laid out as the Deployment mounts and sets them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{Launch, TempFile};
use crate::manifest::*;
use crate::tools::{self, repo, run, run_ok, tool, yaml_file, yaml_text};

/// The overlays that are applied, relative to deploy/kubernetes/overlays.
const OVERLAYS: &[&str] = &["migration", "active-active/site-a", "active-active/site-b"];

/// Kustomizations under overlays/ that are layers of the ones above, not applied alone.
const LAYERS: &[&str] = &["active-active/shared"];

/// What a replica needs, from benches/README.md: one flow at tasks.max=4 peaked at 118 MiB RSS,
/// and at 210 MiB with zstd; copying at full speed took about one core.
const MIN_MEMORY_REQUEST: u64 = 128 << 20;
const MIN_MEMORY_LIMIT: u64 = 256 << 20;
const MIN_CPU_REQUEST_MILLICORES: u64 = 500;

fn overlays_dir() -> PathBuf {
    repo().join("deploy/kubernetes/overlays")
}

/// Every directory holding a kustomization.yaml under `dir`, relative to it.
fn kustomizations(dir: &Path, under: &Path, found: &mut Vec<String>) {
    if dir.join("kustomization.yaml").is_file() {
        let rel = dir.strip_prefix(under).unwrap();
        found.push(rel.to_string_lossy().into_owned());
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            kustomizations(&path, under, found);
        }
    }
}

/// `kubectl kustomize` of one overlay: the manifest stream.
fn render(kubectl: &Path, overlay: &str) -> String {
    run_ok(
        Command::new(kubectl)
            .arg("kustomize")
            .arg(overlays_dir().join(overlay)),
        None,
    )
}

#[test]
fn every_overlay_is_checked() {
    let mut found = Vec::new();
    kustomizations(&overlays_dir(), &overlays_dir(), &mut found);
    found.sort();
    let mut known: Vec<String> = OVERLAYS
        .iter()
        .chain(LAYERS)
        .map(|s| s.to_string())
        .collect();
    known.sort();
    assert_eq!(
        found, known,
        "the kustomizations under deploy/kubernetes/overlays are not the ones this test renders \
         (OVERLAYS) and knows as layers (LAYERS)"
    );
}

#[test]
fn overlays_render_and_validate() {
    let kubectl = tool!(tools::kubectl());
    let validate = tool!(tools::kubernetes_validate());
    let python = tool!(tools::python());
    for overlay in OVERLAYS {
        let manifest = render(&kubectl, overlay);
        let docs = yaml_text(&python, &manifest);
        // Kubernetes' own schemas, strict: a field the API does not define is an error.
        let out = run(
            Command::new(&validate).args(["--strict", "-"]),
            Some(&manifest),
        );
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{overlay}: kubernetes-validate failed:\n{report}"
        );
        for doc in &docs {
            let kind = text(doc, "/kind");
            let name = text(doc, "/metadata/name");
            let custom = text(doc, "/apiVersion").starts_with("monitoring.coreos.com/");
            let line = if custom {
                // kubernetes-validate has no schema for custom resources: it only warns, and
                // they are checked against the operator's models below.
                format!("Couldn't find schema for kind {kind}")
            } else {
                format!("passed for resource {}/{name}", kind.to_lowercase())
            };
            assert!(
                report.contains(&line),
                "{overlay}: kubernetes-validate did not report `{line}`:\n{report}"
            );
        }
        let unchecked = report.lines().filter(|l| l.starts_with("WARN")).count();
        let custom = docs
            .iter()
            .filter(|d| text(d, "/apiVersion").starts_with("monitoring.coreos.com/"))
            .count();
        assert_eq!(
            unchecked, custom,
            "{overlay}: resources kubernetes-validate could not check:\n{report}"
        );
        // PodMonitor and PrometheusRule against the Prometheus Operator's API models.
        let crds = run(
            Command::new(&python).arg(repo().join("tests/deploy/monitoring_crds.py")),
            Some(&manifest),
        );
        let crd_report = String::from_utf8_lossy(&crds.stdout);
        assert!(
            crds.status.success(),
            "{overlay}: the Prometheus Operator resources are invalid:\n{crd_report}"
        );
        for kind in ["PodMonitor", "PrometheusRule"] {
            assert!(
                crd_report.contains(&format!("OK {kind}/")),
                "{overlay}: no {kind} was checked:\n{crd_report}"
            );
        }
    }
}

/// One overlay's Deployment, its container and its mm2.properties, found through each other.
struct Workload<'a> {
    render: &'a Render,
    deployment: &'a Value,
    container: &'a Value,
    config_map: &'a Value,
    props: Vec<(String, String)>,
}

impl<'a> Workload<'a> {
    fn of(render: &'a Render) -> Workload<'a> {
        let deployment = render.one("Deployment");
        let containers = list(deployment, "/spec/template/spec/containers");
        assert_eq!(containers.len(), 1, "{}: one container", render.overlay);
        let config_map = render
            .of_kind("ConfigMap")
            .into_iter()
            .find(|c| c["data"]["mm2.properties"].is_string())
            .unwrap_or_else(|| panic!("{}: no ConfigMap with mm2.properties", render.overlay));
        let props = properties(text(config_map, "/data/mm2.properties"));
        Workload {
            render,
            deployment,
            container: &containers[0],
            config_map,
            props,
        }
    }

    fn overlay(&self) -> &str {
        &self.render.overlay
    }

    fn pod_labels(&self) -> &Value {
        &self.deployment["spec"]["template"]["metadata"]["labels"]
    }

    fn volume(&self, name: &str) -> &Value {
        list(self.deployment, "/spec/template/spec/volumes")
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{}: no volume {name}", self.overlay()))
    }

    /// The (volume, mount path) pairs of the container.
    fn mounts(&self) -> Vec<(&Value, &str)> {
        list(self.container, "/volumeMounts")
            .iter()
            .map(|m| (self.volume(text(m, "/name")), text(m, "/mountPath")))
            .collect()
    }

    /// The container's environment variable `name`.
    fn env(&self, name: &str) -> Option<&Value> {
        list(self.container, "/env")
            .iter()
            .find(|e| e["name"] == name)
    }

    /// The name of the container port numbered `port`.
    fn port_name(&self, port: u64) -> &str {
        list(self.container, "/ports")
            .iter()
            .find(|p| p["containerPort"] == port)
            .map(|p| text(p, "/name"))
            .unwrap_or_else(|| panic!("{}: no container port {port}", self.overlay()))
    }

    /// The values of `$(VAR)` in the container's arguments, with VAR taken from the env.
    fn args(&self) -> Vec<String> {
        list(self.container, "/args")
            .iter()
            .map(|a| {
                let arg = a.as_str().unwrap();
                match arg.strip_prefix("$(").and_then(|a| a.strip_suffix(')')) {
                    Some(var) => self.env_value(var),
                    None => arg.to_string(),
                }
            })
            .collect()
    }

    /// The value of an environment variable set literally or from the overlay's ConfigMap.
    fn env_value(&self, var: &str) -> String {
        let env = self
            .env(var)
            .unwrap_or_else(|| panic!("{}: $({var}) is not in the env", self.overlay()));
        if let Some(v) = env["value"].as_str() {
            return v.to_string();
        }
        let key_ref = &env["valueFrom"]["configMapKeyRef"];
        let cm = self.render.named("ConfigMap", text(key_ref, "/name"));
        text(cm, &format!("/data/{}", text(key_ref, "/key"))).to_string()
    }

    /// The clusters served: the values after `--clusters`.
    fn target_clusters(&self) -> Vec<String> {
        let args = self.args();
        let at = args
            .iter()
            .position(|a| a == "--clusters")
            .unwrap_or_else(|| panic!("{}: no --clusters in {args:?}", self.overlay()));
        args[at + 1..]
            .iter()
            .take_while(|a| !a.starts_with("--"))
            .flat_map(|a| a.split_whitespace().map(str::to_string))
            .collect()
    }

    /// The Secret volume item and its mount holding the file at `path`, if any.
    fn secret_file(&self, path: &str) -> Option<(String, String)> {
        self.mounts().into_iter().find_map(|(volume, mount)| {
            let secret = volume.get("secret")?;
            let file = path.strip_prefix(mount)?.trim_start_matches('/');
            let items = list(secret, "/items");
            let listed = items.is_empty() || items.iter().any(|i| i["path"] == file);
            listed.then(|| (text(secret, "/secretName").to_string(), file.to_string()))
        })
    }
}

fn renders() -> Option<Vec<Render>> {
    let kubectl = tools::kubectl()?;
    let python = tools::python()?;
    Some(
        OVERLAYS
            .iter()
            .map(|overlay| Render {
                overlay: overlay.to_string(),
                docs: yaml_text(&python, &render(&kubectl, overlay)),
            })
            .collect(),
    )
}

#[test]
fn deployment_runs_replicas_with_config_secrets_probes_and_resources() {
    let renders = tool!(renders());
    for render in &renders {
        let w = Workload::of(render);
        let o = w.overlay();
        let replicas = w.deployment["spec"]["replicas"].as_u64().unwrap_or(1);
        assert!(
            replicas >= 2,
            "{o}: {replicas} replica(s): the flows are not shared"
        );
        assert!(
            selects(
                &w.deployment["spec"]["selector"]["matchLabels"],
                w.pod_labels()
            ),
            "{o}: the Deployment's selector does not select its pods"
        );
        assert_eq!(
            w.pod_labels()["strimzi.io/kind"],
            "KafkaMirrorMaker2",
            "{o}"
        );
        assert!(w.pod_labels()["strimzi.io/cluster"].is_string(), "{o}");

        // mm2.properties is the ConfigMap's, mounted where the first argument reads it.
        let config_name = text(w.config_map, "/metadata/name");
        let config_mount = w
            .mounts()
            .into_iter()
            .find(|(v, _)| v["configMap"]["name"] == config_name)
            .map(|(_, mount)| mount.to_string())
            .unwrap_or_else(|| panic!("{o}: ConfigMap {config_name} is not mounted"));
        assert_eq!(w.args()[0], format!("{config_mount}/mm2.properties"), "{o}");

        // The served clusters are clusters of the file, each the target of an enabled flow.
        let clusters: Vec<&str> = property(&w.props, "clusters")
            .split(',')
            .map(str::trim)
            .collect();
        let targets = w.target_clusters();
        assert!(!targets.is_empty(), "{o}: --clusters names no cluster");
        for t in &targets {
            assert!(
                clusters.contains(&t.as_str()),
                "{o}: {t} is not in clusters = {clusters:?}"
            );
            let enabled = w.props.iter().any(|(k, v)| {
                k.strip_suffix(".enabled")
                    .and_then(|flow| flow.split_once("->"))
                    .is_some_and(|(_, target)| target == t)
                    && v == "true"
            });
            assert!(enabled, "{o}: no flow into {t} is enabled");
        }

        // Secrets: every ${env:VAR} is set from the Secret, every ${file:PATH:KEY} and every
        // truststore is a file of a mounted Secret.
        let refs = provider_references(&w.props);
        assert!(
            refs.iter().any(|(p, _)| p == "env") && refs.iter().any(|(p, _)| p == "file"),
            "{o}: the passwords come through the env and file providers: {refs:?}"
        );
        for (provider, rest) in &refs {
            match provider.as_str() {
                "env" => {
                    let env = w
                        .env(rest)
                        .unwrap_or_else(|| panic!("{o}: ${{env:{rest}}} is not set"));
                    assert!(
                        env["valueFrom"]["secretKeyRef"]["name"].is_string(),
                        "{o}: {rest} does not come from a Secret: {env}"
                    );
                }
                "file" => {
                    let path = rest.split(':').next().unwrap();
                    assert!(
                        w.secret_file(path).is_some(),
                        "{o}: ${{file:{rest}}} is not a file of a mounted Secret"
                    );
                }
                other => panic!("{o}: provider {other} is not declared for Kubernetes"),
            }
        }
        for (key, path) in w
            .props
            .iter()
            .filter(|(k, _)| k.ends_with("ssl.truststore.location"))
        {
            assert!(
                w.secret_file(path).is_some(),
                "{o}: {key} = {path} is not mounted"
            );
        }

        // Probes on GET /health, on the port `listeners` opens.
        let port = listeners_port(&w.props);
        let port_name = w.port_name(port);
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let get = &w.container[probe]["httpGet"];
            assert_eq!(get["path"], "/health", "{o}: {probe}: {get}");
            assert!(
                get["port"] == port_name || get["port"] == port,
                "{o}: {probe} is not on the listeners port {port}: {get}"
            );
        }

        let resources = &w.container["resources"];
        let memory_request = bytes(text(resources, "/requests/memory"));
        let memory_limit = bytes(text(resources, "/limits/memory"));
        let cpu_request = millicores(text(resources, "/requests/cpu"));
        assert!(memory_request >= MIN_MEMORY_REQUEST, "{o}: {resources}");
        assert!(
            memory_limit >= MIN_MEMORY_LIMIT.max(memory_request),
            "{o}: {resources}"
        );
        assert!(
            cpu_request >= MIN_CPU_REQUEST_MILLICORES,
            "{o}: {resources}"
        );
        // A graceful stop stores offsets: Kubernetes must wait for it.
        let grace = w.deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            .as_u64()
            .unwrap_or(30);
        assert!(grace >= 30, "{o}: terminationGracePeriodSeconds {grace}");
    }
}

#[test]
fn disruption_budget_service_and_monitoring_select_the_pods() {
    let renders = tool!(renders());
    let python = tool!(tools::python());
    let alerts = yaml_file(&python, &repo().join("deploy/prometheus/alerts.yml"));
    for render in &renders {
        let w = Workload::of(render);
        let o = w.overlay();
        let replicas = w.deployment["spec"]["replicas"].as_u64().unwrap();

        let pdb = render.one("PodDisruptionBudget");
        assert!(
            selects(&pdb["spec"]["selector"]["matchLabels"], w.pod_labels()),
            "{o}: {pdb}"
        );
        let keeps = match (
            pdb["spec"]["maxUnavailable"].as_u64(),
            pdb["spec"]["minAvailable"].as_u64(),
        ) {
            (Some(max_unavailable), None) => replicas.saturating_sub(max_unavailable),
            (None, Some(min_available)) => min_available,
            _ => panic!("{o}: the PodDisruptionBudget sets one integer bound: {pdb}"),
        };
        assert!(
            (1..replicas).contains(&keeps),
            "{o}: a drain keeps {keeps} of {replicas} replicas: none, or it can never evict"
        );

        let service = render.one("Service");
        assert!(
            selects(&service["spec"]["selector"], w.pod_labels()),
            "{o}: {service}"
        );
        let port = listeners_port(&w.props);
        let target = &list(service, "/spec/ports")[0]["targetPort"];
        assert!(
            *target == w.port_name(port) || *target == port,
            "{o}: {service}"
        );

        let monitor = render.one("PodMonitor");
        assert!(
            selects(&monitor["spec"]["selector"]["matchLabels"], w.pod_labels()),
            "{o}: the PodMonitor does not select the pods: {monitor}"
        );
        let endpoint = &list(monitor, "/spec/podMetricsEndpoints")[0];
        assert_eq!(endpoint["port"], w.port_name(port), "{o}: {endpoint}");
        assert_eq!(endpoint["path"], "/metrics", "{o}: {endpoint}");
        let relabelings = list(endpoint, "/relabelings");
        assert!(
            relabelings
                .iter()
                .any(|r| r["action"] == "labelmap" && text(r, "/regex").contains("strimzi_io_")),
            "{o}: the pods' strimzi.io labels are not mapped: {endpoint}"
        );
        for label in ["namespace", "kubernetes_pod_name"] {
            assert!(
                relabelings.iter().any(|r| r["targetLabel"] == label),
                "{o}: no {label} label: {endpoint}"
            );
        }
        // The job label is what the MirrorMakerDown alert selects.
        let job_label = text(monitor, "/spec/jobLabel");
        let job = w.pod_labels()[job_label]
            .as_str()
            .unwrap_or_else(|| panic!("{o}: the pods have no label {job_label}"));
        let down = format!("up{{job=\"{job}\"}}");
        let exprs: Vec<&str> = list(&alerts[0], "/groups")
            .iter()
            .flat_map(|g| list(g, "/rules"))
            .map(|r| text(r, "/expr"))
            .collect();
        assert!(
            exprs.iter().any(|e| e.contains(&down)),
            "{o}: the scrape job is {job}, but no alert selects {down}"
        );

        let rule = render.one("PrometheusRule");
        assert_eq!(
            rule["spec"]["groups"], alerts[0]["groups"],
            "{o}: the PrometheusRule's groups are not deploy/prometheus/alerts.yml's"
        );
    }
}

#[test]
fn overlay_configs_pass_validate() {
    let renders = tool!(renders());
    for render in &renders {
        let w = Workload::of(render);
        let o = w.overlay();
        // The Secret's files, where the pod would see them, under a temporary directory.
        let secrets = TempFile::new("README", "stand-in for the Secret mm2-credentials");
        let mut config_text = text(w.config_map, "/data/mm2.properties").to_string();
        let mut written = Vec::new();
        for (volume, mount) in w.mounts() {
            if volume.get("secret").is_none() {
                continue;
            }
            let dir = secrets.dir().join(mount.trim_start_matches('/'));
            std::fs::create_dir_all(&dir).unwrap();
            for item in list(volume, "/secret/items") {
                let file = text(item, "/path");
                // The keys the file provider reads from this file, with stand-in values.
                let keys: String = provider_references(&w.props)
                    .iter()
                    .filter(|(p, _)| p == "file")
                    .filter_map(|(_, rest)| rest.strip_prefix(&format!("{mount}/{file}:")))
                    .map(|key| format!("{key}=secret-from-file-{key}\n"))
                    .collect();
                std::fs::write(dir.join(file), keys).unwrap();
                written.push(file.to_string());
            }
            config_text = config_text.replace(mount, dir.to_str().unwrap());
        }
        assert!(!written.is_empty(), "{o}: no Secret is mounted");
        let config = secrets.dir().join("mm2.properties");
        std::fs::write(&config, &config_text).unwrap();

        let mut launch = Launch::mirror_maker()
            .arg("validate")
            .arg(&config)
            .arg("--clusters")
            .args(w.target_clusters())
            .log_level("warn");
        for env in list(w.container, "/env") {
            let name = text(env, "/name");
            if env["valueFrom"]["secretKeyRef"].is_object() {
                launch = launch.env(name, format!("secret-from-env-{name}"));
            }
        }
        let out = launch.output();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{o}: connect-mirror-maker validate failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for t in w.target_clusters() {
            assert!(
                stdout.lines().any(|l| l.starts_with("flow ")
                    && l.contains(&format!("->{t}: replication enabled"))),
                "{o}: validate shows no replicating flow into {t}:\n{stdout}"
            );
        }
        assert!(
            !stdout.contains("secret-from-"),
            "{o}: validate printed a secret:\n{stdout}"
        );
    }
}
