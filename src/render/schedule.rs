//! When jobs run: files for the host's scheduler, rendered into its bundle under
//! `host/` (the host's root file system), like `host/etc/docker/daemon.json`.
//!
//! systemd (the default) gets one `.service` and `.timer` pair per job, so each
//! job has its own time, its own journal and its own failure state
//! (`systemctl list-timers`, `systemctl status`), and `Persistent=true` runs a job
//! a reboot made it miss. `schedule = "cron"` gives one `/etc/cron.d` file for
//! hosts without systemd. Either way the command is `vpai backup run --job JOB`
//! with the secrets from the bundle's `configs/backup/backup.env` in its
//! environment.

use crate::render::HEADER;
use crate::stack::Stack;
use crate::stack::backup::{Backup, BackupJob};
use crate::stack::host_root;
use crate::stack::kinds::ScheduleStyle;

/// Where `vpai host bootstrap` installs the binary on a host.
pub const HOST_BINARY: &str = "/usr/local/bin/vpai";

/// The bundle's env file with the repository and its credentials (mode 0600).
pub fn env_file(project: &str) -> String {
    format!("{}/{}", host_root(project), ENV_FILE)
}

/// The env file's path relative to the project root.
pub const ENV_FILE: &str = "configs/backup/backup.env";

/// `vpai-<project>-backup-<job>`: the project in the name, so two stacks on one
/// host keep their own units.
pub fn unit_name(project: &str, job: &BackupJob) -> String {
    format!("vpai-{project}-backup-{}", job.name)
}

fn command(project: &str, job: &BackupJob) -> String {
    format!(
        "{HOST_BINARY} backup run --bundle {} --job {}",
        host_root(project),
        job.name
    )
}

/// The scheduler files of `host`, by path relative to its bundle. Empty when
/// the host has no job.
pub fn render(stack: &Stack, backup: &Backup, host: &str) -> Vec<(String, String)> {
    let project = &stack.project.name;
    let jobs: Vec<&BackupJob> = backup.jobs_on(host).collect();
    if jobs.is_empty() {
        return Vec::new();
    }
    match backup.schedule {
        ScheduleStyle::Systemd => jobs
            .iter()
            .flat_map(|job| {
                let unit = unit_name(project, job);
                [
                    (
                        format!("host/etc/systemd/system/{unit}.service"),
                        service_unit(project, job),
                    ),
                    (
                        format!("host/etc/systemd/system/{unit}.timer"),
                        timer_unit(stack, job),
                    ),
                ]
            })
            .collect(),
        ScheduleStyle::Cron => vec![(
            format!("host/etc/cron.d/vpai-{project}-backup"),
            cron_file(stack, &jobs),
        )],
    }
}

fn what(job: &BackupJob) -> String {
    let hook = serde_json::to_value(job.hook.kind()).expect("hook kinds serialise");
    let hook = hook.as_str().unwrap_or_default();
    match &job.service {
        Some(service) => format!("{service} ({hook})"),
        None => format!("{} ({hook})", job.name),
    }
}

fn service_unit(project: &str, job: &BackupJob) -> String {
    format!(
        "# {HEADER}\n\
         [Unit]\n\
         Description=vpai backup of {project}: {what}\n\
         Wants=network-online.target\n\
         After=network-online.target docker.service\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         EnvironmentFile={env}\n\
         ExecStart={command}\n\
         # Dumps and uploads yield to the services.\n\
         Nice=10\n\
         IOSchedulingClass=idle\n",
        what = what(job),
        env = env_file(project),
        command = command(project, job),
    )
}

fn timer_unit(stack: &Stack, job: &BackupJob) -> String {
    let day = job
        .at
        .weekday
        .map(|d| format!("{} ", d.name()))
        .unwrap_or_default();
    format!(
        "# {HEADER}\n\
         [Unit]\n\
         Description=vpai backup of {project}: {what}, {at}\n\
         \n\
         [Timer]\n\
         OnCalendar={day}*-*-* {hour:02}:{minute:02}:00 {timezone}\n\
         # Run at boot a job the host was down for.\n\
         Persistent=true\n\
         # Jobs are minutes apart; a small spread keeps hosts sharing a repository apart too.\n\
         RandomizedDelaySec=60\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        project = stack.project.name,
        what = what(job),
        at = job.at,
        hour = job.at.hour,
        minute = job.at.minute,
        timezone = stack.project.timezone,
    )
}

fn cron_file(stack: &Stack, jobs: &[&BackupJob]) -> String {
    let project = &stack.project.name;
    let mut out = format!(
        "# {HEADER}\n\
         # cron uses the host's time zone; the stack's times are in {}.\n\
         SHELL=/bin/sh\n\
         PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
        stack.project.timezone
    );
    for job in jobs {
        let day = job
            .at
            .weekday
            .map(|d| d.cron().to_string())
            .unwrap_or_else(|| "*".to_string());
        out.push_str(&format!(
            "{} {} * * {day} root set -a && . {} && exec {}\n",
            job.at.minute,
            job.at.hour,
            env_file(project),
            command(project, job)
        ));
    }
    out
}
