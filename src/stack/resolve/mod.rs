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

mod backup;
mod hosts;
mod secrets;
mod services;
mod validate;
mod wiring;

/// The standard networks of 002 §12.1 (which completes 001 §2.2-2.4).
pub const STANDARD_NETWORKS: &[(&str, &str, bool)] = &[
    ("frontend", "172.20.1.0/24", false),
    ("backend", "172.20.2.0/24", true),
    ("monitoring", "172.20.3.0/24", true),
    ("egress", "172.20.4.0/24", false),
    ("sandbox", "172.20.5.0/24", true),
];

pub const DEFAULT_ENVIRONMENTS: &[&str] = &["prod", "preprod"];

/// Each environment moves the standard subnets ten /24s further (172.20.2.0/24,
/// 172.20.12.0/24, ...): 26 of them fill 172.20.0.0/16, the daemon's address pool.
pub const MAX_ENVIRONMENTS: usize = 26;

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
        if environments.len() > MAX_ENVIRONMENTS {
            self.error(
                Diagnostic::error(
                    "invalid-value",
                    format!(
                        "`[project] environments` lists {} environments; at most {MAX_ENVIRONMENTS} fit",
                        environments.len()
                    ),
                )
                .note("each environment runs on its own standard subnets, ten /24s apart in 172.20.0.0/16")
                .help("split the stack, or remove environments that no host runs"),
            );
        }
        self.check_overlays(&raw);
        let overlay = raw
            .env
            .shift_remove(&Spanned::new(0..0, self.env.clone()))
            .map(Spanned::into_inner)
            .unwrap_or_default();

        // The first environment is the primary one: it keeps the bare project name
        // and the standard subnets, so that adding environments never renames it.
        let position = environments
            .iter()
            .position(|e| e == &self.env)
            .unwrap_or(0)
            .min(MAX_ENVIRONMENTS - 1);
        let project = self.project(&raw.project, &overlay, position);
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
        let networks = self.networks(&raw.networks, &overlay.networks, position);
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
        self.validate(&raw, &overlay, &stack);
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

    fn project(&mut self, raw: &RawProject, overlay: &RawOverlay, position: usize) -> Project {
        let name = raw.name.get_ref();
        // Each environment is its own project on the engine: its containers,
        // networks, volumes, lock and `/opt` directory carry this name.
        let engine_name = if position == 0 {
            name.clone()
        } else {
            format!("{name}-{}", self.env)
        };
        if position > 0
            && crate::stack::names::project_name(name).is_ok()
            && let Err(e) = crate::stack::names::project_name(&engine_name)
        {
            let span = self.stack_span(&raw.name);
            self.error(
                Diagnostic::error(
                    "invalid-value",
                    format!(
                        "environment `{}` runs as project `{}`, which is not valid: {}",
                        self.env.escape_debug(),
                        engine_name.escape_debug(),
                        e.reason
                    ),
                )
                .at(Some(&span), "the environment's project is `NAME-ENV`")
                .help("name environments with lower-case letters, digits and `-`, and keep `NAME-ENV` within 63 characters"),
            );
        }
        if let Err(e) = crate::stack::names::project_name(name) {
            let span = self.stack_span(&raw.name);
            self.error(
                Diagnostic::error(
                    "invalid-value",
                    format!(
                        "project name `{}` is not valid: {}",
                        name.escape_debug(),
                        e.reason
                    ),
                )
                .at(Some(&span), "used in container, network and path names")
                .help(e.help),
            );
        }
        if raw.keep_releases == Some(0) {
            self.error(
                Diagnostic::error("invalid-value", "`[project] keep_releases = 0` keeps no release: `vpai rollback` would have nothing to return to")
                    .help("keep at least 1, or leave it out for 10"),
            );
        }
        Project {
            name: engine_name,
            primary: position == 0,
            domain: overlay
                .domain
                .as_ref()
                .or(raw.domain.as_ref())
                .map(|d| d.get_ref().clone()),
            timezone: raw.timezone.get_ref().clone(),
            email: raw.email.as_ref().map(|e| e.get_ref().clone()),
            webhook: raw.webhook.clone(),
            keep_releases: usize::from(raw.keep_releases.unwrap_or(10).max(1)),
        }
    }

    fn vpn(&mut self, raw: &RawVpn) -> Option<Vpn> {
        let also_admit = raw
            .also_admit
            .iter()
            .filter_map(|range| self.admitted_range(range))
            .collect();
        match raw.cidr.get_ref().parse::<IpNet>() {
            Ok(cidr) => Some(Vpn {
                cidr,
                headscale_url: raw.headscale_url.clone(),
                server: raw.server.as_ref().map(|s| s.get_ref().clone()),
                also_admit,
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
}

impl Resolver {
    /// One `[vpn] also_admit` entry: a range, and never one that admits everybody.
    fn admitted_range(&mut self, raw: &Spanned<String>) -> Option<AdmittedRange> {
        let span = self.stack_span(raw);
        match raw.get_ref().parse::<IpNet>() {
            Ok(range) if range.prefix_len() == 0 => {
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!(
                            "`{range}` admits every address: `access = \"vpn\"` would mean public"
                        ),
                    )
                    .at(Some(&span), "every address")
                    .help("list the one range that must reach VPN-only sites, e.g. \"192.168.10.0/24\", or set `access = \"public\"` on the route"),
                );
                None
            }
            Ok(range) => Some(AdmittedRange {
                range: range.trunc(),
                span: Some(span),
            }),
            Err(_) => {
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!("`{}` is not a CIDR", raw.get_ref()),
                    )
                    .at(Some(&span), "expected an address range")
                    .help("write e.g. \"192.168.10.0/24\" (one address: \"192.168.10.7/32\")"),
                );
                None
            }
        }
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
    fn each_environment_is_its_own_project_on_its_own_subnets() {
        let text = "[project]\nname = \"t\"\n[networks.creative]\nsubnet = \"172.20.6.0/24\"\n";
        let prod = resolve_text(text, "prod");
        let preprod = resolve_text(text, "preprod");
        assert_eq!(
            (prod.project.name.as_str(), preprod.project.name.as_str()),
            ("t", "t-preprod")
        );
        assert_eq!(prod.networks["backend"].subnet.to_string(), "172.20.2.0/24");
        assert_eq!(
            preprod.networks["backend"].subnet.to_string(),
            "172.20.12.0/24"
        );
        assert_eq!(
            preprod.networks["creative"].subnet.to_string(),
            "172.20.16.0/24",
            "moved like the standard ones"
        );
        let wide = "[project]\nname = \"t\"\nenvironments = [\"a\", \"b\", \"c\"]\n\
                    [networks.lab]\nsubnet = \"10.5.0.0/16\"\n\
                    [env.c.networks.lab]\nsubnet = \"10.99.0.0/16\"\n\
                    [env.c.networks.backend]\nsubnet = \"192.168.50.0/24\"\n";
        let subnet =
            |env: &str, network: &str| resolve_text(wide, env).networks[network].subnet.to_string();
        assert_eq!(subnet("b", "lab"), "10.15.0.0/16", "ten /16s on");
        assert_eq!(
            subnet("c", "lab"),
            "10.99.0.0/16",
            "the overlay's, as written"
        );
        assert_eq!(subnet("c", "backend"), "192.168.50.0/24");
        assert!(resolve_text(wide, "c").networks["backend"].internal);
        let staging = "[project]\nname = \"t\"\nenvironments = [\"staging\", \"prod\"]\n";
        assert_eq!(
            resolve_text(staging, "staging").project.name,
            "t",
            "the first one is primary"
        );
        assert_eq!(resolve_text(staging, "prod").project.name, "t-prod");
    }

    #[test]
    fn environments_beyond_the_address_plan_are_refused() {
        let names: Vec<String> = (0..=MAX_ENVIRONMENTS)
            .map(|i| format!("\"e{i}\""))
            .collect();
        let text = format!(
            "[project]\nname = \"t\"\nenvironments = [{}]\n",
            names.join(", ")
        );
        let mut sources = Sources::default();
        let id = sources.add("vpai.toml", &text);
        let raw = load::parse(id, &sources).expect("parses");
        let last = format!("e{MAX_ENVIRONMENTS}");
        let report = resolve(raw, id, sources, &last).expect_err("27 environments");
        assert!(
            report
                .diagnostics
                .iter()
                .any(|d| d.message.contains("at most 26 fit")),
            "{:?}",
            report.diagnostics
        );
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
