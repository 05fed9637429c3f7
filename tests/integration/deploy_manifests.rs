//! The shipped deployment files, checked without Kafka. Each strait configuration is found the
//! way its container finds it (the `--config` argument, the compose bind mount or the Kubernetes
//! ConfigMap volume behind it), and
//! - passes `strait validate` once the files it reads in the container are stood in for by local
//!   ones (harness/certs.sh's certificates for the certificate and key paths);
//! - in the secured variants, reads every certificate, key and `${file:...}` from a secret
//!   mounted into strait's container, and every password and token with `${file:...}`;
//! - on Kubernetes, gets its Secrets through whole, read-only volume mounts (no `subPath`, which
//!   would keep the kubelet from updating the files when a Secret changes).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_yaml::Value;

use crate::harness::*;

/// Each compose file and the strait configuration its `strait` service mounts.
const COMPOSE: [(&str, &str); 2] = [
    ("docker-compose.yml", "deploy/compose.yaml"),
    ("docker-compose.secured.yml", "deploy/compose-secured.yaml"),
];

/// The Kubernetes manifests with a strait Deployment and the ConfigMap it reads: the files, and
/// the Helm chart as `helm template` renders it with its default values and with its secured
/// example (a name starting with [`CHART`] is rendered, its words after the chart are helm's
/// arguments).
const KUBERNETES: [&str; 4] = [
    "deploy/kubernetes/strait.yaml",
    "deploy/kubernetes/strait-secured.yaml",
    CHART,
    "deploy/helm/strait --values deploy/helm/strait/examples/secured.yaml",
];

/// The Helm chart.
const CHART: &str = "deploy/helm/strait";

/// Templates of the Secrets the Deployments mount (a file of their own, so that applying a
/// Deployment's file never replaces real Secrets with placeholders).
const KUBERNETES_SECRET_TEMPLATES: [&str; 1] =
    ["deploy/kubernetes/strait-secured-secrets.example.yaml"];

/// The deployment files whose configuration must take every credential and certificate from a
/// mounted secret.
const SECURED: [&str; 3] = [
    "docker-compose.secured.yml",
    "deploy/kubernetes/strait-secured.yaml",
    "deploy/helm/strait --values deploy/helm/strait/examples/secured.yaml",
];

/// Keys holding a secret, which a secured configuration must read with `${file:...}`.
const SECRET_KEYS: [&str; 4] = ["password", "key_password", "client_secret", "bearer_token"];

/// The compose service and the Kubernetes container that run strait.
const STRAIT: &str = "strait";

/// A strait configuration as a deployment file ships it.
struct Shipped {
    /// The deployment file (a path in the repository).
    file: &'static str,
    /// Where the configuration is, for messages.
    origin: String,
    config: Value,
    /// The container path of every file a secret mounted into strait's container provides, and
    /// which secret it is.
    secret_files: BTreeMap<String, String>,
}

/// A volume mount of a Kubernetes container.
struct Mount {
    container: String,
    volume: String,
    path: String,
    /// `subPath` or `subPathExpr`.
    sub_path: Option<String>,
    read_only: bool,
}

/// A file a configuration makes strait read.
struct FileRef {
    /// Its key path (`clusters.A.security.ca_file`).
    key: String,
    path: String,
}

/// Each configuration, with the files it reads in its container stood in for by local ones,
/// passes `strait validate` (exit 0).
#[test]
fn every_shipped_strait_configuration_passes_validate() {
    let scratch = scratch_dir("deploy-manifests");
    let certs = scratch.path().join("certs");
    secure::make_certificates(&certs);
    let mut failures = Vec::new();
    for (i, shipped) in shipped_configs().iter().enumerate() {
        let dir = scratch.path().join(format!("config-{i}"));
        std::fs::create_dir_all(&dir).expect("create config dir");
        let config = with_stand_ins(&shipped.config, &dir, &certs);
        let path = dir.join("strait.yaml");
        let yaml = serde_yaml::to_string(&config).expect("serialize config");
        std::fs::write(&path, yaml).expect("write config");
        let path = path.to_string_lossy().into_owned();
        let out = strait_cli(
            &["validate", "--config", path.as_str()],
            Duration::from_secs(60),
        );
        if out.code != Some(0) {
            failures.push(format!(
                "{}: `strait validate` exited with {:?} (want 0):\n{}{}",
                shipped.origin, out.code, out.stdout, out.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every Secret volume of the Deployments is mounted as a whole directory (no `subPath`: only
/// then does the kubelet update its files in place when the Secret changes) and read-only.
#[test]
fn kubernetes_secret_volumes_are_mounted_whole_and_read_only() {
    let mut failures = Vec::new();
    let mut secret_mounts: BTreeMap<&str, usize> = BTreeMap::new();
    for file in KUBERNETES {
        let docs = documents(file);
        for deployment in of_kind(&docs, "Deployment") {
            let what = format!("{file}: Deployment {}", name_of(deployment));
            let pod = pod_spec(deployment, &what);
            let volumes = pod_volumes(pod, &what);
            for m in pod_mounts(pod, &what) {
                let is_secret = volumes
                    .get(&m.volume)
                    .is_some_and(|v| v.get("secret").is_some());
                if !is_secret {
                    continue;
                }
                *secret_mounts.entry(file).or_default() += 1;
                let mount = format!(
                    "{what}: container {}, volumeMounts entry `{}` (Secret volume)",
                    m.container, m.volume
                );
                if let Some(sub_path) = &m.sub_path {
                    failures.push(format!(
                        "{mount} has subPath `{sub_path}`: mount the whole volume, so that the \
                         kubelet updates its files when the Secret changes"
                    ));
                }
                if !m.read_only {
                    failures.push(format!("{mount} lacks `readOnly: true`"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for file in SECURED {
        if KUBERNETES.contains(&file) {
            assert!(
                secret_mounts.get(file).is_some_and(|n| *n > 0),
                "{file}: its Deployment mounts no Secret volume"
            );
        }
    }
}

/// The secured configurations read every file (certificates, keys, `${file:...}`) from a secret
/// mounted into strait's container: on Kubernetes `<mountPath>/<key>` of a Secret volume whose
/// Secret has that key, in compose `/run/secrets/<name>` of a secret the file declares and the
/// service lists. And every password and token is read with `${file:...}`.
#[test]
fn secured_configurations_read_every_secret_from_a_mounted_secret() {
    let shipped = shipped_configs();
    let mut failures = Vec::new();
    for file in SECURED {
        let s = shipped
            .iter()
            .find(|s| s.file == file)
            .unwrap_or_else(|| panic!("{file}: no strait configuration found"));
        let refs = file_refs(&s.config);
        if refs.is_empty() {
            failures.push(format!("{}: reads no file at all", s.origin));
        }
        for r in &refs {
            if !s.secret_files.contains_key(&r.path) {
                failures.push(format!(
                    "{}: {} reads `{}`, which no secret mounted into the {STRAIT} container \
                     provides (the mounted secret files: {:?})",
                    s.origin,
                    r.key,
                    r.path,
                    s.secret_files.keys().collect::<Vec<_>>()
                ));
            }
        }
        strings_mut(&mut s.config.clone(), "", &mut |key, value| {
            if SECRET_KEYS.contains(&last_key(key)) && !is_file_reference(value) {
                failures.push(format!(
                    "{}: {key} is not read from a file with `${{file:...}}`",
                    s.origin
                ));
            }
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every configuration: the compose ones, then the Kubernetes ones.
fn shipped_configs() -> Vec<Shipped> {
    let templates = secret_templates();
    let mut all = Vec::new();
    for (file, config) in COMPOSE {
        all.push(compose_config(file, config));
    }
    for file in KUBERNETES {
        all.push(kubernetes_config(file, &templates));
    }
    all
}

/// The configuration `file`'s `strait` service reads, which must be `expected`, and its secrets.
fn compose_config(file: &'static str, expected: &str) -> Shipped {
    let compose: Value =
        serde_yaml::from_str(&read(file)).unwrap_or_else(|e| panic!("{file}: not YAML: {e}"));
    let what = format!("{file}: services.{STRAIT}");
    let service = field(field(&compose, "services", file), STRAIT, file);
    let config = config_argument(field(service, "command", &what), &what);
    // The bind mount that puts the configuration there (`HOST:CONTAINER[:ro]`).
    let host = sequence(field(service, "volumes", &what), &what)
        .iter()
        .map(|v| string(v, &what))
        .find_map(|v| {
            let mut parts = v.split(':');
            let host = parts.next()?;
            (parts.next()? == config).then(|| host.to_string())
        })
        .unwrap_or_else(|| panic!("{what}: no volume puts a file at {config}, which it runs with"));
    assert_eq!(
        host.trim_start_matches("./"),
        expected,
        "{what}: the file mounted at {config}"
    );
    let declared = compose.get("secrets").and_then(Value::as_mapping);
    let mut secret_files = BTreeMap::new();
    let listed = service
        .get("secrets")
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in listed {
        // `- name`, or `- { source: name, target: file }`.
        let (source, target) = match entry.as_str() {
            Some(name) => (name.to_string(), name.to_string()),
            None => {
                let source = string(field(entry, "source", &what), &what).to_string();
                let target = entry
                    .get("target")
                    .and_then(Value::as_str)
                    .unwrap_or(source.as_str())
                    .to_string();
                (source, target)
            }
        };
        // An undeclared secret is mounted nowhere.
        if !declared.is_some_and(|d| d.contains_key(source.as_str())) {
            continue;
        }
        let path = if target.starts_with('/') {
            target
        } else {
            format!("/run/secrets/{target}")
        };
        secret_files.insert(path, format!("compose secret `{source}`"));
    }
    let text = read(expected);
    Shipped {
        file,
        origin: format!("{expected} (the configuration of {file})"),
        config: serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{expected}: not YAML: {e}")),
        secret_files,
    }
}

/// The configuration the strait container of `file`'s Deployment reads from its ConfigMap, and
/// the files of the Secrets mounted into it (their keys from `templates`).
fn kubernetes_config(
    file: &'static str,
    templates: &BTreeMap<String, BTreeSet<String>>,
) -> Shipped {
    let docs = documents(file);
    let deployments: Vec<&Value> = of_kind(&docs, "Deployment").collect();
    assert_eq!(deployments.len(), 1, "{file}: want exactly one Deployment");
    let what = format!("{file}: Deployment {}", name_of(deployments[0]));
    let pod = pod_spec(deployments[0], &what);
    let container = pod_containers(pod, &what)
        .into_iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(STRAIT))
        .unwrap_or_else(|| panic!("{what}: no container named {STRAIT}"));
    let config_path = config_argument(field(container, "args", &what), &what);
    let volumes = pod_volumes(pod, &what);
    let mounts: Vec<Mount> = pod_mounts(pod, &what)
        .into_iter()
        .filter(|m| m.container == STRAIT)
        .collect();

    // The ConfigMap volume the configuration is in, and its key.
    let (mount, key) = mounts
        .iter()
        .find_map(|m| Some((m, config_path.strip_prefix(&format!("{}/", m.path))?)))
        .unwrap_or_else(|| panic!("{what}: no volume is mounted where {config_path} is"));
    let configmap = volumes
        .get(&mount.volume)
        .and_then(|v| v.get("configMap"))
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| {
            panic!(
                "{what}: {config_path} is on volume `{}`, which is not a ConfigMap",
                mount.volume
            )
        });
    let text = of_kind(&docs, "ConfigMap")
        .find(|c| name_of(c) == configmap)
        .and_then(|c| c.get("data"))
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
        .unwrap_or_else(|| {
            panic!("{file}: no ConfigMap {configmap} with data key `{key}` ({what} reads {config_path})")
        });
    let origin = format!("{file}: ConfigMap {configmap}, key {key}");
    let config: Value =
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{origin}: not YAML: {e}"));

    // Each Secret volume provides `<mountPath>/<key>` for each of its keys (or its `items`).
    let mut secret_files = BTreeMap::new();
    for m in &mounts {
        let Some(secret) = volumes.get(&m.volume).and_then(|v| v.get("secret")) else {
            continue;
        };
        let name = secret
            .get("secretName")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{what}: volume `{}` has no secretName", m.volume));
        let keys: Vec<String> = match secret.get("items").and_then(Value::as_sequence) {
            Some(items) => items
                .iter()
                .filter_map(|i| i.get("path").and_then(Value::as_str))
                .map(str::to_string)
                .collect(),
            None => templates
                .get(name)
                .map(|keys| keys.iter().cloned().collect())
                .unwrap_or_default(),
        };
        for key in keys {
            secret_files.insert(
                format!("{}/{key}", m.path),
                format!("Secret {name} (volume `{}`), key {key}", m.volume),
            );
        }
    }
    Shipped {
        file,
        origin,
        config,
        secret_files,
    }
}

/// The keys (`data` and `stringData`) of every Secret in the Kubernetes files, by name.
fn secret_templates() -> BTreeMap<String, BTreeSet<String>> {
    let mut templates: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in KUBERNETES.into_iter().chain(KUBERNETES_SECRET_TEMPLATES) {
        let docs = documents(file);
        for secret in of_kind(&docs, "Secret") {
            let keys = ["data", "stringData"]
                .into_iter()
                .filter_map(|section| secret.get(section).and_then(Value::as_mapping))
                .flat_map(|section| section.keys())
                .filter_map(Value::as_str)
                .map(str::to_string);
            templates
                .entry(name_of(secret).to_string())
                .or_default()
                .extend(keys);
        }
    }
    templates
}

fn read(file: &str) -> String {
    if file.starts_with(CHART) {
        return render(file);
    }
    std::fs::read_to_string(repo_root().join(file))
        .unwrap_or_else(|e| panic!("cannot read {file}: {e}"))
}

/// `helm`, built once per test process by `harness/helm.sh build` (instant once cached).
fn helm_bin() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let out = std::process::Command::new("bash")
            .arg(repo_root().join("harness/helm.sh"))
            .arg("build")
            .output()
            .expect("run harness/helm.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`harness/helm.sh build` failed ({}); the chart check needs Go on the PATH to build \
             helm.\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
    })
}

/// Runs helm with `args` in the repository; its standard output, panicking on a failure.
fn helm(args: &[&str]) -> String {
    let out = std::process::Command::new(helm_bin())
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "`helm {}` failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What `helm template strait <chart> <args>` renders for `entry` (`<chart> <args>...`).
fn render(entry: &str) -> String {
    static RENDERED: std::sync::Mutex<BTreeMap<String, String>> =
        std::sync::Mutex::new(BTreeMap::new());
    if let Some(text) = RENDERED.lock().unwrap().get(entry) {
        return text.clone();
    }
    let mut words = entry.split_whitespace();
    let chart = words.next().expect("a chart");
    let mut args = vec!["template", "strait", chart];
    args.extend(words);
    let text = helm(&args);
    RENDERED
        .lock()
        .unwrap()
        .insert(entry.to_string(), text.clone());
    text
}

/// The chart passes `helm lint` (strict) with its default values and its examples, and renders
/// what a shared deployment needs: several replicas rolled one at a time, liveness and
/// readiness probes, a PodDisruptionBudget, a Service, a configuration with `deployment` set,
/// and on request a ServiceMonitor for /metrics.
#[test]
fn helm_chart_lints_and_renders_a_shared_deployment() {
    helm(&["lint", "--strict", CHART]);
    helm(&[
        "lint",
        "--strict",
        CHART,
        "--values",
        "deploy/helm/strait/examples/secured.yaml",
    ]);
    let docs = parse_documents(
        "the chart with a ServiceMonitor",
        &render(&format!(
            "{CHART} --set serviceMonitor.enabled=true --set replicaCount=4"
        )),
    );
    let kinds: BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| d.get("kind").and_then(Value::as_str))
        .collect();
    for kind in [
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "ServiceMonitor",
    ] {
        assert!(
            kinds.contains(kind),
            "the chart renders no {kind}: {kinds:?}"
        );
    }
    let deployment = of_kind(&docs, "Deployment").next().unwrap();
    let spec = field(deployment, "spec", "Deployment");
    assert_eq!(spec.get("replicas").and_then(Value::as_i64), Some(4));
    let container = &pod_containers(pod_spec(deployment, "Deployment"), "Deployment")[0];
    for probe in ["livenessProbe", "readinessProbe"] {
        assert!(
            container.get(probe).is_some(),
            "the container has no {probe}"
        );
    }
    let monitor = of_kind(&docs, "ServiceMonitor").next().unwrap();
    let endpoint = &sequence(
        field(
            field(monitor, "spec", "ServiceMonitor"),
            "endpoints",
            "ServiceMonitor",
        ),
        "endpoints",
    )[0];
    assert_eq!(
        endpoint.get("path").and_then(Value::as_str),
        Some("/metrics")
    );
}

/// Every Kubernetes Deployment with more than one replica shares its mirrors (`deployment` in
/// its configuration: otherwise each pod would copy every record), rolls one pod at a time and
/// has a PodDisruptionBudget.
#[test]
fn kubernetes_replicas_share_the_mirrors_and_are_disrupted_one_at_a_time() {
    let templates = secret_templates();
    for file in KUBERNETES {
        let docs = documents(file);
        let deployment = of_kind(&docs, "Deployment").next().unwrap();
        let spec = field(deployment, "spec", file);
        let replicas = spec.get("replicas").and_then(Value::as_i64).unwrap_or(1);
        assert!(replicas > 1, "{file}: {replicas} replica(s)");
        let shipped = kubernetes_config(file, &templates);
        assert!(
            shipped
                .config
                .get("deployment")
                .and_then(|d| d.get("name"))
                .is_some(),
            "{}: several replicas without `deployment.name` copy every record once per pod",
            shipped.origin
        );
        let max_unavailable = spec
            .get("strategy")
            .and_then(|s| s.get("rollingUpdate"))
            .and_then(|r| r.get("maxUnavailable"))
            .and_then(Value::as_i64);
        assert_eq!(
            max_unavailable,
            Some(1),
            "{file}: a rollout takes one pod at a time"
        );
        let pdb = of_kind(&docs, "PodDisruptionBudget")
            .next()
            .unwrap_or_else(|| panic!("{file}: no PodDisruptionBudget"));
        assert_eq!(
            field(pdb, "spec", file)
                .get("maxUnavailable")
                .and_then(Value::as_i64),
            Some(1),
            "{file}: the PodDisruptionBudget"
        );
    }
}

/// The YAML documents of `file` (`---`-separated), empty ones left out.
fn documents(file: &str) -> Vec<Value> {
    parse_documents(file, &read(file))
}

fn parse_documents(what: &str, text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{what}: not YAML: {e}")))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    docs.iter()
        .filter(move |d| d.get("kind").and_then(Value::as_str) == Some(kind))
}

fn name_of(doc: &Value) -> &str {
    doc.get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)")
}

fn field<'a>(value: &'a Value, key: &str, what: &str) -> &'a Value {
    value
        .get(key)
        .unwrap_or_else(|| panic!("{what}: no key `{key}`"))
}

fn string<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {value:?} is not a string"))
}

fn sequence<'a>(value: &'a Value, what: &str) -> &'a [Value] {
    value
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("{what}: {value:?} is not a list"))
}

/// The file after `--config` in a command line (a YAML list).
fn config_argument(args: &Value, what: &str) -> String {
    let args: Vec<&str> = sequence(args, what)
        .iter()
        .map(|a| string(a, what))
        .collect();
    args.iter()
        .position(|a| *a == "--config")
        .and_then(|i| args.get(i + 1))
        .unwrap_or_else(|| panic!("{what}: no `--config FILE` in {args:?}"))
        .to_string()
}

fn pod_spec<'a>(deployment: &'a Value, what: &str) -> &'a Value {
    field(
        field(field(deployment, "spec", what), "template", what),
        "spec",
        what,
    )
}

/// The containers and init containers of a pod.
fn pod_containers<'a>(pod: &'a Value, what: &str) -> Vec<&'a Value> {
    ["containers", "initContainers"]
        .into_iter()
        .filter_map(|kind| pod.get(kind))
        .flat_map(|list| sequence(list, what))
        .collect()
}

/// The pod's volumes by name.
fn pod_volumes<'a>(pod: &'a Value, what: &str) -> BTreeMap<String, &'a Value> {
    pod.get("volumes")
        .map(|v| sequence(v, what))
        .unwrap_or_default()
        .iter()
        .map(|v| (string(field(v, "name", what), what).to_string(), v))
        .collect()
}

/// The volume mounts of every container of the pod.
fn pod_mounts(pod: &Value, what: &str) -> Vec<Mount> {
    let mut all = Vec::new();
    for c in pod_containers(pod, what) {
        let container = string(field(c, "name", what), what).to_string();
        let listed = c.get("volumeMounts").map(|m| sequence(m, what));
        for m in listed.unwrap_or_default() {
            let what = format!("{what}: container {container}, volumeMounts");
            all.push(Mount {
                container: container.clone(),
                volume: string(field(m, "name", &what), &what).to_string(),
                path: string(field(m, "mountPath", &what), &what).to_string(),
                sub_path: ["subPath", "subPathExpr"]
                    .into_iter()
                    .find_map(|k| m.get(k).and_then(Value::as_str))
                    .map(str::to_string),
                read_only: m.get("readOnly").and_then(Value::as_bool) == Some(true),
            });
        }
    }
    all
}

/// Every string of `value` with its key path (`clusters.A.security.ca_file`,
/// `mirrors[0].topics[1]`).
fn strings_mut(value: &mut Value, key: &str, f: &mut dyn FnMut(&str, &mut String)) {
    match value {
        Value::String(s) => f(key, s),
        Value::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                let k = k.as_str().unwrap_or("?");
                let key = if key.is_empty() {
                    k.to_string()
                } else {
                    format!("{key}.{k}")
                };
                strings_mut(v, &key, f);
            }
        }
        Value::Sequence(list) => {
            for (i, v) in list.iter_mut().enumerate() {
                strings_mut(v, &format!("{key}[{i}]"), f);
            }
        }
        Value::Tagged(tagged) => strings_mut(&mut tagged.value, key, f),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The last part of a key path: `ca_file` of `clusters.A.security.ca_file`.
fn last_key(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// The test certificate that stands in for the file of a path key (`None`: not a path key).
fn certificate_for(key: &str) -> Option<&'static str> {
    match key {
        "ca_file" | "client_ca_file" => Some("ca.crt"),
        "cert_file" => Some("mirror.crt"),
        "key_file" => Some("mirror.key"),
        _ => None,
    }
}

/// The `${file:PATH}` references of a string value: where PATH is written, and PATH as strait
/// reads it (trimmed). `$${` is a literal `${`, as in strait's interpolation.
fn file_references(text: &str) -> Vec<(Range<usize>, String)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find('$') {
        let start = at + i;
        let rest = &text[start..];
        if rest.starts_with("$${") {
            at = start + 3;
        } else if let Some(inner) = rest.strip_prefix("${") {
            let Some(end) = inner.find('}') else {
                break;
            };
            if let Some(path) = inner[..end].strip_prefix("file:") {
                let path_start = start + "${file:".len();
                found.push((path_start..path_start + path.len(), path.trim().to_string()));
            }
            at = start + "${".len() + end + 1;
        } else {
            at = start + 1;
        }
    }
    found
}

/// The whole value is one `${file:...}` reference.
fn is_file_reference(value: &str) -> bool {
    value.starts_with("${file:") && value.ends_with('}') && file_references(value).len() == 1
}

/// Every file `config` makes strait read: the path keys' values and the `${file:...}` paths.
fn file_refs(config: &Value) -> Vec<FileRef> {
    let mut refs = Vec::new();
    strings_mut(&mut config.clone(), "", &mut |key, value| {
        if certificate_for(last_key(key)).is_some() {
            refs.push(FileRef {
                key: key.to_string(),
                path: value.clone(),
            });
        }
        for (_, path) in file_references(value) {
            refs.push(FileRef {
                key: key.to_string(),
                path,
            });
        }
    });
    refs
}

/// `config` with each file it reads replaced by a stand-in in `dir`: a copy of a test
/// certificate from `certs` for a path key, a line of text for `${file:...}`.
fn with_stand_ins(config: &Value, dir: &Path, certs: &Path) -> Value {
    let mut config = config.clone();
    let mut made = BTreeMap::new();
    strings_mut(&mut config, "", &mut |key, value| {
        if let Some(certificate) = certificate_for(last_key(key)) {
            *value = stand_in(&mut made, dir, value, Some(certs.join(certificate)));
        }
        for (range, path) in file_references(value).into_iter().rev() {
            let local = stand_in(&mut made, dir, &path, None);
            value.replace_range(range, &local);
        }
    });
    config
}

/// The local file standing in for `container_path` (made once per path): a copy of `copy_of`,
/// or a line of text.
fn stand_in(
    made: &mut BTreeMap<String, String>,
    dir: &Path,
    container_path: &str,
    copy_of: Option<PathBuf>,
) -> String {
    if let Some(local) = made.get(container_path) {
        return local.clone();
    }
    let name = container_path.trim_start_matches('/').replace('/', "_");
    let local = dir.join(format!("{}-{name}", made.len()));
    match copy_of {
        Some(source) => std::fs::copy(&source, &local).map(drop),
        None => std::fs::write(&local, format!("stand-in for {container_path}\n")),
    }
    .unwrap_or_else(|e| panic!("cannot write {}: {e}", local.display()));
    let local = local.to_string_lossy().into_owned();
    made.insert(container_path.to_string(), local.clone());
    local
}
