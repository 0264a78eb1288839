//! The Caddyfile of the proxy on one host: one site per service subdomain.
//!
//! Facts it encodes: the `vpn_only` snippet admits the VPN CIDR and the ranges the
//! operator lists (`[vpn] also_admit`), never a Docker subnet. 002 §6.2 added the
//! frontend subnet because HTTP/3 arrived from the bridge gateway: that is Docker's
//! userland proxy, which every container and the host itself also go through. The
//! rendered daemon.json turns the proxy off (`generators::daemon_json`) so a client's
//! address reaches Caddy; admitting the gateway would admit them all. Denied
//! requests get a real 403 through `handle_errors` (002 §6.2); one `handle_errors`
//! per site (002 §12.8); WebSocket upstreams forced to HTTP/1.1 (002 §11.2b); no
//! `rate_limit` (not in the stock image, 002 §6.1); a public `/health` on the base
//! site; security headers on every site.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::FileError;
use crate::stack::Stack;
use crate::stack::kinds::Access;
use crate::stack::model::{Route, Service};

struct SiteRoute<'a> {
    service: &'a Service,
    route: &'a Route,
}

/// A value written as one bare Caddyfile token. The model validates every one of
/// these names already; this is the writer's own guard, so that a value which
/// reached it another way cannot open a block, start a comment, add a site
/// address (`,`) or a placeholder (`{env.X}`).
fn token<'a>(what: &str, value: &'a str) -> Result<&'a str, FileError> {
    let unsafe_char = value
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "\"`{}#,\\<>".contains(*c));
    match unsafe_char {
        None if !value.is_empty() => Ok(value),
        found => Err(FileError::UnsafeToken {
            format: "Caddyfile",
            what: what.to_string(),
            reason: match found {
                Some(c) => format!("it holds {c:?}"),
                None => "it is empty".to_string(),
            },
        }),
    }
}

pub fn render(stack: &Stack, proxy: &Service) -> Result<String, FileError> {
    let domain = stack.project.domain.as_deref();
    let mut sites: BTreeMap<String, Vec<SiteRoute>> = BTreeMap::new();
    for service in stack.services.values().filter(|s| s.host == proxy.host) {
        for route in &service.routes {
            sites
                .entry(route.site(domain))
                .or_default()
                .push(SiteRoute { service, route });
        }
    }
    let base_site = domain
        .map(str::to_string)
        .unwrap_or_else(|| ":80".to_string());
    sites.entry(base_site.clone()).or_default();

    let mut vpn_ranges: Vec<String> = Vec::new();
    if let Some(vpn) = &stack.vpn {
        vpn_ranges.push(vpn.cidr.to_string());
        vpn_ranges.extend(vpn.also_admit.iter().map(|a| a.range.to_string()));
    }

    let mut out = String::new();
    writeln!(out, "# {}", super::HEADER).unwrap();
    out.push_str("{\n");
    if let Some(email) = &stack.project.email {
        writeln!(out, "\temail {}", token("project.email", email)?).unwrap();
    }
    if domain.is_none() {
        out.push_str("\tauto_https off\n");
    }
    if proxy.local_certs() {
        out.push_str("\tlocal_certs\n");
    }
    out.push_str("\tservers {\n\t\tprotocols h1 h2 h3\n\t}\n}\n\n");

    out.push_str("(security_headers) {\n\theader {\n");
    if domain.is_some() {
        out.push_str("\t\tStrict-Transport-Security \"max-age=31536000; includeSubDomains\"\n");
    }
    out.push_str(
        "\t\tX-Content-Type-Options \"nosniff\"\n\t\tX-Frame-Options \"SAMEORIGIN\"\n\t\tReferrer-Policy \"strict-origin-when-cross-origin\"\n\t\t-Server\n\t}\n}\n\n",
    );
    writeln!(
        out,
        "(vpn_only) {{\n\t@blocked not client_ip {}\n\terror @blocked 403\n}}\n",
        if vpn_ranges.is_empty() {
            "127.0.0.1/32".to_string()
        } else {
            vpn_ranges.join(" ")
        }
    )
    .unwrap();
    out.push_str(
        "(vpn_error_page) {\n\thandle_errors {\n\t\t@denied expression `{err.status_code} == 403`\n\t\trespond @denied \"Access restricted to the VPN\" 403\n\t\t@down expression `{err.status_code} in [502, 503, 504]`\n\t\trespond @down \"Service unavailable\" {err.status_code}\n\t\trespond \"{err.status_code} {err.status_text}\" {err.status_code}\n\t}\n}\n",
    );

    for (site, routes) in &sites {
        out.push('\n');
        writeln!(out, "{} {{", token("site address", site)?).unwrap();
        out.push_str("\timport security_headers\n");
        let is_base = *site == base_site;
        // `handle` runs before `error` in Caddy's directive order, so a site-level
        // `import vpn_only` would not guard requests a `handle` block serves: the
        // ACL goes site-wide only when the site has no `handle` blocks at all.
        let site_level_vpn = !is_base
            && !routes.is_empty()
            && routes
                .iter()
                .all(|r| r.route.access == Access::Vpn && r.route.path.is_none());
        let any_vpn = routes.iter().any(|r| r.route.access == Access::Vpn);
        if site_level_vpn {
            out.push_str("\timport vpn_only\n");
        }
        if any_vpn {
            out.push_str("\timport vpn_error_page\n");
        }
        if is_base {
            out.push_str("\n\thandle /health {\n\t\trespond \"OK\" 200\n\t}\n");
        }
        // Longest paths first, so `/api/*` wins over a catch-all.
        let mut ordered: Vec<&SiteRoute> = routes.iter().collect();
        ordered.sort_by_key(|r| std::cmp::Reverse(r.route.path.as_deref().map_or(0, str::len)));
        for r in ordered {
            let vpn_here = !site_level_vpn && r.route.access == Access::Vpn;
            match &r.route.path {
                Some(path) => {
                    let directive = if r.route.strip_prefix {
                        "handle_path"
                    } else {
                        "handle"
                    };
                    writeln!(out, "\n\t{directive} {} {{", token("route path", path)?).unwrap();
                    if vpn_here {
                        out.push_str("\t\timport vpn_only\n");
                    }
                    proxy_block(&mut out, r, "\t\t")?;
                    out.push_str("\t}\n");
                }
                None if is_base || vpn_here => {
                    out.push_str("\n\thandle {\n");
                    if vpn_here {
                        out.push_str("\t\timport vpn_only\n");
                    }
                    proxy_block(&mut out, r, "\t\t")?;
                    out.push_str("\t}\n");
                }
                None => {
                    out.push('\n');
                    proxy_block(&mut out, r, "\t")?;
                }
            }
        }
        if is_base && !routes.iter().any(|r| r.route.path.is_none()) {
            out.push_str("\n\thandle {\n\t\trespond \"Not Found\" 404\n\t}\n");
        }
        out.push_str("}\n");
    }
    Ok(out)
}

fn proxy_block(out: &mut String, r: &SiteRoute, indent: &str) -> Result<(), FileError> {
    let upstream = format!("{}:{}", token("upstream", &r.service.name)?, r.route.port);
    if r.route.websocket {
        writeln!(
            out,
            "{indent}reverse_proxy {upstream} {{\n{indent}\ttransport http {{\n{indent}\t\tversions 1.1\n{indent}\t}}\n{indent}}}"
        )
        .unwrap();
    } else {
        writeln!(out, "{indent}reverse_proxy {upstream}").unwrap();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn javisi() -> Stack {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/javisi");
        crate::stack::load(&path, "prod").unwrap()
    }

    #[test]
    fn tokens_that_would_change_the_caddyfile_are_refused() {
        for ok in [
            "/api/*",
            "n8n.example.cloud",
            ":80",
            "ops@example.cloud",
            "/x-._~!$&'()*+;=:@%/y",
        ] {
            assert_eq!(token("t", ok).unwrap(), ok);
        }
        for bad in [
            "",
            "a b",
            "/x {\n\trespond 200",
            "hooks.x, evil.example",
            "{env.SECRET}",
            "a#b",
            "a\"b",
            "a\rb",
        ] {
            assert!(token("t", bad).is_err(), "{bad:?} was accepted");
        }
    }

    /// Values that reach the writer without the model's validation (a field set
    /// after resolve) are refused instead of written raw.
    #[test]
    fn a_hostile_value_that_bypassed_validation_is_refused() {
        let stack = javisi();
        assert!(render(&stack, &stack.services["caddy"]).is_ok());

        let mut hostile = javisi();
        hostile.project.email = Some("ops@example.cloud\n}\nevil.example {".into());
        let err = render(&hostile, &hostile.services["caddy"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("project.email"), "{err}");

        let mut hostile = javisi();
        let route = &mut hostile.services.get_mut("n8n").unwrap().routes[0];
        route.subdomain = Some("hooks.x, evil".into());
        let err = render(&hostile, &hostile.services["caddy"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("site address"), "{err}");

        let mut hostile = javisi();
        let route = &mut hostile.services.get_mut("n8n").unwrap().routes[0];
        route.path = Some("/x {\n\t\trespond 200".into());
        let err = render(&hostile, &hostile.services["caddy"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("route path"), "{err}");
    }
}
