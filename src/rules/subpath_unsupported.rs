use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags a path-based route (`path = "/n8n/*"`) to an app that does not work
    /// under a path prefix: n8n (n8n-io/n8n#19635), the LiteLLM UI (#11451,
    /// #11865), the Qdrant dashboard (qdrant/qdrant-web-ui#94).
    ///
    /// ## Why is this bad?
    /// The app emits absolute links and assets: the page loads blank or half
    /// broken, redirects loop. Seed 002 §6.3 moved every such app to its own
    /// subdomain after exactly this.
    ///
    /// ## Example
    /// ```toml
    /// [services.n8n]
    /// routes = [{ path = "/n8n/*", strip_prefix = true }]
    /// ```
    ///
    /// ## Fix
    /// Give the app its own subdomain: `subdomain = "mayi"`.
    pub struct SubpathUnsupported => "subpath-unsupported", Error;
}

impl SubpathUnsupported {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values().filter(|s| !s.supports_subpath) {
            for route in service
                .routes
                .iter()
                .filter(|r| r.path.as_deref().is_some_and(|p| p != "/" && p != "/*"))
            {
                out.push(
                    Self::diagnostic(format!(
                        "`{}` does not work under a path prefix, but is routed at `{}`",
                        service.name,
                        route.path.as_deref().unwrap_or_default()
                    ))
                    .at(
                        route.span.as_ref().or(service.span.as_ref()),
                        "path-based route",
                    )
                    .help(format!(
                        "route `{}` on its own subdomain instead",
                        service.name
                    )),
                );
            }
        }
    }
}
