use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::stack::model::HealthTest;

declare_rule! {
    /// ## What it does
    /// Flags a LiteLLM health check on `/health` instead of `/health/liveliness`
    /// (or `/health/readiness`).
    ///
    /// ## Why is this bad?
    /// `/health` is LiteLLM's *model* health endpoint: it requires the master key
    /// (`Authorization: Bearer ...`, which vpai always sets) and makes a real call to
    /// every configured model. The probe gets a 401 and the container never turns
    /// healthy (seed 002 §10.2, §12.4); with a key it would bill a paid model every
    /// few seconds (002 §10.4). LiteLLM documents `/health/liveliness` and
    /// `/health/readiness` as the unauthenticated probe endpoints that call no model
    /// (docs.litellm.ai/docs/proxy/health, "Probe endpoints").
    ///
    /// ## Example
    /// ```toml
    /// [services.litellm]
    /// health = { http = "/health", probe = "python" }
    /// ```
    ///
    /// ## Fix
    /// `health = { http = "/health/liveliness", probe = "python" }` (the catalog's).
    pub struct LitellmHealthEndpoint => "litellm-health-endpoint", Error;
}

/// `/health` itself (not `/health/...`) appears in the text as a URL path.
fn probes_model_health(text: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text[from..].find("/health") {
        let at = from + i + "/health".len();
        match text[at..].chars().next() {
            None | Some('?' | '\'' | '"' | ' ' | ')') => return true,
            _ => from = at,
        }
    }
    false
}

impl LitellmHealthEndpoint {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let image = support::image(service);
            if !image.is(&[
                "ghcr.io/berriai/litellm",
                "berriai/litellm",
                "docker.litellm.ai/berriai/litellm",
            ]) {
                continue;
            }
            let Some(health) = &service.health else {
                continue;
            };
            let hit = match &health.test {
                HealthTest::Http { path, .. } => path.split('?').next() == Some("/health"),
                HealthTest::Exec(cmd) => probes_model_health(&cmd.join(" ")),
                HealthTest::Shell(s) => probes_model_health(s),
                HealthTest::Tcp { .. } => false,
            };
            if hit {
                let span = support::locate_key(stack, service, "health");
                out.push(
                    Self::diagnostic(format!(
                        "`{}` probes LiteLLM's `/health`, which needs the master key and calls every model",
                        service.name
                    ))
                    .at(span.as_ref(), "401 without the key; a billed model call with it")
                    .note("/health/liveliness and /health/readiness need no key and call no model (docs.litellm.ai/docs/proxy/health)")
                    .help("use `health = { http = \"/health/liveliness\", probe = \"python\" }`"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_bare_health_path() {
        assert!(super::probes_model_health(
            "urlopen('http://127.0.0.1:4000/health')"
        ));
        assert!(!super::probes_model_health(
            "urlopen('http://127.0.0.1:4000/health/liveliness')"
        ));
    }
}
