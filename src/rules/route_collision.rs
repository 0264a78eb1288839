use std::collections::BTreeMap;

use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;
use crate::stack::model::{Port, Route};

declare_rule! {
    /// ## What it does
    /// Flags two routes on the same site and path (two services on one subdomain),
    /// and two services publishing the same host port and protocol on one host.
    ///
    /// ## Why is this bad?
    /// Caddy refuses duplicate site blocks or silently serves the first matcher;
    /// Docker fails to start the second container with "port is already allocated"
    /// in the middle of a deploy.
    ///
    /// ## Example
    /// ```toml
    /// [services.grafana]
    /// subdomain = "tala"
    /// [services.nocodb]
    /// subdomain = "tala"
    /// ```
    ///
    /// ## Fix
    /// Give each service its own subdomain (or distinct paths), and each published
    /// port its own number.
    pub struct RouteCollision => "route-collision", Error;
}

impl RouteCollision {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        let domain = stack.project.domain.as_deref();
        // (host, site, path) -> the services routed there.
        type Key = (String, String, String);
        let mut routes: BTreeMap<Key, Vec<(&str, &Route)>> = BTreeMap::new();
        for service in stack.services.values() {
            for route in &service.routes {
                let key = (
                    service.host.clone(),
                    route.site(domain),
                    route.path.clone().unwrap_or_default(),
                );
                routes.entry(key).or_default().push((&service.name, route));
            }
        }
        for ((_, site, path), users) in routes.into_iter().filter(|(_, v)| v.len() > 1) {
            let (first, first_route) = users[0];
            for (other, route) in &users[1..] {
                let where_ = if path.is_empty() {
                    site.clone()
                } else {
                    format!("{site}{path}")
                };
                out.push(
                    Self::diagnostic(format!(
                        "`{other}` and `{first}` are both routed at {where_}"
                    ))
                    .at(
                        route.span.as_ref().or(stack.services[*other].span.as_ref()),
                        format!("`{other}` here"),
                    )
                    .also(
                        first_route
                            .span
                            .as_ref()
                            .or(stack.services[first].span.as_ref()),
                        format!("`{first}` here"),
                    )
                    .help("give each service its own subdomain"),
                );
            }
        }
        // The same port on two different addresses is fine (a VPN address and a
        // public one); on the same address, or with either on all addresses, the
        // second bind fails when the container starts.
        type HostPort = (String, u16, String);
        let mut ports: BTreeMap<HostPort, Vec<(&str, &Port)>> = BTreeMap::new();
        for service in stack.services.values() {
            for port in &service.ports {
                ports
                    .entry((service.host.clone(), port.published, port.protocol.clone()))
                    .or_default()
                    .push((&service.name, port));
            }
        }
        let everywhere = |bind: &str| matches!(bind, "" | "0.0.0.0" | "::" | "[::]");
        for ((host, number, protocol), binds) in ports {
            let clash = binds.iter().enumerate().find_map(|(i, (_, a))| {
                binds[..i].iter().find_map(|(first, b)| {
                    (a.bind == b.bind || everywhere(&a.bind) || everywhere(&b.bind))
                        .then_some((*first, i))
                })
            });
            let Some((first, second)) = clash else {
                continue;
            };
            let users = [first, binds[second].0];
            let span = binds[second].1.span.clone();
            out.push(
                Self::diagnostic(format!(
                    "port {number}/{protocol} on host `{host}` is published by {}",
                    users.join(" and ")
                ))
                .at(span.as_ref(), "already published")
                .help("publish each host port once"),
            );
        }
    }
}
