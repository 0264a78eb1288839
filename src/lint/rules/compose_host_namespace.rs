use crate::diagnostic::Diagnostic;
use crate::knowledge::cis::NAMESPACES;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a service that joins one of the host's namespaces: `network_mode:
    /// host`, `pid: host`, `ipc: host`, `uts: host` or `userns_mode: host` (CIS
    /// Docker Benchmark v1.6.0 §5.9, §5.15, §5.16, §5.20, §5.30).
    ///
    /// ## Why is this bad?
    /// - network: the container listens on the host's interfaces directly, past
    ///   Docker's networks, and reaches every service bound to the host's loopback;
    /// - pid: it sees and can signal every host process;
    /// - ipc: it shares the host's shared memory;
    /// - uts: it can change the host's hostname;
    /// - userns: it opts out of user-namespace remapping, so its root is the host's.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   exporter:
    ///     image: prom/node-exporter:v1.9.1
    ///     network_mode: host
    ///     pid: host
    /// ```
    ///
    /// ## Fix
    /// Put the service on a compose network and publish what must be reachable on
    /// `127.0.0.1` or the VPN address. A host-level agent that truly needs the host's
    /// view (a node exporter) can keep it with a `# vpai: ignore[...] REASON` comment.
    pub struct ComposeHostNamespace => "compose-host-namespace", Error, [Compose];
}

impl ComposeHostNamespace {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            for (key_name, namespace) in NAMESPACES {
                let Some((key, value)) = service.node.entry(key_name) else {
                    continue;
                };
                if value.as_str() != Some("host") {
                    continue;
                }
                out.push(
                    Self::diagnostic(format!(
                        "`{}` shares the host's {namespace} namespace",
                        service.name
                    ))
                    .at(
                        Some(&file.span(key.span.start..value.span.end)),
                        format!("`{key_name}: host`"),
                    )
                    .help(
                        "use a compose network and publish ports on 127.0.0.1 or the VPN address",
                    ),
                );
            }
        }
    }
}
