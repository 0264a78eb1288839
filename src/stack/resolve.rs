//! Resolution: catalog entry -> stack file -> environment overlay, into a typed [`Stack`].
//!
//! Each service is seen as a list of *layers* (catalog entry, `[services.X]`,
//! `[env.E.services.X]`), each from a known source file, and every field takes the
//! value of the last layer that sets it. Keeping the layers (rather than merging raw
//! tables) means every value still knows which file and line it came from, so a
//! diagnostic about a catalog default points into the catalog and one about an
//! override points into `vpai.toml`. Resolution reports every problem it finds
//! before giving up.

use std::path::Path;

use indexmap::IndexMap;
use ipnet::{IpNet, Ipv4Net};
use toml::Spanned;

use crate::diagnostic::Diagnostic;
use crate::source::{SourceId, Sources, Span};
use crate::stack::backup::{
    Backup, BackupJob, BackupTime, CONFIGS_JOB, HEARTBEAT_SECRET, Hook, PASSWORD_SECRET,
    Repository, Retention, S3_ACCESS_KEY_ID_SECRET,
};
use crate::stack::catalog;
use crate::stack::kinds::*;
use crate::stack::load::{self, Report};
use crate::stack::model::*;
use crate::stack::raw::*;
use crate::stack::template::Template;
use crate::suggest;
use crate::units::{Mib, Seconds};

/// The standard networks of 002 §12.1 (which completes 001 §2.2-2.4).
pub const STANDARD_NETWORKS: &[(&str, &str, bool)] = &[
    ("frontend", "172.20.1.0/24", false),
    ("backend", "172.20.2.0/24", true),
    ("monitoring", "172.20.3.0/24", true),
    ("egress", "172.20.4.0/24", false),
    ("sandbox", "172.20.5.0/24", true),
];

pub const DEFAULT_ENVIRONMENTS: &[&str] = &["prod", "preprod"];

/// The secret a new host joins the Headscale VPN with, declared by `[vpn] headscale_url`.
pub const HEADSCALE_AUTHKEY: &str = "headscale_authkey";

/// Load `DIR/vpai.toml` and resolve it for one environment.
pub fn load(dir: &Path, env: &str) -> Result<Stack, Report> {
    let mut sources = Sources::default();
    let (stack_src, raw) = match load::read(dir, &mut sources) {
        Ok(v) => v,
        Err(diagnostics) => {
            return Err(Report {
                diagnostics,
                sources,
            });
        }
    };
    resolve(raw, stack_src, sources, env)
}

/// Resolve an already parsed stack file.
pub fn resolve(
    raw: RawStack,
    stack_src: SourceId,
    sources: Sources,
    env: &str,
) -> Result<Stack, Report> {
    let mut r = Resolver {
        sources,
        stack_src,
        diags: Vec::new(),
        env: env.to_string(),
    };
    let stack = r.stack(raw);
    if r.diags.iter().any(Diagnostic::is_error) {
        return Err(Report {
            diagnostics: r.diags,
            sources: r.sources,
        });
    }
    let mut stack = stack;
    stack.sources = r.sources;
    Ok(stack)
}

struct Resolver {
    sources: Sources,
    stack_src: SourceId,
    diags: Vec<Diagnostic>,
    env: String,
}

/// One layer of a service definition and the file it was written in.
struct Layer<'a> {
    source: SourceId,
    raw: &'a RawService,
}

struct Layers<'a>(Vec<Layer<'a>>);

impl<'a> Layers<'a> {
    /// The last layer's value for a field, with the file it came from.
    fn last<T: ?Sized>(
        &self,
        field: impl Fn(&'a RawService) -> Option<&'a T>,
    ) -> Option<(SourceId, &'a T)> {
        self.0
            .iter()
            .rev()
            .find_map(|l| field(l.raw).map(|v| (l.source, v)))
    }

    /// Index of the last layer that sets a field: later layers override earlier ones.
    fn depth<T: ?Sized + 'a>(
        &self,
        field: impl Fn(&'a RawService) -> Option<&'a T>,
    ) -> Option<usize> {
        self.0.iter().rposition(|l| field(l.raw).is_some())
    }

    fn value<T: ?Sized>(&self, field: impl Fn(&'a RawService) -> Option<&'a T>) -> Option<&'a T> {
        self.last(field).map(|(_, v)| v)
    }

    /// Map fields merge key by key across layers.
    fn map<V>(
        &self,
        field: impl Fn(&'a RawService) -> Option<&'a IndexMap<String, V>>,
    ) -> IndexMap<String, (SourceId, &'a V)> {
        let mut out = IndexMap::new();
        for layer in &self.0 {
            for (k, v) in field(layer.raw).into_iter().flatten() {
                out.insert(k.clone(), (layer.source, v));
            }
        }
        out
    }
}

impl Resolver {
    fn span<T>(&self, source: SourceId, spanned: &Spanned<T>) -> Span {
        Span::new(source, spanned.span())
    }

    fn stack_span<T>(&self, spanned: &Spanned<T>) -> Span {
        Span::new(self.stack_src, spanned.span())
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn stack(&mut self, mut raw: RawStack) -> Stack {
        let environments: Vec<String> = raw
            .project
            .environments
            .clone()
            .unwrap_or_else(|| DEFAULT_ENVIRONMENTS.iter().map(|s| s.to_string()).collect());
        if !environments.iter().any(|e| e == &self.env) {
            let hint = suggest::hint(&self.env, environments.iter().map(String::as_str));
            self.error(
                Diagnostic::error(
                    "unknown-environment",
                    format!("unknown environment `{}`", self.env),
                )
                .note(format!("this stack declares: {}", environments.join(", ")))
                .maybe_help(hint),
            );
        }
        for name in raw.env.keys() {
            if !environments.iter().any(|e| e == name.get_ref()) {
                let hint = suggest::hint(name.get_ref(), environments.iter().map(String::as_str));
                let span = self.stack_span(name);
                self.error(
                    Diagnostic::error(
                        "unknown-environment",
                        format!("overlay for unknown environment `{}`", name.get_ref()),
                    )
                    .at(Some(&span), "not in project.environments")
                    .maybe_help(hint),
                );
            }
        }
        self.check_overlays(&raw);
        let overlay = raw
            .env
            .shift_remove(&Spanned::new(0..0, self.env.clone()))
            .map(Spanned::into_inner)
            .unwrap_or_default();

        let project = self.project(&raw.project, &overlay);
        let vpn = raw.vpn.as_ref().and_then(|v| self.vpn(v));
        let hosts = self.hosts(&raw.hosts, &overlay.hosts);
        if let Some(server) = raw.vpn.as_ref().and_then(|v| v.server.as_ref())
            && !hosts.contains_key(server.get_ref())
        {
            let span = self.stack_span(server);
            let hint = suggest::hint(server.get_ref(), hosts.keys().map(String::as_str));
            self.error(
                Diagnostic::error(
                    "unknown-reference",
                    format!("[vpn] server: unknown host `{}`", server.get_ref()),
                )
                .at(Some(&span), "no such host in [hosts]")
                .maybe_help(hint),
            );
        }
        let networks = self.networks(&raw.networks);
        let mut external = raw.external_databases.clone();
        external.extend(overlay.external_databases.clone());
        let external_databases = external
            .iter()
            .map(|(name, db)| {
                let db = db.get_ref();
                (
                    name.get_ref().clone(),
                    ExternalDatabase {
                        name: name.get_ref().clone(),
                        host: db.host.clone(),
                        port: db.port,
                        sslmode: db.sslmode.clone(),
                        provision: db.provision,
                    },
                )
            })
            .collect();

        let mut stack = Stack {
            env: self.env.clone(),
            project,
            vpn,
            hosts,
            networks,
            services: IndexMap::new(),
            secrets: IndexMap::new(),
            databases: Vec::new(),
            external_databases,
            identity: raw.age.identity.clone(),
            recipients: raw.age.recipients.clone(),
            backup: None,
            sources: Sources::default(),
            stack_span: None,
        };
        self.services(&raw, &overlay, &mut stack);
        stack.backup = raw.backup.as_ref().and_then(|b| self.backup(b, &stack));
        self.secrets(&raw, &mut stack);
        self.check_references(&mut stack);
        stack
    }

    /// Every overlay, not only the selected environment's, must name hosts and
    /// services that exist: a typo in `[env.preprod]` is caught by `check --env prod`.
    fn check_overlays(&mut self, raw: &RawStack) {
        for (env, overlay) in &raw.env {
            let overlay = overlay.get_ref();
            for name in overlay.hosts.keys() {
                if !raw.hosts.contains_key(name) {
                    let hint = suggest::hint(
                        name.get_ref(),
                        raw.hosts.keys().map(|k| k.get_ref().as_str()),
                    );
                    let span = self.stack_span(name);
                    self.error(
                        Diagnostic::error(
                            "unknown-reference",
                            format!(
                                "`[env.{}]` overrides unknown host `{}`",
                                env.get_ref(),
                                name.get_ref()
                            ),
                        )
                        .at(Some(&span), "no such host in [hosts]")
                        .maybe_help(hint),
                    );
                }
            }
            for (name, service) in &overlay.services {
                let service = service.get_ref();
                let known = raw.services.contains_key(name)
                    || catalog::get(name.get_ref()).is_some()
                    || service.image.is_some()
                    || service.from.is_some();
                if !known {
                    let mut candidates: Vec<&str> =
                        raw.services.keys().map(|k| k.get_ref().as_str()).collect();
                    for n in catalog::names() {
                        candidates.push(n);
                    }
                    let hint = suggest::hint(name.get_ref(), candidates);
                    let span = self.stack_span(name);
                    self.error(
                        Diagnostic::error(
                            "unknown-service",
                            format!(
                                "`[env.{}]` overrides unknown service `{}`",
                                env.get_ref(),
                                name.get_ref()
                            ),
                        )
                        .at(
                            Some(&span),
                            "not a service of this stack nor of the catalog",
                        )
                        .maybe_help(hint),
                    );
                }
            }
        }
    }

    fn project(&mut self, raw: &RawProject, overlay: &RawOverlay) -> Project {
        let name = raw.name.get_ref();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !valid {
            let span = self.stack_span(&raw.name);
            self.error(
                Diagnostic::error(
                    "invalid-value",
                    format!("project name `{name}` is not a valid name"),
                )
                .at(Some(&span), "used in container, network and path names")
                .help("use lower-case letters, digits, `-` and `_`, starting with a letter"),
            );
        }
        Project {
            name: name.clone(),
            domain: overlay.domain.clone().or_else(|| raw.domain.clone()),
            timezone: raw.timezone.clone(),
            email: raw.email.clone(),
            webhook: raw.webhook.clone(),
        }
    }

    fn vpn(&mut self, raw: &RawVpn) -> Option<Vpn> {
        match raw.cidr.get_ref().parse::<IpNet>() {
            Ok(cidr) => Some(Vpn {
                cidr,
                headscale_url: raw.headscale_url.clone(),
                server: raw.server.as_ref().map(|s| s.get_ref().clone()),
            }),
            Err(_) => {
                let span = self.stack_span(&raw.cidr);
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!("`{}` is not a CIDR", raw.cidr.get_ref()),
                    )
                    .at(Some(&span), "expected an address range")
                    .help("write e.g. \"100.64.0.0/10\""),
                );
                None
            }
        }
    }

    fn hosts(
        &mut self,
        base: &IndexMap<Spanned<String>, Spanned<RawHost>>,
        overlay: &IndexMap<Spanned<String>, Spanned<RawHost>>,
    ) -> IndexMap<String, Host> {
        let mut hosts = IndexMap::new();
        for (name, raw) in base {
            let mut merged = raw.get_ref().clone();
            if let Some(o) = overlay.get(name) {
                merged = merged.merge(o.get_ref().clone());
            }
            let memory = merged
                .memory
                .as_ref()
                .and_then(|m| match Mib::parse(m.get_ref()) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        let span = self.stack_span(m);
                        self.error(
                            Diagnostic::error("invalid-value", e).at(Some(&span), "host memory"),
                        );
                        None
                    }
                });
            let os_reserve = match merged.os_reserve.as_deref().map(Mib::parse) {
                None => Mib(512),
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    let span = self.stack_span(raw);
                    self.error(
                        Diagnostic::error(
                            "invalid-value",
                            format!("host `{}`: os_reserve: {e}", name.get_ref()),
                        )
                        .at(Some(&span), "in this host"),
                    );
                    Mib(512)
                }
            };
            let arch = merged.arch.clone().unwrap_or_else(|| "amd64".to_string());
            if arch != "amd64" && arch != "arm64" {
                let span = self.stack_span(raw);
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!("host `{}`: unknown architecture `{arch}`", name.get_ref()),
                    )
                    .at(Some(&span), "in this host")
                    .help("use `amd64` or `arm64`"),
                );
            }
            let ssh = merged.ssh.clone().unwrap_or_default();
            hosts.insert(
                name.get_ref().clone(),
                Host {
                    name: name.get_ref().clone(),
                    address: merged.address.clone(),
                    vpn_address: merged.vpn_address.clone(),
                    ssh_user: ssh.user.unwrap_or_else(|| "root".to_string()),
                    ssh_port: ssh.port.unwrap_or(22),
                    ssh_keys: ssh.keys.unwrap_or_default(),
                    memory,
                    os_reserve,
                    cpus: merged.cpus,
                    arch,
                    span: Some(self.stack_span(name)),
                    memory_span: merged.memory.as_ref().map(|m| self.stack_span(m)),
                },
            );
        }
        if hosts.is_empty() {
            hosts.insert(
                "local".to_string(),
                Host {
                    name: "local".to_string(),
                    address: None,
                    vpn_address: None,
                    ssh_user: "root".to_string(),
                    ssh_port: 22,
                    ssh_keys: Vec::new(),
                    memory: None,
                    os_reserve: Mib(512),
                    cpus: None,
                    arch: "amd64".to_string(),
                    span: None,
                    memory_span: None,
                },
            );
        }
        hosts
    }

    fn networks(
        &mut self,
        extra: &IndexMap<Spanned<String>, Spanned<RawNetwork>>,
    ) -> IndexMap<String, Network> {
        let mut networks: IndexMap<String, Network> = STANDARD_NETWORKS
            .iter()
            .map(|(name, subnet, internal)| {
                (
                    name.to_string(),
                    Network {
                        name: name.to_string(),
                        subnet: subnet.parse().expect("standard subnets are valid"),
                        internal: *internal,
                        span: None,
                    },
                )
            })
            .collect();
        for (name, raw) in extra {
            let subnet_text = raw.get_ref().subnet.get_ref();
            let Ok(subnet) = subnet_text.parse::<Ipv4Net>() else {
                let span = self.stack_span(&raw.get_ref().subnet);
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!("`{subnet_text}` is not an IPv4 subnet"),
                    )
                    .at(Some(&span), "network subnet")
                    .help("write e.g. \"172.20.6.0/24\""),
                );
                continue;
            };
            networks.insert(
                name.get_ref().clone(),
                Network {
                    name: name.get_ref().clone(),
                    subnet,
                    internal: raw.get_ref().internal,
                    span: Some(self.stack_span(name)),
                },
            );
        }
        networks
    }

    fn services(&mut self, raw: &RawStack, overlay: &RawOverlay, stack: &mut Stack) {
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

    fn service(
        &mut self,
        name: &str,
        catalog: Option<&str>,
        layers: &Layers,
        header: Span,
        stack: &mut Stack,
    ) -> Option<Service> {
        let image = layers.value(|s| s.image.as_ref())?;
        let host = match layers.last(|s| s.host.as_ref()) {
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
        };
        let port = layers.value(|s| s.port.as_ref()).copied();
        let kind = layers
            .value(|s| s.kind.as_ref())
            .copied()
            .unwrap_or(Kind::App);

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

        let mut files = IndexMap::new();
        for (file_name, (_, f)) in layers.map(|s| s.files.as_ref()) {
            let source = match (&f.generator, &f.template, &f.content) {
                (Some(g), None, None) => FileSource::Generator(g.clone()),
                (None, Some(t), None) => FileSource::Template(t.clone()),
                (None, None, Some(c)) => FileSource::Content(c.clone()),
                _ => {
                    self.error(
                        Diagnostic::error(
                            "invalid-value",
                            format!("service `{name}`: file `{file_name}` needs exactly one of `generator`, `template`, `content`"),
                        )
                        .at(Some(&header), "in this service"),
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
        let data: Vec<DataDir> = data_map
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
            .collect();

        let backup = self.service_backup(name, layers, &data, &header);

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
                .unwrap_or_else(|| "postgresql".to_string());
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

        let redis_user = layers.value(|s| s.redis_user.as_ref()).map(|r| RedisUser {
            user: r.user.clone(),
            rules: r
                .rules
                .clone()
                .unwrap_or_else(|| "~* &* +@all -@dangerous".to_string()),
            password_secret: format!("redis_{}_password", r.user),
        });

        let routes = self.routes(name, layers, port, &header);
        let ports = layers
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
            .unwrap_or_default();

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

        let exports = layers
            .map(|s| s.exports.as_ref())
            .into_iter()
            .map(|(k, (_, v))| (k, Template::new(v.clone(), Some(header.clone()))))
            .collect();

        // Deep-merged across layers, so an environment can change one key of it.
        let config =
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
                });

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

    /// A service's backup hook: each field from the last layer that sets it, the
    /// hook kind's defaults (001 §5.4) for the rest.
    fn service_backup(
        &mut self,
        name: &str,
        layers: &Layers,
        data: &[DataDir],
        header: &Span,
    ) -> Option<ServiceBackup> {
        let hook = layers.value(|s| s.backup.as_ref()?.hook.as_ref()).copied();
        let at = layers.last(|s| s.backup.as_ref()?.at.as_ref());
        let retention = layers.last(|s| s.backup.as_ref()?.retention.as_ref());
        let paths = layers.value(|s| s.backup.as_ref()?.paths.as_ref());
        let Some(hook) = hook else {
            if at.is_some() || retention.is_some() || paths.is_some() {
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!("service `{name}` sets backup options but has no backup hook"),
                    )
                    .at(Some(header), "in this service")
                    .help("add `hook = \"files\"` (its data directories) or the hook that fits: pg_dump, redis_rdb, qdrant_snapshot, n8n_export"),
                );
            }
            return None;
        };
        let at = match at {
            None => BackupTime::default_for(hook),
            Some((src, text)) => self.backup_time(src, text)?,
        };
        let retention = match retention {
            None => Retention::default_for(hook),
            Some((src, raw)) => self.retention(src, raw)?,
        };
        let paths_given = paths.is_some();
        let paths = match (hook, paths) {
            (HookKind::Files, None) => data.iter().map(|d| format!("data/{}", d.dir)).collect(),
            (HookKind::Files, Some(paths)) => {
                let mut resolved = Vec::new();
                for path in paths {
                    match data.iter().find(|d| &d.container_path == path) {
                        Some(d) => resolved.push(format!("data/{}", d.dir)),
                        None => self.error(
                            Diagnostic::error(
                                "unknown-reference",
                                format!("service `{name}`: backup path `{path}` is not one of its data directories"),
                            )
                            .at(Some(header), "in this service")
                            .maybe_help(
                                suggest::hint(path, data.iter().map(|d| d.container_path.as_str()))
                                    .or_else(|| Some("a `files` hook backs up the service's `data` directories".to_string())),
                            ),
                        ),
                    }
                }
                resolved
            }
            (_, Some(_)) => {
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!(
                            "service `{name}`: backup `paths` applies to the `files` hook only"
                        ),
                    )
                    .at(Some(header), "in this service")
                    .help("remove `paths`: the hook decides what it stages"),
                );
                Vec::new()
            }
            (_, None) => Vec::new(),
        };
        if hook == HookKind::Files && data.is_empty() && !paths_given {
            self.error(
                Diagnostic::error(
                    "invalid-value",
                    format!("service `{name}`: a `files` backup hook needs data directories"),
                )
                .at(Some(header), "in this service")
                .help("give the service `data` directories, or remove its backup hook"),
            );
        }
        Some(ServiceBackup {
            hook,
            paths,
            at,
            retention,
        })
    }

    fn backup_time(&mut self, src: SourceId, text: &Spanned<String>) -> Option<BackupTime> {
        BackupTime::parse(text.get_ref())
            .map_err(|e| {
                let span = self.span(src, text);
                self.error(Diagnostic::error("invalid-value", e).at(Some(&span), "backup time"));
            })
            .ok()
    }

    /// A retention table replaces the default whole; one that keeps nothing would
    /// have restic refuse to forget, so the repository would only ever grow.
    fn retention(&mut self, src: SourceId, raw: &Spanned<RawRetention>) -> Option<Retention> {
        let r = raw.get_ref();
        let retention = Retention {
            daily: r.daily.unwrap_or(0),
            weekly: r.weekly.unwrap_or(0),
            monthly: r.monthly.unwrap_or(0),
            yearly: r.yearly.unwrap_or(0),
        };
        if retention.keeps_nothing() {
            let span = self.span(src, raw);
            self.error(
                Diagnostic::error("invalid-value", "a retention policy that keeps no snapshot")
                    .at(Some(&span), "every keep is zero")
                    .help("keep at least one period, e.g. `retention = { daily = 7, weekly = 4 }`; to stop a job, set `enabled = false` in `[backup.jobs.NAME]`"),
            );
            return None;
        }
        Some(retention)
    }

    /// `[backup]`: the repository, a job per service hook and per host's `configs`,
    /// then the operator's overrides by job name.
    fn backup(&mut self, raw: &RawBackup, stack: &Stack) -> Option<Backup> {
        let repository = match Repository::parse(raw.repository.get_ref()) {
            Ok(r) => Some(r),
            Err((message, help)) => {
                let span = self.stack_span(&raw.repository);
                self.error(
                    Diagnostic::error("invalid-value", message)
                        .at(Some(&span), "restic would not accept this repository")
                        .help(help),
                );
                None
            }
        };
        let mut jobs: Vec<BackupJob> = Vec::new();
        for service in stack.services.values() {
            let Some(b) = &service.backup else { continue };
            let hook = match b.hook {
                HookKind::PgDump => {
                    let mut databases: Vec<String> = stack
                        .databases
                        .iter()
                        .filter(|d| d.server == service.name)
                        .map(|d| d.name.clone())
                        .collect();
                    databases.sort();
                    Hook::PgDump { databases }
                }
                HookKind::RedisRdb => Hook::RedisRdb,
                HookKind::QdrantSnapshot => Hook::QdrantSnapshot {
                    port: service.port.unwrap_or(6333),
                },
                HookKind::N8nExport => Hook::N8nExport,
                HookKind::Files => Hook::Files {
                    paths: b.paths.clone(),
                },
            };
            jobs.push(BackupJob {
                name: service.name.clone(),
                host: service.host.clone(),
                service: Some(service.name.clone()),
                hook,
                at: b.at,
                retention: b.retention,
            });
        }
        for host in stack.hosts.keys() {
            if stack.services.values().any(|s| &s.host == host) {
                jobs.push(BackupJob {
                    name: CONFIGS_JOB.to_string(),
                    host: host.clone(),
                    service: None,
                    hook: Hook::Files {
                        paths: vec!["configs".to_string()],
                    },
                    at: BackupTime::default_for(HookKind::Files),
                    retention: Retention::default_for(HookKind::Files),
                });
            }
        }
        for (name, over) in &raw.jobs {
            if !jobs.iter().any(|j| &j.name == name.get_ref()) {
                let span = self.stack_span(name);
                let hint = suggest::hint(name.get_ref(), jobs.iter().map(|j| j.name.as_str()));
                self.error(
                    Diagnostic::error(
                        "unknown-reference",
                        format!("`[backup.jobs.{}]`: no such backup job", name.get_ref()),
                    )
                    .at(Some(&span), "not a job of this stack")
                    .maybe_help(hint.or_else(|| {
                        Some("jobs are the services with a backup hook, and `configs`".to_string())
                    })),
                );
                continue;
            }
            let at = match &over.at {
                Some(text) => self.backup_time(self.stack_src, text),
                None => None,
            };
            let retention = match &over.retention {
                Some(r) => self.retention(self.stack_src, r),
                None => None,
            };
            for job in jobs.iter_mut().filter(|j| &j.name == name.get_ref()) {
                job.at = at.unwrap_or(job.at);
                job.retention = retention.unwrap_or(job.retention);
            }
            if over.enabled == Some(false) {
                jobs.retain(|j| &j.name != name.get_ref());
            }
        }
        jobs.sort_by(|a, b| {
            (&a.host, a.at.hour, a.at.minute, &a.name).cmp(&(
                &b.host,
                b.at.hour,
                b.at.minute,
                &b.name,
            ))
        });
        Some(Backup {
            repository: repository?,
            schedule: raw.schedule,
            heartbeat: raw.heartbeat,
            jobs,
        })
    }

    fn health(
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

    fn resources(&mut self, name: &str, layers: &Layers, header: &Span) -> Resources {
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

    fn routes(
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

    /// Implicit dependencies (database server, Redis) and the server of each database.
    fn wire(&mut self, stack: &mut Stack) {
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
                if names.iter().any(|n| n == "redis") {
                    service
                        .depends_on
                        .entry("redis".to_string())
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

    fn secrets(&mut self, raw: &RawStack, stack: &mut Stack) {
        let mut secrets: IndexMap<String, SecretSpec> = IndexMap::new();
        let spec = |name: &str, s: &RawSecret, owner: &str| SecretSpec {
            name: name.to_string(),
            description: s.description.clone().unwrap_or_default(),
            provided: s.provided,
            length: s.length.unwrap_or(32),
            charset: s.charset.unwrap_or(Charset::Alnum),
            owner: owner.to_string(),
            bootstrap_only: false,
        };
        for service in stack.services.values() {
            let entry = service.catalog.as_deref().and_then(catalog::get);
            for (name, s) in entry
                .and_then(|e| e.service.secrets.as_ref())
                .into_iter()
                .flatten()
            {
                secrets.insert(name.clone(), spec(name, s, &service.name));
            }
        }
        for (name, s) in &raw.secrets {
            secrets.insert(name.get_ref().clone(), spec(name.get_ref(), s, "stack"));
        }
        for (_, s) in raw
            .services
            .iter()
            .chain(raw.env.values().flat_map(|o| o.get_ref().services.iter()))
        {
            for (name, sec) in s.get_ref().secrets.iter().flatten() {
                secrets.insert(name.clone(), spec(name, sec, "stack"));
            }
        }
        for db in &stack.databases {
            secrets.insert(
                db.password_secret.clone(),
                SecretSpec {
                    name: db.password_secret.clone(),
                    description: format!(
                        "password of PostgreSQL role `{}` (database `{}`)",
                        db.user, db.name
                    ),
                    provided: stack
                        .external_databases
                        .get(&db.server)
                        .is_some_and(|e| !e.provision),
                    length: 32,
                    charset: Charset::Alnum,
                    owner: "database".to_string(),
                    bootstrap_only: false,
                },
            );
        }
        if let Some(backup) = &stack.backup {
            for name in backup.secret_names() {
                let (description, provided, length) = match name {
                    PASSWORD_SECRET => (
                        "restic repository password: without it no backup can be read, so keep a copy outside this stack",
                        false,
                        48,
                    ),
                    HEARTBEAT_SECRET => (
                        "Uptime Kuma push URL for the backup heartbeat (it holds the monitor's token)",
                        true,
                        32,
                    ),
                    S3_ACCESS_KEY_ID_SECRET => {
                        ("S3 access key id of the backup repository", true, 32)
                    }
                    _ => ("S3 secret access key of the backup repository", true, 32),
                };
                secrets.insert(
                    name.to_string(),
                    SecretSpec {
                        name: name.to_string(),
                        description: description.to_string(),
                        provided,
                        length,
                        charset: Charset::Alnum,
                        owner: "backup".to_string(),
                        bootstrap_only: false,
                    },
                );
            }
        }
        for service in stack.services.values() {
            if let Some(r) = &service.redis_user {
                secrets.insert(
                    r.password_secret.clone(),
                    SecretSpec {
                        name: r.password_secret.clone(),
                        description: format!("password of Redis ACL user `{}`", r.user),
                        provided: false,
                        length: 32,
                        charset: Charset::Alnum,
                        owner: "redis".to_string(),
                        bootstrap_only: false,
                    },
                );
            }
        }
        if stack
            .vpn
            .as_ref()
            .is_some_and(|v| v.headscale_url.is_some())
        {
            secrets.insert(
                HEADSCALE_AUTHKEY.to_string(),
                SecretSpec {
                    name: HEADSCALE_AUTHKEY.to_string(),
                    description: "Headscale pre-auth key a new host joins the VPN with \
                        (`vpai host bootstrap`); single use and expiring (002 §0.7): \
                        `headscale preauthkeys create --user USER --expiration 24h`"
                        .to_string(),
                    provided: true,
                    length: 32,
                    charset: Charset::Alnum,
                    owner: "vpn".to_string(),
                    bootstrap_only: true,
                },
            );
        }
        secrets.sort_keys();
        stack.secrets = secrets;
    }

    /// Every template reference must resolve: secrets, databases, exports, routes.
    fn check_references(&mut self, stack: &mut Stack) {
        let mut problems = Vec::new();
        for service in stack.services.values() {
            let values = service
                .env
                .iter()
                .map(|(k, t)| (format!("env `{k}`"), t))
                .chain(
                    service
                        .exports
                        .iter()
                        .map(|(k, t)| (format!("export `{k}`"), t)),
                );
            for (what, template) in values {
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

/// Deep merge: objects merge key by key, everything else is replaced.
pub fn deep_merge(base: &mut serde_json::Value, extra: &serde_json::Value) {
    match (base, extra) {
        (serde_json::Value::Object(b), serde_json::Value::Object(e)) => {
            for (k, v) in e {
                deep_merge(b.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, e) => *b = e.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_text(text: &str, env: &str) -> Stack {
        let mut sources = Sources::default();
        let id = sources.add("vpai.toml", text);
        let raw = load::parse(id, &sources).expect("parses");
        resolve(raw, id, sources, env).unwrap_or_else(|r| panic!("{:?}", r.diagnostics))
    }

    #[test]
    fn data_entries_merge_field_by_field_across_layers() {
        let stack = resolve_text(
            "[project]\nname = \"t\"\n[services.litellm]\n[services.postgresql]\n[services.redis]\n\
             [services.openclaw]\ndata.\"/home/node/.openclaw\" = { owner = \"1001:1001\" }\n\
             [secrets.telegram_bot_token]\nprovided = true\n",
            "prod",
        );
        let data = &stack.services["openclaw"].data[0];
        assert_eq!(
            data.owner.as_deref(),
            Some("1001:1001"),
            "the operator's owner"
        );
        assert!(data.identity, "the catalog's identity mount is kept");
    }

    #[test]
    fn config_tables_deep_merge_across_layers() {
        let stack = resolve_text(
            "[project]\nname = \"t\"\n[services.caddy]\nconfig = { local_certs = true, a = { b = 1, c = 2 } }\n\
             [env.preprod.services.caddy]\nconfig = { a = { c = 3 } }\n",
            "preprod",
        );
        assert_eq!(
            stack.services["caddy"].config,
            Some(serde_json::json!({ "local_certs": true, "a": { "b": 1, "c": 3 } }))
        );
    }
}
