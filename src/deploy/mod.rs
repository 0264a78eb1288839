//! The deploy commands (`plan`, `apply`, `up`, `status`, `logs`, `down`, `unlock`):
//! load and check the stack, render it, connect to the host's engine, and hand the
//! engine a plan. Nothing is sent to a daemon before the stack checks clean.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::engine::apply::{self, Progress};
use crate::engine::desired::{self, Desired};
use crate::engine::plan::{self, Plan};
use crate::engine::target::Target;
use crate::engine::{Engine, state};
use crate::secrets::{self, SecretValues};
use crate::stack::{Report, Stack};

mod operate;

pub use operate::{Reach, down, logs, reach, status, unlock};

/// What a deploy command needs to know about the stack and the host.
pub struct Context {
    pub stack: Arc<Stack>,
    pub secrets: Arc<SecretValues>,
    pub host: String,
    pub target: Target,
}

/// Load and check the stack of `dir`, pick its host and engine, decrypt its
/// secrets: nothing reaches an engine before the stack checks clean.
pub fn context(
    dir: &Path,
    env: &str,
    host: Option<&str>,
    target: Option<&str>,
    identity: Option<&Path>,
) -> Result<Context, Report> {
    let stack = crate::rules::require_clean(
        crate::stack::load(dir, env)?,
        "refused",
        "nothing deployed: the stack has errors",
    )?;
    let host = pick_host(&stack, host)?;
    let target = pick_target(&stack, &host, target)?;
    let secrets = secrets::load(&crate::stack::load::stack_dir(dir), &stack, identity)
        .map_err(Diagnostic::from)?;
    Ok(Context {
        stack: Arc::new(stack),
        secrets: Arc::new(secrets),
        host,
        target,
    })
}

/// Which host of the stack: the one named, or the only one that runs services.
pub fn pick_host(stack: &Stack, wanted: Option<&str>) -> Result<String, Diagnostic> {
    let used: Vec<&str> = stack
        .hosts
        .keys()
        .map(String::as_str)
        .filter(|h| stack.services.values().any(|s| s.host == *h))
        .collect();
    match wanted {
        Some(h) if stack.hosts.contains_key(h) => Ok(h.to_string()),
        Some(h) => Err(
            Diagnostic::error("unknown-host", format!("no host `{h}` in this stack")).maybe_help(
                crate::suggest::hint(h, stack.hosts.keys().map(String::as_str)),
            ),
        ),
        None if used.len() == 1 => Ok(used[0].to_string()),
        None => Err(
            Diagnostic::error("unknown-host", "this stack runs services on several hosts")
                .help(format!("choose one with --host ({})", used.join(", "))),
        ),
    }
}

/// `--target`, else the host's SSH address, else the local engine.
pub fn pick_target(
    stack: &Stack,
    host: &str,
    explicit: Option<&str>,
) -> Result<Target, Diagnostic> {
    if let Some(t) = explicit {
        return Target::parse(Some(t)).map_err(Diagnostic::from);
    }
    let h = &stack.hosts[host];
    match &h.address {
        Some(address) => Ok(Target::Ssh {
            user: Some(h.ssh_user.clone()),
            host: address.clone(),
            port: Some(h.ssh_port),
        }),
        None => Target::parse(None).map_err(Diagnostic::from),
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Render the host's desired state (pure) for the daemon's API version.
pub fn desired_state(ctx: &Context, api_version: &str) -> Result<Desired, Vec<Diagnostic>> {
    let bundle = crate::render::render(&ctx.stack, &ctx.secrets)?;
    Ok(desired::desired(
        &ctx.stack,
        &bundle,
        &ctx.host,
        api_version,
    ))
}

pub async fn make_plan(engine: &Engine, ctx: &Context) -> Result<(Desired, Plan), Vec<Diagnostic>> {
    let desired = desired_state(ctx, &engine.api_version)?;
    let actual = state::read(engine, &ctx.stack.project.name)
        .await
        .map_err(|e| vec![e.into()])?;
    let plan = plan::compute(&desired, &actual, &ctx.stack.env);
    Ok((desired, plan))
}

/// A saved plan applies only to the stack and host state it was computed from.
pub fn check_saved(saved: &Plan, fresh: &Plan) -> Result<(), Diagnostic> {
    if saved.project != fresh.project || saved.host != fresh.host || saved.env != fresh.env {
        return Err(Diagnostic::error(
            "stale-plan",
            format!(
                "the plan is for `{}` on `{}` ({}), not this target",
                saved.project, saved.host, saved.env
            ),
        ));
    }
    if saved.desired_fingerprint != fresh.desired_fingerprint {
        return Err(Diagnostic::error(
            "stale-plan",
            "the stack or its secrets changed since this plan was made",
        )
        .help("run `vpai plan` again"));
    }
    if saved.actual_fingerprint != fresh.actual_fingerprint {
        return Err(
            Diagnostic::error("stale-plan", "the host changed since this plan was made")
                .help("run `vpai plan` again"),
        );
    }
    Ok(())
}

pub async fn apply(
    engine: Engine,
    ctx: &Context,
    desired: Desired,
    plan: &Plan,
    progress: Arc<dyn Progress>,
) -> Result<apply::Report, Diagnostic> {
    let provisioning = apply::Provisioning {
        stack: ctx.stack.clone(),
        secrets: ctx.secrets.clone(),
    };
    apply::apply(
        Arc::new(engine),
        Some(provisioning),
        Arc::new(desired),
        plan,
        progress,
    )
    .await
    .map_err(Diagnostic::from)
}

/// Derive the host's smoke checks from the stack and run them.
pub async fn smoke(
    engine: Engine,
    ctx: &Context,
    timeout: std::time::Duration,
    parallel: usize,
) -> Result<crate::smoke::Report, Vec<Diagnostic>> {
    let bundle = crate::render::render(&ctx.stack, &ctx.secrets)?;
    let checks = crate::smoke::derive(&ctx.stack, &bundle, &ctx.host);
    let checks = crate::smoke::run(checks, Some(Arc::new(engine)), timeout, parallel).await;
    let failed = checks.iter().filter(|c| !c.passed).count();
    Ok(crate::smoke::Report {
        project: ctx.stack.project.name.clone(),
        host: ctx.host.clone(),
        notes: crate::smoke::notes(&ctx.stack, &ctx.host),
        passed: checks.len() - failed,
        failed,
        checks,
    })
}

pub fn plan_file_write(path: &PathBuf, plan: &Plan) -> Result<(), Diagnostic> {
    let mut text = serde_json::to_string_pretty(plan).expect("serializes");
    text.push('\n');
    std::fs::write(path, text)
        .map_err(|e| Diagnostic::error("io", format!("cannot write {}: {e}", path.display())))
}

pub fn plan_file_read(path: &PathBuf) -> Result<Plan, Diagnostic> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::error("io", format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Diagnostic::error(
            "stale-plan",
            format!("{} is not a vpai plan: {e}", path.display()),
        )
    })
}

/// `vpai rollback [RELEASE]`: the containers of a recorded release, applied again.
/// Data and database roles are not rolled back.
pub async fn rollback(
    engine: Engine,
    stack: &Stack,
    identities: &[PathBuf],
    wanted: Option<&str>,
    list_only: bool,
    progress: Arc<dyn Progress>,
) -> Result<RollbackOutcome, Diagnostic> {
    let (project, env) = (stack.project.name.as_str(), stack.env.as_str());
    let actual = state::read(&engine, project)
        .await
        .map_err(Diagnostic::from)?;
    let image = actual
        .containers
        .first()
        .map(|c| c.image.clone())
        .ok_or_else(|| {
            Diagnostic::error(
                "refused",
                format!("nothing of `{project}` runs on this engine: no release to return to"),
            )
        })?;
    let releases = crate::engine::releases::read(&engine, project, &image).await?;
    if list_only {
        return Ok(RollbackOutcome::List(releases));
    }
    let current: Vec<&str> = actual.containers.iter().map(|c| c.hash.as_str()).collect();
    let same_as_now = |r: &crate::engine::releases::Release| {
        !r.services.is_empty()
            && r.services
                .iter()
                .all(|s| current.contains(&s.hash.as_str()))
    };
    let target = match wanted {
        Some(id) => releases.iter().find(|r| r.id == id).ok_or_else(|| {
            Diagnostic::error("unknown-release", format!("no release `{id}` on this host"))
                .maybe_help(crate::suggest::hint(
                    id,
                    releases.iter().map(|r| r.id.as_str()),
                ))
                .note("`vpai rollback --list` lists them")
        })?,
        None => releases
            .iter()
            .rev()
            .find(|r| r.ok && r.sealed.is_some() && !same_as_now(r))
            .ok_or_else(|| {
                Diagnostic::error(
                    "unknown-release",
                    "no earlier successful release to return to",
                )
            })?,
    };
    let mut desired = target.desired(identities)?;
    // Sealed to the recipients the stack has now, kept as many as it says now.
    desired.release_recipients = stack.recipients.clone();
    desired.keep_releases = stack.project.keep_releases;
    let plan = plan::compute(&desired, &actual, env);
    progress.note(&format!(
        "rolling back `{project}` to release {} ({}, by {})",
        target.id, target.at, target.by
    ));
    progress.note(&plan::render_text(&plan));
    let report = apply::apply(Arc::new(engine), None, Arc::new(desired), &plan, progress).await?;
    Ok(RollbackOutcome::Applied {
        to: target.id.clone(),
        report,
    })
}

pub enum RollbackOutcome {
    List(Vec<crate::engine::releases::Release>),
    Applied { to: String, report: apply::Report },
}
