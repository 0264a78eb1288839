use crate::diagnostic::Diagnostic;
use crate::lint::caddyfile::{Caddyfile, Directive};
use crate::lint::rules::declare_lint_rule;
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags two `handle_errors` blocks at the same level of a site (or of a
    /// snippet) that handle the same errors, counting those an `import` pastes in.
    /// Blocks limited to different status codes (`handle_errors 404`,
    /// `handle_errors 5xx`, Caddy 2.8+) do not clash.
    ///
    /// ## Why is this bad?
    /// Seed 002 §12.8: importing a `vpn_error_page` snippet (with its own
    /// `handle_errors`) into a site that already has one put two error routes at
    /// one level; the site's custom 502 page and the VPN 403 page fought, and one
    /// of them was never served.
    ///
    /// ## Example
    /// ```caddyfile
    /// (vpn_error_page) {
    ///     handle_errors {
    ///         respond "VPN only" 403
    ///     }
    /// }
    /// n8n.example.com {
    ///     import vpn_error_page
    ///     handle_errors {
    ///         respond "Service stopped" 502
    ///     }
    /// }
    /// ```
    ///
    /// ## Fix
    /// One `handle_errors` per site: named matchers for each case
    /// (`@stopped expression {http.error.status_code} in [502, 503]`), then a
    /// fallback `respond "..." {http.error.status_code}` (seed 002 §12.8).
    pub struct CaddyDuplicateHandleErrors => "caddy-duplicate-handle-errors", Error, [Caddyfile];
}

/// The status codes a `handle_errors` line handles; empty means all.
fn codes(d: &Directive) -> Vec<String> {
    d.args()
        .iter()
        .map(|t| t.text.to_ascii_lowercase())
        .collect()
}

fn overlap(a: &[String], b: &[String]) -> bool {
    let covers =
        |x: &str, y: &str| x == y || (x.ends_with("xx") && x.len() == 3 && y.starts_with(&x[..1]));
    a.is_empty()
        || b.is_empty()
        || a.iter()
            .any(|x| b.iter().any(|y| covers(x, y) || covers(y, x)))
}

impl CaddyDuplicateHandleErrors {
    fn check_block(
        &self,
        file: &File,
        caddyfile: &Caddyfile,
        block: &[Directive],
        out: &mut Vec<Diagnostic>,
    ) {
        let mut seen: Vec<(&Directive, Option<&Directive>)> = Vec::new();
        for (d, via) in caddyfile.expanded(block) {
            if d.name() != "handle_errors" {
                continue;
            }
            if let Some((first, first_via)) =
                seen.iter().find(|(s, _)| overlap(&codes(s), &codes(d)))
            {
                let here = via.unwrap_or(d);
                let mut diagnostic = Self::diagnostic(
                    "two `handle_errors` blocks at one level handle the same errors",
                )
                .at(
                    Some(&file.span(here.span())),
                    if via.is_some() {
                        "this import brings a second `handle_errors`"
                    } else {
                        "second `handle_errors`"
                    },
                )
                .also(
                    Some(&file.span(first_via.unwrap_or(first).span())),
                    if first_via.is_some() {
                        "this import brings the first one"
                    } else {
                        "first one"
                    },
                );
                // Show the snippets' `handle_errors` too (once, if it is the same).
                let mut snippets: Vec<_> = [(*first, *first_via), (d, via)]
                    .into_iter()
                    .filter(|(_, import)| import.is_some())
                    .map(|(imported, _)| imported.span())
                    .collect();
                snippets.dedup();
                for span in snippets {
                    diagnostic =
                        diagnostic.also(Some(&file.span(span)), "defined in the snippet here");
                }
                out.push(
                    diagnostic
                        .note("only one of them answers; the other error page is never served (002 §12.8)")
                        .help("merge them into one `handle_errors` with named matchers and a fallback `respond`"),
                );
                continue;
            }
            seen.push((d, via));
        }
    }

    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        let Some(caddyfile) = file.caddyfile() else {
            return;
        };
        self.check_block(file, caddyfile, &caddyfile.items, out);
        for d in caddyfile.walk() {
            if d.block.is_some() {
                self.check_block(file, caddyfile, d.children(), out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::overlap;

    #[test]
    fn status_classes_overlap() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(overlap(&v(&[]), &v(&["404"])));
        assert!(overlap(&v(&["5xx"]), &v(&["502"])));
        assert!(!overlap(&v(&["404"]), &v(&["5xx"])));
        assert!(!overlap(&v(&["404"]), &v(&["403"])));
    }
}
