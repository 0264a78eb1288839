use crate::diagnostic::Diagnostic;
use crate::lint::caddyfile::Directive;
use crate::lint::rules::{declare_lint_rule, image_of_host, upstreams};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a `reverse_proxy` to a WebSocket gateway that needs HTTP/1.1 (the
    /// OpenClaw gateway, `ghcr.io/openclaw/openclaw`, port 18789) without
    /// `transport http { versions 1.1 }`. The upstream is recognised by its name
    /// (`openclaw`), its port (18789) or, when the compose file is in the same
    /// run, the image of the service it names.
    ///
    /// ## Why is this bad?
    /// Seed 002 §11.2b: over HTTP/2 the `Upgrade: websocket` request was answered
    /// `200` instead of `101 Switching Protocols`; the Control UI and Mission
    /// Control showed the gateway "offline". Forcing HTTP/1.1 on the proxy
    /// transport (Caddy docs, `reverse_proxy` › `transport http` › `versions`)
    /// fixed it.
    ///
    /// ## Example
    /// ```caddyfile
    /// javisi.example.com {
    ///     reverse_proxy openclaw:18789
    /// }
    /// ```
    ///
    /// ## Fix
    /// ```caddyfile
    /// reverse_proxy openclaw:18789 {
    ///     transport http {
    ///         versions 1.1
    ///     }
    /// }
    /// ```
    pub struct CaddyWebsocketHttp1 => "caddy-websocket-http1", Error, [Caddyfile];
}

fn forces_http1(proxy: &Directive) -> bool {
    proxy
        .children()
        .iter()
        .filter(|c| c.name() == "transport" && c.args().first().is_some_and(|a| a.text == "http"))
        .flat_map(|t| t.children())
        .any(|c| c.name() == "versions" && c.args().iter().any(|a| a.text == "1.1"))
}

impl CaddyWebsocketHttp1 {
    fn run(&self, file: &File, run: &Run, out: &mut Vec<Diagnostic>) {
        let Some(caddyfile) = file.caddyfile() else {
            return;
        };
        for proxy in caddyfile.named("reverse_proxy") {
            if forces_http1(proxy) {
                continue;
            }
            let gateway = upstreams(proxy).into_iter().find(|(host, token)| {
                host.contains("openclaw")
                    || token.text.ends_with(":18789")
                    || image_of_host(run, host)
                        .is_some_and(|i| i.is(&["ghcr.io/openclaw/openclaw"]))
            });
            let Some((host, token)) = gateway else {
                continue;
            };
            out.push(
                Self::diagnostic(format!(
                    "`{host}` is a WebSocket gateway proxied without forcing HTTP/1.1"
                ))
                .at(
                    Some(&file.span(token.span.clone())),
                    "the upgrade is answered 200, not 101, over HTTP/2",
                )
                .note("seed 002 §11.2b: the Control UI showed the gateway offline")
                .help("add `transport http { versions 1.1 }` to this reverse_proxy"),
            );
        }
    }
}
