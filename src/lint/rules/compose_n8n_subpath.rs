use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags an n8n service (`n8nio/n8n`) configured to live under a path prefix:
    /// `N8N_PATH` set to anything but `/`.
    ///
    /// ## Why is this bad?
    /// n8n behind a path loads a blank editor or loops on redirects: its front end
    /// and its OAuth callbacks assume the root (n8n-io/n8n#19635). Seed 002 §6.3
    /// moved it to its own subdomain after exactly this.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   n8n:
    ///     image: n8nio/n8n:2.39.10
    ///     environment:
    ///       N8N_PATH: /n8n/
    /// ```
    ///
    /// ## Fix
    /// Give n8n its own subdomain (`n8n.example.com`), drop `N8N_PATH`, and set
    /// `WEBHOOK_URL` to that origin.
    pub struct ComposeN8nSubpath => "compose-n8n-subpath", Error, [Compose];
}

impl ComposeN8nSubpath {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            if !service.image_is(&["n8nio/n8n", "docker.n8n.io/n8nio/n8n"]) {
                continue;
            }
            for (name, value, node) in service.environment() {
                let Some(path) = value.filter(|_| name == "N8N_PATH") else {
                    continue;
                };
                if path.trim().trim_matches('/').is_empty() {
                    continue;
                }
                out.push(
                    Self::diagnostic(format!(
                        "`{}` serves n8n under the path `{path}`",
                        service.name
                    ))
                    .at(
                        Some(&file.span(node.span.clone())),
                        "n8n does not work under a path prefix",
                    )
                    .note("blank editor and redirect loops: n8n-io/n8n#19635 (002 §6.3)")
                    .help("give n8n its own subdomain and remove N8N_PATH"),
                );
            }
        }
    }
}
