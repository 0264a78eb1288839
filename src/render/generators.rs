//! Config files generated from the model rather than from a static template:
//! the ones whose content depends on what else is enabled (databases, models,
//! datasources, routes). Each encodes the corrections of seed 002.

use std::fmt::Write;

use indexmap::IndexMap;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::secrets::{SecretValues, SecretsError};
use crate::stack::Stack;
use crate::stack::kinds::{Datasource, DatasourceKind, Generator};
use crate::stack::model::Service;

pub fn generate(
    generator: Generator,
    stack: &Stack,
    service: &Service,
    secrets: &SecretValues,
) -> Result<String, super::FileError> {
    match generator {
        Generator::Caddyfile => super::caddyfile::render(stack, service),
        Generator::PostgresProvision => Ok(postgres_provision(stack, service)),
        Generator::RedisConf => Ok(redis_conf(stack, service, secrets)?),
        Generator::Litellm => Ok(litellm(stack, service)),
        Generator::GrafanaDatasources => Ok(grafana_datasources(stack, service)),
        Generator::OpenclawJson => Ok(openclaw_json(stack, service)),
    }
}

/// Environment variable name for a value derived from `name` (`db_n8n` -> `DB_N8N`).
pub fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Env vars vpai adds on its own: the values generated config files read through
/// the environment, so that the files themselves never hold a secret.
pub fn implicit_env(
    stack: &Stack,
    service: &Service,
    secrets: &SecretValues,
) -> IndexMap<String, String> {
    let mut env = IndexMap::new();
    let value = |name: &str| secrets.get(name).unwrap_or_default().to_string();
    for db in stack.databases.iter().filter(|d| d.server == service.name) {
        env.insert(
            format!("VPAI_{}", env_name(&db.password_secret)),
            value(&db.password_secret),
        );
    }
    if service.generates(Generator::Litellm) {
        for model in &service.models {
            env.insert(env_name(&model.key), value(&model.key));
        }
    }
    if service.generates(Generator::GrafanaDatasources) {
        for db in read_databases(stack, service) {
            env.insert(
                format!("VPAI_{}", env_name(&db.password_secret)),
                value(&db.password_secret),
            );
        }
    }
    env
}

/// Idempotent provisioning of every database on this server. Passwords come from
/// the container environment through psql's `\getenv` (PostgreSQL 15+), so the
/// file holds no secret; identifiers are quoted with `%I` / `"..."`.
fn postgres_provision(stack: &Stack, server: &Service) -> String {
    let mut out = format!("-- {}\n", super::HEADER);
    out.push_str(
        "-- Idempotent: safe to run on every deploy (002 §3.2).\n\\set ON_ERROR_STOP on\n",
    );
    let databases: Vec<_> = stack
        .databases
        .iter()
        .filter(|d| d.server == server.name)
        .collect();
    for db in databases {
        let var = format!(
            "pw_{}",
            db.user.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        let user = sql_ident(&db.user);
        let name = sql_ident(&db.name);
        let user_lit = sql_literal(&db.user);
        let name_lit = sql_literal(&db.name);
        writeln!(
            out,
            "\n-- database {} (service {})",
            db.name, db.owner_service
        )
        .unwrap();
        writeln!(out, "\\getenv {var} VPAI_{}", env_name(&db.password_secret)).unwrap();
        writeln!(
            out,
            "SELECT format('CREATE ROLE %I LOGIN', {user_lit}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {user_lit}) \\gexec"
        )
        .unwrap();
        writeln!(out, "ALTER ROLE {user} WITH LOGIN PASSWORD :'{var}';").unwrap();
        writeln!(
            out,
            "SELECT format('CREATE DATABASE %I OWNER %I', {name_lit}, {user_lit}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {name_lit}) \\gexec"
        )
        .unwrap();
        writeln!(out, "ALTER DATABASE {name} OWNER TO {user};").unwrap();
        writeln!(out, "REVOKE ALL ON DATABASE {name} FROM PUBLIC;").unwrap();
        writeln!(out, "\\connect {name}").unwrap();
        writeln!(out, "ALTER SCHEMA public OWNER TO {user};").unwrap();
        for ext in &db.extensions {
            writeln!(out, "CREATE EXTENSION IF NOT EXISTS {};", sql_ident(ext)).unwrap();
        }
        out.push_str("\\connect postgres\n");
    }
    out
}

pub(crate) fn sql_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(crate) fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Redis 8: ACL users instead of `rename-command` (which crashes it), explicit
/// `protected-mode yes` (002 §4.1). Passwords appear only as SHA-256 (`#...`).
fn redis_conf(
    stack: &Stack,
    redis: &Service,
    secrets: &SecretValues,
) -> Result<String, SecretsError> {
    let admin = secrets
        .get("redis_password")
        .ok_or_else(|| SecretsError::NoValue {
            secret: "redis_password".to_string(),
        })?;
    let mut out = format!("# {}\n", super::HEADER);
    out.push_str("bind 0.0.0.0\nprotected-mode yes\nport 6379\ndir /data\nappendonly yes\nappendfsync everysec\n");
    out.push_str("save 3600 1 300 100 60 10000\n");
    writeln!(out, "maxmemory {}mb", redis.resources.memory.0 * 3 / 4).unwrap();
    out.push_str("maxmemory-policy allkeys-lru\n");
    writeln!(out, "user default on #{} ~* &* +@all", sha256_hex(admin)).unwrap();
    for service in stack.services.values() {
        if let Some(user) = &service.redis_user {
            let password =
                secrets
                    .get(&user.password_secret)
                    .ok_or_else(|| SecretsError::NoValue {
                        secret: user.password_secret.clone(),
                    })?;
            writeln!(
                out,
                "user {} on #{} {}",
                user.user,
                sha256_hex(password),
                user.rules
            )
            .unwrap();
        }
    }
    Ok(out)
}

/// LiteLLM config (002 §10.1): fallbacks as a list of dicts, every secret through
/// `os.environ/`, background health checks off with an explicit interval (paid
/// models are billed for each probe, 002 §10.4), `max_tokens` on OpenRouter
/// models (002 §10.5).
fn litellm(stack: &Stack, service: &Service) -> String {
    let models: Vec<_> = service
        .models
        .iter()
        .map(|m| {
            let mut params = serde_json::Map::new();
            params.insert("model".into(), json!(m.model));
            params.insert(
                "api_key".into(),
                json!(format!("os.environ/{}", env_name(&m.key))),
            );
            if let Some(base) = &m.api_base {
                params.insert("api_base".into(), json!(base));
            }
            let max_tokens = m
                .max_tokens
                .or_else(|| m.model.starts_with("openrouter/").then_some(4096));
            if let Some(t) = max_tokens {
                params.insert("max_tokens".into(), json!(t));
            }
            json!({ "model_name": m.name, "litellm_params": params })
        })
        .collect();
    let fallbacks: Vec<_> = service
        .fallbacks
        .iter()
        .map(|(k, v)| json!({ k: v }))
        .collect();
    let mut settings = json!({
        "drop_params": true,
        "num_retries": 2,
        "request_timeout": 120,
        "fallbacks": fallbacks,
    });
    if service.redis_user.is_some() {
        settings["cache"] = json!(true);
        settings["cache_params"] = json!({
            "type": "redis",
            "host": "os.environ/REDIS_HOST",
            "port": "os.environ/REDIS_PORT",
            "username": "os.environ/REDIS_USERNAME",
            "password": "os.environ/REDIS_PASSWORD",
        });
    }
    let mut general = json!({
        "master_key": "os.environ/LITELLM_MASTER_KEY",
        "database_url": "os.environ/DATABASE_URL",
        "background_health_checks": false,
        "health_check_interval": 3600,
    });
    if stack.project.webhook.is_some() {
        general["alerting"] = json!(["webhook"]);
    }
    let mut config = json!({
        "model_list": models,
        "litellm_settings": settings,
        "general_settings": general,
    });
    if let Some(extra) = &service.config {
        crate::stack::resolve::deep_merge(&mut config, extra);
    }
    format!(
        "# {}\n---\n{}",
        super::HEADER,
        yaml_serde::to_string(&config).expect("JSON values serialize to YAML")
    )
}

/// The databases `service` reads (`reads_databases`) that the stack has.
fn read_databases<'a>(
    stack: &'a Stack,
    service: &'a Service,
) -> impl Iterator<Item = &'a crate::stack::model::Database> {
    service
        .reads_databases
        .iter()
        .filter_map(|name| stack.databases.iter().find(|d| &d.name == name))
}

/// Grafana datasources (002 §8.4-8.5): the PostgreSQL datasource carries `user`
/// at the root (Grafana 12 ignores it in `jsonData`), its password only in
/// `secureJsonData`, read from the environment.
fn grafana_datasources(stack: &Stack, service: &Service) -> String {
    let mut offered: Vec<(&Service, &Datasource, u16)> = stack
        .services
        .values()
        .filter_map(|s| Some((s, s.datasource.as_ref()?, s.port?)))
        .collect();
    offered.sort_by_key(|(s, d, _)| (d.kind, s.name.as_str()));
    let mut sources = Vec::new();
    let mut default_taken = false;
    for (source, datasource, port) in offered {
        let kind = match datasource.kind {
            DatasourceKind::Prometheus => "prometheus",
            DatasourceKind::Loki => "loki",
        };
        // Grafana allows one default: the first Prometheus source.
        let default = datasource.kind == DatasourceKind::Prometheus && !default_taken;
        default_taken |= default;
        let mut entry = json!({
            "name": datasource.name, "uid": source.name, "type": kind, "access": "proxy",
            "url": format!("http://{}:{port}", source.name),
        });
        if default {
            entry["isDefault"] = json!(true);
        }
        entry["editable"] = json!(false);
        sources.push(entry);
    }
    for db in read_databases(stack, service) {
        sources.push(json!({
            "name": format!("PostgreSQL-{}", db.name), "uid": format!("postgresql-{}", db.name), "type": "postgres",
            "access": "proxy", "url": format!("{}:5432", db.server), "user": db.user, "editable": false,
            "jsonData": { "database": db.name, "sslmode": "disable", "maxOpenConns": 5, "maxIdleConns": 2,
                          "connMaxLifetime": 14400, "postgresVersion": 1800, "timescaledb": false },
            "secureJsonData": { "password": format!("${{VPAI_{}}}", env_name(&db.password_secret)) },
        }));
    }
    let doc = json!({ "apiVersion": 1, "datasources": sources });
    format!(
        "# {}\n---\n{}",
        super::HEADER,
        yaml_serde::to_string(&doc).expect("serializes")
    )
}

/// `openclaw.json` (002 §11.1-11.10): a custom LiteLLM provider, `model` as an
/// object, sandbox with a valid `workspaceAccess`, channel plugins enabled
/// explicitly; secrets as `${ENV}` references resolved by OpenClaw.
fn openclaw_json(stack: &Stack, service: &Service) -> String {
    // The gateway is the service whose LiteLLM config vpai writes, whatever its name.
    let litellm = stack
        .services
        .values()
        .find(|s| s.generates(Generator::Litellm));
    let models: Vec<_> = litellm
        .map(|l| {
            l.models
                .iter()
                .map(|m| json!({ "id": m.name, "name": m.name }))
                .collect()
        })
        .unwrap_or_default();
    let primary = litellm
        .and_then(|l| l.models.first())
        .map(|m| format!("custom-litellm/{}", m.name));
    let trusted: Vec<String> = stack
        .networks
        .get("frontend")
        .map(|n| vec![n.subnet.to_string()])
        .unwrap_or_default();
    let mut config = json!({
        "gateway": {
            "port": service.port.unwrap_or(18789),
            "bind": "lan",
            "auth": { "mode": "token", "token": "${OPENCLAW_GATEWAY_TOKEN}" },
            "trustedProxies": trusted,
            "controlUi": { "basePath": "/", "allowInsecureAuth": true },
        },
        "agents": { "defaults": {
            "sandbox": { "mode": "non-main", "workspaceAccess": "rw" },
        } },
        "tools": { "elevated": { "enabled": false }, "fs": { "workspaceOnly": true } },
    });
    if let Some(gateway) = litellm {
        let gateway_url = format!(
            "http://{}:{}/v1",
            gateway.name,
            gateway.port.unwrap_or(4000)
        );
        config["models"] = json!({ "providers": { "custom-litellm": {
            "baseUrl": gateway_url, "apiKey": "${LITELLM_API_KEY}", "api": "openai-completions",
            "models": models,
        } } });
        if let Some(p) = primary {
            config["agents"]["defaults"]["model"] = json!({ "primary": p });
        }
    }
    if service.env.contains_key("TELEGRAM_BOT_TOKEN") {
        config["channels"] = json!({ "telegram": { "botToken": "${TELEGRAM_BOT_TOKEN}" } });
        config["plugins"] = json!({ "entries": { "telegram": { "enabled": true } } });
    }
    if let Some(extra) = &service.config {
        crate::stack::resolve::deep_merge(&mut config, extra);
    }
    let mut text = serde_json::to_string_pretty(&config).expect("serializes");
    text.push('\n');
    text
}

/// Docker daemon settings of 001 §2.1: bounded json-file logs, live-restore, and
/// an address pool that holds the stack's 172.20.x.0/24 networks.
///
/// `userland-proxy: false`: with the proxy on, a connection it carries (any from
/// the host itself, IPv6 clients of an IPv4 container, the HTTP/3 of 002 §6.2)
/// reaches the container from the bridge gateway, so Caddy cannot tell a VPN
/// client from the host or another container, and `access = "vpn"` would have to
/// admit them all. Without it every published port is forwarded by the kernel
/// with the client's own address, and through the DOCKER-USER chain that
/// `vpai-firewall` fills. IPv6 clients then no longer reach IPv4-only containers:
/// publish no AAAA record for the stack's domain.
pub fn daemon_json() -> String {
    let doc = json!({
        "log-driver": "json-file",
        "log-opts": { "max-size": "10m", "max-file": "3" },
        "storage-driver": "overlay2",
        "live-restore": true,
        "userland-proxy": false,
        "default-address-pools": [{ "base": "172.20.0.0/16", "size": 24 }],
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("serializes");
    text.push('\n');
    text
}
