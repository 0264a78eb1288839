//! The resolved stack: what every later stage (check, render, plan) works on.
//!
//! Everything here is already merged (catalog -> stack file -> environment
//! overlay), typed and defaulted. Values that reference secrets or other services
//! stay as [`Template`]s: the model never holds a plaintext secret.

use indexmap::IndexMap;
use ipnet::{IpNet, Ipv4Net};
use serde::Serialize;

use crate::source::{Sources, Span};
use crate::stack::backup::{Backup, BackupTime, Retention};
use crate::stack::kinds::{
    Access, Charset, Condition, Datasource, Generator, HookKind, Kind, Probe,
};
use crate::stack::raw::RawModel;
use crate::stack::template::Template;
use crate::units::{Mib, Seconds};

#[derive(Debug, Serialize)]
pub struct Stack {
    /// Environment this model was resolved for.
    pub env: String,
    pub project: Project,
    pub vpn: Option<Vpn>,
    pub hosts: IndexMap<String, Host>,
    pub networks: IndexMap<String, Network>,
    /// Enabled services only, in name order.
    pub services: IndexMap<String, Service>,
    /// Every secret the enabled services and the stack need, in name order.
    pub secrets: IndexMap<String, SecretSpec>,
    pub databases: Vec<Database>,
    pub external_databases: IndexMap<String, ExternalDatabase>,
    pub identity: Option<String>,
    pub recipients: Vec<String>,
    /// Jobs, repository and schedule, when the stack has `[backup]`.
    pub backup: Option<Backup>,
    #[serde(skip)]
    pub sources: Sources,
    #[serde(skip)]
    pub stack_span: Option<Span>,
}

#[derive(Debug, Serialize)]
pub struct Project {
    /// The environment's project on the engine: `[project] name` for the first
    /// environment, `NAME-ENV` for the others. Containers, networks, volumes, the
    /// lock and `/opt/NAME` carry it.
    pub name: String,
    /// The first of `[project] environments`: it keeps the bare project name, the
    /// standard subnets and `secrets.age`.
    pub primary: bool,
    pub domain: Option<String>,
    pub timezone: String,
    pub email: Option<String>,
    pub webhook: Option<String>,
    /// Release records kept per host (`[project] keep_releases`, at least 1).
    pub keep_releases: usize,
}

#[derive(Debug, Serialize)]
pub struct Vpn {
    pub cidr: IpNet,
    pub headscale_url: Option<String>,
    /// Host running Headscale, if it is part of the stack.
    pub server: Option<String>,
    /// What `access = "vpn"` admits besides `cidr`, as the operator listed it.
    pub also_admit: Vec<AdmittedRange>,
}

#[derive(Debug, Serialize)]
pub struct AdmittedRange {
    pub range: IpNet,
    #[serde(skip)]
    pub span: Option<Span>,
}

#[derive(Debug, Serialize)]
pub struct Host {
    pub name: String,
    pub address: Option<String>,
    pub vpn_address: Option<String>,
    pub ssh_user: String,
    pub ssh_port: u16,
    /// Public keys of the operators allowed to log in as `ssh_user`.
    pub ssh_keys: Vec<String>,
    pub memory: Option<Mib>,
    pub os_reserve: Mib,
    pub cpus: Option<f64>,
    pub arch: String,
    #[serde(skip)]
    pub span: Option<Span>,
    #[serde(skip)]
    pub memory_span: Option<Span>,
}

#[derive(Debug, Serialize)]
pub struct Network {
    pub name: String,
    pub subnet: Ipv4Net,
    pub internal: bool,
    #[serde(skip)]
    pub span: Option<Span>,
}

#[derive(Debug, Serialize)]
pub struct ExternalDatabase {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub sslmode: Option<String>,
    pub provision: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretSpec {
    pub name: String,
    pub description: String,
    pub provided: bool,
    pub length: usize,
    pub charset: Charset,
    /// Who declared it: a service name, `stack`, `database`, `redis` or `vpn`.
    pub owner: String,
    /// Read only by `vpai host bootstrap` (the Headscale pre-auth key): the bundle
    /// neither needs nor holds it, so `render` and deploys work without it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bootstrap_only: bool,
    /// The same value in every environment (`shared = true`): read from the
    /// first environment's `secrets.age` whichever environment runs.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
}

/// A PostgreSQL database and its role. The password is one secret
/// (`password_secret`) that provisioning and every consumer read.
#[derive(Debug, Clone, Serialize)]
pub struct Database {
    pub name: String,
    pub user: String,
    pub extensions: Vec<String>,
    pub server: String,
    pub owner_service: String,
    pub password_secret: String,
}

#[derive(Debug, Serialize)]
pub struct Service {
    pub name: String,
    /// Catalog entry it comes from, or `None` for a custom image.
    pub catalog: Option<String>,
    pub description: Option<String>,
    pub image: String,
    pub host: String,
    pub kind: Kind,
    pub port: Option<u16>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub user: Option<String>,
    pub init: bool,
    pub platforms: Vec<String>,
    pub needs_internet: bool,
    pub supports_subpath: bool,
    pub networks: Vec<String>,
    pub cap_add: Vec<String>,
    pub group_add: Vec<String>,
    pub read_only: bool,
    pub health: Option<Health>,
    pub resources: Resources,
    pub env: IndexMap<String, Template>,
    /// Env vars that apply once the named service is enabled; folded into `env`
    /// during resolution.
    #[serde(skip)]
    pub consumes: IndexMap<String, IndexMap<String, Template>>,
    pub files: IndexMap<String, ConfigFile>,
    pub data: Vec<DataDir>,
    pub mounts: Vec<Mount>,
    pub databases: Vec<String>,
    /// Databases of other services this one reads, as the catalog or stack says.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reads_databases: Vec<String>,
    /// The datasource it offers Grafana, as its catalog entry says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasource: Option<Datasource>,
    pub redis_user: Option<RedisUser>,
    pub routes: Vec<Route>,
    pub ports: Vec<Port>,
    pub depends_on: IndexMap<String, Dependency>,
    pub exports: IndexMap<String, Template>,
    pub models: Vec<RawModelView>,
    pub fallbacks: IndexMap<String, Vec<String>>,
    pub config: Option<serde_json::Value>,
    /// The hook that stages this service's data for a backup job, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<ServiceBackup>,
    #[serde(skip)]
    pub span: Option<Span>,
    #[serde(skip)]
    pub network_spans: Vec<Option<Span>>,
}

/// A service's backup hook with its defaults applied. It becomes a job only
/// when the stack has a `[backup]` section.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceBackup {
    pub hook: HookKind,
    /// `files` hook: the data directories, relative to `/opt/<project>`.
    pub paths: Vec<String>,
    pub at: BackupTime,
    pub retention: Retention,
}

impl Stack {
    /// The networks some of `services` use, in name order.
    pub fn networks_of<'a>(&'a self, services: &[&Service]) -> Vec<&'a Network> {
        let mut used: Vec<&str> = services
            .iter()
            .flat_map(|s| s.networks.iter().map(String::as_str))
            .collect();
        used.sort();
        used.dedup();
        used.into_iter()
            .filter_map(|n| self.networks.get(n))
            .collect()
    }
}

impl Stack {
    /// `(site, VPN address)` of every service on another host that `service` names
    /// in its env (`services.X.public_url`): its container resolves those sites to
    /// the serving host's VPN address itself (`extra_hosts`), whatever DNS the host
    /// has — 002 §12.6 is what happens when that depends on each resolver.
    pub fn cross_host_sites(&self, service: &Service) -> Vec<(String, String)> {
        let mut sites = Vec::new();
        for value in service.env.values() {
            for reference in value.references().unwrap_or_default() {
                let mut parts = reference.split('.');
                let (Some("services"), Some(name)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let Some(target) = self.services.get(name) else {
                    continue;
                };
                let Some(address) = self
                    .hosts
                    .get(&target.host)
                    .and_then(|h| h.vpn_address.as_ref())
                else {
                    continue;
                };
                if target.host == service.host {
                    continue;
                }
                for route in &target.routes {
                    if self.project.domain.is_some() {
                        let site = route.site(self.project.domain.as_deref());
                        let entry = (site, address.clone());
                        if !sites.contains(&entry) {
                            sites.push(entry);
                        }
                    }
                }
            }
        }
        sites.sort();
        sites
    }
}

impl Service {
    /// Whether vpai writes one of this service's config files with `generator`:
    /// what the code knows of a catalog service instead of its name.
    pub fn generates(&self, generator: Generator) -> bool {
        self.files
            .values()
            .any(|f| matches!(f.source, FileSource::Generator(g) if g == generator))
    }

    pub fn has_healthcheck(&self) -> bool {
        self.health.is_some()
    }

    /// `config = { local_certs = true }` on a proxy: certificates from Caddy's own
    /// CA, for staging and tests where no ACME server is reachable.
    pub fn local_certs(&self) -> bool {
        self.config
            .as_ref()
            .and_then(|c| c.get("local_certs"))
            .and_then(|v| v.as_bool())
            == Some(true)
    }

    /// Container name on the host.
    pub fn container_name(&self, project: &str) -> String {
        container_name(project, &self.name)
    }
}

/// A service's container name on the host: `<project>_<service>`.
pub fn container_name(project: &str, service: &str) -> String {
    format!("{project}_{service}")
}

#[derive(Debug, Clone, Serialize)]
pub struct RawModelView {
    pub name: String,
    pub model: String,
    pub key: String,
    pub max_tokens: Option<u32>,
    pub api_base: Option<String>,
}

impl From<RawModel> for RawModelView {
    fn from(m: RawModel) -> Self {
        Self {
            name: m.name,
            model: m.model,
            key: m.key,
            max_tokens: m.max_tokens,
            api_base: m.api_base,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub enum HealthTest {
    /// HTTP GET of a path on the service port, with a probe tool present in the image.
    Http {
        path: String,
        port: u16,
        probe: Probe,
    },
    /// TCP connect through bash `/dev/tcp`.
    Tcp {
        port: u16,
    },
    Exec(Vec<String>),
    Shell(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub test: HealthTest,
    pub interval: Seconds,
    pub timeout: Seconds,
    pub retries: u32,
    pub start_period: Seconds,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    pub memory: Mib,
    pub cpus: f64,
    pub pids: u32,
    pub reserve: Mib,
    #[serde(skip)]
    pub memory_span: Option<Span>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigFile {
    pub name: String,
    pub mount: String,
    pub source: FileSource,
    pub mode: u32,
}

#[derive(Debug, Clone, Serialize)]
pub enum FileSource {
    Generator(Generator),
    Template(String),
    Content(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct DataDir {
    pub container_path: String,
    /// Directory under `/opt/<project>/data/`.
    pub dir: String,
    pub owner: Option<String>,
    pub identity: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mount {
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// Lint rule -> why this mount is accepted anyway.
    pub lint_ignore: std::collections::BTreeMap<String, String>,
}

impl Mount {
    /// `source:target[:ro]`, as Docker binds and compose volumes write it.
    pub fn bind(&self) -> String {
        format!(
            "{}:{}{}",
            self.source,
            self.target,
            if self.read_only { ":ro" } else { "" }
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RedisUser {
    pub user: String,
    pub rules: String,
    pub password_secret: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub subdomain: Option<String>,
    pub path: Option<String>,
    pub strip_prefix: bool,
    pub access: Access,
    pub websocket: bool,
    pub port: u16,
    #[serde(skip)]
    pub span: Option<Span>,
}

impl Route {
    /// The site address this route belongs to: `sub.domain`, `domain`, or `:80`.
    pub fn site(&self, domain: Option<&str>) -> String {
        match (domain, &self.subdomain) {
            (Some(d), Some(s)) => format!("{s}.{d}"),
            (Some(d), None) => d.to_string(),
            (None, _) => ":80".to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Port {
    pub published: u16,
    pub target: u16,
    pub bind: String,
    pub protocol: String,
    pub public: bool,
    #[serde(skip)]
    pub span: Option<Span>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dependency {
    pub condition: Condition,
    /// Added by vpai (database server, Redis) rather than written by the operator.
    pub implicit: bool,
    #[serde(skip)]
    pub span: Option<Span>,
}

/// Where a project lives on its host.
pub fn host_root(project: &str) -> String {
    format!("/opt/{project}")
}
