//! The desired state of one host: networks, host files and one container per service,
//! built from the resolved stack and its rendered bundle.
//!
//! Every container carries labels that make the actual state readable back:
//! `vpai.project`, `vpai.service`, `vpai.config-hash` (image + env + config file
//! contents + container settings), the digest of each config file and the list of
//! env keys vpai set, so a plan can say *why* a container changes without ever
//! showing a value. The `com.docker.compose.*` labels let `docker compose -p NAME
//! ps/logs` work on the host.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::render::Bundle;
use crate::render::workload::{Healthcheck, Restart};
use crate::stack::kinds::Condition;
use crate::stack::model::Service;
use crate::stack::{Stack, host_root};

pub use crate::render::workload::{LABEL_PROJECT, LABEL_SERVICE};
pub const LABEL_HASH: &str = "vpai.config-hash";
pub const LABEL_IMAGE: &str = "vpai.image";
pub const LABEL_FILES: &str = "vpai.files";
pub const LABEL_ENV_KEYS: &str = "vpai.env-keys";
pub const LABEL_SETTINGS: &str = "vpai.settings-hash";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DesiredNetwork {
    /// Name on the host: `<project>_<network>`.
    pub name: String,
    pub subnet: String,
    pub internal: bool,
    /// Always `bridge` today: one engine per host, no overlay.
    pub driver: String,
}

/// A file or directory to create under the project root on the host.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct HostEntry {
    /// Path relative to `/opt/<project>`.
    pub path: String,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// `None` for a directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl std::fmt::Debug for HostEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:o} {}:{}", self.path, self.mode, self.uid, self.gid)
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct DesiredContainer {
    pub service: String,
    pub name: String,
    pub image: String,
    pub hash: String,
    /// Env vars vpai sets (values are secrets: never printed).
    pub env: BTreeMap<String, String>,
    pub file_digests: BTreeMap<String, String>,
    pub settings_hash: String,
    pub networks: Vec<String>,
    pub depends_on: Vec<(String, Condition)>,
    pub has_health: bool,
    /// How long the health gate waits before declaring failure.
    pub health_timeout_secs: u64,
    pub spec: ContainerCreateBody,
}

impl DesiredContainer {
    /// The names the container is reached by, as its workload gives them to the
    /// network it is created on; every other network it joins gets the same.
    pub fn aliases(&self) -> Vec<String> {
        self.spec
            .networking_config
            .as_ref()
            .and_then(|n| n.endpoints_config.as_ref())
            .and_then(|e| self.networks.first().and_then(|first| e.get(first)))
            .and_then(|e| e.aliases.clone())
            .unwrap_or_else(|| vec![self.service.clone()])
    }
}

impl std::fmt::Debug for DesiredContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredContainer")
            .field("name", &self.name)
            .field("image", &self.image)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Desired {
    pub project: String,
    pub host: String,
    pub networks: Vec<DesiredNetwork>,
    pub entries: Vec<HostEntry>,
    pub containers: Vec<DesiredContainer>,
    /// Release records kept on the host after an apply.
    #[serde(default = "default_keep_releases")]
    pub keep_releases: usize,
    /// The stack's age recipients: the release record, which holds this state with
    /// its secrets, is encrypted to them.
    #[serde(default)]
    pub release_recipients: Vec<String>,
}

fn default_keep_releases() -> usize {
    10
}

fn nanos(seconds: u64) -> i64 {
    (seconds as i64) * 1_000_000_000
}

fn owner(spec: Option<&str>) -> (u64, u64) {
    let Some(spec) = spec else { return (0, 0) };
    let mut parts = spec.split(':');
    let uid = parts.next().and_then(|u| u.parse().ok()).unwrap_or(0);
    let gid = parts.next().and_then(|g| g.parse().ok()).unwrap_or(uid);
    (uid, gid)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with every object's keys sorted: the spec holds `HashMap`s (port bindings,
/// endpoints), whose order would otherwise change the hash from run to run.
fn canonical_json(value: &impl Serialize) -> String {
    fn sort(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.sort_keys();
                map.values_mut().for_each(sort);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(sort),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(value).expect("serializes");
    sort(&mut v);
    v.to_string()
}

/// Whether the daemon understands healthcheck `start_interval` (API 1.44, Engine 25).
pub fn supports_start_interval(api_version: &str) -> bool {
    let mut parts = api_version
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (1, 44)
}

/// The desired state of `host`, for a daemon speaking `api_version`.
pub fn desired(stack: &Stack, bundle: &Bundle, host: &str, api_version: &str) -> Desired {
    let project = &stack.project.name;
    let root = host_root(project);
    let services: Vec<&Service> = stack.services.values().filter(|s| s.host == host).collect();

    let networks = stack
        .networks_of(&services)
        .into_iter()
        .map(|n| DesiredNetwork {
            name: format!("{project}_{}", n.name),
            subnet: n.subnet.to_string(),
            internal: n.internal,
            driver: "bridge".to_string(),
        })
        .collect();

    let mut entries = vec![
        HostEntry {
            path: String::new(),
            mode: 0o755,
            uid: 0,
            gid: 0,
            content: None,
        },
        HostEntry {
            path: "configs".into(),
            mode: 0o755,
            uid: 0,
            gid: 0,
            content: None,
        },
        HostEntry {
            path: "data".into(),
            mode: 0o755,
            uid: 0,
            gid: 0,
            content: None,
        },
        HostEntry {
            path: "backups".into(),
            mode: 0o700,
            uid: 0,
            gid: 0,
            content: None,
        },
        HostEntry {
            path: "releases".into(),
            mode: 0o700,
            uid: 0,
            gid: 0,
            content: None,
        },
    ];
    let prefix = format!("{host}/");
    for (path, file) in &bundle.files {
        let Some(rel) = path.to_str().and_then(|p| p.strip_prefix(&prefix)) else {
            continue;
        };
        if !rel.starts_with("configs/") {
            continue;
        }
        let dir = rel
            .rsplit_once('/')
            .map(|(d, _)| d)
            .unwrap_or_default()
            .to_string();
        if !entries.iter().any(|e| e.path == dir) {
            entries.push(HostEntry {
                path: dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                content: None,
            });
        }
        entries.push(HostEntry {
            path: rel.to_string(),
            mode: file.mode,
            uid: 0,
            gid: 0,
            content: Some(file.content.clone()),
        });
    }
    for service in &services {
        for d in service.data.iter().filter(|d| !d.identity) {
            let (uid, gid) = owner(d.owner.as_deref());
            let mut path = String::from("data");
            for part in d.dir.split('/') {
                path = format!("{path}/{part}");
                if !entries.iter().any(|e| e.path == path) {
                    entries.push(HostEntry {
                        path: path.clone(),
                        mode: 0o755,
                        uid,
                        gid,
                        content: None,
                    });
                }
            }
        }
        for d in service.data.iter().filter(|d| d.identity) {
            let (uid, gid) = owner(d.owner.as_deref());
            entries.push(HostEntry {
                path: format!("data/{}", d.dir),
                mode: 0o755,
                uid,
                gid,
                content: None,
            });
        }
    }

    let start_interval = supports_start_interval(api_version);
    let containers = services
        .iter()
        .map(|s| container(bundle, s, &root, start_interval))
        .collect();
    Desired {
        project: project.clone(),
        host: host.to_string(),
        networks,
        entries,
        containers,
        keep_releases: stack.project.keep_releases,
        release_recipients: stack.recipients.clone(),
    }
}

fn container(bundle: &Bundle, s: &Service, root: &str, start_interval: bool) -> DesiredContainer {
    let output = &bundle.services[&s.name];
    let w = &output.workload;
    let project = &w.labels[LABEL_PROJECT];
    let env: BTreeMap<String, String> = output
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let binds: Vec<String> = w.binds.iter().map(|b| b.spec(root)).collect();

    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut exposed = Vec::new();
    for p in &w.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        exposed.push(key.clone());
        port_bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .as_mut()
            .expect("inserted")
            .push(PortBinding {
                host_ip: Some(p.bind.clone()),
                host_port: Some(p.published.to_string()),
            });
    }

    let healthcheck = w.healthcheck.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: Some(nanos(h.interval_secs)),
        timeout: Some(nanos(h.timeout_secs)),
        retries: Some(i64::from(h.retries)),
        start_period: Some(nanos(h.start_period_secs)),
        // Seen healthy within a second of being ready, not after a full interval.
        start_interval: start_interval.then(|| nanos(1)),
    });
    let health_timeout_secs = w
        .healthcheck
        .as_ref()
        .map(Healthcheck::patience_secs)
        .unwrap_or(30);

    let networks: Vec<String> = w
        .networks
        .iter()
        .map(|n| format!("{project}_{n}"))
        .collect();
    let endpoints = networks.first().map(|n| {
        HashMap::from([(
            n.clone(),
            EndpointSettings {
                aliases: Some(w.aliases.clone()),
                ..Default::default()
            },
        )])
    });
    let restart = match w.restart {
        Restart::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
    };

    let mut spec = ContainerCreateBody {
        image: Some(w.image.clone()),
        env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        cmd: w.command.clone(),
        entrypoint: w.entrypoint.clone(),
        user: w.user.clone(),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck,
        host_config: Some(HostConfig {
            binds: Some(binds),
            cap_drop: Some(w.cap_drop.clone()),
            cap_add: (!w.cap_add.is_empty()).then(|| w.cap_add.clone()),
            security_opt: Some(w.security_opt.clone()),
            init: w.init.then_some(true),
            group_add: (!w.group_add.is_empty()).then(|| w.group_add.clone()),
            readonly_rootfs: w.read_only.then_some(true),
            memory: Some(w.memory_mib as i64 * 1024 * 1024),
            memory_reservation: Some(w.reserve_mib as i64 * 1024 * 1024),
            nano_cpus: Some((w.cpus * 1e9) as i64),
            pids_limit: Some(i64::from(w.pids)),
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            restart_policy: Some(RestartPolicy {
                name: Some(restart),
                maximum_retry_count: None,
            }),
            network_mode: networks.first().cloned(),
            extra_hosts: (!w.extra_hosts.is_empty()).then(|| w.extra_hosts.clone()),
            ..Default::default()
        }),
        networking_config: endpoints.map(|e| NetworkingConfig {
            endpoints_config: Some(e),
        }),
        ..Default::default()
    };

    // Everything but env and files, so a plan can name "settings" as the reason.
    let mut settings_view = spec.clone();
    settings_view.env = None;
    let settings_hash = hex(&Sha256::digest(canonical_json(&settings_view).as_bytes()));
    let mut hasher = Sha256::new();
    hasher.update(output.config_hash.as_bytes());
    hasher.update(settings_hash.as_bytes());
    let hash = hex(&hasher.finalize());

    let mut labels: HashMap<String, String> = w
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.extend([
        (LABEL_HASH.to_string(), hash.clone()),
        (LABEL_IMAGE.to_string(), w.image.clone()),
        (
            LABEL_FILES.to_string(),
            serde_json::to_string(&output.file_digests).expect("serializes"),
        ),
        (
            LABEL_ENV_KEYS.to_string(),
            env.keys().cloned().collect::<Vec<_>>().join(","),
        ),
        (LABEL_SETTINGS.to_string(), settings_hash.clone()),
        ("com.docker.compose.project".to_string(), project.clone()),
        ("com.docker.compose.service".to_string(), w.service.clone()),
        (
            "com.docker.compose.container-number".to_string(),
            "1".to_string(),
        ),
        ("com.docker.compose.oneoff".to_string(), "False".to_string()),
        ("com.docker.compose.config-hash".to_string(), hash.clone()),
    ]);
    spec.labels = Some(labels);

    DesiredContainer {
        service: w.service.clone(),
        name: w.container_name.clone(),
        image: w.image.clone(),
        hash,
        env,
        file_digests: output.file_digests.clone(),
        settings_hash,
        networks,
        depends_on: w.depends_on.clone(),
        has_health: w.healthcheck.is_some(),
        health_timeout_secs,
        spec,
    }
}
