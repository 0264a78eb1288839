use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags a route to the OpenClaw gateway (`ghcr.io/openclaw/openclaw`) without
    /// `websocket = true`.
    ///
    /// ## Why is this bad?
    /// OpenClaw is a WebSocket gateway, not an HTTP API (seed 002 §11.1). With
    /// `websocket = true` vpai renders the route with `transport http { versions 1.1 }`
    /// (Caddy docs, `reverse_proxy` › `transport http` › `versions`); without it the
    /// Control UI and Mission Control showed "offline": the upgrade was answered 200
    /// instead of 101 Switching Protocols (002 §11.2b). The catalog's route has
    /// it; a `routes` override replaces the catalog's and loses it.
    ///
    /// ## Example
    /// ```toml
    /// [services.openclaw]
    /// routes = [{ subdomain = "javisi", access = "vpn" }]
    /// ```
    ///
    /// ## Fix
    /// `routes = [{ subdomain = "javisi", websocket = true, access = "vpn" }]`.
    pub struct OpenclawWebsocket => "openclaw-websocket", Error;
}

impl OpenclawWebsocket {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            if !support::image(service).is(&["ghcr.io/openclaw/openclaw"]) {
                continue;
            }
            for route in service.routes.iter().filter(|r| !r.websocket) {
                out.push(
                    Self::diagnostic(format!(
                        "`{}` is a WebSocket gateway routed without `websocket = true`",
                        service.name
                    ))
                    .at(
                        route.span.as_ref().or(service.span.as_ref()),
                        "the upgrade gets 200 instead of 101",
                    )
                    .note(
                        "with `websocket = true` Caddy talks HTTP/1.1 to the gateway (002 §11.2b)",
                    )
                    .help("add `websocket = true` to the route"),
                );
            }
        }
    }
}
