//! Backups: dumps staged by hooks inside the services' containers, restic for
//! storage and retention, timers on the host, a heartbeat to the monitor.
//!
//! Everything here but the engine's `exec` is independent of Docker:
//! - `plan` — the typed plan resolution builds from `[backup]` and the services'
//!   hooks (jobs, retention, times), and the secrets it needs;
//! - `hooks` — the steps of each hook kind: commands inside a container and the
//!   files they leave in the job's staging directory;
//! - `restic` — the real `restic` binary behind typed operations;
//! - `schedule` — systemd timers or a cron file in the host's bundle;
//! - `heartbeat` — the Uptime Kuma push after a job.

pub mod command;
pub mod error;
pub mod heartbeat;
pub mod hooks;
pub mod restic;
pub mod run;
