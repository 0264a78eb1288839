//! What runs for each service, said once: image, command, user, mounts, networks and
//! aliases, ports with their bind addresses, limits, security options, health check,
//! restart, init, labels, extra hosts. Built from the resolved stack while the bundle
//! is rendered; the compose writer (`compose.rs`) and the Docker engine
//! (`engine::desired`) only serialise it, so neither decides policy and the two
//! cannot drift (`tests/agreement.rs` compares Compose v2's reading of the file with
//! the engine's container specs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::stack::kinds::{Condition, Probe};
use crate::stack::model::{HealthTest, Service};
use crate::stack::{Stack, host_root};

/// Where a bind mount's source lives on the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Source {
    /// Under the project root (`/opt/<project>/`), which the bundle mirrors: the
    /// compose file names it relatively (`./configs/...`).
    Bundle(String),
    /// An absolute host path.
    Host(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bind {
    pub source: Source,
    pub target: String,
    pub read_only: bool,
}

impl Bind {
    /// `SOURCE:TARGET[:ro]`, with a bundle source under `root`.
    pub fn spec(&self, root: &str) -> String {
        let source = match &self.source {
            Source::Bundle(rel) => format!("{root}/{rel}"),
            Source::Host(path) => path.clone(),
        };
        format!(
            "{source}:{}{}",
            self.target,
            if self.read_only { ":ro" } else { "" }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// The host address the port listens on (`127.0.0.1`, a VPN address, `0.0.0.0`).
    pub bind: String,
    pub published: u16,
    pub target: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Healthcheck {
    /// As Docker takes it: `CMD ...` or `CMD-SHELL ...`.
    pub test: Vec<String>,
    pub interval_secs: u64,
    pub timeout_secs: u64,
    pub retries: u32,
    pub start_period_secs: u64,
}

impl Healthcheck {
    /// The longest a container can take to turn healthy: its start period, then
    /// every retry's interval and timeout, with ten seconds of slack.
    pub fn patience_secs(&self) -> u64 {
        self.start_period_secs
            + (self.interval_secs + self.timeout_secs) * (u64::from(self.retries) + 1)
            + 10
    }
}

/// Every container vpai makes drops all capabilities and cannot gain privileges
/// (001 §5, CIS 5.3 and 5.25); a service adds back only what its catalog entry names.
pub const CAP_DROP: &str = "ALL";
pub const SECURITY_OPT: &str = "no-new-privileges:true";

/// The labels that make a container readable back as a service of a project.
pub const LABEL_PROJECT: &str = "vpai.project";
pub const LABEL_SERVICE: &str = "vpai.service";

/// Docker's restart policies vpai sets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Restart {
    /// Every service: a crash restarts it, `docker stop` and `vpai down` are obeyed.
    UnlessStopped,
}

impl Restart {
    /// As compose files and `docker inspect` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Restart::UnlessStopped => "unless-stopped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub service: String,
    pub container_name: String,
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub user: Option<String>,
    pub init: bool,
    /// The env file under the project root, when the service has variables.
    pub env_file: Option<String>,
    pub cap_drop: Vec<String>,
    pub cap_add: Vec<String>,
    pub security_opt: Vec<String>,
    pub group_add: Vec<String>,
    pub read_only: bool,
    /// The stack's network names; the container is created on the first.
    pub networks: Vec<String>,
    /// The names other containers reach this one by.
    pub aliases: Vec<String>,
    pub ports: Vec<Published>,
    pub binds: Vec<Bind>,
    /// `SITE:ADDRESS` entries for the sites of services on other hosts.
    pub extra_hosts: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
    /// Services of the same host this one waits for.
    pub depends_on: Vec<(String, Condition)>,
    pub memory_mib: u64,
    pub reserve_mib: u64,
    pub cpus: f64,
    pub pids: u32,
    pub restart: Restart,
    pub labels: BTreeMap<String, String>,
}

/// The command Docker runs to probe a service's health.
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

/// The workload of `s`; `has_env` says whether its env file is written.
pub fn workload(stack: &Stack, s: &Service, has_env: bool) -> Workload {
    let project = &stack.project.name;
    let mut binds: Vec<Bind> = s
        .files
        .values()
        .map(|f| Bind {
            source: Source::Bundle(super::config_path(s, &f.name)),
            target: f.mount.clone(),
            read_only: true,
        })
        .collect();
    for d in &s.data {
        let rel = format!("data/{}", d.dir);
        binds.push(if d.identity {
            // The same path inside as outside: tools that record their own paths
            // (n8n's binary data, restic caches) find them again after a move.
            let path = format!("{}/{rel}", host_root(project));
            Bind {
                source: Source::Host(path.clone()),
                target: path,
                read_only: false,
            }
        } else {
            Bind {
                source: Source::Bundle(rel),
                target: d.container_path.clone(),
                read_only: false,
            }
        });
    }
    binds.extend(s.mounts.iter().map(|m| Bind {
        source: Source::Host(m.source.clone()),
        target: m.target.clone(),
        read_only: m.read_only,
    }));
    Workload {
        service: s.name.clone(),
        container_name: s.container_name(project),
        image: s.image.clone(),
        entrypoint: s.entrypoint.clone(),
        command: s.command.clone(),
        user: s.user.clone(),
        init: s.init,
        env_file: has_env.then(|| super::env_file::path(s)),
        cap_drop: vec![CAP_DROP.to_string()],
        cap_add: s.cap_add.clone(),
        security_opt: vec![SECURITY_OPT.to_string()],
        group_add: s.group_add.clone(),
        read_only: s.read_only,
        networks: s.networks.clone(),
        aliases: vec![s.name.clone()],
        ports: s
            .ports
            .iter()
            .map(|p| Published {
                bind: p.bind.clone(),
                published: p.published,
                target: p.target,
                protocol: p.protocol.clone(),
            })
            .collect(),
        binds,
        extra_hosts: stack
            .cross_host_sites(s)
            .into_iter()
            .map(|(site, address)| format!("{site}:{address}"))
            .collect(),
        healthcheck: s.health.as_ref().map(|h| Healthcheck {
            test: health_test(&h.test),
            interval_secs: h.interval.0,
            timeout_secs: h.timeout.0,
            retries: h.retries,
            start_period_secs: h.start_period.0,
        }),
        depends_on: s
            .depends_on
            .iter()
            .filter(|(dep, _)| stack.services.get(*dep).is_some_and(|d| d.host == s.host))
            .map(|(dep, d)| (dep.clone(), d.condition))
            .collect(),
        memory_mib: s.resources.memory.0,
        reserve_mib: s.resources.reserve.0,
        cpus: s.resources.cpus,
        pids: s.resources.pids,
        restart: Restart::UnlessStopped,
        labels: BTreeMap::from([
            (LABEL_PROJECT.to_string(), project.clone()),
            (LABEL_SERVICE.to_string(), s.name.clone()),
        ]),
    }
}
