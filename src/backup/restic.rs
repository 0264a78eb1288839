//! restic, the real binary: the repository operations a backup job, a restore and
//! a drill need, with restic's `--json` output parsed into types.
//!
//! We drive the binary rather than reimplement its format: the repository stays
//! readable by a plain `restic` in an emergency, with nothing but the password.
//! Secrets reach restic only through the child's environment, which starts empty
//! (an operator's own `RESTIC_*` variables cannot change what runs); never argv,
//! never a log line. An error carries restic's stderr with every secret value
//! replaced by its name, and a hint for the failures operators meet.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::secrets::restic_env::ResticEnv;
use crate::stack::backup::{Repository, RepositoryKind, Retention};

/// Variables restic needs from the parent's environment to find its cache, `ssh`
/// and the ssh agent.
const PASSED_THROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "TZ",
    "LANG",
    "XDG_CACHE_HOME",
    "SSH_AUTH_SOCK",
];

/// Which snapshots are a job's: restic's host field and tags. Backups are made
/// with them, and listings and retention filter on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub host: String,
    pub tags: Vec<String>,
}

/// A snapshot as `restic snapshots --json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub short_id: String,
    /// RFC 3339, in the time zone restic ran in.
    pub time: String,
    pub paths: Vec<String>,
    pub hostname: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    Created,
    /// The repository was there already and opens with this password.
    Existing,
}

/// What `forget` kept and removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgotten {
    pub kept: Vec<Snapshot>,
    pub removed: Vec<Snapshot>,
}

#[derive(Debug, thiserror::Error)]
#[error("restic {action} failed: {detail}")]
pub struct ResticError {
    pub action: &'static str,
    /// restic's own words, secrets redacted.
    pub detail: String,
    pub hint: Option<String>,
}

/// A repository and the means to reach it.
#[derive(Debug, Clone)]
pub struct Restic {
    program: PathBuf,
    env: ResticEnv,
    /// `-o key=value` backend options.
    options: Vec<String>,
}

impl Restic {
    pub fn new(env: ResticEnv) -> Restic {
        Restic {
            program: PathBuf::from("restic"),
            env,
            options: Vec::new(),
        }
    }

    /// Reach an SFTP repository through `ssh_command` (`VPAI_SSH_COMMAND`, e.g.
    /// `ssh -F CONFIG`) instead of plain `ssh`, as the engine does for hosts.
    pub fn with_ssh_command(mut self, ssh_command: &str, repository: &Repository) -> Restic {
        if let RepositoryKind::Sftp { user, host, port } = &repository.kind {
            let mut command = ssh_command.to_string();
            if let Some(port) = port {
                command.push_str(&format!(" -p {port}"));
            }
            let target = match user {
                Some(user) => format!("{user}@{host}"),
                None => host.clone(),
            };
            command.push_str(&format!(" {target} -s sftp"));
            self.options.push(format!("sftp.command={command}"));
        }
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.env_clear();
        for var in PASSED_THROUGH {
            if let Some(value) = std::env::var_os(var) {
                cmd.env(var, value);
            }
        }
        cmd.envs(self.env.iter());
        for option in &self.options {
            cmd.arg("-o").arg(option);
        }
        // Never wait for a password on a terminal.
        cmd.args(args).stdin(Stdio::null());
        cmd
    }

    /// Run restic; its stdout on success.
    fn run(&self, action: &'static str, args: &[&str]) -> Result<String, ResticError> {
        let output = self.command(args).output().map_err(|e| ResticError {
            action,
            detail: format!("cannot start `{}`: {e}", self.program.display()),
            hint: (e.kind() == std::io::ErrorKind::NotFound)
                .then(|| "install restic on this machine (`apt-get install restic`)".to_string()),
        })?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let stderr = self
            .env
            .redact(String::from_utf8_lossy(&output.stderr).trim());
        Err(ResticError {
            action,
            hint: hint(&stderr),
            detail: if stderr.is_empty() {
                format!("exit status {}", output.status)
            } else {
                stderr
            },
        })
    }

    /// Create the repository, or check that the existing one opens with this password.
    pub fn init(&self) -> Result<Init, ResticError> {
        match self.run("init", &["init"]) {
            Ok(_) => Ok(Init::Created),
            Err(e) if e.detail.contains("config file already exists") => {
                self.run("init", &["cat", "config"])?;
                Ok(Init::Existing)
            }
            Err(e) => Err(e),
        }
    }

    /// Back up `paths` (absolute) as one snapshot; its id. `time` replaces the
    /// snapshot's time (`YYYY-MM-DD HH:MM:SS`, local time): a restore drill can
    /// date what it stages, and retention is testable.
    pub fn backup(
        &self,
        paths: &[&Path],
        labels: &Labels,
        time: Option<&str>,
    ) -> Result<String, ResticError> {
        let mut args = vec!["backup", "--json", "--host", &labels.host];
        for tag in &labels.tags {
            args.extend(["--tag", tag]);
        }
        if let Some(time) = time {
            args.extend(["--time", time]);
        }
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        args.extend(paths.iter().map(String::as_str));
        let out = self.run("backup", &args)?;
        #[derive(Deserialize)]
        struct Summary {
            message_type: String,
            snapshot_id: Option<String>,
        }
        out.lines()
            .filter_map(|line| serde_json::from_str::<Summary>(line).ok())
            .find(|m| m.message_type == "summary")
            .and_then(|m| m.snapshot_id)
            .ok_or_else(|| ResticError {
                action: "backup",
                detail: "restic reported no snapshot id".to_string(),
                hint: None,
            })
    }

    /// Snapshots, oldest first; only those with `labels` when given.
    pub fn snapshots(&self, labels: Option<&Labels>) -> Result<Vec<Snapshot>, ResticError> {
        let filter = labels.map(filter_args).unwrap_or_default();
        let mut args = vec!["snapshots", "--json"];
        args.extend(filter.iter().map(String::as_str));
        let out = self.run("snapshots", &args)?;
        parse_json("snapshots", &out)
    }

    /// Apply `retention` to the snapshots with `labels`, then prune what no
    /// snapshot uses any more. Other jobs' snapshots are not even considered.
    pub fn forget(&self, labels: &Labels, retention: &Retention) -> Result<Forgotten, ResticError> {
        let keeps = [
            ("--keep-daily", retention.daily),
            ("--keep-weekly", retention.weekly),
            ("--keep-monthly", retention.monthly),
            ("--keep-yearly", retention.yearly),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .flat_map(|(flag, n)| [flag.to_string(), n.to_string()]);
        let args: Vec<String> = ["forget", "--json", "--prune", "--group-by", "host,tags"]
            .into_iter()
            .map(String::from)
            .chain(filter_args(labels))
            .chain(keeps)
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run("forget", &args)?;
        #[derive(Deserialize)]
        struct Group {
            keep: Option<Vec<Snapshot>>,
            remove: Option<Vec<Snapshot>>,
        }
        let groups: Vec<Group> = parse_json("forget", out.lines().next().unwrap_or("[]"))?;
        let mut forgotten = Forgotten {
            kept: Vec::new(),
            removed: Vec::new(),
        };
        for group in groups {
            forgotten.kept.extend(group.keep.unwrap_or_default());
            forgotten.removed.extend(group.remove.unwrap_or_default());
        }
        Ok(forgotten)
    }

    /// Restore `snapshot` (an id, or `latest`) under `target`. Snapshots keep
    /// absolute paths: `/opt/p/backups/job/n8n.dump` restores as
    /// `TARGET/opt/p/backups/job/n8n.dump`, and that absolute path is the
    /// `include` pattern that restores only it.
    pub fn restore(
        &self,
        snapshot: &str,
        target: &Path,
        include: &[&str],
    ) -> Result<(), ResticError> {
        let target = target.display().to_string();
        let mut args = vec!["restore", snapshot, "--target", &target];
        for pattern in include {
            args.extend(["--include", pattern]);
        }
        self.run("restore", &args).map(drop)
    }

    /// Verify the repository's structure (`restic check`).
    pub fn check(&self) -> Result<(), ResticError> {
        self.run("check", &["check"]).map(drop)
    }
}

fn filter_args(labels: &Labels) -> Vec<String> {
    vec![
        "--host".to_string(),
        labels.host.clone(),
        "--tag".to_string(),
        labels.tags.join(","),
    ]
}

fn parse_json<T: serde::de::DeserializeOwned>(
    action: &'static str,
    text: &str,
) -> Result<T, ResticError> {
    serde_json::from_str(text.trim()).map_err(|e| ResticError {
        action,
        detail: format!("unexpected output from restic: {e}"),
        hint: Some(
            "vpai reads the JSON of restic 0.14 and later: check `restic version`".to_string(),
        ),
    })
}

/// What to do about the failures operators meet.
fn hint(stderr: &str) -> Option<String> {
    let rules: &[(&str, &str)] = &[
        (
            "wrong password",
            "the repository was created with another password: `restic_password` in secrets.age must be the one it was initialised with",
        ),
        (
            "Is there a repository at the following location?",
            "no repository there yet: initialise it first",
        ),
        (
            "already locked",
            "another restic works on this repository; if none runs any more, `restic unlock` removes the stale lock",
        ),
        (
            "ssh command exited",
            "restic reaches SFTP repositories through `ssh`: check that `ssh` to that host works for this user without a prompt (key, known_hosts)",
        ),
        (
            "unable to start the sftp session",
            "restic reaches SFTP repositories through `ssh`: check that `ssh` to that host works for this user without a prompt (key, known_hosts)",
        ),
        (
            "Access Denied",
            "the S3 endpoint refused the keys: check `backup_s3_access_key_id` and `backup_s3_secret_access_key`",
        ),
        (
            "InvalidAccessKeyId",
            "the S3 endpoint does not know this key: check `backup_s3_access_key_id`",
        ),
        (
            "SignatureDoesNotMatch",
            "the S3 secret key does not match: check `backup_s3_secret_access_key`",
        ),
    ];
    rules
        .iter()
        .find(|(needle, _)| stderr.contains(needle))
        .map(|(_, hint)| hint.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::secrets::SecretValues;
    use crate::stack::backup::{
        PASSWORD_SECRET, S3_ACCESS_KEY_ID_SECRET, S3_SECRET_ACCESS_KEY_SECRET,
    };

    #[test]
    fn secrets_travel_in_the_environment_only() {
        let repository = Repository::parse("s3:https://s3.example.com/bucket").unwrap();
        let mut secrets = SecretValues::default();
        secrets.set(PASSWORD_SECRET, "pw-5f1c".to_string());
        secrets.set(S3_ACCESS_KEY_ID_SECRET, "AKIA-7d2e".to_string());
        secrets.set(S3_SECRET_ACCESS_KEY_SECRET, "sk-9a0b".to_string());
        let env = ResticEnv::new(&repository, &secrets).unwrap();
        assert_eq!(
            format!("{env:?}"),
            r#"{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "RESTIC_PASSWORD", "RESTIC_REPOSITORY"}"#
        );
        let restic = Restic::new(env.clone());
        let cmd = restic.command(&["snapshots", "--json"]);
        for arg in cmd.get_args() {
            let arg = arg.to_string_lossy();
            assert!(
                !["pw-5f1c", "AKIA-7d2e", "sk-9a0b"]
                    .iter()
                    .any(|s| arg.contains(s)),
                "{arg}"
            );
        }
        let envs: BTreeMap<String, String> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_string_lossy().into(), v?.to_string_lossy().into())))
            .collect();
        assert_eq!(envs["RESTIC_PASSWORD"], "pw-5f1c");
        assert_eq!(envs["AWS_SECRET_ACCESS_KEY"], "sk-9a0b");
        assert!(
            envs.keys().all(
                |k| PASSED_THROUGH.contains(&k.as_str()) || env.iter().any(|(var, _)| var == k)
            ),
            "the child's environment starts empty: {:?}",
            envs.keys()
        );
        assert_eq!(
            env.redact("open sk-9a0b failed for pw-5f1c"),
            "open <secret:backup_s3_secret_access_key> failed for <secret:restic_password>"
        );
    }

    #[test]
    fn a_missing_secret_is_named() {
        let repository = Repository::parse("/srv/restic").unwrap();
        let error = ResticEnv::new(&repository, &SecretValues::default()).unwrap_err();
        assert_eq!(error.to_string(), "secret `restic_password` has no value");
    }
}
