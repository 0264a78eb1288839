use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Kind, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags `rate_limit` in a Caddyfile that will not load:
    /// - the compose file of the same run mounts this Caddyfile (or a directory
    ///   holding it) into the stock `caddy` image, which does not contain the
    ///   plugin;
    /// - or the directive is outside a `route` block with no `order rate_limit ...`
    ///   global option (the plugin's handler has no default order).
    ///
    /// ## Why is this bad?
    /// `rate_limit` comes from the third-party module `github.com/mholt/caddy-ratelimit`,
    /// which the official images do not include (seed 002 §6.1). Caddy refuses the
    /// whole file (`unrecognized directive: rate_limit`, or "not an ordered HTTP
    /// handler"), so every site goes down with the one rule.
    ///
    /// ## Example
    /// ```caddyfile
    /// api.example.com {
    ///     rate_limit {
    ///         zone api {
    ///             key {remote_host}
    ///             events 100
    ///             window 1m
    ///         }
    ///     }
    ///     reverse_proxy api:3000
    /// }
    /// ```
    ///
    /// ## Fix
    /// Build Caddy with the plugin (`xcaddy build --with
    /// github.com/mholt/caddy-ratelimit`) and use that image, and add
    /// `order rate_limit before basic_auth` to the global options, or remove the
    /// directive.
    pub struct CaddyRateLimitPlugin => "caddy-rate-limit-plugin", Error, [Caddyfile];
}

/// The compose service (with its file) that mounts the Caddyfile at `path`, itself
/// or a directory holding it (`./caddy:/etc/caddy`); a stock `caddy` service first.
fn mounting_service<'a>(run: &'a Run, path: &Path) -> Option<(String, &'a File, bool)> {
    let wanted = path.canonicalize().ok()?;
    let mut found = None;
    for compose in run.files.iter().filter(|f| f.kind == Kind::Compose) {
        for service in services(compose) {
            for mount in service.mounts() {
                let Some(source) = mount.host_path() else {
                    continue;
                };
                let resolved = compose.directory().join(source);
                if resolved
                    .canonicalize()
                    .is_ok_and(|r| wanted.starts_with(&r))
                {
                    let stock = service.get("build").is_none()
                        && service
                            .image()
                            .is_some_and(|(image, _)| image.is(&["caddy"]));
                    if stock {
                        return Some((service.name.to_string(), compose, stock));
                    }
                    found.get_or_insert((service.name.to_string(), compose, stock));
                }
            }
        }
    }
    found
}

impl CaddyRateLimitPlugin {
    fn run(&self, file: &File, run: &Run, out: &mut Vec<Diagnostic>) {
        let Some(caddyfile) = file.caddyfile() else {
            return;
        };
        let ordered = caddyfile.global_options().is_some_and(|g| {
            g.children().iter().any(|o| {
                o.name() == "order" && o.args().first().is_some_and(|a| a.text == "rate_limit")
            })
        });
        let in_route = |target: &crate::lint::caddyfile::Directive| {
            caddyfile
                .named("route")
                .any(|route| route.children().iter().any(|c| std::ptr::eq(c, target)))
        };
        let stock = mounting_service(run, &file.path);
        for limit in caddyfile.named("rate_limit") {
            if let Some((service, compose, true)) = &stock {
                out.push(
                    Self::diagnostic("`rate_limit` needs a Caddy built with the caddy-ratelimit plugin")
                        .at(Some(&file.span(limit.name_span())), "unrecognized directive in the stock image")
                        .note(format!(
                            "`{service}` in {} runs the official `caddy` image with this file; it has no third-party modules (002 §6.1)",
                            compose.path.display()
                        ))
                        .help("build an image with `xcaddy build --with github.com/mholt/caddy-ratelimit`, or remove the directive"),
                );
            } else if !ordered && !in_route(limit) {
                out.push(
                    Self::diagnostic("`rate_limit` has no place in Caddy's handler order")
                        .at(Some(&file.span(limit.name_span())), "not an ordered HTTP handler")
                        .note("the plugin's directive has no default order: Caddy refuses the file")
                        .help("add `order rate_limit before basic_auth` to the global options, or wrap it in a `route` block"),
                );
            }
        }
    }
}
