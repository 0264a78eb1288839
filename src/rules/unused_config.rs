use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::stack::kinds::Generator;

declare_rule! {
    /// ## What it does
    /// Flags a `config` table that vpai will not use. `config` is deep-merged into a
    /// service's generated main config file, and only three generators read it:
    /// `litellm` (LiteLLM's config.yaml), `openclaw-json` (openclaw.json) and
    /// `caddyfile` (which reads `local_certs` only) (`src/render/generators.rs`,
    /// `src/render/caddyfile.rs`).
    ///
    /// ## Why is this bad?
    /// The settings silently do nothing: a Grafana datasource written under
    /// `config` is never provisioned (the datasources file comes from the
    /// `grafana-datasources` generator, seed 002 §8.4-8.5), a Redis option never
    /// reaches redis.conf. vpai refuses what it would ignore, as it refuses unknown
    /// keys in `vpai.toml`.
    ///
    /// ## Example
    /// ```toml
    /// [services.grafana.config]
    /// datasources = [{ name = "extra", type = "postgres", user = "app" }]
    /// ```
    ///
    /// ## Fix
    /// Write the file yourself with `files."NAME" = { content = "...", mount = "..." }`
    /// (for Grafana, under `/etc/grafana/provisioning/datasources/`), or set the
    /// option through the service's environment.
    pub struct UnusedConfig => "unused-config", Error;
}

impl UnusedConfig {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let Some(config) = &service.config else {
                continue;
            };
            if service.generates(Generator::Litellm) || service.generates(Generator::OpenclawJson) {
                continue;
            }
            let ignored: Vec<String> = if service.generates(Generator::Caddyfile) {
                config
                    .as_object()
                    .map(|o| o.keys().filter(|k| *k != "local_certs").cloned().collect())
                    .unwrap_or_default()
            } else {
                config
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default()
            };
            if ignored.is_empty() {
                continue;
            }
            let span = support::locate_config(stack, service, &[]);
            let reads = if service.generates(Generator::Caddyfile) {
                "the Caddyfile generator reads only `local_certs`"
            } else {
                "no generated file of this service reads `config`"
            };
            out.push(
                Self::diagnostic(format!(
                    "`{}`: nothing reads its `config` ({})",
                    service.name,
                    ignored.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ))
                .at(span.as_ref(), reads)
                .note("`config` is merged only into LiteLLM's config.yaml, openclaw.json and (local_certs) the Caddyfile")
                .help("write the file with `files.\"NAME\" = { content = \"...\", mount = \"...\" }`, or use the service's `env`"),
            );
        }
    }
}
