use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags environment variables set on OpenClaw (`ghcr.io/openclaw/openclaw`)
    /// that it does not read: `DATABASE_URL`, `REDIS_URL`, `QDRANT_URL`, `HOST`,
    /// `PORT`, `API_KEY`.
    ///
    /// ## Why is this bad?
    /// OpenClaw is a WebSocket gateway with file-based state: no database, no Redis,
    /// no Qdrant, and its port comes from `gateway.port` / `--port` (seed 002 §11.1,
    /// which lists these six as "do not exist"; docs.openclaw.ai/help/environment
    /// lists the variables it reads). Setting them does nothing but suggests a
    /// dependency that is not there, and passes a secret to a container that does
    /// not need it.
    ///
    /// ## Example
    /// ```toml
    /// [services.openclaw.env]
    /// DATABASE_URL = "{{ db.url }}"
    /// ```
    ///
    /// ## Fix
    /// Remove them. Models go through LiteLLM (`LITELLM_API_KEY`), the gateway token
    /// is `OPENCLAW_GATEWAY_TOKEN`, settings go in `config` (merged into
    /// `openclaw.json`).
    pub struct OpenclawUnknownEnv => "openclaw-unknown-env", Warning;
}

const NOT_READ: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "QDRANT_URL",
    "HOST",
    "PORT",
    "API_KEY",
];

impl OpenclawUnknownEnv {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            if !support::image(service).is(&["ghcr.io/openclaw/openclaw"]) {
                continue;
            }
            for (key, value) in &service.env {
                if !NOT_READ.contains(&key.as_str()) {
                    continue;
                }
                out.push(
                    Self::diagnostic(format!("`{}`: OpenClaw does not read `{key}`", service.name))
                        .at(value.span.as_ref().or(service.span.as_ref()), "ignored by OpenClaw")
                        .note("OpenClaw has no database, Redis or Qdrant, and takes its port from `gateway.port` (002 §11.1)")
                        .help(format!("remove `{key}`")),
                );
            }
        }
    }
}
