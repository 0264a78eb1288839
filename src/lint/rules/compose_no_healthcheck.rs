use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a service with no `healthcheck`, or with one disabled (CIS Docker
    /// Benchmark v1.6.0 §5.26, "Ensure that container health is checked at
    /// runtime"). A file cannot tell whether the image declares its own
    /// `HEALTHCHECK`: if it does, say so with a suppression. A one-shot job that
    /// another service waits for with `condition: service_completed_successfully`
    /// is not flagged: it exits, it is never healthy.
    ///
    /// ## Why is this bad?
    /// Without a health check a container is "running" while it refuses every
    /// request; `depends_on: condition: service_healthy` cannot wait for it, so its
    /// consumers start against a database that is not ready (seed 002 §2), and
    /// neither monitoring nor a deploy gate sees the failure.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   qdrant:
    ///     image: qdrant/qdrant:v1.15.5
    /// ```
    ///
    /// ## Fix
    /// Add a check that uses a tool the image has and `127.0.0.1`:
    /// ```yaml
    ///     healthcheck:
    ///       test: ["CMD", "bash", "-c", ":> /dev/tcp/127.0.0.1/6333"]
    /// ```
    pub struct ComposeNoHealthcheck => "compose-no-healthcheck", Warning, [Compose];
}

impl ComposeNoHealthcheck {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        let services = services(file);
        // One-shot jobs (migrations, bucket creation): others wait for them to
        // exit, not to be healthy.
        let jobs: Vec<String> = services
            .iter()
            .filter_map(|s| s.get("depends_on"))
            .flat_map(|d| d.entries())
            .filter(|(_, v)| {
                v.get("condition").and_then(|c| c.as_str())
                    == Some("service_completed_successfully")
            })
            .filter_map(|(k, _)| k.text())
            .collect();
        for service in services {
            if service.healthcheck_command().is_some() || jobs.iter().any(|j| j == service.name) {
                continue;
            }
            let disabled = service.get("healthcheck").is_some();
            out.push(
                Self::diagnostic(format!(
                    "`{}` has {}",
                    service.name,
                    if disabled {
                        "its health check disabled"
                    } else {
                        "no health check"
                    }
                ))
                .at(
                    Some(&file.span(service.key.span.clone())),
                    "nothing can wait for it to be ready",
                )
                .help("add a `healthcheck` that uses a tool the image has and 127.0.0.1"),
            );
        }
    }
}
