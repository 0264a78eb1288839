//! The compose file of one host.
//!
//! One file with `depends_on` conditions rather than the two-phase split of 002 §2.2:
//! vpai's engine walks the dependency graph itself, and a single file keeps plain
//! `docker compose up` correct for operators who use it directly.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Serialize;

use crate::stack::Stack;
use crate::stack::kinds::{Condition, Probe};
use crate::stack::model::{HealthTest, Service};

#[derive(Serialize)]
struct ComposeFile<'a> {
    name: &'a str,
    services: IndexMap<&'a str, ComposeService>,
    networks: IndexMap<&'a str, ComposeNetwork>,
}

#[derive(Serialize)]
struct ComposeService {
    image: String,
    container_name: String,
    restart: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    init: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env_file: Vec<String>,
    cap_drop: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<String>,
    security_opt: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_add: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
    networks: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<ComposeHealth>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    depends_on: IndexMap<String, ComposeDependency>,
    deploy: Deploy,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ComposeHealth {
    test: Vec<String>,
    interval: String,
    timeout: String,
    retries: u32,
    start_period: String,
}

#[derive(Serialize)]
struct ComposeDependency {
    condition: &'static str,
}

#[derive(Serialize)]
struct Deploy {
    resources: DeployResources,
}

#[derive(Serialize)]
struct DeployResources {
    limits: Limits,
    reservations: Reservations,
}

#[derive(Serialize)]
struct Limits {
    memory: String,
    cpus: String,
    // Here and not as the service's `pids_limit`: Compose v2 refuses a file that sets
    // both places unless they agree, and `deploy.resources` already holds the others.
    pids: u32,
}

#[derive(Serialize)]
struct Reservations {
    memory: String,
}

#[derive(Serialize)]
struct ComposeNetwork {
    name: String,
    driver: &'static str,
    internal: bool,
    ipam: Ipam,
}

#[derive(Serialize)]
struct Ipam {
    config: Vec<IpamConfig>,
}

#[derive(Serialize)]
struct IpamConfig {
    subnet: String,
}

/// Compose interpolates `$`; a literal dollar must be doubled.
fn literal(s: &str) -> String {
    s.replace('$', "$$")
}

pub fn health_test(test: &HealthTest) -> Vec<String> {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match test {
        HealthTest::Http { path, port, probe } => {
            let url = format!("http://127.0.0.1:{port}{path}");
            match probe {
                Probe::Wget => strings(&["CMD", "wget", "-q", "-O", "/dev/null", &url]),
                Probe::Curl => strings(&["CMD", "curl", "-fsS", "-o", "/dev/null", &url]),
                Probe::Python => vec![
                    "CMD".into(),
                    "python".into(),
                    "-c".into(),
                    format!("import urllib.request; urllib.request.urlopen('{url}', timeout=4)"),
                ],
                Probe::Node => vec![
                    "CMD".into(),
                    "node".into(),
                    "-e".into(),
                    format!(
                        "require('http').get('{url}', r => process.exit(r.statusCode < 400 ? 0 : 1)).on('error', () => process.exit(1))"
                    ),
                ],
            }
        }
        HealthTest::Tcp { port } => strings(&[
            "CMD",
            "bash",
            "-c",
            &format!(":> /dev/tcp/127.0.0.1/{port}"),
        ]),
        HealthTest::Exec(cmd) => std::iter::once("CMD".to_string())
            .chain(cmd.iter().cloned())
            .collect(),
        HealthTest::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
    }
}

fn service(stack: &Stack, s: &Service, has_env: bool, hash: &str) -> ComposeService {
    let project = &stack.project.name;
    let mut volumes: Vec<String> = s
        .files
        .values()
        .map(|f| format!("./{}:{}:ro", super::config_path(s, &f.name), f.mount))
        .collect();
    for d in &s.data {
        if d.identity {
            let host_path = format!("/opt/{project}/data/{}", d.dir);
            volumes.push(format!("{host_path}:{host_path}"));
        } else {
            volumes.push(format!("./data/{}:{}", d.dir, d.container_path));
        }
    }
    volumes.extend(s.mounts.iter().map(|m| m.bind()));
    let labels = BTreeMap::from([
        ("vpai.config-hash".to_string(), hash.to_string()),
        ("vpai.project".to_string(), project.clone()),
        ("vpai.service".to_string(), s.name.clone()),
    ]);
    ComposeService {
        image: s.image.clone(),
        container_name: s.container_name(project),
        restart: "unless-stopped",
        init: s.init.then_some(true),
        user: s.user.clone(),
        entrypoint: s
            .entrypoint
            .as_ref()
            .map(|v| v.iter().map(|a| literal(a)).collect()),
        command: s
            .command
            .as_ref()
            .map(|v| v.iter().map(|a| literal(a)).collect()),
        env_file: if has_env {
            vec![format!("./{}", super::env_file::path(s))]
        } else {
            Vec::new()
        },
        cap_drop: vec!["ALL"],
        cap_add: s.cap_add.clone(),
        security_opt: vec!["no-new-privileges:true"],
        group_add: s.group_add.clone(),
        read_only: s.read_only,
        networks: s.networks.clone(),
        ports: s
            .ports
            .iter()
            .map(|p| format!("{}:{}:{}/{}", p.bind, p.published, p.target, p.protocol))
            .collect(),
        volumes,
        extra_hosts: stack
            .cross_host_sites(s)
            .into_iter()
            .map(|(site, address)| format!("{site}:{address}"))
            .collect(),
        healthcheck: s.health.as_ref().map(|h| ComposeHealth {
            test: health_test(&h.test).iter().map(|a| literal(a)).collect(),
            interval: h.interval.to_string(),
            timeout: h.timeout.to_string(),
            retries: h.retries,
            start_period: h.start_period.to_string(),
        }),
        depends_on: s
            .depends_on
            .iter()
            .filter(|(dep, _)| stack.services.get(*dep).is_some_and(|d| d.host == s.host))
            .map(|(dep, d)| {
                (
                    dep.clone(),
                    ComposeDependency {
                        condition: match d.condition {
                            Condition::Healthy => "service_healthy",
                            Condition::Started => "service_started",
                        },
                    },
                )
            })
            .collect(),
        deploy: Deploy {
            resources: DeployResources {
                limits: Limits {
                    memory: s.resources.memory.to_string(),
                    cpus: format!("{}", s.resources.cpus),
                    pids: s.resources.pids,
                },
                reservations: Reservations {
                    memory: s.resources.reserve.to_string(),
                },
            },
        },
        labels,
    }
}

pub fn render(
    stack: &Stack,
    services: &[&Service],
    has_env: &BTreeMap<String, bool>,
    hashes: &BTreeMap<String, String>,
) -> String {
    let networks = stack
        .networks_of(services)
        .into_iter()
        .map(|n| {
            (
                n.name.as_str(),
                ComposeNetwork {
                    name: format!("{}_{}", stack.project.name, n.name),
                    driver: "bridge",
                    internal: n.internal,
                    ipam: Ipam {
                        config: vec![IpamConfig {
                            subnet: n.subnet.to_string(),
                        }],
                    },
                },
            )
        })
        .collect();
    let file = ComposeFile {
        name: &stack.project.name,
        services: services
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    service(
                        stack,
                        s,
                        has_env.get(&s.name).copied().unwrap_or(false),
                        &hashes[&s.name],
                    ),
                )
            })
            .collect(),
        networks,
    };
    let body = yaml_serde::to_string(&file).expect("compose model serializes");
    format!(
        "# {}\n---\n{}",
        super::HEADER,
        with_lint_ignores(&body, services)
    )
}

/// Put `# vpai: ignore[RULE] REASON` above each volume line whose mount accepts a
/// lint finding (`lint_ignore`), so `vpai lint` of the bundle shows the risk as a
/// decision with its reason. Serde cannot write comments, so this edits the text:
/// services are the two-space keys under `services:`, volumes the items under them.
fn with_lint_ignores(body: &str, services: &[&Service]) -> String {
    let mut out = String::with_capacity(body.len());
    let mut current: Option<&Service> = None;
    let mut in_services = false;
    for line in body.lines() {
        if !line.starts_with(' ') {
            in_services = line == "services:";
            current = None;
        } else if in_services && line.starts_with("  ") && !line.starts_with("   ") {
            let name = line.trim().trim_end_matches(':');
            current = services.iter().copied().find(|s| s.name == name);
        }
        if let (Some(service), Some(item)) = (current, line.strip_prefix("    - ")) {
            let item = item.trim_matches(|c| c == '\'' || c == '"');
            for mount in service.mounts.iter().filter(|m| m.bind() == item) {
                for (rule, reason) in &mount.lint_ignore {
                    out.push_str(&format!("    # vpai: ignore[{rule}] {reason}\n"));
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
