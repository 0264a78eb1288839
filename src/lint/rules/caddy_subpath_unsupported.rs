use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, image_of_host, upstreams};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a path-prefixed route (`handle_path /n8n/*`, `handle /llm*`,
    /// `route /qdrant/*`) whose `reverse_proxy` goes to an app that does not work
    /// under a path prefix: n8n (n8n-io/n8n#19635), the LiteLLM UI (#11451,
    /// #11865), the Qdrant dashboard (qdrant/qdrant-web-ui#94). The app is
    /// recognised by the upstream's name or, with the compose file in the same
    /// run, by the image of the service it names. A `handle` or `route` that keeps
    /// the path and matches one of the app's own root paths (n8n's `/webhook/*`,
    /// LiteLLM's `/v1/*`) routes part of the app, not a prefix, and is not flagged.
    ///
    /// ## Why is this bad?
    /// These apps emit absolute links and assets: behind a prefix the page loads
    /// blank or half broken and redirects loop. Seed 002 §6.3 moved each of them to
    /// its own subdomain after exactly this.
    ///
    /// ## Example
    /// ```caddyfile
    /// example.com {
    ///     handle_path /n8n/* {
    ///         reverse_proxy n8n:5678
    ///     }
    /// }
    /// ```
    ///
    /// ## Fix
    /// Give the app its own site: `n8n.example.com { reverse_proxy n8n:5678 }`.
    pub struct CaddySubpathUnsupported => "caddy-subpath-unsupported", Error, [Caddyfile];
}

/// Each app: its name, images, the upstream report, and the paths it serves at its
/// own root (routing one of those with `handle` or `route`, which keep the path,
/// is not a prefix: `handle /webhook/* { reverse_proxy n8n:5678 }`).
const APPS: &[(&str, &[&str], &str, &[&str])] = &[
    (
        "n8n",
        &["n8nio/n8n", "docker.n8n.io/n8nio/n8n"],
        "n8n-io/n8n#19635",
        &[
            "webhook",
            "webhook-test",
            "webhook-waiting",
            "form",
            "form-test",
            "form-waiting",
            "rest",
            "healthz",
            "mcp",
            "mcp-test",
        ],
    ),
    (
        "litellm",
        &["ghcr.io/berriai/litellm", "berriai/litellm"],
        "BerriAI/litellm#11451, #11865",
        &[
            "v1",
            "chat",
            "completions",
            "embeddings",
            "models",
            "health",
            "ui",
        ],
    ),
    (
        "qdrant",
        &["qdrant/qdrant"],
        "qdrant/qdrant-web-ui#94",
        &[
            "collections",
            "cluster",
            "snapshots",
            "dashboard",
            "healthz",
            "readyz",
            "livez",
            "metrics",
        ],
    ),
];

/// The first segment of a path matcher: `/webhook/*` and `/webhook*` give `webhook`.
fn first_segment(prefix: &str) -> &str {
    prefix
        .trim_start_matches('/')
        .split(['/', '*'])
        .next()
        .unwrap_or_default()
}

impl CaddySubpathUnsupported {
    fn run(&self, file: &File, run: &Run, out: &mut Vec<Diagnostic>) {
        let Some(caddyfile) = file.caddyfile() else {
            return;
        };
        for route in caddyfile.walk() {
            if !["handle_path", "handle", "route"].contains(&route.name()) {
                continue;
            }
            let Some(prefix) = route.args().first().filter(|p| {
                p.text.starts_with('/') && p.text.trim_end_matches(['*', '/']).len() > 1
            }) else {
                continue;
            };
            // `handle` and `route` pass the path on unchanged, unless the block strips it.
            let keeps_path = route.name() != "handle_path"
                && !route.children().iter().any(|d| {
                    d.name() == "uri" && d.args().first().is_some_and(|a| a.text == "strip_prefix")
                });
            for proxy in route
                .children()
                .iter()
                .filter(|d| d.name() == "reverse_proxy")
            {
                for (host, token) in upstreams(proxy) {
                    let image = image_of_host(run, &host);
                    let app = APPS.iter().find(|(name, repos, _, _)| {
                        host.contains(name) || image.as_ref().is_some_and(|i| i.is(repos))
                    });
                    let Some((name, _, source, own)) = app else {
                        continue;
                    };
                    if keeps_path && own.contains(&first_segment(&prefix.text)) {
                        continue;
                    }
                    out.push(
                        Self::diagnostic(format!(
                            "{name} is served under the path `{}`, which it does not support",
                            prefix.text
                        ))
                        .at(Some(&file.span(prefix.span.clone())), "a path prefix")
                        .also(
                            Some(&file.span(token.span.clone())),
                            format!("{name} upstream"),
                        )
                        .note(format!(
                            "blank pages and redirect loops under a prefix: {source} (002 §6.3)"
                        ))
                        .help(format!("give {name} its own subdomain")),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::first_segment;

    #[test]
    fn first_segment_of_a_path_matcher() {
        assert_eq!(first_segment("/webhook/*"), "webhook");
        assert_eq!(first_segment("/webhook*"), "webhook");
        assert_eq!(first_segment("/n8n"), "n8n");
    }
}
