use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;
use crate::suggest;

declare_rule! {
    /// ## What it does
    /// Flags a service attached to a network that is neither standard (frontend,
    /// backend, monitoring, egress, sandbox) nor declared under `[networks]`.
    ///
    /// ## Why is this bad?
    /// Compose would create an unplanned network with a random subnet, outside the
    /// isolation matrix and possibly colliding with the VPN range.
    ///
    /// ## Example
    /// ```toml
    /// [services.n8n]
    /// networks = ["backend", "egres"]
    /// ```
    ///
    /// ## Fix
    /// Fix the name, or declare the network: `[networks.creative] subnet = "172.20.6.0/24"`.
    pub struct UnknownNetwork => "unknown-network", Error;
}

impl UnknownNetwork {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            for (i, network) in service.networks.iter().enumerate() {
                if stack.networks.contains_key(network) {
                    continue;
                }
                let span = service.network_spans.get(i).cloned().flatten();
                let hint = suggest::hint(network, stack.networks.keys().map(String::as_str));
                out.push(
                    Self::diagnostic(format!(
                        "service `{}` uses unknown network `{network}`",
                        service.name
                    ))
                    .at(
                        span.as_ref().or(service.span.as_ref()),
                        "not a declared network",
                    )
                    .maybe_help(hint.or_else(|| {
                        Some(format!(
                            "declare it: `[networks.{network}] subnet = \"172.20.X.0/24\"`"
                        ))
                    })),
                );
            }
        }
    }
}
