//! The deploy commands: plan, apply, up, smoke, status, logs, down, unlock, rollback.

use crate::console::{stderr, stderrln, stdout, stdoutln};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::deploy;

use super::args::*;
use super::output::*;

/// Load, check and decrypt: nothing reaches an engine before the stack is clean.
pub(super) fn deploy_context(args: &DeployArgs) -> Result<deploy::Context, Failure> {
    args.remember();
    Ok(deploy::context(
        args.stack.dir(),
        &args.stack.env,
        args.host.as_deref(),
        args.target.as_deref(),
        args.identity.identity.as_deref(),
    )?)
}

pub(super) fn connect(
    rt: &tokio::runtime::Runtime,
    target: &crate::engine::target::Target,
) -> Result<crate::engine::Engine, Failure> {
    Ok(rt.block_on(crate::engine::Engine::connect(target))?)
}

/// Check, connect and plan: what `plan` shows and `apply` executes.
pub(super) struct Planned {
    pub(super) ctx: deploy::Context,
    pub(super) rt: tokio::runtime::Runtime,
    pub(super) engine: crate::engine::Engine,
    pub(super) desired: crate::engine::desired::Desired,
    pub(super) plan: crate::engine::plan::Plan,
}

pub(super) fn planned(args: &DeployArgs) -> Result<Planned, Failure> {
    let ctx = deploy_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &ctx.target)?;
    let (desired, plan) = rt
        .block_on(deploy::make_plan(&engine, &ctx))
        .map_err(|diagnostics| Failure {
            diagnostics,
            sources: ctx.stack.sources.clone(),
        })?;
    Ok(Planned {
        ctx,
        rt,
        engine,
        desired,
        plan,
    })
}

pub(super) fn plan_cmd(args: &DeployArgs, out: Option<&PathBuf>) -> Result<ExitCode, Failure> {
    let Planned { plan, .. } = planned(args)?;
    if let Some(path) = out {
        deploy::plan_file_write(path, &plan)?;
    }
    if args.json {
        print_json(&plan);
    } else {
        stdout!("{}", crate::engine::plan::render_text(&plan));
        if let Some(path) = out {
            stdoutln!(
                "{}",
                super::hints::runnable(&format!(
                    "saved to {}; apply it with `vpai apply --plan {}`",
                    path.display(),
                    super::hints::quoted(path)
                ))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn apply_cmd(
    args: &DeployArgs,
    saved: Option<&PathBuf>,
    yes: bool,
    verb: Option<&str>,
    smoke: Option<&SmokeArgs>,
) -> Result<ExitCode, Failure> {
    let Planned {
        ctx,
        rt,
        engine,
        desired,
        plan,
    } = planned(args)?;
    if let Some(path) = saved {
        deploy::check_saved(&deploy::plan_file_read(path)?, &plan)?;
    }
    if !args.json {
        stderr!("{}", crate::engine::plan::render_text(&plan));
    }
    if plan.is_empty() {
        if args.json && smoke.is_none() {
            print_json(&serde_json::json!({ "ok": true, "changed": false, "plan": plan }));
        }
        return match smoke {
            Some(s) => run_smoke(&rt, engine, &ctx, s, args.json),
            None => Ok(ExitCode::SUCCESS),
        };
    }
    if !yes
        && saved.is_none()
        && !confirm(
            &format!("apply these changes to `{}`?", ctx.host),
            "pass --yes, or save a plan with `vpai plan --out FILE` and `vpai apply --plan FILE`",
        )?
    {
        return Ok(ExitCode::FAILURE);
    }
    let report = rt.block_on(deploy::apply(
        engine,
        &ctx,
        desired,
        &plan,
        super::progress::progress(args.json),
    ))?;
    if args.json {
        print_json(&report);
    } else {
        for s in report.services.iter().filter(|s| s.error.is_some()) {
            stderrln!(
                "\nservice `{}` failed: {}",
                s.service,
                s.error.as_deref().unwrap_or_default()
            );
            if let Some(logs) = &s.logs {
                stderrln!("last log lines of `{}`:\n{}", s.service, logs.trim_end());
            }
        }
        for p in &report.provisioned {
            stderrln!("provisioned: {p}");
        }
        for o in &report.removed_orphans {
            stderrln!("removed orphan: {o}");
        }
        stderrln!(
            "{} `{}` on `{}`: {} in {:.1}s (release {})",
            verb.unwrap_or("apply"),
            ctx.stack.project.name,
            ctx.host,
            if report.ok { "converged" } else { "FAILED" },
            report.seconds,
            report.release
        );
    }
    match smoke {
        Some(s) if report.ok => {
            let engine = connect(&rt, &ctx.target)?;
            run_smoke(&rt, engine, &ctx, s, args.json)
        }
        _ => Ok(exit(report.ok)),
    }
}

pub(super) fn smoke_cmd(args: &DeployArgs, smoke: &SmokeArgs) -> Result<ExitCode, Failure> {
    let ctx = deploy_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &ctx.target)?;
    run_smoke(&rt, engine, &ctx, smoke, args.json)
}

pub(super) fn run_smoke(
    rt: &tokio::runtime::Runtime,
    engine: crate::engine::Engine,
    ctx: &deploy::Context,
    args: &SmokeArgs,
    json: bool,
) -> Result<ExitCode, Failure> {
    let report = rt
        .block_on(deploy::smoke(engine, ctx, args.timeout, args.parallel))
        .map_err(|diagnostics| Failure {
            diagnostics,
            sources: ctx.stack.sources.clone(),
        })?;
    if json {
        print_json(&report);
    } else {
        stdout!("{}", smoke_table(&report));
    }
    Ok(exit(report.ok()))
}

/// One line per check: result, kind, name, what was found, time.
pub(super) fn smoke_table(report: &crate::smoke::Report) -> String {
    let width = |f: &dyn Fn(&crate::smoke::Outcome) -> usize| {
        report.checks.iter().map(f).max().unwrap_or(0)
    };
    let name_width = width(&|o| o.check.name.chars().count()).max(5);
    let mut out = format!(
        "smoke `{}` on `{}`\n{:<4}  {:<8}  {:<name_width$}  {:>6}  DETAIL\n",
        report.project, report.host, "", "KIND", "CHECK", "TIME"
    );
    for o in &report.checks {
        out.push_str(&format!(
            "{:<4}  {:<8}  {:<name_width$}  {:>4}ms  {}\n",
            if o.passed { "ok" } else { "FAIL" },
            o.check.kind.label(),
            o.check.name,
            o.millis,
            if o.passed {
                o.detail.clone()
            } else {
                format!("{} — {}", o.detail, o.check.target)
            },
        ));
    }
    out.push_str(&format!(
        "{} passed, {} failed\n",
        report.passed, report.failed
    ));
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

/// Status, logs, down, unlock and rollback need the project name and a target, not
/// the secrets.
pub(super) fn light_context(args: &DeployArgs) -> Result<deploy::Reach, Failure> {
    args.remember();
    Ok(deploy::reach(
        args.stack.dir(),
        &args.stack.env,
        args.host.as_deref(),
        args.target.as_deref(),
    )?)
}

pub(super) fn status_cmd(args: &DeployArgs) -> Result<ExitCode, Failure> {
    let reach = light_context(args)?;
    let lines = deploy::runtime().block_on(deploy::status(&reach))?;
    if args.json {
        print_json(&lines);
        return Ok(ExitCode::SUCCESS);
    }
    stdoutln!(
        "{:<20} {:<9} {:<10} {:>14}  image",
        "service",
        "state",
        "health",
        "memory"
    );
    for l in &lines {
        let memory = match (l.memory_mb, l.limit_mb) {
            (Some(m), Some(limit)) => format!("{m}/{limit} MB"),
            _ => "-".into(),
        };
        stdoutln!(
            "{:<20} {:<9} {:<10} {:>14}  {}",
            l.service,
            l.state,
            l.health.as_deref().unwrap_or("-"),
            memory,
            l.image
        );
    }
    if lines.is_empty() {
        stdoutln!(
            "no container of `{}` on this engine",
            reach.stack.project.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn logs_cmd(
    args: &DeployArgs,
    service: &str,
    follow: bool,
    tail: &str,
) -> Result<ExitCode, Failure> {
    let reach = light_context(args)?;
    let mut out = std::io::stdout();
    deploy::runtime().block_on(deploy::logs(&reach, service, follow, tail, &mut out))?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn down_cmd(args: &DeployArgs, volumes: bool, yes: bool) -> Result<ExitCode, Failure> {
    let reach = light_context(args)?;
    let project = &reach.stack.project.name;
    if volumes
        && !yes
        && !confirm(
            &format!(
                "remove `{project}` from `{}` and DELETE its data ({}/data and configs)?",
                reach.host,
                crate::stack::host_root(project)
            ),
            "pass --yes to delete the data without asking",
        )?
    {
        return Ok(ExitCode::FAILURE);
    }
    let report = deploy::runtime().block_on(deploy::down(&reach, volumes))?;
    if args.json {
        print_json(&report);
    } else {
        stderrln!(
            "removed {} containers and {} networks of `{project}`; data {}",
            report.removed_containers.len(),
            report.removed_networks.len(),
            if report.removed_data {
                "deleted"
            } else {
                "kept"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn unlock_cmd(args: &DeployArgs, force: bool) -> Result<ExitCode, Failure> {
    let reach = light_context(args)?;
    let project = &reach.stack.project.name;
    let holder = deploy::runtime().block_on(deploy::unlock(&reach, force))?;
    if args.json {
        print_json(&serde_json::json!({
            "project": project,
            "broken": holder.as_ref().map(|h| h.to_string()),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    match holder {
        Some(holder) if holder.is_alive_here() => stderrln!(
            "warning: broke the deploy lock of `{project}` held by {holder}, which is still running: it may fail, or another apply may run beside it"
        ),
        Some(holder) => stderrln!("broke the deploy lock of `{project}` held by {holder}"),
        None => stderrln!("`{project}` was not locked"),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn rollback_cmd(
    args: &DeployArgs,
    release: Option<&str>,
    list: bool,
    yes: bool,
) -> Result<ExitCode, Failure> {
    let deploy::Reach {
        stack,
        host,
        target,
    } = light_context(args)?;
    if !list
        && !yes
        && !confirm(
            &format!(
                "roll `{}` on `{host}` back to {}?",
                stack.project.name,
                release.map_or("the previous release".to_string(), |r| format!(
                    "release {r}"
                ))
            ),
            "pass --yes to roll back without asking",
        )?
    {
        return Ok(ExitCode::FAILURE);
    }
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    let identities = crate::secrets::identity_candidates(
        args.identity.identity.as_deref(),
        &crate::stack::load::stack_dir(args.stack.dir()),
        stack.identity.as_deref(),
    );
    let outcome = rt.block_on(deploy::rollback(
        engine,
        &stack,
        &identities,
        release,
        list,
        super::progress::progress(args.json),
    ))?;
    match outcome {
        deploy::RollbackOutcome::List(releases) => {
            if args.json {
                print_json(&releases);
            } else {
                for r in &releases {
                    stdoutln!(
                        "{}  {}  {:<8} {}  {}",
                        r.id,
                        r.at,
                        r.env,
                        if r.ok { "ok    " } else { "FAILED" },
                        r.by
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        deploy::RollbackOutcome::Applied { to, report } => {
            if args.json {
                print_json(&serde_json::json!({ "rolled_back_to": to, "report": report }));
            } else {
                stderrln!(
                    "rollback of `{}` to {to}: {} in {:.1}s (release {})",
                    stack.project.name,
                    if report.ok { "converged" } else { "FAILED" },
                    report.seconds,
                    report.release
                );
            }
            Ok(exit(report.ok))
        }
    }
}
