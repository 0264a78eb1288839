use crate::diagnostic::Diagnostic;
use crate::lint::caddyfile::Directive;
use crate::lint::rules::declare_lint_rule;
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a `handle_response` inside `reverse_proxy` whose matcher selects
    /// 502, 503, 504 or `5xx`, used to show a page when the backend is down.
    ///
    /// ## Why is this bad?
    /// `handle_response` handles *responses from the upstream*. When the backend is
    /// stopped there is no response: Caddy fails the proxy with its own error, and
    /// only `handle_errors` sees it. The "service stopped" page never shows (seed
    /// 002 §12.7); the visitor gets an empty 502.
    ///
    /// ## Example
    /// ```caddyfile
    /// reverse_proxy app:3100 {
    ///     @down status 502 503
    ///     handle_response @down {
    ///         respond "Service stopped" 502
    ///     }
    /// }
    /// ```
    ///
    /// ## Fix
    /// ```caddyfile
    /// reverse_proxy app:3100
    /// handle_errors {
    ///     @stopped expression `{http.error.status_code} in [502, 503]`
    ///     respond @stopped "Service stopped" 502
    /// }
    /// ```
    pub struct CaddyHandleResponseErrors => "caddy-handle-response-errors", Warning, [Caddyfile];
}

fn gateway_errors(codes: &[String]) -> bool {
    codes
        .iter()
        .any(|c| ["502", "503", "504", "5xx"].contains(&c.to_ascii_lowercase().as_str()))
}

/// Status codes of the response matcher `@name` defined in a `reverse_proxy` block.
fn matcher_codes(proxy: &Directive, name: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for m in proxy.children().iter().filter(|c| c.name() == name) {
        let lines: Vec<&Directive> = if m.block.is_some() {
            m.children().iter().collect()
        } else {
            vec![m]
        };
        for line in lines {
            let words: Vec<&str> = line.tokens.iter().map(|t| t.text.as_str()).collect();
            if let Some(i) = words.iter().position(|w| *w == "status") {
                codes.extend(words[i + 1..].iter().map(|w| w.to_string()));
            }
        }
    }
    codes
}

impl CaddyHandleResponseErrors {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        let Some(caddyfile) = file.caddyfile() else {
            return;
        };
        for proxy in caddyfile.named("reverse_proxy") {
            for handler in proxy
                .children()
                .iter()
                .filter(|c| c.name() == "handle_response")
            {
                let Some(matcher) = handler.args().first().filter(|a| a.text.starts_with('@'))
                else {
                    continue;
                };
                if !gateway_errors(&matcher_codes(proxy, &matcher.text)) {
                    continue;
                }
                out.push(
                    Self::diagnostic("`handle_response` cannot see a backend that is down")
                        .at(Some(&file.span(handler.span())), "runs only on responses the upstream sent")
                        .note("a stopped backend sends no response: Caddy's own 502 goes to `handle_errors` (002 §12.7)")
                        .help("handle 502/503 in a site-level `handle_errors` with `expression {http.error.status_code} in [502, 503]`"),
                );
            }
        }
    }
}
