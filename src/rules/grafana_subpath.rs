use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Checks Grafana (`grafana/grafana`) routed under a path (`/grafana/*`): with
    /// `GF_SERVER_SERVE_FROM_SUB_PATH=true` the route must not strip the prefix, and
    /// without it the route must.
    ///
    /// ## Why is this bad?
    /// Grafana builds its links from `root_url` (vpai sets it to the route's public
    /// URL, path included). With `serve_from_sub_path` Grafana serves *under* the
    /// prefix itself (Grafana docs, configuration, `serve_from_sub_path`: "Serve
    /// Grafana from subpath specified in root_url"), so a proxy that strips it sends
    /// `/` to a server expecting `/grafana/`: an endless redirect loop (seed 002
    /// §6.4). Without it, Grafana serves at `/`, so a proxy that keeps the prefix
    /// gets "Not Found" (omnibus-gitlab MR 4160 hit exactly this). The simplest
    /// setup remains its own subdomain (002 §6.3).
    ///
    /// ## Example
    /// ```toml
    /// [services.grafana]
    /// routes = [{ path = "/grafana/*", strip_prefix = true }]
    /// env = { GF_SERVER_SERVE_FROM_SUB_PATH = "true" }
    /// ```
    ///
    /// ## Fix
    /// Either `strip_prefix = false` with `GF_SERVER_SERVE_FROM_SUB_PATH = "true"`,
    /// or `strip_prefix = true` without it; or give Grafana its own `subdomain`.
    pub struct GrafanaSubpath => "grafana-subpath", Error;
}

impl GrafanaSubpath {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            if !support::image(service).is(&["grafana/grafana", "grafana/grafana-oss"]) {
                continue;
            }
            let from_sub_path = service
                .env
                .get("GF_SERVER_SERVE_FROM_SUB_PATH")
                .is_some_and(|t| t.text.trim().eq_ignore_ascii_case("true"));
            for route in &service.routes {
                let Some(path) = route.path.as_deref().filter(|p| *p != "/" && *p != "/*") else {
                    continue;
                };
                let (message, label, help) = match (route.strip_prefix, from_sub_path) {
                    (true, true) => (
                        format!(
                            "`{}` strips `{path}` while Grafana serves from that sub-path",
                            service.name
                        ),
                        "strip_prefix + GF_SERVER_SERVE_FROM_SUB_PATH: redirect loop",
                        "set `strip_prefix = false` (Grafana handles the prefix itself), or use a subdomain",
                    ),
                    (false, false) => (
                        format!(
                            "`{}` forwards `{path}` to Grafana, which serves at `/`",
                            service.name
                        ),
                        "every page is \"Not Found\"",
                        "set `GF_SERVER_SERVE_FROM_SUB_PATH = \"true\"` in `env`, or `strip_prefix = true`, or use a subdomain",
                    ),
                    _ => continue,
                };
                out.push(
                    Self::diagnostic(message)
                        .at(route.span.as_ref().or(service.span.as_ref()), label)
                        .note("GF_SERVER_ROOT_URL carries the path; with SERVE_FROM_SUB_PATH Grafana expects the prefix, without it Grafana expects it stripped (002 §6.4)")
                        .help(help),
                );
            }
        }
    }
}
