use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;
use crate::stack::kinds::Kind;

declare_rule! {
    /// ## What it does
    /// Flags a routed service on a host where no reverse proxy runs, or that shares
    /// no network with that proxy.
    ///
    /// ## Why is this bad?
    /// The route is rendered into a Caddyfile that no Caddy serves, or Caddy cannot
    /// resolve the upstream's name: every request answers 502.
    ///
    /// ## Example
    /// ```toml
    /// [services.comfyui]
    /// host = "workstation"      # no proxy placed on workstation
    /// subdomain = "studio"
    /// ```
    ///
    /// ## Fix
    /// Place a proxy on that host (`[services.caddy-pi] from = "caddy"`, `host = ...`)
    /// and put the service on one of the proxy's networks.
    pub struct RouteWithoutProxy => "route-without-proxy", Error;
}

impl RouteWithoutProxy {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values().filter(|s| !s.routes.is_empty()) {
            let proxies: Vec<_> = stack
                .services
                .values()
                .filter(|p| p.kind == Kind::Proxy && p.host == service.host)
                .collect();
            if proxies.is_empty() {
                let elsewhere = stack.services.values().find(|p| p.kind == Kind::Proxy);
                let help = match elsewhere {
                    Some(p) => format!(
                        "`{}` runs on host `{}`; add a proxy on `{}`: `[services.{}-{}]` with `from = \"{}\"` and `host = \"{}\"`",
                        p.name,
                        p.host,
                        service.host,
                        p.catalog.as_deref().unwrap_or("caddy"),
                        service.host,
                        p.catalog.as_deref().unwrap_or("caddy"),
                        service.host
                    ),
                    None => format!("enable `[services.caddy]` on host `{}`", service.host),
                };
                out.push(
                    Self::diagnostic(format!(
                        "`{}` has a route, but no reverse proxy runs on host `{}`",
                        service.name, service.host
                    ))
                    .at(
                        service.routes[0].span.as_ref().or(service.span.as_ref()),
                        "nothing serves this route",
                    )
                    .help(help),
                );
            } else if !proxies
                .iter()
                .any(|p| p.networks.iter().any(|n| service.networks.contains(n)))
            {
                out.push(
                    Self::diagnostic(format!(
                        "`{}` shares no network with the proxy `{}`",
                        service.name, proxies[0].name
                    ))
                    .at(service.span.as_ref(), "unreachable upstream")
                    .help(format!(
                        "add one of {} to its networks",
                        proxies[0].networks.join(", ")
                    )),
                );
            }
        }
    }
}
