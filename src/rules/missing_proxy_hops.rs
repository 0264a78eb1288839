use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags n8n (`n8nio/n8n`) routed through the reverse proxy without
    /// `N8N_PROXY_HOPS` set to the number of proxies in front of it (1 for Caddy).
    ///
    /// ## Why is this bad?
    /// Caddy adds `X-Forwarded-For`, but n8n's Express app does not trust proxies
    /// unless `N8N_PROXY_HOPS` says how many there are (n8n docs, "Configure
    /// webhook URLs with reverse proxy": "Set the N8N_PROXY_HOPS environment
    /// variable to 1"). express-rate-limit then logs
    /// `ERR_ERL_UNEXPECTED_X_FORWARDED_FOR` continuously and rate-limits every client
    /// as the proxy's address (seed 002 §10.6). The catalog sets it to 1; this fires
    /// when an override or a custom n8n service loses it.
    ///
    /// ## Example
    /// ```toml
    /// [services.automation]
    /// image = "n8nio/n8n:2.39.10"
    /// port = 5678
    /// subdomain = "flows"
    /// ```
    ///
    /// ## Fix
    /// `env = { N8N_PROXY_HOPS = "1" }` (one hop: Caddy).
    pub struct MissingProxyHops => "missing-proxy-hops", Error;
}

impl MissingProxyHops {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            if !support::image(service).is(&["n8nio/n8n", "docker.n8n.io/n8nio/n8n"])
                || service.routes.is_empty()
            {
                continue;
            }
            let value = service.env.get("N8N_PROXY_HOPS");
            let ok = value.is_some_and(|t| {
                !t.is_literal() || t.text.trim().parse::<u32>().is_ok_and(|n| n >= 1)
            });
            if ok {
                continue;
            }
            let (span, label) = match value {
                Some(t) => (t.span.clone(), format!("`{}` trusts no proxy", t.text)),
                None => (
                    service.routes[0]
                        .span
                        .clone()
                        .or_else(|| service.span.clone()),
                    "routed through Caddy, but N8N_PROXY_HOPS is not set".to_string(),
                ),
            };
            out.push(
                Self::diagnostic(format!(
                    "`{}` is behind the reverse proxy without `N8N_PROXY_HOPS`",
                    service.name
                ))
                .at(span.as_ref(), label)
                .note("without it Express ignores X-Forwarded-For: ERR_ERL_UNEXPECTED_X_FORWARDED_FOR and per-proxy rate limiting (002 §10.6)")
                .help("set `N8N_PROXY_HOPS = \"1\"` in the service's `env`"),
            );
        }
    }
}
