//! Provisioning after a server is healthy and before its consumers start:
//! PostgreSQL roles, databases and extensions, and Redis ACL users, run inside the
//! server's container through `exec` (so it works over SSH with no port opened).
//!
//! Passwords travel as SCRAM-SHA-256 verifiers computed here, never in clear; a
//! role whose stored verifier already matches its password is left untouched, so
//! a second run changes nothing at all.

use base64::Engine as _;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{Engine, EngineError};
use crate::render::generators::{sql_ident, sql_literal};
use crate::secrets::SecretValues;
use crate::stack::Stack;
use crate::stack::model::Service;

const ITERATIONS: u32 = 4096;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The `rolpassword` PostgreSQL stores for `password` (RFC 5802 / 7677).
pub fn scram_verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let server_key = hmac(&salted, b"Server Key");
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        b64.encode(salt),
        b64.encode(stored_key),
        b64.encode(server_key)
    )
}

/// Salt and iteration count of a stored verifier.
fn parse_verifier(verifier: &str) -> Option<(u32, Vec<u8>)> {
    let rest = verifier.strip_prefix("SCRAM-SHA-256$")?;
    let (params, _) = rest.split_once('$')?;
    let (iterations, salt) = params.split_once(':')?;
    Some((
        iterations.parse().ok()?,
        base64::engine::general_purpose::STANDARD
            .decode(salt)
            .ok()?,
    ))
}

/// The verifier to set, or `None` when the stored one already matches.
fn wanted_verifier(password: &str, stored: Option<&str>) -> Option<String> {
    if let Some((iterations, salt)) = stored.and_then(parse_verifier)
        && stored == Some(scram_verifier(password, &salt, iterations).as_str())
    {
        return None;
    }
    let salt: [u8; 16] = rand::rng().random();
    Some(scram_verifier(password, &salt, ITERATIONS))
}

/// Run a command in a container; returns exit code and combined output.
pub async fn exec(
    engine: &Engine,
    container: &str,
    cmd: &[&str],
    stdin: Option<&[u8]>,
) -> Result<(i64, String), EngineError> {
    let exec = engine
        .docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                attach_stdin: Some(stdin.is_some()),
                ..Default::default()
            },
        )
        .await?;
    let mut text = String::new();
    if let StartExecResults::Attached {
        mut output,
        mut input,
    } = engine.docker.start_exec(&exec.id, None).await?
    {
        if let Some(data) = stdin {
            input
                .write_all(data)
                .await
                .map_err(|e| EngineError::Docker(e.to_string()))?;
            input
                .shutdown()
                .await
                .map_err(|e| EngineError::Docker(e.to_string()))?;
        }
        drop(input);
        while let Some(chunk) = output.next().await {
            text.push_str(&chunk?.to_string());
        }
    }
    Ok((exit_code(engine, &exec.id).await?, text))
}

/// The exit code of a finished exec (-1 if the engine does not know it).
pub async fn exit_code(engine: &Engine, exec: &str) -> Result<i64, EngineError> {
    Ok(engine
        .docker
        .inspect_exec(exec)
        .await?
        .exit_code
        .unwrap_or(-1))
}

/// Roles, databases and extensions of every database on `server`. Returns what changed.
pub async fn postgres(
    engine: &Engine,
    stack: &Stack,
    server: &Service,
    secrets: &SecretValues,
) -> Result<Vec<String>, EngineError> {
    let databases: Vec<_> = stack
        .databases
        .iter()
        .filter(|d| d.server == server.name)
        .collect();
    if databases.is_empty() {
        return Ok(Vec::new());
    }
    let container = server.container_name(&stack.project.name);
    let psql = [
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-U",
        "postgres",
        "-d",
        "postgres",
    ];
    let mut query: Vec<&str> = psql.to_vec();
    query.extend([
        "-At",
        "-c",
        "SELECT rolname || '|' || coalesce(rolpassword, '') FROM pg_authid",
    ]);
    let (code, out) = exec(engine, &container, &query, None).await?;
    if code != 0 {
        return Err(EngineError::Docker(format!(
            "reading roles in {container} failed: {}",
            out.trim()
        )));
    }
    let stored: std::collections::HashMap<&str, &str> =
        out.lines().filter_map(|l| l.split_once('|')).collect();

    let mut sql = String::from("\\set ON_ERROR_STOP on\n");
    let mut changes = Vec::new();
    for db in &databases {
        let password = secrets.get(&db.password_secret).ok_or_else(|| {
            EngineError::Refused(format!("secret `{}` has no value", db.password_secret))
        })?;
        let user = sql_ident(&db.user);
        let (user_lit, name_lit, name) = (
            sql_literal(&db.user),
            sql_literal(&db.name),
            sql_ident(&db.name),
        );
        let exists = stored.contains_key(db.user.as_str());
        if let Some(verifier) = wanted_verifier(password, stored.get(db.user.as_str()).copied()) {
            changes.push(format!(
                "role {} {}",
                db.user,
                if exists { "password set" } else { "created" }
            ));
            sql.push_str(&format!(
                "SELECT format('CREATE ROLE %I LOGIN', {user_lit}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {user_lit}) \\gexec\n\
                 ALTER ROLE {user} WITH LOGIN PASSWORD {};\n",
                sql_literal(&verifier)
            ));
        }
        sql.push_str(&format!(
            "SELECT format('CREATE DATABASE %I OWNER %I', {name_lit}, {user_lit}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {name_lit}) \\gexec\n\
             ALTER DATABASE {name} OWNER TO {user};\n\
             REVOKE ALL ON DATABASE {name} FROM PUBLIC;\n\
             \\connect {name}\n\
             ALTER SCHEMA public OWNER TO {user};\n"
        ));
        for ext in &db.extensions {
            sql.push_str(&format!(
                "CREATE EXTENSION IF NOT EXISTS {};\n",
                sql_ident(ext)
            ));
        }
        sql.push_str("\\connect postgres\n");
    }
    let (code, out) = exec(engine, &container, &psql, Some(sql.as_bytes())).await?;
    if code != 0 {
        return Err(EngineError::Docker(format!(
            "provisioning PostgreSQL in {container} failed: {}",
            out.trim()
        )));
    }
    Ok(changes)
}

/// ACL users of every service connecting to this Redis, set idempotently.
pub async fn redis(
    engine: &Engine,
    stack: &Stack,
    redis: &Service,
    secrets: &SecretValues,
) -> Result<Vec<String>, EngineError> {
    let container = redis.container_name(&stack.project.name);
    let mut changes = Vec::new();
    for service in stack.services.values() {
        let Some(user) = &service.redis_user else {
            continue;
        };
        let password = secrets.get(&user.password_secret).ok_or_else(|| {
            EngineError::Refused(format!("secret `{}` has no value", user.password_secret))
        })?;
        let hash: String = Sha256::digest(password.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let pass_rule = format!("#{hash}");
        let mut cmd = vec![
            "redis-cli",
            "ACL",
            "SETUSER",
            &user.user,
            "reset",
            "on",
            &pass_rule,
        ];
        cmd.extend(user.rules.split_whitespace());
        let (code, out) = exec(engine, &container, &cmd, None).await?;
        if code != 0 || !out.contains("OK") {
            return Err(EngineError::Docker(format!(
                "setting Redis user {} failed: {}",
                user.user,
                out.trim()
            )));
        }
        changes.push(format!("redis user {}", user.user));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_matches_postgresql_format_and_is_stable_for_a_salt() {
        let v = scram_verifier("secret", b"0123456789abcdef", 4096);
        assert!(
            v.starts_with("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$"),
            "{v}"
        );
        assert_eq!(
            wanted_verifier("secret", Some(&v)),
            None,
            "a matching verifier is kept"
        );
        assert!(wanted_verifier("other", Some(&v)).is_some());
        assert!(wanted_verifier("secret", None).is_some());
    }
}
