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
