use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags a service that uses `services.X.internal_url` of a service placed on
    /// another host (n8n on the VPS calling ComfyUI on the workstation Pi).
    ///
    /// ## Why is this bad?
    /// An internal URL names a container on its own host's Docker networks
    /// (`http://comfyui:8188`): from another host that name does not resolve, and
    /// every call fails at run time, long after the deploy looked fine. Across hosts
    /// the way in is the other host's proxy, by its site name, which the VPN's DNS
    /// (Headscale `extra_records`) resolves to that host's VPN address (001 §11.6).
    ///
    /// ## Example
    /// ```toml
    /// [services.comfyui]
    /// host = "workstation"
    /// subdomain = "studio"
    ///
    /// [services.n8n]
    /// env = { COMFYUI_URL = "{{ services.comfyui.internal_url }}" }
    /// ```
    ///
    /// ## Fix
    /// Use `{{ services.comfyui.public_url }}` (`https://studio.example.cloud`), and
    /// give the service a route (VPN-only if it is not for the public).
    pub struct CrossHostInternalUrl => "cross-host-internal-url", Error;
}

impl CrossHostInternalUrl {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            for (key, value) in &service.env {
                let Ok(references) = value.references() else {
                    continue;
                };
                for reference in references {
                    let mut parts = reference.split('.');
                    let (Some("services"), Some(target), Some(export)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    let Some(target) = stack.services.get(target) else {
                        continue;
                    };
                    if !export.starts_with("internal") || target.host == service.host {
                        continue;
                    }
                    out.push(
                        Self::diagnostic(format!(
                            "`{}` (host `{}`) reaches `{}` on host `{}` by its internal URL",
                            service.name, service.host, target.name, target.host
                        ))
                        .at(
                            value.span.as_ref().or(service.span.as_ref()),
                            format!("`{key}` names a container of another host"),
                        )
                        .also(
                            target.span.as_ref(),
                            format!("`{}` runs on `{}`", target.name, target.host),
                        )
                        .help(if target.routes.is_empty() {
                            format!(
                                "give `{}` a route (access = \"vpn\") and use `{{{{ services.{}.public_url }}}}`",
                                target.name, target.name
                            )
                        } else {
                            format!(
                                "use `{{{{ services.{}.public_url }}}}`: its site resolves to `{}`'s VPN address",
                                target.name, target.host
                            )
                        }),
                    );
                }
            }
        }
    }
}
