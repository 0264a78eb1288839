//! The deploy commands: plan, apply, up, smoke, status, logs, down, unlock, rollback.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::deploy;
use crate::diagnostic::Diagnostic;
use crate::stack::Stack;

use super::args::*;
use super::output::*;
use super::stack::*;

/// Load, check and decrypt: nothing reaches an engine before the stack is clean.
pub(super) fn deploy_context(args: &DeployArgs) -> Result<deploy::Context, Failure> {
    let stack = load_checked(
        &args.stack,
        "refused",
        "nothing deployed: the stack has errors",
    )?;
    let host = deploy::pick_host(&stack, args.host.as_deref())?;
    let target = deploy::pick_target(&stack, &host, args.target.as_deref())?;
    let secrets = deploy::load_secrets(
        &stack_dir(&args.stack),
        &stack,
        args.identity.identity.as_deref(),
    )?;
    Ok(deploy::Context {
        stack: std::sync::Arc::new(stack),
        secrets: std::sync::Arc::new(secrets),
        host,
        target,
    })
}

pub(super) fn connect(
    rt: &tokio::runtime::Runtime,
    target: &crate::engine::target::Target,
) -> Result<crate::engine::Engine, Failure> {
    rt.block_on(crate::engine::Engine::connect(target))
        .map_err(|e| deploy::error(e).into())
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
        print!("{}", crate::engine::plan::render_text(&plan));
        if let Some(path) = out {
            println!(
                "saved to {}; apply it with `vpai apply --plan {}`",
                path.display(),
                path.display()
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
        eprint!("{}", crate::engine::plan::render_text(&plan));
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
    if !yes && saved.is_none() {
        if !std::io::stdin().is_terminal() {
            return Err(Diagnostic::error("refused", "no terminal to confirm on")
                .help("pass --yes, or save a plan with `vpai plan --out FILE` and `vpai apply --plan FILE`")
                .into());
        }
        eprint!("apply these changes to `{}`? [y/N] ", ctx.host);
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).ok();
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing changed");
            return Ok(ExitCode::FAILURE);
        }
    }
    let report = rt.block_on(deploy::apply(engine, &ctx, desired, &plan, args.json))?;
    if args.json {
        print_json(&report);
    } else {
        for s in report.services.iter().filter(|s| s.error.is_some()) {
            eprintln!(
                "\nservice `{}` failed: {}",
                s.service,
                s.error.as_deref().unwrap_or_default()
            );
            if let Some(logs) = &s.logs {
                eprintln!("last log lines of `{}`:\n{}", s.service, logs.trim_end());
            }
        }
        for p in &report.provisioned {
            eprintln!("provisioned: {p}");
        }
        for o in &report.removed_orphans {
            eprintln!("removed orphan: {o}");
        }
        eprintln!(
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
        print!("{}", smoke_table(&report));
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

/// Status, logs, down and unlock need the project name and a target, not the secrets.
pub(super) fn light_context(
    args: &DeployArgs,
) -> Result<(Stack, String, crate::engine::target::Target), Failure> {
    let stack = load(&args.stack)?;
    let host = deploy::pick_host(&stack, args.host.as_deref())?;
    let target = deploy::pick_target(&stack, &host, args.target.as_deref())?;
    Ok((stack, host, target))
}

pub(super) fn status_cmd(args: &DeployArgs) -> Result<ExitCode, Failure> {
    let (stack, _, target) = light_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    let lines = rt
        .block_on(crate::engine::ops::status(&engine, &stack.project.name))
        .map_err(deploy::error)?;
    if args.json {
        print_json(&lines);
    } else {
        println!(
            "{:<20} {:<9} {:<10} {:>14}  image",
            "service", "state", "health", "memory"
        );
        for l in &lines {
            let memory = match (l.memory_mb, l.limit_mb) {
                (Some(m), Some(limit)) => format!("{m}/{limit} MB"),
                _ => "-".into(),
            };
            println!(
                "{:<20} {:<9} {:<10} {:>14}  {}",
                l.service,
                l.state,
                l.health.as_deref().unwrap_or("-"),
                memory,
                l.image
            );
        }
        if lines.is_empty() {
            println!("no container of `{}` on this engine", stack.project.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn logs_cmd(
    args: &DeployArgs,
    service: &str,
    follow: bool,
    tail: &str,
) -> Result<ExitCode, Failure> {
    let (stack, _, target) = light_context(args)?;
    let Some(s) = stack.services.get(service) else {
        return Err(Diagnostic::error(
            "unknown-service",
            format!("no service `{service}` in this stack"),
        )
        .maybe_help(crate::suggest::hint(
            service,
            stack.services.keys().map(String::as_str),
        ))
        .into());
    };
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    rt.block_on(crate::engine::ops::logs(
        &engine,
        &s.container_name(&stack.project.name),
        follow,
        tail,
    ))
    .map_err(deploy::error)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn down_cmd(args: &DeployArgs, volumes: bool) -> Result<ExitCode, Failure> {
    let (stack, _, target) = light_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    let report = rt
        .block_on(crate::engine::ops::down(
            &engine,
            &stack.project.name,
            volumes,
        ))
        .map_err(deploy::error)?;
    if args.json {
        print_json(&report);
    } else {
        eprintln!(
            "removed {} containers and {} networks of `{}`; data {}",
            report.removed_containers.len(),
            report.removed_networks.len(),
            stack.project.name,
            if report.removed_data {
                "deleted"
            } else {
                "kept"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn unlock_cmd(args: &DeployArgs) -> Result<ExitCode, Failure> {
    let (stack, _, target) = light_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    let holder = rt
        .block_on(crate::engine::lock::force_release(
            &engine,
            &stack.project.name,
        ))
        .map_err(deploy::error)?;
    if args.json {
        print_json(&serde_json::json!({
            "project": stack.project.name,
            "broken": holder.as_ref().map(|h| h.to_string()),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    match holder {
        Some(holder) => eprintln!(
            "broke the deploy lock of `{}` held by {holder}",
            stack.project.name
        ),
        None => eprintln!("`{}` was not locked", stack.project.name),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn rollback_cmd(
    args: &DeployArgs,
    release: Option<&str>,
    list: bool,
) -> Result<ExitCode, Failure> {
    let (stack, _, target) = light_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    let outcome = rt.block_on(deploy::rollback(
        engine,
        &stack.project.name,
        &stack.env,
        release,
        list,
        args.json,
    ))?;
    match outcome {
        deploy::RollbackOutcome::List(releases) => {
            if args.json {
                print_json(&releases);
            } else {
                for r in &releases {
                    println!(
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
                eprintln!(
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
