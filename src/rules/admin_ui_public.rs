use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::stack::kinds::Access;

declare_rule! {
    /// ## What it does
    /// Flags an admin UI routed with `access = "public"`: Grafana, n8n, OpenClaw,
    /// Qdrant and NocoDB (matched on their images). n8n's webhook and form paths
    /// (`/webhook*`, `/form*`) may be public.
    ///
    /// ## Why is this bad?
    /// These UIs hold credentials, workflows and data; seed 002 §6.2 made them
    /// reachable only through the VPN (Caddy's `vpn_only` ACL) after running them
    /// public, and §41.3 records the resulting 403 off-VPN as the expected
    /// behaviour. Their own login is then the only barrier against the internet.
    ///
    /// ## Example
    /// ```toml
    /// [services.grafana]
    /// access = "public"
    /// ```
    ///
    /// ## Fix
    /// Keep `access = "vpn"` (the catalog default). For n8n webhooks, route only the
    /// webhook paths publicly.
    pub struct AdminUiPublic => "admin-ui-public", Warning;
}

const ADMIN_UIS: &[(&str, &[&str])] = &[
    ("Grafana", &["grafana/grafana", "grafana/grafana-oss"]),
    ("n8n", &["n8nio/n8n", "docker.n8n.io/n8nio/n8n"]),
    ("OpenClaw", &["ghcr.io/openclaw/openclaw"]),
    ("Qdrant", &["qdrant/qdrant"]),
    ("NocoDB", &["nocodb/nocodb"]),
];

impl AdminUiPublic {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let image = support::image(service);
            let Some((product, _)) = ADMIN_UIS.iter().find(|(_, repos)| image.is(repos)) else {
                continue;
            };
            for route in service.routes.iter().filter(|r| r.access == Access::Public) {
                let webhook = *product == "n8n"
                    && route
                        .path
                        .as_deref()
                        .is_some_and(|p| p.starts_with("/webhook") || p.starts_with("/form"));
                if webhook {
                    continue;
                }
                let span = support::find(stack, service, |l| support::has_key(l, "access"))
                    .or_else(|| route.span.clone());
                out.push(
                    Self::diagnostic(format!("`{}`: the {product} admin UI is reachable from the internet", service.name))
                        .at(span.as_ref(), "access = \"public\"")
                        .note("002 §6.2: admin UIs (Grafana, n8n, OpenClaw, Qdrant) are VPN-only")
                        .help("use `access = \"vpn\"`; expose only what must be public (n8n: its webhook paths)"),
                );
            }
        }
    }
}
