//! The enums both the file format and the resolved model speak: kinds of service,
//! access, dependency conditions, probes, secret charsets, backup hook kinds and
//! schedule styles. Here, apart from the raw file types, so that the stages above the
//! model never reach into `raw`.

use schemars::JsonSchema;
use serde::Deserialize;

/// The config files vpai writes itself, from the whole stack. A catalog entry names
/// one with `generator = "..."`, and that is what the code knows of a service: Redis
/// ACL users are provisioned where `redis-conf` is written, LiteLLM is smoke-tested
/// where `litellm` is, never by the service's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Generator {
    /// Caddy's Caddyfile: the routes of every service on its host.
    Caddyfile,
    /// PostgreSQL's roles, databases and extensions, run on every deploy.
    PostgresProvision,
    /// redis.conf with one ACL user per `redis_user` of the other services.
    RedisConf,
    /// LiteLLM's config.yaml: models, fallbacks, the service's `config`.
    Litellm,
    /// Grafana's datasources: VictoriaMetrics, Loki, the PostgreSQL it reads.
    GrafanaDatasources,
    /// OpenClaw's openclaw.json.
    OpenclawJson,
}

/// A datasource a service offers Grafana, from its catalog entry
/// (`datasource = { type = "prometheus", name = "VictoriaMetrics" }`): Grafana's
/// generator lists the services that offer one, never a service by its name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Datasource {
    #[serde(rename = "type")]
    pub kind: DatasourceKind,
    /// What Grafana shows.
    pub name: String,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DatasourceKind {
    /// A Prometheus API (VictoriaMetrics): the first one is Grafana's default.
    Prometheus,
    Loki,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Charset {
    /// A-Z a-z 0-9: safe in URLs, env files and connection strings.
    Alnum,
    /// 0-9 a-f.
    Hex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Holds data (PostgreSQL, Redis, Qdrant): never on the frontend network.
    Datastore,
    /// The reverse proxy: the only service publishing 80/443.
    Proxy,
    App,
    Monitoring,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Reachable from the VPN (and the Docker frontend network) only.
    Vpn,
    /// Reachable from the internet.
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// Wait until the dependency's healthcheck passes.
    Healthy,
    /// Wait until the dependency's container has started.
    Started,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Probe {
    Wget,
    Curl,
    Python,
    Node,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleStyle {
    /// A `.service` and `.timer` pair per job (missed runs catch up after a reboot).
    #[default]
    Systemd,
    /// One `/etc/cron.d` file.
    Cron,
}

/// What a backup job does before restic reads its staging directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    /// `pg_dump -Fc` of every database the stack has on this server, and the roles
    /// (`pg_dumpall --globals-only`).
    PgDump,
    /// `BGSAVE`, wait for `LASTSAVE` to move, copy the RDB file.
    RedisRdb,
    /// A snapshot of every collection through Qdrant's API.
    QdrantSnapshot,
    /// `n8n export:workflow` and `export:credentials` (credentials stay encrypted
    /// with the instance's `N8N_ENCRYPTION_KEY`).
    N8nExport,
    /// The service's data directories as they are on the host.
    Files,
}
