use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a published port without a host IP (`"5432:5432"`, `published: 5432`
    /// without `host_ip`) (CIS Docker Benchmark v1.6.0 §5.13, "Ensure that
    /// incoming container traffic is bound to a specific host interface").
    ///
    /// ## Why is this bad?
    /// Without a host IP Docker listens on every interface, and it inserts its own
    /// iptables rules ahead of UFW: a database port "closed" by the firewall is open
    /// to the internet (seed 001 §2.3, §3.2). Written this way, nobody decided it.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   postgres:
    ///     image: postgres:17.6
    ///     ports: ["5432:5432"]
    /// ```
    ///
    /// ## Fix
    /// Bind to loopback or the VPN address (`127.0.0.1:5432:5432`,
    /// `100.64.0.1:5432:5432`), or drop the port and reach the service over the
    /// compose network. A port meant for the internet says so: `0.0.0.0:443:443`.
    pub struct ComposePortAllInterfaces => "compose-port-all-interfaces", Warning, [Compose];
}

impl ComposePortAllInterfaces {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            for port in service.ports() {
                if port.host_ip.is_some() {
                    continue;
                }
                let which = port
                    .published
                    .as_deref()
                    .map_or("a random host port".to_string(), |p| format!("port {p}"));
                // A long-syntax port is a block mapping whose span runs on to the
                // next key: point at its `published:` (or `target:`) line.
                let span = match port
                    .node
                    .entry("published")
                    .or_else(|| port.node.entry("target"))
                {
                    Some((key, value)) => key.span.start..value.span.end,
                    None => port.node.span.clone(),
                };
                out.push(
                    Self::diagnostic(format!(
                        "`{}` publishes {which} on every interface",
                        service.name
                    ))
                    .at(Some(&file.span(span)), "no host IP: 0.0.0.0 and ::, past UFW")
                    .note("Docker's iptables rules come before UFW's: the firewall does not close it")
                    .help("bind to 127.0.0.1 or the VPN address, or write 0.0.0.0 explicitly if it is meant to be public"),
                );
            }
        }
    }
}
