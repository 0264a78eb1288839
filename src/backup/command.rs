//! The backup commands' setup, from either of the two places they run: an
//! operator's stack directory (stack, `secrets.age`, any engine target), or the
//! bundle on the host, where the timers call `vpai backup run --bundle
//! /opt/<project>` with the restic secrets in their environment.

use std::path::{Path, PathBuf};

use crate::backup::heartbeat::{self, Status};
use crate::backup::restic::{Restic, Snapshot};
use crate::backup::run::{JobReport, Runner};
use crate::deploy::Context;
use crate::diagnostic::Diagnostic;
use crate::engine::{Engine, state};
use crate::secrets::restic_env::ResticEnv;
use crate::stack::backup::{BackupJob, HEARTBEAT_SECRET, HostPlan, PLAN_FILE};

/// Everything a backup command needs about one host.
pub struct Session {
    pub engine: Engine,
    pub project: String,
    pub env: String,
    pub host: String,
    pub jobs: Vec<BackupJob>,
    pub restic: Restic,
    pub heartbeat_url: Option<String>,
    pub staging_root: PathBuf,
}

fn restic_for(env: ResticEnv, repository: &crate::stack::backup::Repository) -> Restic {
    let restic = Restic::new(env);
    match std::env::var("VPAI_SSH_COMMAND") {
        Ok(command) => restic.with_ssh_command(&command, repository),
        Err(_) => restic,
    }
}

/// `$XDG_CACHE_HOME/vpai/backup/<project>/<env>/<host>` (or under `~/.cache`).
fn default_staging(project: &str, env: &str, host: &str) -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("vpai/backup").join(project).join(env).join(host)
}

impl Session {
    pub fn from_stack(
        ctx: &Context,
        engine: Engine,
        staging: Option<PathBuf>,
    ) -> Result<Session, Diagnostic> {
        let stack = &ctx.stack;
        let backup = stack.backup.as_ref().ok_or_else(|| {
            Diagnostic::error("no-backup", "this stack has no [backup] section").help(
                "add `[backup] repository = \"/srv/backups\"` (or sftp:..., s3:...) to vpai.toml",
            )
        })?;
        let env = ResticEnv::new(&backup.repository, &ctx.secrets)?;
        let project = stack.project.name.clone();
        Ok(Session {
            engine,
            staging_root: staging
                .unwrap_or_else(|| default_staging(&project, &stack.env, &ctx.host)),
            project,
            env: stack.env.clone(),
            host: ctx.host.clone(),
            jobs: backup.jobs_on(&ctx.host).cloned().collect(),
            restic: restic_for(env, &backup.repository),
            heartbeat_url: backup
                .heartbeat
                .then(|| ctx.secrets.get(HEARTBEAT_SECRET).map(str::to_string))
                .flatten(),
        })
    }

    /// On the host: the plan its bundle carries, the secrets from the environment.
    pub fn from_bundle(
        bundle: &Path,
        engine: Engine,
        staging: Option<PathBuf>,
    ) -> Result<Session, Diagnostic> {
        let path = bundle.join(PLAN_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Diagnostic::error("no-backup", format!("cannot read {}: {e}", path.display()))
                .help("apply a stack with a [backup] section to this host first")
        })?;
        let plan: HostPlan = serde_json::from_str(&text).map_err(|e| {
            Diagnostic::error(
                "no-backup",
                format!("{} is not a backup plan: {e}", path.display()),
            )
        })?;
        let env = ResticEnv::from_process(&plan.repository)?;
        Ok(Session {
            engine,
            staging_root: staging
                .unwrap_or_else(|| default_staging(&plan.project, &plan.env, &plan.host)),
            restic: restic_for(env, &plan.repository),
            heartbeat_url: plan
                .heartbeat
                .then(|| std::env::var(crate::stack::backup::HEARTBEAT_URL_VAR).ok())
                .flatten(),
            project: plan.project,
            env: plan.env,
            host: plan.host,
            jobs: plan.jobs,
        })
    }

    /// A job of this host by name, or a "did you mean".
    pub fn job(&self, name: &str) -> Result<&BackupJob, Diagnostic> {
        self.jobs.iter().find(|j| j.name == name).ok_or_else(|| {
            Diagnostic::error(
                "unknown-job",
                format!("host `{}` has no backup job `{name}`", self.host),
            )
            .maybe_help(crate::suggest::hint(
                name,
                self.jobs.iter().map(|j| j.name.as_str()),
            ))
        })
    }

    /// The runner, with an image of the project's for the `files` jobs' copies.
    pub async fn runner(&self) -> Result<Runner<'_>, Diagnostic> {
        let containers = state::project_containers(&self.engine, &self.project).await?;
        let helper_image = containers
            .iter()
            .find_map(|c| c.image.clone())
            .ok_or_else(|| {
                Diagnostic::error(
                    "not-deployed",
                    format!("`{}` runs nothing on `{}`", self.project, self.host),
                )
                .help("apply the stack to this host first")
            })?;
        Ok(Runner {
            engine: &self.engine,
            project: &self.project,
            env: &self.env,
            restic: &self.restic,
            staging_root: self.staging_root.clone(),
            helper_image,
        })
    }

    /// What `restore` and `drill` start from: the runner, the job named and its
    /// snapshot (the one named, or the latest).
    pub async fn prepare(
        &self,
        job: &str,
        snapshot: Option<&str>,
    ) -> Result<(Runner<'_>, &BackupJob, Snapshot), Diagnostic> {
        let job = self.job(job)?;
        let runner = self.runner().await?;
        let chosen = runner.snapshot(job, snapshot)?;
        Ok((runner, job, chosen))
    }

    /// Run the jobs (all, or those named), one after the other, then push the
    /// heartbeat: up when all succeeded, down otherwise. A failed heartbeat is
    /// returned as a warning.
    pub async fn run(
        &self,
        only: &[String],
        progress: &dyn Fn(&JobReport),
    ) -> Result<(Vec<JobReport>, Option<String>), Diagnostic> {
        for name in only {
            self.job(name)?;
        }
        let runner = self.runner().await?;
        let mut reports = Vec::new();
        for job in self
            .jobs
            .iter()
            .filter(|j| only.is_empty() || only.contains(&j.name))
        {
            let report = runner.run(job, None).await;
            progress(&report);
            reports.push(report);
        }
        let mut warning = None;
        if let Some(url) = &self.heartbeat_url {
            let failed: Vec<&str> = reports
                .iter()
                .filter(|r| !r.ok)
                .map(|r| r.job.as_str())
                .collect();
            let (status, message) = if failed.is_empty() {
                (Status::Up, format!("{} job(s) backed up", reports.len()))
            } else {
                (Status::Down, format!("failed: {}", failed.join(", ")))
            };
            if let Err(e) = heartbeat::push(url, status, &message).await {
                warning = Some(e.to_string());
            }
        }
        Ok((reports, warning))
    }
}
