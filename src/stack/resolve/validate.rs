//! Every name and path the stack file gives, held to [`crate::stack::names`]
//! once, here, before any stage uses one as a path part, a DNS name, an env
//! line, an SQL identifier or a Caddyfile token.
//!
//! Overlays of every environment are checked, not only the selected one's, so a
//! bad `[env.preprod] domain` fails `check --env prod` too.

use std::net::IpAddr;

use super::*;
use crate::stack::locate::ServiceText;
use crate::stack::names::{self, Invalid};

impl Resolver {
    pub(super) fn validate(&mut self, raw: &RawStack, overlay: &RawOverlay, stack: &Stack) {
        self.validate_project(raw, overlay);
        for (name, host) in &raw.hosts {
            let span = self.stack_span(name);
            self.name(
                "host",
                name.get_ref(),
                &span,
                names::dns_label(name.get_ref()),
            );
            let _ = host;
        }
        for name in raw.networks.keys().chain(overlay.networks.keys()) {
            let span = self.stack_span(name);
            self.name(
                "network",
                name.get_ref(),
                &span,
                names::dns_label(name.get_ref()),
            );
        }
        for (name, spec) in &stack.secrets {
            let declared = raw.secrets.keys().find(|k| k.get_ref() == name);
            let span = match declared {
                Some(k) => Some(self.stack_span(k)),
                None => stack
                    .services
                    .get(&spec.owner)
                    .and_then(|s| self.service_text(stack, s).map(|t| t.key(name))),
            };
            if let Err(e) = names::identifier(name) {
                self.refuse("invalid-name", "secret", name, span.as_ref(), e);
            }
        }
        for service in stack.services.values() {
            self.validate_service(stack, service);
        }
    }

    fn validate_project(&mut self, raw: &RawStack, overlay: &RawOverlay) {
        let project = &raw.project;
        let domains = project
            .domain
            .iter()
            .chain(overlay.domain.iter())
            .chain(raw.env.values().filter_map(|o| o.get_ref().domain.as_ref()));
        let mut problems = Vec::new();
        for domain in domains {
            if let Err(e) = names::domain(domain.get_ref()) {
                problems.push(("domain", domain, e));
            }
        }
        if let Some(email) = &project.email
            && let Err(e) = names::email(email.get_ref())
        {
            problems.push(("e-mail", email, e));
        }
        if let Err(e) = names::timezone(project.timezone.get_ref()) {
            problems.push(("timezone", &project.timezone, e));
        }
        for (what, value, e) in problems {
            let span = self.stack_span(value);
            self.refuse("invalid-value", what, value.get_ref(), Some(&span), e);
        }
    }

    fn validate_service(&mut self, stack: &Stack, service: &Service) {
        let header = service.span.clone();
        let text = self.service_text(stack, service);
        let at = |key: &str| text.as_ref().map(|t| t.key(key)).or(header.clone());
        let mut problems: Vec<(&'static str, &'static str, String, Option<Span>, Invalid)> =
            Vec::new();
        if let Err(e) = names::dns_label(&service.name) {
            problems.push((
                "invalid-name",
                "service",
                service.name.clone(),
                header.clone(),
                e,
            ));
        }
        let env_keys = service
            .env
            .keys()
            .chain(service.consumes.values().flat_map(|vars| vars.keys()));
        for key in env_keys {
            if let Err(e) = names::env_key(key) {
                problems.push(("invalid-name", "env variable", key.clone(), at(key), e));
            }
        }
        for (name, file) in &service.files {
            if let Err(e) = names::relative_path(name) {
                problems.push(("invalid-name", "file", name.clone(), at(name), e));
            }
            if let Err(e) = names::container_path(&file.mount) {
                problems.push((
                    "invalid-value",
                    "file mount",
                    file.mount.clone(),
                    at(name),
                    e,
                ));
            }
        }
        for data in &service.data {
            if let Err(e) = names::container_path(&data.container_path) {
                let span = at(&data.container_path);
                problems.push((
                    "invalid-value",
                    "data path",
                    data.container_path.clone(),
                    span,
                    e,
                ));
            }
            if let Err(e) = names::relative_path(&data.dir) {
                problems.push((
                    "invalid-value",
                    "data `dir`",
                    data.dir.clone(),
                    at("dir"),
                    e,
                ));
            }
        }
        for mount in &service.mounts {
            let span = text
                .as_ref()
                .and_then(|t| t.find_line(false, |l| l.contains(&mount.target)))
                .or_else(|| at("mounts"));
            if let Err(e) = names::host_path(&mount.source) {
                problems.push((
                    "invalid-value",
                    "mount source",
                    mount.source.clone(),
                    span.clone(),
                    e,
                ));
            }
            if let Err(e) = names::container_path(&mount.target) {
                problems.push((
                    "invalid-value",
                    "mount target",
                    mount.target.clone(),
                    span,
                    e,
                ));
            }
        }
        for db in stack
            .databases
            .iter()
            .filter(|d| d.owner_service == service.name)
        {
            for (what, value) in [("database", &db.name), ("database user", &db.user)] {
                if let Err(e) = names::identifier(value) {
                    problems.push(("invalid-name", what, value.clone(), at("databases"), e));
                }
            }
        }
        if let Some(redis) = &service.redis_user
            && let Err(e) = names::identifier(&redis.user)
        {
            problems.push((
                "invalid-name",
                "Redis user",
                redis.user.clone(),
                at("redis_user"),
                e,
            ));
        }
        for route in &service.routes {
            let span = route.span.clone().or(header.clone());
            if let Some(sub) = &route.subdomain
                && let Err(e) = names::subdomain(sub)
            {
                problems.push(("invalid-value", "subdomain", sub.clone(), span.clone(), e));
            }
            if let Some(path) = &route.path
                && let Err(e) = names::route_path(path)
            {
                problems.push(("invalid-value", "route path", path.clone(), span, e));
            }
        }
        for port in &service.ports {
            if port.bind.parse::<IpAddr>().is_err() {
                let e = Invalid {
                    reason: "not an IP address".to_string(),
                    help: "bind to an address of the host, e.g. `127.0.0.1` or `0.0.0.0`"
                        .to_string(),
                };
                problems.push((
                    "invalid-value",
                    "port `bind`",
                    port.bind.clone(),
                    port.span.clone(),
                    e,
                ));
            }
            if !matches!(port.protocol.as_str(), "tcp" | "udp") {
                let e = Invalid {
                    reason: "not a transport protocol".to_string(),
                    help: "write `tcp` or `udp`".to_string(),
                };
                problems.push((
                    "invalid-value",
                    "port `protocol`",
                    port.protocol.clone(),
                    port.span.clone(),
                    e,
                ));
            }
        }
        for (code, what, value, span, e) in problems {
            self.refuse(code, what, &value, span.as_ref(), e);
        }
    }

    fn service_text<'a>(
        &'a self,
        stack: &'a Stack,
        service: &'a Service,
    ) -> Option<ServiceText<'a>> {
        Some(ServiceText {
            sources: &self.sources,
            env: &stack.env,
            service: &service.name,
            header: service.span.as_ref()?,
        })
    }

    fn name(&mut self, what: &str, value: &str, span: &Span, result: Result<(), Invalid>) {
        if let Err(e) = result {
            self.refuse("invalid-name", what, value, Some(span), e);
        }
    }

    fn refuse(
        &mut self,
        code: &'static str,
        what: &str,
        value: &str,
        span: Option<&Span>,
        e: Invalid,
    ) {
        self.error(
            Diagnostic::error(
                code,
                format!(
                    "{what} `{}` is not valid: {}",
                    value.escape_debug(),
                    e.reason
                ),
            )
            .at(span, format!("this {what}"))
            .help(e.help),
        );
    }
}
