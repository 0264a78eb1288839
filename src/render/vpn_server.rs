//! What the VPN server needs from the stack: Headscale's split-DNS records and the
//! Uptime Kuma monitors (001 §6.1), rendered for every host at once.
//!
//! The records are computed from the whole stack, never from the host being
//! deployed: 002 §12.6 lost the Pi's records because they were gathered per host
//! and the Pi had not run yet. `override_local_dns: true` (002 §12.2) makes clients
//! use them; without it Windows asks its router and gets the public address, which
//! Caddy's VPN ACL refuses.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::render::route_health_path;
use crate::stack::Stack;
use crate::stack::kinds::{Access, Kind};
use crate::stack::model::Service;

/// Where vpai's files live on the VPN server, and where Headscale's container sees
/// them (002 §12.3: `/etc/headscale` is the container's path, not the host's).
pub const HEADSCALE_HOST_DIR: &str = "/opt/services/headscale/config";
const HEADSCALE_CONTAINER_DIR: &str = "/etc/headscale";
const RECORDS_FILE: &str = "extra-records.json";

#[derive(Serialize)]
struct Record {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    value: String,
}

/// `site -> host` for every site a proxy of the stack serves. The base domain goes
/// to the first proxy's host, which serves its `/health`.
fn sites(stack: &Stack) -> BTreeMap<String, String> {
    let domain = stack.project.domain.as_deref();
    let mut sites = BTreeMap::new();
    let proxies: Vec<&Service> = stack
        .services
        .values()
        .filter(|s| s.kind == Kind::Proxy)
        .collect();
    if let (Some(domain), Some(first)) = (domain, proxies.first()) {
        sites.insert(domain.to_string(), first.host.clone());
    }
    for service in stack.services.values() {
        if !proxies.iter().any(|p| p.host == service.host) {
            continue;
        }
        for route in &service.routes {
            if let Some(domain) = domain {
                sites.insert(route.site(Some(domain)), service.host.clone());
            }
        }
    }
    sites
}

/// The files under `OUT/<server>/`: Headscale's records and DNS settings, the
/// Uptime Kuma monitors.
pub fn render(stack: &Stack, server: &str) -> Result<Vec<(String, String)>, Vec<Diagnostic>> {
    let mut records = Vec::new();
    let mut missing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let sites = sites(stack);
    for (site, host) in &sites {
        match stack.hosts[host].vpn_address.as_deref() {
            Some(address) => records.push(Record {
                name: site.clone(),
                kind: "A",
                value: address.to_string(),
            }),
            None => missing.entry(host).or_default().push(site),
        }
    }
    if !missing.is_empty() {
        return Err(missing
            .into_iter()
            .map(|(host, sites)| {
                Diagnostic::error(
                    "missing-vpn-address",
                    format!(
                        "host `{host}` serves {} but has no vpn_address: Headscale cannot point VPN clients at it",
                        sites.join(", ")
                    ),
                )
                .at(stack.hosts[host].span.as_ref(), "this host")
                .help("set `vpn_address` (its `tailscale ip -4`) in this host")
            })
            .collect());
    }
    let mut records_json = serde_json::to_string_pretty(&records).expect("records serialize");
    records_json.push('\n');

    let dns = format!(
        "# {header}\n\
         # Merge into Headscale's config.yaml ({HEADSCALE_HOST_DIR}/config.yaml on `{server}`)\n\
         # and copy {RECORDS_FILE} next to it. Headscale watches the records file and\n\
         # applies changes without a restart; it refuses `extra_records` and\n\
         # `extra_records_path` together, so drop any inline list.\n\
         ---\n\
         dns:\n\
         \x20 magic_dns: true\n\
         \x20 # 002 §12.2: without it clients keep their own resolver and get public addresses.\n\
         \x20 override_local_dns: true\n\
         \x20 extra_records_path: {HEADSCALE_CONTAINER_DIR}/{RECORDS_FILE}\n",
        header = super::HEADER,
    );

    let mut monitors_json =
        serde_json::to_string_pretty(&monitors(stack)).expect("monitors serialize");
    monitors_json.push('\n');
    Ok(vec![
        (format!("headscale/{RECORDS_FILE}"), records_json),
        ("headscale/dns.yaml".to_string(), dns),
        ("uptime-kuma/monitors.json".to_string(), monitors_json),
    ])
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Monitor {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    url: String,
    interval: u32,
    retry_interval: u32,
    maxretries: u32,
    // Uptime Kuma's own spelling, not camelCase.
    #[serde(rename = "accepted_statuscodes", skip_serializing_if = "Vec::is_empty")]
    accepted_statuscodes: Vec<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    expiry_notification: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    maxredirects: Option<u32>,
    /// How Uptime Kuma on the VPN server gets there.
    description: String,
}

/// 001 §6.1: the base site's `/health`, every route's health path, the certificate.
fn monitors(stack: &Stack) -> Vec<Monitor> {
    let Some(domain) = stack.project.domain.as_deref() else {
        return Vec::new();
    };
    let project = &stack.project.name;
    let mut monitors = vec![Monitor {
        name: format!("{project} — HTTPS"),
        kind: "http",
        url: format!("https://{domain}/health"),
        interval: 60,
        retry_interval: 30,
        maxretries: 2,
        accepted_statuscodes: vec!["200-299"],
        expiry_notification: false,
        maxredirects: None,
        description: "public".to_string(),
    }];
    for service in stack.services.values() {
        for route in &service.routes {
            let (path, has_health) = route_health_path(service, route);
            let vpn = route.access == Access::Vpn;
            monitors.push(Monitor {
                name: format!(
                    "{project} — {} ({})",
                    service.name,
                    route.site(Some(domain))
                ),
                kind: "http",
                url: format!("https://{}{path}", route.site(Some(domain))),
                interval: 60,
                retry_interval: 30,
                maxretries: 3,
                accepted_statuscodes: if has_health {
                    vec!["200-299"]
                } else {
                    vec!["200-299", "300-399", "400-499"]
                },
                expiry_notification: false,
                maxredirects: None,
                description: if vpn {
                    format!(
                        "VPN-only: resolved by Headscale to `{}`'s VPN address",
                        service.host
                    )
                } else {
                    "public".to_string()
                },
            });
        }
    }
    monitors.push(Monitor {
        name: format!("{project} — TLS certificate"),
        kind: "http",
        url: format!("https://{domain}"),
        interval: 86400,
        retry_interval: 3600,
        maxretries: 0,
        accepted_statuscodes: Vec::new(),
        expiry_notification: true,
        maxredirects: Some(0),
        description: "certificate expiry".to_string(),
    });
    // 001 §6.1: a push monitor that expects the backups' ping once a day; its push
    // URL is what `vpai secrets set backup_heartbeat_url` takes.
    if stack.backup.as_ref().is_some_and(|b| b.heartbeat) {
        monitors.push(Monitor {
            name: format!("{project} — backup heartbeat"),
            kind: "push",
            url: String::new(),
            interval: 86400,
            retry_interval: 3600,
            maxretries: 0,
            accepted_statuscodes: Vec::new(),
            expiry_notification: false,
            maxredirects: None,
            description: "pushed by `vpai backup run` after each run".to_string(),
        });
    }
    monitors
}
