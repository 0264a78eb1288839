use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a service with no memory limit: neither `mem_limit` nor
    /// `deploy.resources.limits.memory` (CIS Docker Benchmark v1.6.0 §5.10,
    /// "Ensure that the memory usage for containers is limited").
    ///
    /// ## Why is this bad?
    /// On an 8 GB VPS one leaking Node process (n8n, OpenClaw) or one large LiteLLM
    /// batch takes the memory of the whole host: the kernel's OOM killer then picks
    /// a victim, often PostgreSQL. Seed 001 §1.3 budgets every service so the sum
    /// fits the host.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   n8n:
    ///     image: n8nio/n8n:2.39.10
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    ///     deploy:
    ///       resources:
    ///         limits: { memory: 768M }
    /// ```
    pub struct ComposeNoMemoryLimit => "compose-no-memory-limit", Warning, [Compose];
}

impl ComposeNoMemoryLimit {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            if service.limit("mem_limit", "memory").is_some() {
                continue;
            }
            out.push(
                Self::diagnostic(format!("`{}` has no memory limit", service.name))
                    .at(
                        Some(&file.span(service.key.span.clone())),
                        "may take the host's memory",
                    )
                    .help("set `deploy.resources.limits.memory` (or `mem_limit`)"),
            );
        }
    }
}
