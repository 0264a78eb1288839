//! The deploy lock: one apply at a time per project and host.
//!
//! The lock is a container named `vpai-lock-<project>`, created (never started):
//! the daemon refuses a second container of the same name, so taking the lock is
//! atomic on the host itself. Its labels say who holds it (user, machine, process,
//! since when). It is released when apply ends, including on Ctrl-C and SIGTERM. A
//! holder that died without releasing it (SIGKILL, power loss) is detected when it
//! ran on this machine: its process is gone, so the lock is stale and is broken
//! with a warning. A holder on another machine cannot be checked from here: the
//! apply is refused with the holder's identity, and `vpai unlock` breaks it.
//! The same container, with the project root bind-mounted, receives host files.

use std::collections::HashMap;

use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, InspectContainerOptions};

use super::{Engine, EngineError};

pub const MOUNT: &str = "/vpai-root";

pub fn lock_name(project: &str) -> String {
    format!("vpai-lock-{project}")
}

/// Who we are, written on the lock.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub user: String,
    pub machine: String,
    pub pid: u32,
    /// Start time of the process (jiffies since boot), so a recycled PID is not
    /// mistaken for the holder.
    pub pid_start: String,
    pub since: String,
    /// Drawn when the lock is taken: only the run that holds this token releases
    /// the lock, so a run whose lock was broken never removes the next holder's.
    pub token: String,
}

impl Holder {
    pub fn me() -> Holder {
        let pid = std::process::id();
        Holder {
            user: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            machine: machine_name(),
            pid,
            pid_start: process_start(pid).unwrap_or_default(),
            since: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            token: format!("{:032x}", rand::random::<u128>()),
        }
    }

    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            ("vpai.lock.user".into(), self.user.clone()),
            ("vpai.lock.machine".into(), self.machine.clone()),
            ("vpai.lock.pid".into(), self.pid.to_string()),
            ("vpai.lock.pid-start".into(), self.pid_start.clone()),
            ("vpai.lock.since".into(), self.since.clone()),
            ("vpai.lock.token".into(), self.token.clone()),
        ])
    }

    fn from_labels(labels: &HashMap<String, String>) -> Holder {
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        Holder {
            user: get("vpai.lock.user"),
            machine: get("vpai.lock.machine"),
            pid: get("vpai.lock.pid").parse().unwrap_or(0),
            pid_start: get("vpai.lock.pid-start"),
            since: get("vpai.lock.since"),
            token: get("vpai.lock.token"),
        }
    }

    /// The holder ran here and its process is gone.
    fn is_stale_here(&self) -> bool {
        self.machine == machine_name()
            && process_start(self.pid).is_none_or(|start| start != self.pid_start)
    }

    /// The holder ran here and its process still runs: a live apply.
    pub fn is_alive_here(&self) -> bool {
        self.machine == machine_name() && !self.is_stale_here()
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} (pid {}) since {}",
            self.user, self.machine, self.pid, self.since
        )
    }
}

fn machine_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (starttime), counted after the parenthesised command name.
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19).map(str::to_string)
}

pub struct Lock {
    pub name: String,
    pub broke_stale: Option<Holder>,
    token: String,
}

fn conflict(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 409,
            ..
        }
    )
}

/// Take the lock, using `image` (present on the host) for the never-started container.
pub async fn acquire(
    engine: &Engine,
    project: &str,
    image: &str,
    root: &str,
) -> Result<Lock, EngineError> {
    let name = lock_name(project);
    let me = Holder::me();
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["/vpai-lock-never-started".into()]),
        labels: Some(me.labels()),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{root}:{MOUNT}")]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut broke_stale = None;
    for _ in 0..2 {
        let created = engine
            .docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body.clone(),
            )
            .await;
        match created {
            Ok(_) => {
                return Ok(Lock {
                    name,
                    broke_stale,
                    token: me.token,
                });
            }
            Err(e) if conflict(&e) => {
                // Released between our create and this read: try again.
                let Some(holder) = holder(engine, project).await? else {
                    continue;
                };
                if holder.is_stale_here() && broke_stale.is_none() {
                    super::remove_container(engine, &name).await?;
                    broke_stale = Some(holder);
                    continue;
                }
                return Err(EngineError::Refused(format!(
                    "another apply holds the deploy lock of `{project}`: {holder}; if that run is gone, break the lock with `vpai unlock`"
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(EngineError::Refused(format!(
        "could not take the deploy lock of `{project}`"
    )))
}

/// The current holder, if the lock is taken.
pub async fn holder(engine: &Engine, project: &str) -> Result<Option<Holder>, EngineError> {
    holder_of(engine, &lock_name(project)).await
}

async fn holder_of(engine: &Engine, name: &str) -> Result<Option<Holder>, EngineError> {
    match engine
        .docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(c) => Ok(Some(Holder::from_labels(
            &c.config.and_then(|c| c.labels).unwrap_or_default(),
        ))),
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Release the lock if this run still holds it. Broken under it (`vpai unlock
/// --force`) and taken since by another run, it is that run's: left in place.
pub async fn release(engine: &Engine, lock: &Lock) -> Result<(), EngineError> {
    match holder_of(engine, &lock.name).await? {
        Some(holder) if holder.token == lock.token => {
            super::remove_container(engine, &lock.name).await
        }
        Some(other) => Err(EngineError::Refused(format!(
            "the deploy lock was broken during this run and is now held by {other}: left to it"
        ))),
        None => Ok(()),
    }
}

/// Break the lock (`vpai unlock`): who held it, if anyone. A holder whose process
/// still runs on this machine is an apply at work, and breaking its lock would let a
/// second one run beside it: refused unless `force`. A holder on another machine
/// cannot be checked from here.
pub async fn break_lock(
    engine: &Engine,
    project: &str,
    force: bool,
) -> Result<Option<Holder>, EngineError> {
    let Some(holder) = holder(engine, project).await? else {
        return Ok(None);
    };
    if holder.is_alive_here() && !force {
        return Err(EngineError::Refused(format!(
            "the deploy lock of `{project}` is held by an apply that is still running: {holder}; \
             wait for it or stop it (`kill {}`); `vpai unlock --force` breaks the lock anyway",
            holder.pid
        )));
    }
    super::remove_container(engine, &lock_name(project)).await?;
    Ok(Some(holder))
}
