use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a service with no process limit: neither `pids_limit` nor
    /// `deploy.resources.limits.pids` (CIS Docker Benchmark v1.6.0 §5.28, "Ensure
    /// that the PIDs cgroup limit is used").
    ///
    /// ## Why is this bad?
    /// A fork bomb, or a runaway worker pool, exhausts the host's process table:
    /// nothing else can start, SSH included, and the operator cannot log in to stop
    /// it.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   worker:
    ///     image: acme/worker:2.0.1
    /// ```
    ///
    /// ## Fix
    /// `pids_limit: 512` (or `deploy.resources.limits.pids: 512`), above what the
    /// service uses at its peak (PostgreSQL: one process per connection).
    pub struct ComposeNoPidsLimit => "compose-no-pids-limit", Warning, [Compose];
}

impl ComposeNoPidsLimit {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            if service.limit("pids_limit", "pids").is_some() {
                continue;
            }
            out.push(
                Self::diagnostic(format!("`{}` has no process limit", service.name))
                    .at(
                        Some(&file.span(service.key.span.clone())),
                        "a fork bomb fills the host's process table",
                    )
                    .help("set `pids_limit` above the service's peak (512 suits most)"),
            );
        }
    }
}
