use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::stack::model::{FileSource, HealthTest, Service};
use crate::stack::template::first_reference;

declare_rule! {
    /// ## What it does
    /// Flags a `{{ secret.NAME }}`, `{{ db.password }}`, `{{ services.X.Y }}` or
    /// other vpai reference in a field vpai does not render: `command`,
    /// `entrypoint`, `health.cmd`, `health.shell`, a file's `content`, `config`.
    /// Only `env`, `consumes` and `exports` values are templates.
    ///
    /// ## Why is this bad?
    /// The braces reach the container as they are: the program gets the literal
    /// text `{{ secret.api_key }}` as its key or password and fails at run time, or
    /// worse, accepts it. `check` and `render` both passed such a stack without a
    /// word.
    ///
    /// ## Example
    /// ```toml
    /// [services.worker]
    /// image = "acme/worker:1.0.0"
    /// command = ["worker", "--token", "{{ secret.worker_token }}"]
    /// ```
    ///
    /// ## Fix
    /// Pass the value through the environment, where templates are rendered (and
    /// kept in the 0600 env file, not in the compose file):
    /// `env = { WORKER_TOKEN = "{{ secret.worker_token }}" }`, then read
    /// `WORKER_TOKEN` in the program, or `$WORKER_TOKEN` in a `health.shell`.
    pub struct TemplateNotRendered => "template-not-rendered", Error;
}

impl TemplateNotRendered {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            for (field, key, text) in unrendered(service) {
                let Some(reference) = first_reference(&text) else {
                    continue;
                };
                let span = support::locate(stack, service, |l| {
                    l.trim_start().starts_with(key) && l.contains(reference)
                });
                out.push(
                    Self::diagnostic(format!(
                        "`{}`: `{reference}` in {field} stays literal text: vpai renders templates only in `env`, `consumes` and `exports`",
                        service.name
                    ))
                    .at(span.as_ref(), "not rendered here")
                    .help("pass the value through `env` (e.g. `env = { TOKEN = \"{{ secret.NAME }}\" }`) and read the variable in the program"),
                );
            }
        }
    }
}

/// Every text of `service` vpai writes out as it is: what field it is, the key
/// that introduces it in the stack file, the text.
fn unrendered(service: &Service) -> Vec<(String, &'static str, String)> {
    let mut texts = Vec::new();
    for arg in service.command.iter().flatten() {
        texts.push(("`command`".to_string(), "command", arg.clone()));
    }
    for arg in service.entrypoint.iter().flatten() {
        texts.push(("`entrypoint`".to_string(), "entrypoint", arg.clone()));
    }
    match service.health.as_ref().map(|h| &h.test) {
        Some(HealthTest::Exec(args)) => {
            for arg in args {
                texts.push(("`health.cmd`".to_string(), "health", arg.clone()));
            }
        }
        Some(HealthTest::Shell(line)) => {
            texts.push(("`health.shell`".to_string(), "health", line.clone()));
        }
        _ => {}
    }
    for (name, file) in &service.files {
        if let FileSource::Content(content) = &file.source {
            texts.push((
                format!("file `{name}`'s `content`"),
                "files",
                content.clone(),
            ));
        }
    }
    if let Some(config) = &service.config {
        texts.push(("`config`".to_string(), "config", config.to_string()));
    }
    texts
}
