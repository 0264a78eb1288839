use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags a service that needs the internet (`needs_internet = true`: LiteLLM,
    /// n8n, OpenClaw) but is attached only to internal networks.
    ///
    /// ## Why is this bad?
    /// `backend` is `internal: true`: no route out. LiteLLM cannot reach Anthropic
    /// or OpenAI, n8n's outgoing webhooks time out (001 §2.3 note, §2.4).
    ///
    /// ## Example
    /// ```toml
    /// [services.litellm]
    /// networks = ["backend"]
    /// ```
    ///
    /// ## Fix
    /// Add the `egress` network (not internal) to the service.
    pub struct InternetWithoutEgress => "internet-without-egress", Error;
}

impl InternetWithoutEgress {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values().filter(|s| s.needs_internet) {
            let has_route_out = service
                .networks
                .iter()
                .any(|n| stack.networks.get(n).is_some_and(|net| !net.internal));
            if !has_route_out {
                out.push(
                    Self::diagnostic(format!(
                        "`{}` needs the internet but is only on internal networks ({})",
                        service.name,
                        service.networks.join(", ")
                    ))
                    .at(service.span.as_ref(), "no route out")
                    .help("add `egress` to its `networks`"),
                );
            }
        }
    }
}
