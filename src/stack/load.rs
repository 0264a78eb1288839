//! Reading `vpai.toml` into raw types, turning parse errors into diagnostics.

use std::fs;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::source::{SourceId, Sources, Span};
use crate::stack::raw::RawStack;
use crate::suggest;

pub const STACK_FILE: &str = "vpai.toml";

/// Diagnostics that stopped a stage, with the texts they point into.
#[derive(Debug)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

impl From<Diagnostic> for Report {
    fn from(d: Diagnostic) -> Self {
        Report {
            diagnostics: vec![d],
            sources: Sources::default(),
        }
    }
}

/// The stack file of `dir`, or of the file itself when `dir` names a `.toml`.
pub fn stack_path(dir: &Path) -> PathBuf {
    if dir.extension().is_some_and(|e| e == "toml") {
        dir.to_path_buf()
    } else {
        dir.join(STACK_FILE)
    }
}

/// The directory the stack lives in (where its secrets.age is).
pub fn stack_dir(dir: &Path) -> PathBuf {
    stack_path(dir)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn read(dir: &Path, sources: &mut Sources) -> Result<(SourceId, RawStack), Vec<Diagnostic>> {
    let path = stack_path(dir);
    let text = fs::read_to_string(&path).map_err(|e| {
        vec![
            Diagnostic::error("io", format!("cannot read {}: {e}", path.display())).help(
                "run `vpai init DIR` to create a stack, or pass the directory that holds vpai.toml",
            ),
        ]
    })?;
    let id = sources.add(path.display().to_string(), text);
    parse(id, sources).map(|raw| (id, raw))
}

pub fn parse(id: SourceId, sources: &Sources) -> Result<RawStack, Vec<Diagnostic>> {
    toml::from_str::<RawStack>(sources.text(id)).map_err(|e| vec![toml_error(id, &e)])
}

/// A TOML/serde error as a diagnostic, with "did you mean" for unknown keys and variants.
pub fn toml_error(id: SourceId, error: &toml::de::Error) -> Diagnostic {
    let message = error.message().trim().to_string();
    let help = unknown_name_hint(&message);
    let label = if message.starts_with("unknown field") {
        "unknown key"
    } else if message.starts_with("unknown variant") {
        "unknown value"
    } else if message.starts_with("missing field") {
        "in this table"
    } else {
        "here"
    };
    let first_line = message.lines().next().unwrap_or_default();
    // serde lists every accepted name; the hint already suggests the right one.
    let first_line = match first_line.split_once("`, expected") {
        Some((head, _)) if head.starts_with("unknown field") => {
            format!("{}`", head.replacen("unknown field", "unknown key", 1))
        }
        Some((head, _)) if head.starts_with("unknown variant") => {
            format!("{}`", head.replacen("unknown variant", "unknown value", 1))
        }
        _ => first_line.to_string(),
    };
    Diagnostic::error("invalid-stack-file", first_line)
        .at(
            error.span().map(|r| Span::new(id, r)).as_ref(),
            label.to_string(),
        )
        .maybe_help(help)
}

/// serde says "unknown field `imgae`, expected one of `image`, `port`": suggest the closest.
fn unknown_name_hint(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (word, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    suggest::hint(word, candidates.iter().copied()).or_else(|| {
        (!candidates.is_empty()).then(|| {
            format!(
                "expected one of: {}",
                candidates
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_gets_a_suggestion() {
        let mut sources = Sources::default();
        let id = sources.add(
            "vpai.toml",
            "[project]\nname = \"x\"\n[services.n8n]\nsubdomian = \"mayi\"\n",
        );
        let d = parse(id, &sources).unwrap_err().remove(0);
        assert_eq!(d.help.as_deref(), Some("did you mean `subdomain`?"));
        assert_eq!(sources.location(&d.primary.unwrap().span), "vpai.toml:4:1");
    }
}
