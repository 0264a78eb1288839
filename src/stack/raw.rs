//! The stack file and catalog entries exactly as written, before any resolution.
//!
//! These types mirror the TOML one to one (`deny_unknown_fields` everywhere, so a
//! typo is an error with a span, never silently ignored). Fields that later checks
//! point at keep their span through [`Spanned`]. Catalog entries and user services
//! share [`RawService`], which is why a user-defined service (any image) can say
//! everything a catalog entry can.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::kinds::{
    Access, Charset, Condition, Datasource, Generator, HookKind, Kind, Probe, ScheduleStyle,
};

/// `vpai.toml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "vpai stack file (vpai.toml)")]
pub struct RawStack {
    pub project: RawProject,
    /// How `secrets.age` is encrypted and where the identity to decrypt it is.
    #[serde(default)]
    pub age: RawAge,
    /// Secrets the stack itself declares (API keys the operator provides, tokens of
    /// custom services). Catalog services declare their own.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawSecret>")]
    pub secrets: IndexMap<Spanned<String>, RawSecret>,
    pub vpn: Option<RawVpn>,
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawHost>")]
    pub hosts: IndexMap<Spanned<String>, Spanned<RawHost>>,
    /// Extra Docker networks beyond the standard five.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawNetwork>")]
    pub networks: IndexMap<Spanned<String>, Spanned<RawNetwork>>,
    /// Database servers vpai does not run (a managed PostgreSQL).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawExternalDatabase>")]
    pub external_databases: IndexMap<Spanned<String>, Spanned<RawExternalDatabase>>,
    /// One table per enabled service, holding only what differs from the catalog.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawService>")]
    pub services: IndexMap<Spanned<String>, Spanned<RawService>>,
    /// Environment overlays: `[env.preprod]` changes hosts, domain and services.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawOverlay>")]
    pub env: IndexMap<Spanned<String>, Spanned<RawOverlay>>,
    /// Backups with restic: the repository, how jobs are started, per-job overrides.
    /// Without it, services' backup hooks stay unused.
    pub backup: Option<RawBackup>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    /// Lower-case name; prefixes containers, networks and host paths (`/opt/<name>`).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Base domain; services get `<subdomain>.<domain>`. Absent: Caddy serves `:80`.
    #[schemars(with = "Option<String>")]
    pub domain: Option<Spanned<String>>,
    /// A tz database name (`Europe/Paris`); default `UTC`.
    #[serde(default = "default_timezone")]
    #[schemars(with = "String")]
    pub timezone: Spanned<String>,
    /// Notification e-mail (ACME account, alerts).
    #[schemars(with = "Option<String>")]
    pub email: Option<Spanned<String>>,
    /// Notification webhook (LiteLLM alerting, backups).
    pub webhook: Option<String>,
    /// Environments this stack deploys. Defaults to `["prod", "preprod"]`.
    pub environments: Option<Vec<String>>,
    /// Release records kept on each host for `vpai rollback` (default 10, at least 1);
    /// older ones are removed after each apply.
    pub keep_releases: Option<u16>,
}

fn default_timezone() -> Spanned<String> {
    Spanned::new(0..0, "UTC".to_string())
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAge {
    /// age (`age1...`) or SSH (`ssh-ed25519 ...`) public keys `secrets.age` is encrypted to.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Identity file to decrypt with, relative to the stack directory. Overridden by
    /// `--identity` and `VPAI_IDENTITY`.
    pub identity: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    /// What the secret is, shown by `vpai secrets show` and the init wizard.
    pub description: Option<String>,
    /// The operator supplies the value (an API key); vpai never invents it.
    #[serde(default)]
    pub provided: bool,
    /// Length of a generated value (default 32).
    pub length: Option<usize>,
    /// Alphabet of a generated value.
    pub charset: Option<Charset>,
    /// One value for every environment, kept in `secrets.age` (the first
    /// environment's file). Without it each environment has its own value, in
    /// `secrets.ENV.age` beyond the first.
    #[serde(default)]
    pub shared: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVpn {
    /// The VPN's address range, e.g. `100.64.0.0/10` for Headscale/Tailscale.
    #[schemars(with = "String")]
    pub cidr: Spanned<String>,
    pub headscale_url: Option<String>,
    /// The host that runs the VPN's control server (Headscale). vpai renders its DNS
    /// records (`dns.extra_records`) for every host's subdomains there.
    #[schemars(with = "Option<String>")]
    pub server: Option<Spanned<String>>,
    /// Address ranges that `access = "vpn"` routes admit besides `cidr`, e.g. an
    /// office LAN reaching the host without the VPN: `["192.168.10.0/24"]`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub also_admit: Vec<Spanned<String>>,
}

/// A host. In `[env.X.hosts.NAME]` every field is optional and overrides the base.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    pub address: Option<String>,
    pub vpn_address: Option<String>,
    pub ssh: Option<RawSsh>,
    /// Physical memory, e.g. `"8G"`.
    #[schemars(with = "Option<String>")]
    pub memory: Option<Spanned<String>>,
    /// Memory kept for the OS and Docker itself (default `"512M"`).
    pub os_reserve: Option<String>,
    pub cpus: Option<f64>,
    /// `amd64` or `arm64`.
    pub arch: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSsh {
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Public keys allowed to log in as `user` (written by `vpai host bootstrap`).
    pub keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// IPv4 subnet, e.g. "172.20.6.0/24". Required for a new network; a built-in one
    /// (frontend, backend, monitoring, egress, sandbox) keeps its own when omitted.
    #[schemars(with = "Option<String>")]
    pub subnet: Option<Spanned<String>>,
    /// No route to the internet. A built-in network keeps its own setting when
    /// omitted (backend, monitoring and sandbox are internal); a new one defaults to false.
    pub internal: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExternalDatabase {
    pub host: String,
    #[serde(default = "default_pg_port")]
    pub port: u16,
    /// libpq `sslmode`, e.g. `require`.
    pub sslmode: Option<String>,
    /// Whether vpai may create roles and databases there (managed offerings often forbid it).
    #[serde(default)]
    pub provision: bool,
}

fn default_pg_port() -> u16 {
    5432
}

/// `[env.NAME]`: what one environment changes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOverlay {
    #[schemars(with = "Option<String>")]
    pub domain: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawHost>")]
    pub hosts: IndexMap<Spanned<String>, Spanned<RawHost>>,
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawService>")]
    pub services: IndexMap<Spanned<String>, Spanned<RawService>>,
    /// This environment's subnets or `internal` for networks of `[networks]` or
    /// built-in ones, taken as written (a subnet of `[networks]` is otherwise moved
    /// ten blocks per environment beyond the first).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawNetwork>")]
    pub networks: IndexMap<Spanned<String>, Spanned<RawNetwork>>,
    /// Per-environment external database servers (one managed PostgreSQL per environment).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawExternalDatabase>")]
    pub external_databases: IndexMap<Spanned<String>, Spanned<RawExternalDatabase>>,
}

/// A service: a catalog entry, the operator's table for it, or a custom image.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Set to false to disable a service in one environment.
    pub enabled: Option<bool>,
    /// Base this service on another catalog entry (a second Caddy on the Pi).
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    pub description: Option<String>,
    /// Pinned image reference, `name:tag`.
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
    /// Host this service runs on (default: the first host).
    #[schemars(with = "Option<String>")]
    pub host: Option<Spanned<String>>,
    /// Role, used by the network and exposure checks.
    pub kind: Option<Kind>,
    /// Internal HTTP port the service listens on.
    pub port: Option<u16>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// Container user, `"1000"` or `"1000:1000"`; data directories are owned by it.
    pub user: Option<String>,
    /// Run an init process as PID 1 (Node.js gateways need it).
    pub init: Option<bool>,
    /// The image's CPU architectures (default amd64 and arm64).
    pub platforms: Option<Vec<String>>,
    /// Needs outbound internet (APIs, webhooks): must be on a non-internal network.
    pub needs_internet: Option<bool>,
    /// The app works behind a path prefix (`/app/*`). n8n, LiteLLM UI and Qdrant do not.
    pub supports_subpath: Option<bool>,
    #[schemars(with = "Option<Vec<String>>")]
    pub networks: Option<Vec<Spanned<String>>>,
    /// Capabilities added after `cap_drop: ALL`.
    pub cap_add: Option<Vec<String>>,
    /// Extra groups (GIDs) for the container user.
    pub group_add: Option<Vec<String>>,
    pub read_only: Option<bool>,
    pub health: Option<RawHealth>,
    /// Per-environment resources from the catalog: `resources.prod = { memory = "1G" }`.
    pub resources: Option<IndexMap<String, RawResources>>,
    /// Memory limit for every environment (overrides the catalog).
    #[schemars(with = "Option<String>")]
    pub memory: Option<Spanned<String>>,
    pub cpus: Option<f64>,
    /// Most processes and threads the container may run (default 1024): a fork
    /// bomb or a thread leak stops there instead of exhausting the host (CIS Docker Benchmark 5.28).
    pub pids: Option<u32>,
    /// Memory reservation.
    pub reserve: Option<String>,
    /// Environment variables. Values may reference `{{ secret.NAME }}`, `{{ db.password }}`,
    /// `{{ services.OTHER.EXPORT }}`, `{{ route.public_url }}`, `{{ project.domain }}`.
    #[schemars(with = "Option<IndexMap<String, String>>")]
    pub env: Option<IndexMap<String, Spanned<String>>>,
    /// Config files rendered for the service and mounted read-only.
    pub files: Option<IndexMap<String, RawFile>>,
    /// Persistent data directories: container path -> owner.
    pub data: Option<IndexMap<String, RawData>>,
    /// Host paths bind-mounted as they are (the Docker socket for DIUN).
    pub mounts: Option<Vec<RawMount>>,
    /// Databases this service owns on a PostgreSQL server.
    pub databases: Option<Vec<RawDatabase>>,
    /// Other services' databases this one reads (Grafana's PostgreSQL datasources),
    /// by database name; one whose owner is disabled is left out.
    pub reads_databases: Option<Vec<String>>,
    /// The datasource this service offers Grafana.
    pub datasource: Option<Datasource>,
    /// Redis ACL user this service connects as.
    pub redis_user: Option<RawRedisUser>,
    /// Subdomain of the primary route (shortcut for `routes[0].subdomain`).
    #[schemars(with = "Option<String>")]
    pub subdomain: Option<Spanned<String>>,
    /// Access of the primary route (shortcut for `routes[0].access`).
    pub access: Option<Access>,
    #[schemars(with = "Option<Vec<RawRoute>>")]
    pub routes: Option<Vec<Spanned<RawRoute>>>,
    /// Ports published on the host.
    #[schemars(with = "Option<Vec<RawPort>>")]
    pub ports: Option<Vec<Spanned<RawPort>>>,
    /// Start order: `{ postgresql = "healthy" }`.
    #[schemars(with = "Option<IndexMap<String, Condition>>")]
    pub depends_on: Option<IndexMap<Spanned<String>, Spanned<Condition>>>,
    /// Env vars added only when another service is enabled: `consumes.nocodb.NOCODB_API_TOKEN
    /// = "{{ services.nocodb.api_token }}"`. Enabling the other service wires it in.
    #[schemars(with = "Option<IndexMap<String, IndexMap<String, String>>>")]
    pub consumes: Option<IndexMap<String, IndexMap<String, Spanned<String>>>>,
    /// Values other services consume as `{{ services.NAME.KEY }}`.
    pub exports: Option<IndexMap<String, String>>,
    /// Secrets this service owns; generated by `vpai init` / `vpai secrets sync`.
    pub secrets: Option<IndexMap<String, RawSecret>>,
    /// LiteLLM: the model list.
    pub models: Option<Vec<RawModel>>,
    /// LiteLLM: `{ model = ["fallback", ...] }`.
    pub fallbacks: Option<IndexMap<String, Vec<String>>>,
    /// Extra keys merged into the service's generated main config file.
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub config: Option<toml::Table>,
    /// How this service's data is backed up: `backup = { hook = "pg_dump" }`.
    pub backup: Option<RawServiceBackup>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// HTTP path probed inside the container on `port`.
    pub http: Option<String>,
    /// Probe tool for `http`: `wget` (BusyBox/Debian), `curl`, `python` (no wget/curl).
    pub probe: Option<Probe>,
    /// TCP connect to `port` through bash's `/dev/tcp` (images without HTTP tools).
    pub tcp: Option<bool>,
    /// Exec form command, e.g. `["loki", "-health"]`.
    pub cmd: Option<Vec<String>>,
    /// Shell form command.
    pub shell: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub start_period: Option<String>,
    /// Disable the image's healthcheck entirely.
    pub disable: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawResources {
    pub memory: Option<String>,
    pub cpus: Option<f64>,
    pub reserve: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// Path inside the container.
    pub mount: Option<String>,
    /// Built-in generator (`caddyfile`, `litellm`, `postgres-provision`, ...).
    pub generator: Option<Generator>,
    /// Embedded catalog template (`templates/NAME`).
    pub template: Option<String>,
    /// Literal content.
    pub content: Option<String>,
    /// File mode on the host, e.g. `"0644"`.
    pub mode: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    /// UID (or `uid:gid`) owning the directory on the host.
    pub owner: Option<String>,
    /// Host directory name under `/opt/<project>/data/` (default: the service name).
    pub dir: Option<String>,
    /// Mount at the same path inside the container as on the host (Docker-outside-of-Docker).
    pub identity: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMount {
    pub source: String,
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
    /// Lint rules this mount knowingly breaks, each with the reason: rendered as
    /// `# vpai: ignore[RULE] REASON` above it in the compose file, so `vpai lint`
    /// of the bundle reports the risk as accepted rather than unseen.
    #[serde(default)]
    pub lint_ignore: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub name: String,
    /// Role name (default: the database name).
    pub user: Option<String>,
    #[serde(default)]
    pub extensions: Vec<String>,
    /// PostgreSQL service or `[external_databases.NAME]` that holds it (default `postgresql`).
    pub server: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRedisUser {
    pub user: String,
    /// ACL rules, default `~* &* +@all -@dangerous`.
    pub rules: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// `<subdomain>.<domain>`; absent means the bare domain (or `:80` without a domain).
    pub subdomain: Option<String>,
    /// Path matcher, e.g. `/api/*`; absent means the whole site.
    pub path: Option<String>,
    /// Remove the path prefix before proxying.
    pub strip_prefix: Option<bool>,
    pub access: Option<Access>,
    /// Upstream speaks WebSocket: force HTTP/1.1 to the upstream.
    pub websocket: Option<bool>,
    /// Upstream port when it is not the service's `port`.
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPort {
    /// Port on the host.
    pub published: u16,
    /// Port in the container (default: same as `published`).
    pub target: Option<u16>,
    /// Host address to bind; `127.0.0.1` unless the port is meant to be public.
    pub bind: Option<String>,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// Acknowledge that this non-proxy port is reachable from outside (MQTT 1883).
    #[serde(default)]
    pub public: bool,
}

fn default_protocol() -> String {
    "tcp".to_string()
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Name clients ask for.
    pub name: String,
    /// `provider/model` as LiteLLM expects.
    pub model: String,
    /// Secret holding the provider API key.
    pub key: String,
    pub max_tokens: Option<u32>,
    pub api_base: Option<String>,
}

/// `[backup]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// restic repository: an absolute path, `sftp:user@host:/path`, or
    /// `s3:https://endpoint/bucket`. Its password is the generated secret
    /// `restic_password`; an S3 repository's keys are the provided secrets
    /// `backup_s3_access_key_id` and `backup_s3_secret_access_key`.
    #[schemars(with = "String")]
    pub repository: Spanned<String>,
    /// How jobs are started on the host: a systemd timer per job, or one cron file.
    #[serde(default)]
    pub schedule: ScheduleStyle,
    /// Ping an Uptime Kuma push monitor after each job. Its URL holds a token, so it
    /// is the provided secret `backup_heartbeat_url`.
    #[serde(default)]
    pub heartbeat: bool,
    /// Overrides by job name (the service's name, or `configs`).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RawJobOverride>")]
    pub jobs: IndexMap<Spanned<String>, RawJobOverride>,
}

/// `[backup.jobs.NAME]`: what the operator changes about one job.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJobOverride {
    pub enabled: Option<bool>,
    /// When the job runs, in the project's time zone: `"03:00"` daily, `"Sun 03:00"` weekly.
    #[schemars(with = "Option<String>")]
    pub at: Option<Spanned<String>>,
    #[schemars(with = "Option<RawRetention>")]
    pub retention: Option<Spanned<RawRetention>>,
}

/// A service's backup hook, in its catalog entry or its table in `vpai.toml`.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServiceBackup {
    pub hook: Option<HookKind>,
    /// `files` hook: the data directories (container paths) to back up; default all.
    pub paths: Option<Vec<String>>,
    /// When the job runs, in the project's time zone: `"03:00"` daily, `"Sun 03:00"` weekly.
    #[schemars(with = "Option<String>")]
    pub at: Option<Spanned<String>>,
    #[schemars(with = "Option<RawRetention>")]
    pub retention: Option<Spanned<RawRetention>>,
}

/// How many snapshots restic keeps: the newest of each of the last N days, ISO
/// weeks, months and years. The table replaces the hook's default whole: a keep it
/// does not name is zero.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
    pub yearly: Option<u32>,
}

impl RawHost {
    pub fn merge(self, over: RawHost) -> RawHost {
        RawHost {
            address: over.address.or(self.address),
            vpn_address: over.vpn_address.or(self.vpn_address),
            ssh: match (self.ssh, over.ssh) {
                (Some(b), Some(o)) => Some(RawSsh {
                    user: o.user.or(b.user),
                    port: o.port.or(b.port),
                    keys: o.keys.or(b.keys),
                }),
                (b, o) => o.or(b),
            },
            memory: over.memory.or(self.memory),
            os_reserve: over.os_reserve.or(self.os_reserve),
            cpus: over.cpus.or(self.cpus),
            arch: over.arch.or(self.arch),
        }
    }
}
