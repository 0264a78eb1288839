use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags OpenClaw (`ghcr.io/openclaw/openclaw`) run without an init process
    /// (`init = false`).
    ///
    /// ## Why is this bad?
    /// Without `init`, the Node.js gateway is PID 1: it does not reap the processes
    /// its tools spawn (zombies pile up) and does not get default signal handling, so
    /// `docker stop` waits for the timeout and kills it. Seed 002 §11.2 makes
    /// `init: true` mandatory for the gateway; Docker's `--init` runs tini as PID 1
    /// for exactly this (Docker docs, "Specify an init process").
    ///
    /// ## Example
    /// ```toml
    /// [services.openclaw]
    /// init = false
    /// ```
    ///
    /// ## Fix
    /// Remove `init = false` (the catalog sets `init = true`).
    pub struct OpenclawInit => "openclaw-init", Error;
}

impl OpenclawInit {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            if !support::image(service).is(&["ghcr.io/openclaw/openclaw"]) || service.init {
                continue;
            }
            let span = support::locate_key(stack, service, "init");
            out.push(
                Self::diagnostic(format!(
                    "`{}` runs the OpenClaw gateway without an init process",
                    service.name
                ))
                .at(
                    span.as_ref(),
                    "Node.js as PID 1: zombies, no signal handling",
                )
                .note("002 §11.2: the Node.js gateway needs `init: true`")
                .help("set `init = true` (the catalog default)"),
            );
        }
    }
}
