//! The backup plan: what `[backup]` and the services' hooks resolve to.
//!
//! Plain data, built by resolution and kept in the `Stack`, serialisable both ways
//! because the rendered bundle carries each host's part of it (`configs/backup/
//! plan.json`): a timer on the host runs a job with nothing but the bundle.

use serde::{Deserialize, Serialize};

use crate::stack::kinds::{HookKind, ScheduleStyle};

/// The restic repository password: generated, like every other secret.
pub const PASSWORD_SECRET: &str = "restic_password";
/// The Uptime Kuma push URL: it carries the monitor's token, so it is a secret.
pub const HEARTBEAT_SECRET: &str = "backup_heartbeat_url";
/// The variable that carries the heartbeat's push URL in the bundle's backup env file.
pub const HEARTBEAT_URL_VAR: &str = "VPAI_BACKUP_HEARTBEAT_URL";
pub const S3_ACCESS_KEY_ID_SECRET: &str = "backup_s3_access_key_id";
pub const S3_SECRET_ACCESS_KEY_SECRET: &str = "backup_s3_secret_access_key";
/// The job every host with services gets: its `configs/` directory (001 §5.4).
pub const CONFIGS_JOB: &str = "configs";

/// `[backup]` resolved: one repository, and the jobs of every host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    pub repository: Repository,
    pub schedule: ScheduleStyle,
    /// Whether jobs ping the push URL held by [`HEARTBEAT_SECRET`].
    pub heartbeat: bool,
    /// By host, then time of day, then name.
    pub jobs: Vec<BackupJob>,
}

impl Backup {
    /// The secrets restic and the heartbeat need, by name.
    pub fn secret_names(&self) -> Vec<&'static str> {
        let mut names = vec![PASSWORD_SECRET];
        if let RepositoryKind::S3 = self.repository.kind {
            names.extend([S3_ACCESS_KEY_ID_SECRET, S3_SECRET_ACCESS_KEY_SECRET]);
        }
        if self.heartbeat {
            names.push(HEARTBEAT_SECRET);
        }
        names
    }

    pub fn jobs_on<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a BackupJob> {
        self.jobs.iter().filter(move |j| j.host == host)
    }
}

/// One host's part of the plan, as its bundle carries it ([`PLAN_FILE`]): what
/// `vpai backup run` on that host reads. No secret is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPlan {
    pub project: String,
    /// The environment the bundle was rendered for: its snapshots carry it.
    pub env: String,
    pub host: String,
    pub repository: Repository,
    pub heartbeat: bool,
    pub jobs: Vec<BackupJob>,
}

/// [`HostPlan`]'s path relative to the project root.
pub const PLAN_FILE: &str = "configs/backup/plan.json";

impl HostPlan {
    pub fn new(project: &str, env: &str, backup: &Backup, host: &str) -> HostPlan {
        HostPlan {
            project: project.to_string(),
            env: env.to_string(),
            host: host.to_string(),
            repository: backup.repository.clone(),
            heartbeat: backup.heartbeat,
            jobs: backup.jobs_on(host).cloned().collect(),
        }
    }
}

/// A restic repository URL that restic accepts, and what kind it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// As restic takes it (`-r`).
    pub url: String,
    pub kind: RepositoryKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepositoryKind {
    /// A directory on the host itself (a mounted disk).
    Local,
    /// restic starts `ssh` itself, so the host's ssh config, keys and agent apply.
    Sftp {
        user: Option<String>,
        host: String,
        port: Option<u16>,
    },
    /// Credentials from the provided secrets `backup_s3_*`.
    S3,
}

impl Repository {
    /// Accept the forms restic accepts for the backends vpai supports: an absolute
    /// path (or `local:PATH`), `sftp:[user@]host:PATH`, `sftp://[user@]host[:port]/PATH`,
    /// `s3:[http[s]://]endpoint/bucket[/prefix]`. The error is a message and a hint.
    pub fn parse(text: &str) -> Result<Repository, (String, String)> {
        let url = text.to_string();
        let bad =
            |why: &str, hint: &str| Err((format!("repository `{text}`: {why}"), hint.to_string()));
        if let Some(path) = text
            .strip_prefix("local:")
            .or(Some(text).filter(|t| !t.contains(':')))
        {
            if !path.starts_with('/') {
                return bad(
                    "a local repository needs an absolute path",
                    "the job runs on the host from a timer: write e.g. \"/srv/backups/restic\"",
                );
            }
            return Ok(Repository {
                url,
                kind: RepositoryKind::Local,
            });
        }
        if let Some(rest) = text.strip_prefix("sftp://") {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (user, host_port) = split_user(authority);
            let (host, port) = match host_port.rsplit_once(':') {
                Some((h, p)) => match p.parse::<u16>() {
                    Ok(p) => (h, Some(p)),
                    Err(_) => {
                        return bad(
                            "the port is not a number",
                            "write sftp://user@host:2222//srv/restic",
                        );
                    }
                },
                None => (host_port, None),
            };
            if host.is_empty() || path.is_empty() {
                return bad(
                    "it names no host or no path",
                    "write sftp://user@host:2222//srv/restic (two slashes: an absolute path)",
                );
            }
            return Ok(Repository {
                url,
                kind: RepositoryKind::Sftp {
                    user,
                    host: host.to_string(),
                    port,
                },
            });
        }
        if let Some(rest) = text.strip_prefix("sftp:") {
            let Some((authority, path)) = rest.split_once(':') else {
                return bad("sftp needs `host:path`", "write sftp:user@host:/srv/restic");
            };
            let (user, host) = split_user(authority);
            if host.is_empty() || path.is_empty() {
                return bad(
                    "it names no host or no path",
                    "write sftp:user@host:/srv/restic",
                );
            }
            return Ok(Repository {
                url,
                kind: RepositoryKind::Sftp {
                    user,
                    host: host.to_string(),
                    port: None,
                },
            });
        }
        if let Some(rest) = text.strip_prefix("s3:") {
            let without_scheme = match rest.split_once("://") {
                Some(("https" | "http", r)) => r,
                Some(_) => {
                    return bad(
                        "S3 endpoints are http:// or https://",
                        "write s3:https://s3.example.com/bucket",
                    );
                }
                None => rest,
            };
            let mut parts = without_scheme.splitn(3, '/');
            let endpoint = parts.next().unwrap_or_default();
            let bucket = parts.next().unwrap_or_default();
            if endpoint.is_empty() || bucket.is_empty() {
                return bad(
                    "S3 needs an endpoint and a bucket",
                    "write s3:https://s3.example.com/bucket",
                );
            }
            return Ok(Repository {
                url,
                kind: RepositoryKind::S3,
            });
        }
        bad(
            "not a repository vpai can use",
            "use an absolute path, sftp:user@host:/path or s3:https://endpoint/bucket",
        )
    }
}

fn split_user(authority: &str) -> (Option<String>, &str) {
    match authority.split_once('@') {
        Some((user, host)) => (Some(user.to_string()), host),
        None => (None, authority),
    }
}

/// One backup job: a hook that stages a service's data, restic, then retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupJob {
    /// The service's name, or [`CONFIGS_JOB`]. Unique on its host.
    pub name: String,
    pub host: String,
    /// The service whose data it saves; `None` for the host's `configs` job.
    pub service: Option<String>,
    pub hook: Hook,
    pub at: BackupTime,
    pub retention: Retention,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hook {
    /// Every database of the stack on this server, by name.
    PgDump {
        databases: Vec<String>,
    },
    RedisRdb,
    /// Qdrant's HTTP port inside the container.
    QdrantSnapshot {
        port: u16,
    },
    N8nExport,
    /// Directories relative to `/opt/<project>`, read in place.
    Files {
        paths: Vec<String>,
    },
}

impl Hook {
    pub fn kind(&self) -> HookKind {
        match self {
            Hook::PgDump { .. } => HookKind::PgDump,
            Hook::RedisRdb => HookKind::RedisRdb,
            Hook::QdrantSnapshot { .. } => HookKind::QdrantSnapshot,
            Hook::N8nExport => HookKind::N8nExport,
            Hook::Files { .. } => HookKind::Files,
        }
    }
}

/// Snapshots restic keeps: the newest of each of the last N days, ISO weeks,
/// months and years that have one (restic `forget --keep-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
}

impl Retention {
    /// 001 §5.4: databases and n8n 7d/4w/6m/2y, Redis and configs 7d/4w, Qdrant 7d/4w/6m.
    pub fn default_for(kind: HookKind) -> Retention {
        let (daily, weekly, monthly, yearly) = match kind {
            HookKind::PgDump | HookKind::N8nExport => (7, 4, 6, 2),
            HookKind::QdrantSnapshot => (7, 4, 6, 0),
            HookKind::RedisRdb | HookKind::Files => (7, 4, 0, 0),
        };
        Retention {
            daily,
            weekly,
            monthly,
            yearly,
        }
    }

    pub fn keeps_nothing(&self) -> bool {
        self.daily + self.weekly + self.monthly + self.yearly == 0
    }
}

/// When a job runs, in the project's time zone: every day, or one day a week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct BackupTime {
    pub weekday: Option<Weekday>,
    pub hour: u8,
    pub minute: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "Mon"),
    (Weekday::Tue, "Tue"),
    (Weekday::Wed, "Wed"),
    (Weekday::Thu, "Thu"),
    (Weekday::Fri, "Fri"),
    (Weekday::Sat, "Sat"),
    (Weekday::Sun, "Sun"),
];

impl Weekday {
    /// The name systemd calendars and this file format use.
    pub fn name(self) -> &'static str {
        WEEKDAYS[self as usize].1
    }

    /// cron's day-of-week number (Sunday is 0).
    pub fn cron(self) -> u8 {
        (self as u8 + 1) % 7
    }
}

impl BackupTime {
    /// 001 §5.4: the jobs start five minutes apart from 03:00, so they do not
    /// compete for the disk.
    pub fn default_for(kind: HookKind) -> BackupTime {
        let minute = match kind {
            HookKind::PgDump => 0,
            HookKind::RedisRdb => 5,
            HookKind::QdrantSnapshot => 10,
            HookKind::N8nExport => 15,
            HookKind::Files => 20,
        };
        BackupTime {
            weekday: None,
            hour: 3,
            minute,
        }
    }

    /// `"03:00"` or `"Sun 03:00"`.
    pub fn parse(text: &str) -> Result<BackupTime, InvalidTime> {
        let invalid = || InvalidTime(text.to_string());
        let (weekday, clock) = match text.trim().split_once(' ') {
            Some((day, clock)) => {
                let day = WEEKDAYS
                    .iter()
                    .find(|(_, name)| name.eq_ignore_ascii_case(day))
                    .map(|(d, _)| *d)
                    .ok_or_else(invalid)?;
                (Some(day), clock.trim())
            }
            None => (None, text.trim()),
        };
        let (hour, minute) = clock.split_once(':').ok_or_else(invalid)?;
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hour) || !two_digits(minute) {
            return Err(invalid());
        }
        let (hour, minute): (u8, u8) = (
            hour.parse().map_err(|_| invalid())?,
            minute.parse().map_err(|_| invalid())?,
        );
        if hour > 23 || minute > 59 {
            return Err(invalid());
        }
        Ok(BackupTime {
            weekday,
            hour,
            minute,
        })
    }
}

impl std::fmt::Display for BackupTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(day) = self.weekday {
            write!(f, "{} ", day.name())?;
        }
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl From<BackupTime> for String {
    fn from(t: BackupTime) -> String {
        t.to_string()
    }
}

/// A backup time that is neither `HH:MM` nor `Day HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a time vpai understands; write \"03:00\" (daily) or \"Sun 03:00\" (weekly)")]
pub struct InvalidTime(String);

impl TryFrom<String> for BackupTime {
    type Error = InvalidTime;
    fn try_from(text: String) -> Result<Self, InvalidTime> {
        BackupTime::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_restic_accepts() {
        for ok in [
            "/srv/restic",
            "local:/srv/restic",
            "sftp:backup@nas:/srv/restic",
            "sftp:nas:restic",
            "sftp://backup@nas:2222//srv/restic",
            "s3:https://s3.example.com/bucket",
            "s3:https://s3.example.com/bucket/prefix",
            "s3:s3.amazonaws.com/bucket",
        ] {
            assert!(Repository::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "backups",
            "local:backups",
            "sftp:nas",
            "sftp://nas:port//srv",
            "s3:https://s3.example.com",
            "b2:bucket:path",
            "rest:https://host/",
        ] {
            assert!(Repository::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Repository::parse("sftp://backup@nas:2222//srv/restic")
                .unwrap()
                .kind,
            RepositoryKind::Sftp {
                user: Some("backup".into()),
                host: "nas".into(),
                port: Some(2222)
            }
        );
    }

    #[test]
    fn times_round_trip_and_refuse_nonsense() {
        for text in ["03:00", "Sun 03:00", "23:59"] {
            assert_eq!(BackupTime::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            BackupTime::parse("sun 04:30").unwrap().to_string(),
            "Sun 04:30"
        );
        for bad in ["3:00", "24:00", "03:60", "Sunday 03:00", "03h00", ""] {
            assert!(BackupTime::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Weekday::Sun.cron(), 0);
        assert_eq!(Weekday::Mon.cron(), 1);
    }
}
