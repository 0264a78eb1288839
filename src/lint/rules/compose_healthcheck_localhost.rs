use crate::diagnostic::Diagnostic;
use crate::knowledge::health::names_localhost;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a `healthcheck` that reaches the service through `localhost`.
    ///
    /// ## Why is this bad?
    /// A container's `/etc/hosts` maps `localhost` to `127.0.0.1` and `::1`. BusyBox
    /// `wget` in Alpine images tries `::1` first, and services that listen on IPv4
    /// only refuse it: the check fails, the container stays `unhealthy` and its
    /// dependents never start (seed 002 §2.1).
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   n8n:
    ///     image: n8nio/n8n:2.39.10
    ///     healthcheck:
    ///       test: ["CMD", "wget", "-qO-", "http://localhost:5678/healthz"]
    /// ```
    ///
    /// ## Fix
    /// Write `127.0.0.1`: `http://127.0.0.1:5678/healthz`.
    pub struct ComposeHealthcheckLocalhost => "compose-healthcheck-localhost", Error, [Compose];
}

impl ComposeHealthcheckLocalhost {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            let Some((command, test)) = service.healthcheck_command() else {
                continue;
            };
            if !names_localhost(&command) {
                continue;
            }
            let span = test
                .as_seq()
                .iter()
                .find(|n| n.text().is_some_and(|t| names_localhost(&t)))
                .map_or_else(|| test.span.clone(), |n| n.span.clone());
            out.push(
                Self::diagnostic(format!(
                    "`{}`'s health check reaches the service through `localhost`",
                    service.name
                ))
                .at(Some(&file.span(span)), "`localhost` may resolve to ::1 (IPv6) first")
                .note("Alpine's BusyBox wget tries ::1 first; a service listening on IPv4 only refuses the probe (002 §2.1)")
                .help("write 127.0.0.1"),
            );
        }
    }
}
