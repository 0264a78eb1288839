//! The service catalog: one declarative entry per known service, embedded in the binary.
//!
//! Entries are TOML files under `catalog/` with the same schema as a service table
//! in `vpai.toml` ([`RawService`]), so the engine stays generic: nothing in the
//! code is specific to NocoDB or n8n except the few config-file generators.

use std::sync::OnceLock;

use crate::stack::raw::RawService;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/catalog_entries.rs"));
}

/// One parsed catalog entry and the text it came from (diagnostics point into it).
pub struct Entry {
    pub name: &'static str,
    pub path: String,
    pub text: &'static str,
    pub service: RawService,
}

/// All entries, parsed once. A malformed entry is a build defect caught by tests.
pub fn entries() -> &'static [Entry] {
    static ENTRIES: OnceLock<Vec<Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        embedded::ENTRIES
            .iter()
            .map(|(name, text)| Entry {
                name,
                path: format!("catalog/{name}.toml"),
                text,
                service: toml::from_str(text)
                    .unwrap_or_else(|e| panic!("catalog/{name}.toml is invalid: {e}")),
            })
            .collect()
    })
}

pub fn get(name: &str) -> Option<&'static Entry> {
    entries().iter().find(|e| e.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    entries().iter().map(|e| e.name)
}

/// The PostgreSQL service a database lives on when its `server` is not given.
pub const DEFAULT_DATABASE_SERVER: &str = "postgresql";
/// The service a `redis_user` gets its ACL user on.
pub const REDIS_SERVICE: &str = "redis";

/// The reverse proxy that serves routes.
pub const PROXY_SERVICE: &str = "caddy";

/// Whether a catalog entry is served through the proxy.
pub fn is_routed(entry: &Entry) -> bool {
    entry.service.subdomain.is_some()
        || entry.service.routes.as_ref().is_some_and(|r| !r.is_empty())
}

/// The catalog services `name` cannot run without, itself first, each once:
/// its `depends_on`, the server of each database it owns, Redis for a
/// `redis_user`, the proxy for a route, and theirs in turn. `vpai init`
/// enables them with it.
pub fn with_needs(name: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let mut queue = vec![name.to_string()];
    while let Some(next) = queue.pop() {
        let Some(entry) = get(&next) else { continue };
        if out.contains(&entry.name) {
            continue;
        }
        out.push(entry.name);
        let service = &entry.service;
        let depends = service
            .depends_on
            .iter()
            .flat_map(|d| d.keys().map(|k| k.get_ref().clone()));
        let servers = service.databases.iter().flatten().map(|db| {
            db.server
                .clone()
                .unwrap_or_else(|| DEFAULT_DATABASE_SERVER.to_string())
        });
        let redis = service.redis_user.iter().map(|_| REDIS_SERVICE.to_string());
        let proxy = is_routed(entry).then(|| PROXY_SERVICE.to_string());
        queue.extend(depends.chain(servers).chain(redis).chain(proxy));
    }
    out
}

/// A static config template shipped with the catalog (`catalog/templates/NAME`).
pub fn template(name: &str) -> Option<&'static str> {
    embedded::TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_are_followed_to_the_end() {
        assert_eq!(
            with_needs("litellm"),
            ["litellm", "caddy", "redis", "postgresql"]
        );
        assert_eq!(with_needs("nocodb"), ["nocodb", "caddy", "postgresql"]);
        let openclaw = with_needs("openclaw");
        for needed in ["litellm", "postgresql", "redis"] {
            assert!(openclaw.contains(&needed), "{openclaw:?}");
        }
        assert_eq!(with_needs("caddy"), ["caddy"]);
    }

    #[test]
    fn every_entry_parses_and_pins_its_image() {
        assert!(!entries().is_empty());
        for entry in entries() {
            let image = entry
                .service
                .image
                .as_ref()
                .unwrap_or_else(|| panic!("{} has no image", entry.name));
            let image = image.get_ref();
            let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
            assert!(
                !tag.is_empty() && tag != "latest" && !tag.contains('/'),
                "{}: image `{image}` is not pinned to a tag",
                entry.name
            );
        }
    }

    #[test]
    fn every_template_reference_exists() {
        for entry in entries() {
            for (name, file) in entry.service.files.iter().flatten() {
                if let Some(t) = &file.template {
                    assert!(
                        template(t).is_some(),
                        "{}: file {name} uses missing template {t}",
                        entry.name
                    );
                }
            }
        }
    }
}
