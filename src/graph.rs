//! The architecture drawing operators keep in their docs, drawn from the resolved stack so it cannot drift from what vpai deploys.
//!
//! One [`View`] is extracted from the [`Stack`] (hosts and their services, who reaches
//! which service from outside, dependencies, networks) and written in three formats:
//! SVG laid out by vpai itself (`layout.rs`, `svg.rs`: vpai is a single binary, Graphviz is not
//! needed at runtime), DOT for those who want Graphviz's layout, and Mermaid for
//! Markdown that renders it. Every output is a pure, deterministic function of the
//! stack: ordered maps, no timestamps.

mod dot;
mod layout;
mod mermaid;
mod svg;

use clap::ValueEnum;

use crate::stack::Stack;
use crate::stack::kinds::{Access, Kind};
use crate::stack::model::{Host, Network, Service};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// A picture, laid out by vpai.
    Svg,
    /// Graphviz source (`dot -Tsvg` lays it out).
    Dot,
    /// A Mermaid flowchart, for Markdown renderers (GitHub, GitLab, MkDocs).
    Mermaid,
}

/// The drawing of `stack` in `format`.
pub fn render(stack: &Stack, format: GraphFormat) -> String {
    let view = View::of(stack);
    match format {
        GraphFormat::Svg => svg::render(&view),
        GraphFormat::Dot => dot::render(&view),
        GraphFormat::Mermaid => mermaid::render(&view),
    }
}

/// Where traffic comes from before it reaches a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Entry {
    Internet,
    Vpn,
}

impl Entry {
    fn name(self) -> &'static str {
        match self {
            Entry::Internet => "Internet",
            Entry::Vpn => "VPN clients",
        }
    }
}

/// What every format draws, in the stack's order.
struct View<'a> {
    project: &'a str,
    env: &'a str,
    domain: Option<&'a str>,
    vpn_cidr: Option<String>,
    hosts: Vec<HostView<'a>>,
    networks: Vec<&'a Network>,
    entries: Vec<EntryEdge<'a>>,
    dependencies: Vec<DependencyEdge<'a>>,
}

struct HostView<'a> {
    host: &'a Host,
    services: Vec<&'a Service>,
    /// The VPN server of `[vpn] server`.
    headscale: bool,
}

/// A route (site and path) or published ports through which `entry` reaches a service.
struct EntryEdge<'a> {
    entry: Entry,
    service: &'a Service,
    label: String,
}

/// `from` depends on `to`.
struct DependencyEdge<'a> {
    from: &'a Service,
    to: &'a Service,
    /// Added by vpai (a database server, Redis) rather than written by the operator.
    implicit: bool,
}

impl<'a> View<'a> {
    fn of(stack: &'a Stack) -> View<'a> {
        let domain = stack.project.domain.as_deref();
        let vpn_server = stack.vpn.as_ref().and_then(|v| v.server.as_deref());
        let hosts: Vec<HostView> = stack
            .hosts
            .values()
            .map(|host| HostView {
                host,
                services: stack
                    .services
                    .values()
                    .filter(|s| s.host == host.name)
                    .collect(),
                headscale: vpn_server == Some(host.name.as_str()),
            })
            .collect();
        // A service on a host the stack does not declare has no place in the drawing.
        let drawn = |name: &str| -> Option<&'a Service> {
            stack
                .services
                .get(name)
                .filter(|s| stack.hosts.contains_key(&s.host))
        };

        let mut entries = Vec::new();
        for service in stack.services.values().filter(|s| drawn(&s.name).is_some()) {
            for route in &service.routes {
                let entry = match route.access {
                    Access::Public => Entry::Internet,
                    Access::Vpn => Entry::Vpn,
                };
                let mut label = route.site(domain);
                if let Some(path) = &route.path {
                    label.push_str(path);
                }
                if route.websocket {
                    label.push_str(" (ws)");
                }
                entries.push(EntryEdge {
                    entry,
                    service,
                    label,
                });
            }
            let vpn_address = stack
                .hosts
                .get(&service.host)
                .and_then(|h| h.vpn_address.as_deref());
            for entry in [Entry::Internet, Entry::Vpn] {
                let ports: Vec<String> = service
                    .ports
                    .iter()
                    .filter(|p| reached_by(&p.bind, vpn_address, stack) == Some(entry))
                    .map(|p| match p.protocol.as_str() {
                        "tcp" => format!(":{}", p.published),
                        other => format!(":{}/{other}", p.published),
                    })
                    .collect();
                if !ports.is_empty() {
                    entries.push(EntryEdge {
                        entry,
                        service,
                        label: ports.join(" "),
                    });
                }
            }
        }
        entries.sort_by_key(|e| e.entry);

        let dependencies = stack
            .services
            .values()
            .filter(|s| drawn(&s.name).is_some())
            .flat_map(|from| {
                from.depends_on.iter().filter_map(move |(name, dep)| {
                    drawn(name).map(|to| DependencyEdge {
                        from,
                        to,
                        implicit: dep.implicit,
                    })
                })
            })
            .collect();

        View {
            project: &stack.project.name,
            env: &stack.env,
            domain,
            vpn_cidr: stack.vpn.as_ref().map(|v| v.cidr.to_string()),
            hosts,
            networks: stack.networks.values().collect(),
            entries,
            dependencies,
        }
    }

    /// `javisi (prod) · example.cloud`
    fn title(&self) -> String {
        match self.domain {
            Some(domain) => format!("{} ({}) · {domain}", self.project, self.env),
            None => format!("{} ({})", self.project, self.env),
        }
    }

    fn network(&self, name: &str) -> Option<&'a Network> {
        self.networks.iter().copied().find(|n| n.name == name)
    }

    /// Networks get their colour by position, so a service's badges match the legend.
    fn network_index(&self, name: &str) -> usize {
        self.networks
            .iter()
            .position(|n| n.name == name)
            .unwrap_or(self.networks.len())
    }

    fn entry_points(&self) -> Vec<Entry> {
        let mut used: Vec<Entry> = self.entries.iter().map(|e| e.entry).collect();
        used.dedup();
        used
    }
}

/// Who can connect to a port bound to `bind`: loopback binds are reachable from the
/// host only, addresses inside the VPN from VPN clients, anything else from the internet.
fn reached_by(bind: &str, vpn_address: Option<&str>, stack: &Stack) -> Option<Entry> {
    let address: Option<std::net::IpAddr> = bind.trim_matches(['[', ']']).parse().ok();
    if bind == "localhost" || address.is_some_and(|a| a.is_loopback()) {
        return None;
    }
    let in_vpn = Some(bind) == vpn_address
        || address
            .zip(stack.vpn.as_ref())
            .is_some_and(|(a, vpn)| vpn.cidr.contains(&a));
    Some(if in_vpn { Entry::Vpn } else { Entry::Internet })
}

/// Facts about a host worth a line in its label: architecture, addresses, role.
fn host_facts(host: &HostView) -> Vec<String> {
    let h = host.host;
    let mut facts = vec![h.arch.clone()];
    let addresses: Vec<String> = [
        h.address.clone(),
        h.vpn_address.as_ref().map(|a| format!("VPN {a}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !addresses.is_empty() {
        facts.push(addresses.join(" · "));
    }
    if host.headscale {
        facts.push("VPN server (Headscale)".to_string());
    }
    facts
}

/// The image without its registry and namespace: `litellm:v1.108.5`; a digest is cut
/// to the 12 characters `docker images` shows.
fn short_image(image: &str) -> String {
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.split_once("@sha256:") {
        Some((repo, digest)) => {
            format!("{repo}@{}", digest.get(..12).unwrap_or(digest))
        }
        None => name.to_string(),
    }
}

/// `:4000`, or nothing for a service that listens on no port.
fn port_label(service: &Service) -> Option<String> {
    service.port.map(|p| format!(":{p}"))
}

/// Colours shared by the formats, so a DOT or Mermaid drawing reads like the SVG.
const DEPENDENCY_COLOR: &str = "#455a64";
const IMPLICIT_COLOR: &str = "#90a4ae";

fn entry_color(entry: Entry) -> &'static str {
    match entry {
        Entry::Internet => "#d32f2f",
        Entry::Vpn => "#00897b",
    }
}

/// Fill and border of a service box.
fn kind_colors(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Proxy => ("#f3e5f5", "#8e24aa"),
        Kind::App => ("#e3f2fd", "#1e88e5"),
        Kind::Datastore => ("#fff3e0", "#ef6c00"),
        Kind::Monitoring => ("#eceff1", "#607d8b"),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Proxy => "reverse proxy",
        Kind::App => "application",
        Kind::Datastore => "datastore",
        Kind::Monitoring => "monitoring",
    }
}

/// Network colours by position in the stack (Dark2, which stays apart on white).
fn network_color(index: usize) -> &'static str {
    const PALETTE: [&str; 8] = [
        "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
    ];
    PALETTE[index % PALETTE.len()]
}

/// Text for XML content and attribute values (SVG, DOT's HTML-like labels). Control
/// characters, which XML 1.0 cannot carry even escaped, become U+FFFD.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_replaces_control_characters() {
        assert_eq!(
            xml("a<b>&\"c'\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{fffd}"
        );
    }

    #[test]
    fn short_image_drops_registry_and_cuts_digests() {
        assert_eq!(
            short_image("ghcr.io/berriai/litellm:v1.108.5"),
            "litellm:v1.108.5"
        );
        assert_eq!(short_image("redis:8.10.2-alpine"), "redis:8.10.2-alpine");
        assert_eq!(
            short_image("ghcr.io/acme/api@sha256:0123456789abcdef0123"),
            "api@0123456789ab"
        );
    }

    #[test]
    fn a_port_is_reached_from_where_its_address_is() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/javisi");
        let stack = crate::stack::load(&path, "prod").unwrap();
        let vpn = Some("100.64.0.14");
        assert_eq!(reached_by("0.0.0.0", vpn, &stack), Some(Entry::Internet));
        assert_eq!(reached_by("::", vpn, &stack), Some(Entry::Internet));
        assert_eq!(
            reached_by("203.0.113.10", vpn, &stack),
            Some(Entry::Internet)
        );
        assert_eq!(reached_by("100.64.0.14", vpn, &stack), Some(Entry::Vpn));
        assert_eq!(reached_by("100.64.0.99", None, &stack), Some(Entry::Vpn));
        assert_eq!(reached_by("127.0.0.1", vpn, &stack), None);
        assert_eq!(reached_by("[::1]", vpn, &stack), None);
        assert_eq!(reached_by("localhost", vpn, &stack), None);
    }
}
