//! What services say about each other: dependencies (with the implicit ones on a
//! database server or Redis), consumed exports, and every template reference checked.

use super::*;

impl Resolver {
    /// Implicit dependencies (database server, Redis) and the server of each database.
    pub(super) fn wire(&mut self, stack: &mut Stack) {
        let names: Vec<String> = stack.services.keys().cloned().collect();
        for service in stack.services.values_mut() {
            for (other, vars) in std::mem::take(&mut service.consumes) {
                if names.contains(&other) {
                    for (key, value) in vars {
                        service.env.entry(key).or_insert(value);
                    }
                }
            }
            let servers: Vec<String> = stack
                .databases
                .iter()
                .filter(|d| d.owner_service == service.name)
                .map(|d| d.server.clone())
                .collect();
            for server in servers {
                if stack.external_databases.contains_key(&server) {
                    continue;
                }
                if !names.contains(&server) {
                    let hint = suggest::hint(
                        &server,
                        names
                            .iter()
                            .map(String::as_str)
                            .chain(stack.external_databases.keys().map(String::as_str)),
                    );
                    self.diags.push(
                        Diagnostic::error(
                            "unknown-reference",
                            format!("service `{}` needs a database on `{server}`, which is not enabled", service.name),
                        )
                        .at(service.span.as_ref(), "this service")
                        .maybe_help(hint.or_else(|| Some(format!("enable it with `[services.{server}]` or declare `[external_databases.{server}]`")))),
                    );
                    continue;
                }
                service.depends_on.entry(server).or_insert(Dependency {
                    condition: Condition::Healthy,
                    implicit: true,
                    span: None,
                });
            }
            if service.redis_user.is_some() {
                if names.iter().any(|n| n == catalog::REDIS_SERVICE) {
                    service
                        .depends_on
                        .entry(catalog::REDIS_SERVICE.to_string())
                        .or_insert(Dependency {
                            condition: Condition::Healthy,
                            implicit: true,
                            span: None,
                        });
                } else {
                    self.diags.push(
                        Diagnostic::error(
                            "unknown-reference",
                            format!(
                                "service `{}` connects to Redis, which is not enabled",
                                service.name
                            ),
                        )
                        .at(service.span.as_ref(), "this service")
                        .help("enable it with `[services.redis]`"),
                    );
                }
            }
        }
        // Operator-written dependencies must name enabled services; catalog ones are
        // kept only when their target is enabled.
        for service in stack.services.values_mut() {
            let mut drop = Vec::new();
            for (dep, d) in &service.depends_on {
                if names.contains(dep) {
                    continue;
                }
                let from_stack = d.span.as_ref().is_some_and(|s| s.source == self.stack_src);
                if from_stack {
                    let hint = suggest::hint(dep, names.iter().map(String::as_str));
                    self.diags.push(
                        Diagnostic::error(
                            "unknown-reference",
                            format!(
                                "service `{}` depends on `{dep}`, which is not an enabled service",
                                service.name
                            ),
                        )
                        .at(d.span.as_ref(), "unknown service")
                        .maybe_help(hint),
                    );
                }
                drop.push(dep.clone());
            }
            for dep in drop {
                service.depends_on.shift_remove(&dep);
            }
            service.depends_on.sort_keys();
        }
    }

    /// Every template reference must resolve: secrets, databases, exports, routes.
    pub(super) fn check_references(&mut self, stack: &mut Stack) {
        let mut problems = Vec::new();
        // A database read by name must exist somewhere: in this stack, or owned by a
        // catalog entry that is not enabled here (then it is left out, not an error).
        let known: Vec<&str> = stack
            .databases
            .iter()
            .map(|d| d.name.as_str())
            .chain(catalog::entries().iter().flat_map(|e| {
                e.service
                    .databases
                    .iter()
                    .flatten()
                    .map(|d| d.name.as_str())
            }))
            .collect();
        for service in stack.services.values() {
            for name in &service.reads_databases {
                if !known.contains(&name.as_str()) {
                    problems.push(
                        Diagnostic::error(
                            "unknown-reference",
                            format!(
                                "service `{}` reads database `{name}`, which no service owns",
                                service.name
                            ),
                        )
                        .at(service.span.as_ref(), "in this service")
                        .maybe_help(suggest::hint(name, known.iter().copied())),
                    );
                }
            }
        }
        for service in stack.services.values() {
            let values = service
                .env
                .iter()
                .map(|(k, t)| (format!("env `{k}`"), t, false))
                .chain(
                    service
                        .exports
                        .iter()
                        .map(|(k, t)| (format!("export `{k}`"), t, true)),
                );
            for (what, template, is_export) in values {
                let refs = match template.references() {
                    Ok(r) => r,
                    Err(e) => {
                        problems.push(
                            Diagnostic::error(
                                "invalid-template",
                                format!("service `{}`: {what}: {e}", service.name),
                            )
                            .at(template.span.as_ref(), "invalid template"),
                        );
                        continue;
                    }
                };
                for reference in refs {
                    // Exports are rendered first, each from its own service's
                    // values: one export cannot read another, its own included.
                    if is_export && reference.starts_with("services.") {
                        problems.push(
                            Diagnostic::error(
                                "invalid-template",
                                format!(
                                    "service `{}`: {what} references `{reference}`: an export cannot read exports",
                                    service.name
                                ),
                            )
                            .at(template.span.as_ref(), "in this value")
                            .help("build the export from the service's own values (`{{ secret.NAME }}`, `{{ route.public_url }}`, `{{ db.password }}`)"),
                        );
                        continue;
                    }
                    if let Some(problem) = reference_problem(stack, service, &reference) {
                        problems.push(
                            Diagnostic::error(
                                "unknown-reference",
                                format!(
                                    "service `{}`: {what} references `{reference}`: {}",
                                    service.name, problem.0
                                ),
                            )
                            .at(template.span.as_ref(), "in this value")
                            .maybe_help(problem.1),
                        );
                    }
                }
            }
            for model in &service.models {
                if !stack.secrets.contains_key(&model.key) {
                    let hint = suggest::hint(&model.key, stack.secrets.keys().map(String::as_str));
                    problems.push(
                        Diagnostic::error(
                            "unknown-reference",
                            format!(
                                "service `{}`: model `{}` uses undeclared secret `{}`",
                                service.name, model.name, model.key
                            ),
                        )
                        .at(service.span.as_ref(), "in this service")
                        .maybe_help(hint.or_else(|| {
                            Some(format!(
                                "declare it: `[secrets.{}] provided = true`",
                                model.key
                            ))
                        })),
                    );
                }
            }
        }
        self.diags.extend(problems);
    }
}

/// Why a template reference does not resolve, and a hint.
fn reference_problem(
    stack: &Stack,
    service: &Service,
    reference: &str,
) -> Option<(String, Option<String>)> {
    let mut parts = reference.split('.');
    let root = parts.next().unwrap_or_default();
    let key = parts.next();
    match (root, key) {
        ("secret", Some(name)) => (!stack.secrets.contains_key(name)).then(|| {
            (
                format!("no secret named `{name}`"),
                suggest::hint(name, stack.secrets.keys().map(String::as_str))
                    .or_else(|| Some(format!("declare it in vpai.toml: `[secrets.{name}]`"))),
            )
        }),
        ("db", Some(_)) => service.databases.is_empty().then(|| {
            (
                "this service declares no database".to_string(),
                Some("add `databases = [{ name = \"...\" }]` to the service".to_string()),
            )
        }),
        ("databases", Some(name)) => (!stack.databases.iter().any(|d| d.name == name)).then(|| {
            (
                format!("no database named `{name}`"),
                suggest::hint(name, stack.databases.iter().map(|d| d.name.as_str())),
            )
        }),
        ("redis", Some(_)) => service.redis_user.is_none().then(|| {
            (
                "this service declares no `redis_user`".to_string(),
                Some("add `redis_user = { user = \"...\" }` to the service".to_string()),
            )
        }),
        ("route", Some(_)) => service.routes.is_empty().then(|| {
            (
                "this service has no route".to_string(),
                Some("give it a `subdomain` or `routes`".to_string()),
            )
        }),
        ("services", Some(other)) => match stack.services.get(other) {
            None => Some((
                format!("service `{other}` is not enabled"),
                suggest::hint(other, stack.services.keys().map(String::as_str)).or_else(|| {
                    catalog::get(other).map(|_| format!("enable it with `[services.{other}]`"))
                }),
            )),
            Some(target) => {
                let export = parts.next();
                match export {
                    Some(e) if !target.exports.contains_key(e) => Some((
                        format!("service `{other}` exports no `{e}`"),
                        suggest::hint(e, target.exports.keys().map(String::as_str)).or_else(|| {
                            Some(format!(
                                "it exports: {}",
                                target
                                    .exports
                                    .keys()
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        }),
                    )),
                    _ => None,
                }
            }
        },
        ("project" | "env" | "service", _) => None,
        _ => Some((
            format!("unknown name `{root}`"),
            suggest::hint(
                root,
                [
                    "secret",
                    "db",
                    "databases",
                    "redis",
                    "route",
                    "services",
                    "project",
                    "env",
                    "service",
                ],
            ),
        )),
    }
}
