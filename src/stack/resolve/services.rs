//! Services, field by field from their layers (catalog entry, stack file,
//! environment overlay): image, command, health check, resources, routes.

use super::*;

impl Resolver {
    pub(super) fn services(&mut self, raw: &RawStack, overlay: &RawOverlay, stack: &mut Stack) {
        // Register catalog sources once, so spans into catalog entries can be shown.
        let mut catalog_sources: IndexMap<&str, SourceId> = IndexMap::new();
        let mut names: Vec<&Spanned<String>> = raw.services.keys().collect();
        for name in overlay.services.keys() {
            if !raw.services.contains_key(name) {
                names.push(name);
            }
        }
        let mut resolved = Vec::new();
        for name in names {
            let base = raw.services.get(name);
            let over = overlay.services.get(name);
            let header =
                self.stack_span(base.or(over).expect("name comes from one of the two maps"));
            let from = over
                .and_then(|o| o.get_ref().from.as_ref())
                .or_else(|| base.and_then(|b| b.get_ref().from.as_ref()));
            let catalog_name = from.map(|f| f.get_ref().as_str()).unwrap_or(name.get_ref());
            let entry = catalog::get(catalog_name);
            if let Some(f) = from
                && entry.is_none()
            {
                let span = self.stack_span(f);
                let hint = suggest::hint(f.get_ref(), catalog::names());
                self.error(
                    Diagnostic::error(
                        "unknown-reference",
                        format!("`from = \"{}\"`: no such catalog entry", f.get_ref()),
                    )
                    .at(Some(&span), "not in the catalog")
                    .maybe_help(hint),
                );
                continue;
            }
            let mut layers = Vec::new();
            if let Some(entry) = entry {
                let id = *catalog_sources
                    .entry(entry.name)
                    .or_insert_with(|| self.sources.add(entry.path.clone(), entry.text));
                layers.push(Layer {
                    source: id,
                    raw: &entry.service,
                });
            }
            for layer in [base, over].into_iter().flatten() {
                layers.push(Layer {
                    source: self.stack_src,
                    raw: layer.get_ref(),
                });
            }
            let layers = Layers(layers);
            if layers.value(|s| s.enabled.as_ref()) == Some(&false) {
                continue;
            }
            if entry.is_none() && layers.value(|s| s.image.as_ref()).is_none() {
                let hint = suggest::hint(name.get_ref(), catalog::names());
                self.error(
                    Diagnostic::error(
                        "unknown-service",
                        format!(
                            "service `{}` is not in the catalog and has no `image`",
                            name.get_ref()
                        ),
                    )
                    .at(Some(&header), "unknown service")
                    .maybe_help(hint.or_else(|| {
                        Some("a custom service needs `image = \"name:tag\"` and `port`".to_string())
                    })),
                );
                continue;
            }
            if let Some(service) = self.service(
                name.get_ref(),
                entry.map(|e| e.name),
                &layers,
                header,
                stack,
            ) {
                resolved.push(service);
            }
        }
        resolved.sort_by(|a, b| a.name.cmp(&b.name));
        stack.services = resolved.into_iter().map(|s| (s.name.clone(), s)).collect();
        self.wire(stack);
    }

    pub(super) fn service(
        &mut self,
        name: &str,
        catalog: Option<&str>,
        layers: &Layers,
        header: Span,
        stack: &mut Stack,
    ) -> Option<Service> {
        let image = layers.value(|s| s.image.as_ref())?;
        let host = self.placement(name, layers, stack);
        let port = layers.value(|s| s.port.as_ref()).copied();
        let kind = layers
            .value(|s| s.kind.as_ref())
            .copied()
            .unwrap_or(Kind::App);

        let (networks, network_spans) = self.service_networks(layers);

        let health = self.health(name, layers, port, &header);
        let resources = self.resources(name, layers, &header);

        let env = layers
            .map(|s| s.env.as_ref())
            .into_iter()
            .map(|(k, (src, v))| {
                (
                    k,
                    Template::new(v.get_ref().clone(), Some(self.span(src, v))),
                )
            })
            .collect();
        let consumes = layers
            .map(|s| s.consumes.as_ref())
            .into_iter()
            .map(|(other, (src, vars))| {
                let vars = vars
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            Template::new(v.get_ref().clone(), Some(self.span(src, v))),
                        )
                    })
                    .collect();
                (other, vars)
            })
            .collect();

        let files = self.files(name, layers, &header);

        let data = data_dirs(name, layers);

        let backup = self.service_backup(name, layers, &data, &header);

        let db_names = databases(name, layers, stack);

        let redis_user = layers.value(|s| s.redis_user.as_ref()).map(|r| RedisUser {
            user: r.user.clone(),
            rules: r
                .rules
                .clone()
                .unwrap_or_else(|| "~* &* +@all -@dangerous".to_string()),
            password_secret: format!("redis_{}_password", r.user),
        });

        let routes = self.routes(name, layers, port, &header);
        let ports = self.ports(layers);

        let depends_on = depends_on(layers);

        let exports = layers
            .map(|s| s.exports.as_ref())
            .into_iter()
            .map(|(k, (_, v))| (k, Template::new(v.clone(), Some(header.clone()))))
            .collect();

        let config = merged_config(layers);

        Some(Service {
            name: name.to_string(),
            catalog: catalog.map(str::to_string),
            description: layers.value(|s| s.description.as_ref()).cloned(),
            image: image.get_ref().clone(),
            host,
            kind,
            port,
            command: layers.value(|s| s.command.as_ref()).cloned(),
            entrypoint: layers.value(|s| s.entrypoint.as_ref()).cloned(),
            user: layers.value(|s| s.user.as_ref()).cloned(),
            init: layers.value(|s| s.init.as_ref()).copied().unwrap_or(false),
            platforms: layers
                .value(|s| s.platforms.as_ref())
                .cloned()
                .unwrap_or_else(|| vec!["linux/amd64".to_string(), "linux/arm64".to_string()]),
            needs_internet: layers
                .value(|s| s.needs_internet.as_ref())
                .copied()
                .unwrap_or(false),
            supports_subpath: layers
                .value(|s| s.supports_subpath.as_ref())
                .copied()
                .unwrap_or(true),
            networks,
            cap_add: layers
                .value(|s| s.cap_add.as_ref())
                .cloned()
                .unwrap_or_default(),
            group_add: layers
                .value(|s| s.group_add.as_ref())
                .cloned()
                .unwrap_or_default(),
            read_only: layers
                .value(|s| s.read_only.as_ref())
                .copied()
                .unwrap_or(false),
            health,
            resources,
            env,
            consumes,
            files,
            data,
            mounts: layers
                .value(|s| s.mounts.as_ref())
                .map(|m| {
                    m.iter()
                        .map(|m| Mount {
                            source: m.source.clone(),
                            target: m.target.clone(),
                            read_only: m.read_only,
                            lint_ignore: m.lint_ignore.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            databases: db_names,
            reads_databases: layers
                .value(|s| s.reads_databases.as_ref())
                .cloned()
                .unwrap_or_default(),
            datasource: layers.value(|s| s.datasource.as_ref()).cloned(),
            redis_user,
            routes,
            ports,
            depends_on,
            exports,
            models: layers
                .value(|s| s.models.as_ref())
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            fallbacks: layers
                .map(|s| s.fallbacks.as_ref())
                .into_iter()
                .map(|(k, (_, v))| (k, v.clone()))
                .collect(),
            config,
            backup,
            span: Some(header),
            network_spans,
        })
    }

    /// The host a service runs on: the one named (which must exist), else the first.
    fn placement(&mut self, name: &str, layers: &Layers, stack: &Stack) -> String {
        match layers.last(|s| s.host.as_ref()) {
            Some((src, h)) => {
                if !stack.hosts.contains_key(h.get_ref()) {
                    let span = self.span(src, h);
                    let hint = suggest::hint(h.get_ref(), stack.hosts.keys().map(String::as_str));
                    self.error(
                        Diagnostic::error(
                            "unknown-reference",
                            format!("service `{name}`: unknown host `{}`", h.get_ref()),
                        )
                        .at(Some(&span), "no such host in [hosts]")
                        .maybe_help(hint),
                    );
                }
                h.get_ref().clone()
            }
            None => stack.hosts.keys().next().cloned().unwrap_or_default(),
        }
    }

    /// The networks named, with their spans, or `backend`.
    fn service_networks(&self, layers: &Layers) -> (Vec<String>, Vec<Option<Span>>) {
        let mut networks = Vec::new();
        let mut network_spans = Vec::new();
        if let Some((src, list)) = layers.last(|s| s.networks.as_ref()) {
            for n in list {
                networks.push(n.get_ref().clone());
                network_spans.push(Some(self.span(src, n)));
            }
        } else {
            networks.push("backend".to_string());
            network_spans.push(None);
        }
        (networks, network_spans)
    }

    /// Config files, each from exactly one of a generator, a template, a content.
    fn files(
        &mut self,
        name: &str,
        layers: &Layers,
        header: &Span,
    ) -> IndexMap<String, ConfigFile> {
        let mut files = IndexMap::new();
        for (file_name, (_, f)) in layers.map(|s| s.files.as_ref()) {
            let source = match (&f.generator, &f.template, &f.content) {
                (Some(g), None, None) => FileSource::Generator(*g),
                (None, Some(t), None) => FileSource::Template(t.clone()),
                (None, None, Some(c)) => FileSource::Content(c.clone()),
                _ => {
                    self.error(
                        Diagnostic::error(
                            "invalid-value",
                            format!("service `{name}`: file `{file_name}` needs exactly one of `generator`, `template`, `content`"),
                        )
                        .at(Some(header), "in this service"),
                    );
                    continue;
                }
            };
            let mode = f
                .mode
                .as_deref()
                .and_then(|m| u32::from_str_radix(m.trim_start_matches("0o"), 8).ok())
                .unwrap_or(0o644);
            files.insert(
                file_name.clone(),
                ConfigFile {
                    mount: f
                        .mount
                        .clone()
                        .unwrap_or_else(|| format!("/etc/{name}/{file_name}")),
                    name: file_name,
                    source,
                    mode,
                },
            );
        }
        files
    }

    fn ports(&self, layers: &Layers) -> Vec<Port> {
        layers
            .last(|s| s.ports.as_ref())
            .map(|(src, list)| {
                list.iter()
                    .map(|p| {
                        let raw = p.get_ref();
                        Port {
                            published: raw.published,
                            target: raw.target.unwrap_or(raw.published),
                            bind: raw.bind.clone().unwrap_or_else(|| "127.0.0.1".to_string()),
                            protocol: raw.protocol.clone(),
                            public: raw.public,
                            span: Some(self.span(src, p)),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn health(
        &mut self,
        name: &str,
        layers: &Layers,
        port: Option<u16>,
        header: &Span,
    ) -> Option<Health> {
        let raw = layers.value(|s| s.health.as_ref())?;
        if raw.disable == Some(true) {
            return None;
        }
        let test = match (&raw.http, raw.tcp, &raw.cmd, &raw.shell) {
            (Some(path), None, None, None) => HealthTest::Http {
                path: path.clone(),
                port: port.unwrap_or(80),
                probe: raw.probe.unwrap_or(Probe::Wget),
            },
            (None, Some(true), None, None) => HealthTest::Tcp {
                port: port.unwrap_or(80),
            },
            (None, None, Some(cmd), None) => HealthTest::Exec(cmd.clone()),
            (None, None, None, Some(shell)) => HealthTest::Shell(shell.clone()),
            _ => {
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!("service `{name}`: health needs exactly one of `http`, `tcp`, `cmd`, `shell`"),
                    )
                    .at(Some(header), "in this service"),
                );
                return None;
            }
        };
        let mut duration = |text: &Option<String>, default: u64| match text {
            Some(t) => Seconds::parse(t).unwrap_or_else(|e| {
                self.diags.push(
                    Diagnostic::error("invalid-value", format!("service `{name}`: {e}"))
                        .at(Some(header), "in this service"),
                );
                Seconds(default)
            }),
            None => Seconds(default),
        };
        Some(Health {
            test,
            interval: duration(&raw.interval, 10),
            timeout: duration(&raw.timeout, 5),
            start_period: duration(&raw.start_period, 10),
            retries: raw.retries.unwrap_or(5),
        })
    }

    pub(super) fn resources(&mut self, name: &str, layers: &Layers, header: &Span) -> Resources {
        let per_env = layers.map(|s| s.resources.as_ref());
        let base = per_env
            .get(&self.env)
            .or_else(|| per_env.get("default"))
            .or_else(|| per_env.get("prod"))
            .map(|(_, r)| (*r).clone())
            .unwrap_or_default();
        let mut parse =
            |what: &str, text: Option<&str>, default: Mib, span: Option<Span>| match text {
                Some(t) => Mib::parse(t).unwrap_or_else(|e| {
                    let span = span.clone().unwrap_or_else(|| header.clone());
                    self.diags.push(
                        Diagnostic::error(
                            "invalid-value",
                            format!("service `{name}`: {what}: {e}"),
                        )
                        .at(Some(&span), what.to_string()),
                    );
                    default
                }),
                None => default,
            };
        let memory_override = layers.last(|s| s.memory.as_ref());
        let memory_span = memory_override.map(|(src, m)| Span::new(src, m.span()));
        let memory = parse(
            "memory",
            memory_override
                .map(|(_, m)| m.get_ref().as_str())
                .or(base.memory.as_deref()),
            Mib(256),
            memory_span.clone(),
        );
        let reserve = parse(
            "reserve",
            layers
                .value(|s| s.reserve.as_ref())
                .map(String::as_str)
                .or(base.reserve.as_deref()),
            Mib(64),
            None,
        );
        Resources {
            memory,
            cpus: layers
                .value(|s| s.cpus.as_ref())
                .copied()
                .or(base.cpus)
                .unwrap_or(0.5),
            pids: layers.value(|s| s.pids.as_ref()).copied().unwrap_or(1024),
            reserve,
            memory_span,
        }
    }

    pub(super) fn routes(
        &mut self,
        name: &str,
        layers: &Layers,
        port: Option<u16>,
        header: &Span,
    ) -> Vec<Route> {
        let mut routes: Vec<Route> = layers
            .last(|s| s.routes.as_ref())
            .map(|(src, list)| {
                list.iter()
                    .map(|r| {
                        let raw = r.get_ref();
                        Route {
                            subdomain: raw.subdomain.clone(),
                            path: raw.path.clone(),
                            strip_prefix: raw.strip_prefix.unwrap_or(false),
                            access: raw.access.unwrap_or(Access::Vpn),
                            websocket: raw.websocket.unwrap_or(false),
                            port: raw.port.or(port).unwrap_or(80),
                            span: Some(Span::new(src, r.span())),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        // The `subdomain`/`access` shortcuts edit the first route only when written at
        // the same layer as `routes` or later: a catalog default must not override
        // the routes an operator spelled out.
        let routes_depth = layers.depth(|s| s.routes.as_ref());
        let applies =
            |depth: Option<usize>| depth.is_some_and(|d| routes_depth.is_none_or(|r| d >= r));
        let subdomain = layers
            .last(|s| s.subdomain.as_ref())
            .filter(|_| applies(layers.depth(|s| s.subdomain.as_ref())));
        let access = layers
            .value(|s| s.access.as_ref())
            .copied()
            .filter(|_| applies(layers.depth(|s| s.access.as_ref())));
        if subdomain.is_some() || access.is_some() {
            if routes.is_empty() {
                routes.push(Route {
                    subdomain: None,
                    path: None,
                    strip_prefix: false,
                    access: Access::Vpn,
                    websocket: false,
                    port: port.unwrap_or(80),
                    span: None,
                });
            }
            if port.is_none() {
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!("service `{name}` has a route but no `port`"),
                    )
                    .at(Some(header), "in this service")
                    .help("set `port` to the port the service listens on inside the container"),
                );
            }
            let first = &mut routes[0];
            if let Some((src, s)) = subdomain {
                first.subdomain = Some(s.get_ref().clone());
                first.span = Some(Span::new(src, s.span()));
            }
            if let Some(a) = access {
                first.access = a;
            }
        }
        routes
    }
}

/// Data directories, merged field by field across layers.
fn data_dirs(name: &str, layers: &Layers) -> Vec<DataDir> {
    // Field by field across layers: an operator's `owner` keeps the catalog's
    // `identity` (and the reverse).
    let mut data_map: IndexMap<String, RawData> = IndexMap::new();
    for layer in &layers.0 {
        for (path, d) in layer.raw.data.iter().flatten() {
            let merged = data_map.entry(path.clone()).or_default();
            merged.owner = d.owner.clone().or(merged.owner.take());
            merged.dir = d.dir.clone().or(merged.dir.take());
            merged.identity = d.identity.or(merged.identity);
        }
    }
    let single = data_map.len() == 1;
    data_map
        .into_iter()
        .map(|(path, d)| DataDir {
            dir: d.dir.clone().unwrap_or_else(|| {
                if single {
                    name.to_string()
                } else {
                    let leaf = path
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or("data");
                    format!("{name}/{}", leaf.trim_start_matches('.'))
                }
            }),
            container_path: path,
            owner: d.owner.clone(),
            identity: d.identity.unwrap_or(false),
        })
        .collect()
}

/// The databases a service owns, added to the stack; their names.
fn databases(name: &str, layers: &Layers, stack: &mut Stack) -> Vec<String> {
    let databases = layers
        .value(|s| s.databases.as_ref())
        .cloned()
        .unwrap_or_default();
    let mut db_names = Vec::new();
    for db in databases {
        let user = db.user.clone().unwrap_or_else(|| db.name.clone());
        let server = db
            .server
            .clone()
            .unwrap_or_else(|| catalog::DEFAULT_DATABASE_SERVER.to_string());
        db_names.push(db.name.clone());
        stack.databases.push(Database {
            password_secret: format!("db_{user}_password"),
            name: db.name,
            user,
            extensions: db.extensions,
            server,
            owner_service: name.to_string(),
        });
    }
    db_names
}

/// Explicit dependencies, the last layer's condition winning.
fn depends_on(layers: &Layers) -> IndexMap<String, Dependency> {
    let mut depends_on = IndexMap::new();
    for layer in &layers.0 {
        for (dep, cond) in layer.raw.depends_on.iter().flatten() {
            depends_on.insert(
                dep.get_ref().clone(),
                Dependency {
                    condition: *cond.get_ref(),
                    implicit: false,
                    span: Some(Span::new(layer.source, dep.span())),
                },
            );
        }
    }
    depends_on
}

/// `config`, deep-merged across layers, so an environment can change one key of it.
fn merged_config(layers: &Layers) -> Option<serde_json::Value> {
    layers
        .0
        .iter()
        .filter_map(|l| l.raw.config.as_ref())
        .fold(None, |acc, table| {
            let value = serde_json::to_value(table).expect("TOML tables convert to JSON");
            Some(match acc {
                None => value,
                Some(mut base) => {
                    deep_merge(&mut base, &value);
                    base
                }
            })
        })
}
