//! Operating a deployed host without deploying to it: status, logs, down, unlock.
//! They need the project's name and the host's engine, not the secrets, nor a stack
//! that checks clean: a host must stay observable and removable while its stack
//! is being fixed.

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::engine::Engine;
use crate::engine::lock::{self, Holder};
use crate::engine::ops::{self, DownReport, StatusLine};
use crate::engine::target::Target;
use crate::stack::{Report, Stack};

use super::{pick_host, pick_target};

/// A stack and the engine of one of its hosts.
pub struct Reach {
    pub stack: Stack,
    pub host: String,
    pub target: Target,
}

/// Load the stack of `dir` (unchecked) and pick the host and its engine.
pub fn reach(
    dir: &Path,
    env: &str,
    host: Option<&str>,
    target: Option<&str>,
) -> Result<Reach, Report> {
    let stack = crate::stack::load(dir, env)?;
    let host = pick_host(&stack, host)?;
    let target = pick_target(&stack, &host, target)?;
    Ok(Reach {
        stack,
        host,
        target,
    })
}

async fn engine(reach: &Reach) -> Result<Engine, Diagnostic> {
    Engine::connect(&reach.target)
        .await
        .map_err(Diagnostic::from)
}

/// One line per container of the project.
pub async fn status(reach: &Reach) -> Result<Vec<StatusLine>, Diagnostic> {
    ops::status(&engine(reach).await?, &reach.stack.project.name)
        .await
        .map_err(Diagnostic::from)
}

/// The logs of one service into `out`; an unknown service is refused before
/// connecting.
pub async fn logs(
    reach: &Reach,
    service: &str,
    follow: bool,
    tail: &str,
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), Diagnostic> {
    let stack = &reach.stack;
    let Some(s) = stack.services.get(service) else {
        return Err(Diagnostic::error(
            "unknown-service",
            format!("no service `{service}` in this stack"),
        )
        .maybe_help(crate::suggest::hint(
            service,
            stack.services.keys().map(String::as_str),
        )));
    };
    let container = s.container_name(&stack.project.name);
    ops::logs(&engine(reach).await?, &container, follow, tail, out)
        .await
        .map_err(Diagnostic::from)
}

/// Remove the project's containers and networks; its data only with `volumes`.
pub async fn down(reach: &Reach, volumes: bool) -> Result<DownReport, Diagnostic> {
    ops::down(&engine(reach).await?, &reach.stack.project.name, volumes)
        .await
        .map_err(Diagnostic::from)
}

/// Break the project's deploy lock ([`lock::break_lock`]); who held it, if anyone.
pub async fn unlock(reach: &Reach, force: bool) -> Result<Option<Holder>, Diagnostic> {
    lock::break_lock(&engine(reach).await?, &reach.stack.project.name, force)
        .await
        .map_err(Diagnostic::from)
}
