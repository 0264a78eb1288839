use crate::diagnostic::Diagnostic;
use crate::knowledge::cis::{on_every_interface, proxy_web_port};
use crate::rules::declare_rule;
use crate::stack::Stack;
use crate::stack::kinds::Kind;

declare_rule! {
    /// ## What it does
    /// Flags ports published on every interface (`0.0.0.0`) by anything but the
    /// reverse proxy, unless the port is explicitly marked `public = true`.
    ///
    /// ## Why is this bad?
    /// Docker inserts its own iptables rules ahead of UFW: a port published on
    /// `0.0.0.0` is reachable from the internet even when UFW denies it. On a host
    /// set up by `vpai host bootstrap`, `vpai-firewall` drops it in DOCKER-USER, but
    /// the port is open on any other host, and the stack would say it is not.
    /// Internal services must publish on `127.0.0.1` or not at all (001 §2.3, §3.2).
    ///
    /// ## Example
    /// ```toml
    /// [services.qdrant]
    /// ports = [{ published = 6333, bind = "0.0.0.0" }]
    /// ```
    ///
    /// ## Fix
    /// Bind to `127.0.0.1`, route it through the proxy, or, for a protocol the proxy
    /// cannot carry (MQTT 1883), set `public = true` to acknowledge it.
    pub struct PublishedPort => "published-port", Error;
}

impl PublishedPort {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            for port in &service.ports {
                if on_every_interface(&port.bind)
                    && !proxy_web_port(service.kind, port.published)
                    && !port.public
                {
                    out.push(
                        Self::diagnostic(format!(
                            "`{}` publishes {}/{} on every interface",
                            service.name, port.published, port.protocol
                        ))
                        .at(port.span.as_ref().or(service.span.as_ref()), "reachable from the internet, past UFW")
                        .help("bind it to 127.0.0.1, route it through the proxy, or set `public = true` if it must be public"),
                    );
                }
                if service.kind != Kind::Proxy && matches!(port.published, 80 | 443) {
                    out.push(
                        Self::diagnostic(format!(
                            "`{}` publishes port {}, which belongs to the reverse proxy",
                            service.name, port.published
                        ))
                        .at(
                            port.span.as_ref().or(service.span.as_ref()),
                            "only the proxy publishes 80/443",
                        )
                        .help("give the service a route (`subdomain` or `routes`) instead"),
                    );
                }
            }
        }
    }
}
