//! `vpai backup`: run, list, restore and drill the host's backup jobs.

use crate::console::{stderrln, stdoutln};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::deploy;
use crate::diagnostic::Diagnostic;

use super::args::*;
use super::deploy::*;
use super::output::*;

#[derive(Subcommand)]
pub(super) enum BackupCommand {
    /// Run the host's backup jobs now (all, or those named with --job). Exit 1 if one fails.
    Run {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Only these jobs (a service name, or `configs`).
        #[arg(long)]
        job: Vec<String>,
        /// On the host, from its timer: read the plan and secrets of the bundle
        /// at this path (`/opt/<project>`) instead of a stack directory.
        #[arg(long, value_name = "ROOT")]
        bundle: Option<PathBuf>,
        /// Where jobs stage their files (default: ~/.cache/vpai/backup/...).
        #[arg(long)]
        staging: Option<PathBuf>,
    },
    /// List the snapshots of the host's jobs.
    List {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Only this job.
        #[arg(long)]
        job: Option<String>,
    },
    /// Bring one service's data back from a snapshot, in production. Asks first.
    ///
    /// PostgreSQL: every database of the job is dropped and recreated from its dump.
    /// Redis: the server is stopped, its RDB replaced, and started again. Data
    /// directories (`files` hook): copied back, owners kept, with the service
    /// stopped meanwhile. Qdrant and n8n snapshots are listed and kept, but put
    /// back by hand for now (`restic restore`).
    Restore {
        #[command(flatten)]
        deploy: DeployArgs,
        /// The job: the service whose data to restore.
        #[arg(value_name = "JOB")]
        job: Option<String>,
        /// Snapshot id (default: the job's latest).
        #[arg(long)]
        snapshot: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Restore a snapshot into a scratch container and check it, leaving production alone.
    ///
    /// The scratch container is a copy of the service's (image, command, user,
    /// healthcheck) with no network, no port and fresh volumes; it is removed after.
    /// PostgreSQL: each database restored, its tables' rows counted. Redis: the RDB
    /// loaded, its keys counted.
    Drill {
        #[command(flatten)]
        deploy: DeployArgs,
        /// The job: the service whose snapshot to drill.
        #[arg(value_name = "JOB")]
        job: Option<String>,
        /// Snapshot id (default: the job's latest).
        #[arg(long)]
        snapshot: Option<String>,
    },
}

/// A backup session: from the stack directory, or from the host's bundle.
pub(super) fn backup_session(
    args: &DeployArgs,
    bundle: Option<&Path>,
    staging: Option<PathBuf>,
    rt: &tokio::runtime::Runtime,
) -> Result<crate::backup::command::Session, Failure> {
    args.remember();
    use crate::backup::command::Session;
    if let Some(bundle) = bundle {
        let engine = connect(
            rt,
            &crate::engine::target::Target::parse(args.target.as_deref())
                .map_err(Diagnostic::from)?,
        )?;
        return Ok(Session::from_bundle(bundle, engine, staging)?);
    }
    let ctx = deploy_context(args)?;
    let engine = connect(rt, &ctx.target)?;
    Session::from_stack(&ctx, engine, staging).map_err(|d| Failure {
        diagnostics: vec![d],
        sources: ctx.stack.sources.clone(),
    })
}

pub(super) fn backup_cmd(command: BackupCommand) -> Result<ExitCode, Failure> {
    let rt = deploy::runtime();
    match command {
        BackupCommand::Run {
            deploy,
            job,
            bundle,
            staging,
        } => {
            deploy.stack.once("backup run")?;
            let session = backup_session(&deploy, bundle.as_deref(), staging, &rt)?;
            let json = deploy.json;
            let progress = |r: &crate::backup::run::JobReport| {
                if !json {
                    match &r.error {
                        None => stderrln!(
                            "{}: snapshot {} ({} file(s), {} bytes; kept {}, removed {}) in {:.1}s",
                            r.job,
                            r.snapshot.as_deref().unwrap_or("?"),
                            r.files.len(),
                            r.files.iter().map(|(_, n)| n).sum::<u64>(),
                            r.kept,
                            r.removed,
                            r.seconds
                        ),
                        Some(e) => stderrln!("{}: FAILED: {e}", r.job),
                    }
                }
            };
            let (reports, warning) = rt.block_on(session.run(&job, &progress))?;
            if let Some(w) = &warning {
                stderrln!("warning: {w}");
            }
            let ok = reports.iter().all(|r| r.ok);
            if json {
                print_json(&serde_json::json!({
                    "project": session.project, "host": session.host, "ok": ok,
                    "jobs": reports, "heartbeat_warning": warning,
                }));
            } else {
                stderrln!(
                    "backup of `{}` on `{}`: {} of {} job(s) succeeded",
                    session.project,
                    session.host,
                    reports.iter().filter(|r| r.ok).count(),
                    reports.len()
                );
            }
            Ok(exit(ok))
        }
        BackupCommand::List { deploy, job } => {
            deploy.stack.once("backup list")?;
            let session = backup_session(&deploy, None, None, &rt)?;
            let jobs: Vec<&crate::stack::backup::BackupJob> = match &job {
                Some(name) => vec![session.job(name)?],
                None => session.jobs.iter().collect(),
            };
            let mut listed = Vec::new();
            for job in jobs {
                let labels = job.labels(&session.project, &session.env);
                let snapshots = session.restic.snapshots(Some(&labels)).map_err(|e| {
                    Diagnostic::error("restic", e.to_string()).maybe_help(e.hint.clone())
                })?;
                listed.push((job.name.clone(), snapshots));
            }
            if deploy.json {
                print_json(
                    &listed
                        .iter()
                        .map(|(job, snapshots)| {
                            serde_json::json!({ "job": job, "snapshots": snapshots.iter().map(|s| serde_json::json!({"id": s.short_id, "time": s.time, "paths": s.paths})).collect::<Vec<_>>() })
                        })
                        .collect::<Vec<_>>(),
                );
            } else {
                for (job, snapshots) in &listed {
                    stdoutln!("{job}: {} snapshot(s)", snapshots.len());
                    for s in snapshots {
                        stdoutln!("  {}  {}", s.short_id, s.time);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Restore {
            mut deploy,
            job,
            snapshot,
            yes,
        } => {
            let job = deploy.stack.thing(job, "JOB", "backup restore")?;
            const HINT: &str = "pass --yes to restore without asking";
            if !yes {
                can_ask(&format!("replace `{job}`'s data with a snapshot?"), HINT)?;
            }
            let session = backup_session(&deploy, None, None, &rt)?;
            let (runner, job, chosen) = rt.block_on(session.prepare(&job, snapshot.as_deref()))?;
            if !yes
                && !confirm(
                    &format!(
                        "replace `{}`'s data on `{}` with snapshot {} ({})?",
                        job.name, session.host, chosen.short_id, chosen.time
                    ),
                    HINT,
                )?
            {
                return Ok(ExitCode::FAILURE);
            }
            let done = rt.block_on(runner.restore(job, &chosen))?;
            if deploy.json {
                print_json(
                    &serde_json::json!({ "job": job.name, "snapshot": chosen.short_id, "done": done }),
                );
            } else {
                for line in &done {
                    stderrln!("{line}");
                }
                stderrln!("restored `{}` from snapshot {}", job.name, chosen.short_id);
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Drill {
            mut deploy,
            job,
            snapshot,
        } => {
            let job = deploy.stack.thing(job, "JOB", "backup drill")?;
            let session = backup_session(&deploy, None, None, &rt)?;
            let (runner, job, chosen) = rt.block_on(session.prepare(&job, snapshot.as_deref()))?;
            let report = rt.block_on(runner.drill(job, &chosen))?;
            if deploy.json {
                print_json(&report);
            } else {
                stdoutln!(
                    "drill of `{}` from snapshot {}: restored in a scratch container in {:.1}s",
                    report.job,
                    report.snapshot,
                    report.seconds
                );
                for (db, tables) in &report.found {
                    stdoutln!("  database {db}: {} table(s)", tables.len());
                    for (table, rows) in tables {
                        stdoutln!("    {table}: {rows} row(s)");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
