//! The compose file of one host.
//!
//! One file with `depends_on` conditions rather than the two-phase split of 002 §2.2:
//! vpai's engine walks the dependency graph itself, and a single file keeps plain
//! `docker compose up` correct for operators who use it directly.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Serialize;

use super::workload::Workload;
use crate::stack::Stack;
use crate::stack::kinds::Condition;
use crate::stack::model::Service;
use crate::units::{Mib, Seconds};

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
    cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<String>,
    security_opt: Vec<String>,
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

fn service(w: &Workload, hash: &str) -> ComposeService {
    let mut labels = w.labels.clone();
    labels.insert("vpai.config-hash".to_string(), hash.to_string());
    ComposeService {
        image: w.image.clone(),
        container_name: w.container_name.clone(),
        restart: w.restart.name(),
        init: w.init.then_some(true),
        user: w.user.clone(),
        entrypoint: w
            .entrypoint
            .as_ref()
            .map(|v| v.iter().map(|a| literal(a)).collect()),
        command: w
            .command
            .as_ref()
            .map(|v| v.iter().map(|a| literal(a)).collect()),
        env_file: w.env_file.iter().map(|f| format!("./{f}")).collect(),
        cap_drop: w.cap_drop.clone(),
        cap_add: w.cap_add.clone(),
        security_opt: w.security_opt.clone(),
        group_add: w.group_add.clone(),
        read_only: w.read_only,
        networks: w.networks.clone(),
        ports: w
            .ports
            .iter()
            .map(|p| format!("{}:{}:{}/{}", p.bind, p.published, p.target, p.protocol))
            .collect(),
        // The compose file sits at the project root: bundle paths are relative.
        volumes: w.binds.iter().map(|b| b.spec(".")).collect(),
        extra_hosts: w.extra_hosts.clone(),
        healthcheck: w.healthcheck.as_ref().map(|h| ComposeHealth {
            test: h.test.iter().map(|a| literal(a)).collect(),
            interval: Seconds(h.interval_secs).to_string(),
            timeout: Seconds(h.timeout_secs).to_string(),
            retries: h.retries,
            start_period: Seconds(h.start_period_secs).to_string(),
        }),
        depends_on: w
            .depends_on
            .iter()
            .map(|(dep, condition)| {
                (
                    dep.clone(),
                    ComposeDependency {
                        condition: match condition {
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
                    memory: Mib(w.memory_mib).to_string(),
                    cpus: format!("{}", w.cpus),
                    pids: w.pids,
                },
                reservations: Reservations {
                    memory: Mib(w.reserve_mib).to_string(),
                },
            },
        },
        labels,
    }
}

/// The compose file of the host running `services`, from their outputs.
pub fn render(
    stack: &Stack,
    services: &[&Service],
    outputs: &BTreeMap<String, super::ServiceOutput>,
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
                    service(&outputs[&s.name].workload, &outputs[&s.name].config_hash),
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
