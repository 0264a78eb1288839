use crate::diagnostic::Diagnostic;
use crate::knowledge::cis::privileged_host_port;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a host port below 1024 other than 80 and 443 (CIS Docker Benchmark
    /// v1.6.0 §5.7, "Ensure privileged ports are not mapped within containers").
    /// 80 and 443 are the front proxy's job and are not flagged.
    ///
    /// ## Why is this bad?
    /// Ports below 1024 are where the host's own services live (SSH 22, SMTP 25,
    /// DNS 53). A container that takes one shadows or collides with a system
    /// service, and a client trusting "only root can bind here" trusts the
    /// container instead.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   gitea:
    ///     image: gitea/gitea:1.24.6
    ///     ports: ["127.0.0.1:22:22"]
    /// ```
    ///
    /// ## Fix
    /// Publish on a high port (`2222:22`), or put the service behind the proxy.
    pub struct ComposePrivilegedPort => "compose-privileged-port", Warning, [Compose];
}

impl ComposePrivilegedPort {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            for port in service.ports() {
                let Some(low) = port.published.as_deref().and_then(privileged_host_port) else {
                    continue;
                };
                // A long-syntax port is a block mapping whose span runs on to the
                // next key: point at its `published:` line.
                let span = match port.node.entry("published") {
                    Some((key, value)) => key.span.start..value.span.end,
                    None => port.node.span.clone(),
                };
                out.push(
                    Self::diagnostic(format!(
                        "`{}` takes the privileged host port {low}",
                        service.name
                    ))
                    .at(
                        Some(&file.span(span)),
                        "below 1024: the host's own services live here",
                    )
                    .help("publish on a port above 1023, or route it through the proxy"),
                );
            }
        }
    }
}
