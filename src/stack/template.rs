//! Values that reference secrets and other services: `{{ secret.NAME }}`.
//!
//! The model keeps such values unrendered so it never holds a plaintext secret;
//! `check` reads their references to validate them, and `render` fills them in.
//! minijinja does the parsing and the rendering, in strict mode: a reference to
//! something that does not exist is an error, never an empty string.

use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::source::Span;

/// minijinja's account of a template it cannot parse or fill, in its own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

impl TemplateError {
    fn syntax(e: &minijinja::Error) -> TemplateError {
        TemplateError(e.detail().unwrap_or("invalid template").to_string())
    }
}

#[derive(Debug, Clone)]
pub struct Template {
    pub text: String,
    pub span: Option<Span>,
}

impl Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// The names a value template starts from (`{{ secret.NAME }}`, `{{ db.password }}`).
pub const ROOTS: &[&str] = &[
    "secret",
    "db",
    "redis",
    "route",
    "services",
    "service",
    "databases",
    "project",
    "env",
];

/// The first `{{ ROOT.… }}` reference in `text`, as written: what a field
/// that is never rendered would keep as literal text.
pub fn first_reference(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        let inner = after[..end].trim_matches(|c: char| c.is_whitespace() || c == '-');
        let root = inner.split(['.', '[', ' ', '|']).next().unwrap_or_default();
        if ROOTS.contains(&root) {
            return Some(&rest[start..start + 2 + end + 2]);
        }
        rest = &after[end + 2..];
    }
    None
}

/// The environment every value template is rendered with.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("default delimiters are valid"),
    );
    env
}

impl Template {
    pub fn new(text: impl Into<String>, span: Option<Span>) -> Self {
        Self {
            text: text.into(),
            span,
        }
    }

    pub fn is_literal(&self) -> bool {
        !self.text.contains("{{") && !self.text.contains("{%")
    }

    /// Dotted references such as `secret.n8n_encryption_key` or `services.nocodb.api_token`.
    pub fn references(&self) -> Result<BTreeSet<String>, TemplateError> {
        if self.is_literal() {
            return Ok(BTreeSet::new());
        }
        let env = environment();
        let template = env
            .template_from_str(&self.text)
            .map_err(|e| TemplateError::syntax(&e))?;
        Ok(template.undeclared_variables(true).into_iter().collect())
    }

    pub fn render(&self, context: &minijinja::Value) -> Result<String, TemplateError> {
        if self.is_literal() {
            return Ok(self.text.clone());
        }
        let env = environment();
        let template = env
            .template_from_str(&self.text)
            .map_err(|e| TemplateError::syntax(&e))?;
        template.render(context).map_err(|e| {
            let mut msg = e
                .detail()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string());
            if let Some(name) = e.name()
                && name != "<string>"
            {
                msg = format!("{name}: {msg}");
            }
            TemplateError(msg)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_told_from_other_braces() {
        assert_eq!(
            first_reference("--key={{ secret.k }}"),
            Some("{{ secret.k }}")
        );
        assert_eq!(
            first_reference("a {{- db.password -}} b"),
            Some("{{- db.password -}}")
        );
        assert_eq!(first_reference("docker ps --format '{{.Names}}'"), None);
        assert_eq!(
            first_reference("{{json .}} {{ route.host }}"),
            Some("{{ route.host }}")
        );
        assert_eq!(first_reference("{{ unclosed"), None);
    }

    #[test]
    fn extracts_nested_references() {
        let t = Template::new(
            "pg://postgresql:5432?u={{ db.user }}&p={{ db.password }}&x={{ secret.jwt }}",
            None,
        );
        let refs: Vec<_> = t.references().unwrap().into_iter().collect();
        assert_eq!(refs, vec!["db.password", "db.user", "secret.jwt"]);
    }

    #[test]
    fn strict_rendering_refuses_unknown_names() {
        let t = Template::new("{{ secret.nope }}", None);
        let ctx = minijinja::context! { secret => minijinja::context!{} };
        assert!(t.render(&ctx).is_err());
        assert_eq!(Template::new("plain", None).render(&ctx).unwrap(), "plain");
    }
}
