//! Helpers shared by the rules: a service's image, user and generators, and
//! finding the line of `vpai.toml` a value was written on.
//!
//! The resolved model keeps spans for templates, routes, ports and the service
//! header only. Rules about the image, the health check, data directories or the
//! `config` table find the offending line by scanning the service's own tables in
//! the stack file (`[services.NAME...]`, then `[env.ENV.services.NAME...]`), and fall
//! back to the service header.

use crate::knowledge::image::ImageRef;
use crate::source::Span;
use crate::stack::Stack;
use crate::stack::model::Service;

pub fn image(service: &Service) -> ImageRef {
    ImageRef::parse(&service.image)
}

/// The UID a `user` value (`"1000"`, `"1000:1000"`) runs as; `None` for names.
pub fn uid(user: &str) -> Option<u32> {
    user.split(':').next().and_then(|u| u.trim().parse().ok())
}

/// Segments of a TOML table header (`[services."a.b".data]` -> services, a.b, data).
fn header_path(line: &str) -> Option<Vec<String>> {
    let t = line.trim();
    let inner = t
        .strip_prefix("[[")
        .and_then(|r| r.split("]]").next())
        .or_else(|| t.strip_prefix('[').and_then(|r| r.split(']').next()))?;
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in inner.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, '.') => out.push(std::mem::take(&mut current)),
            (None, c) if c.is_whitespace() => {}
            (None, c) => current.push(c),
        }
    }
    out.push(current);
    Some(out)
}

/// Byte ranges (line start, line end) of the lines that belong to the service's
/// tables in the stack file: the selected environment's overlay first, then the base.
/// Each line comes with whether its table is (under) the service's `config` table.
type Lines = Vec<(usize, usize, bool)>;

fn service_lines(stack: &Stack, service: &Service) -> Option<(crate::source::SourceId, Lines)> {
    let header = service.span.as_ref()?;
    let text = stack.sources.text(header.source);
    let overlay = [
        "env".to_string(),
        stack.env.clone(),
        "services".to_string(),
        service.name.clone(),
    ];
    let base = ["services".to_string(), service.name.clone()];
    let mut in_overlay = Vec::new();
    let mut in_base = Vec::new();
    let mut current: Option<bool> = None;
    let mut config_table = false;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.trim_end_matches(['\n', '\r']).len();
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            let path = header_path(trimmed);
            current = path.as_ref().and_then(|p| {
                if p.starts_with(&overlay) {
                    Some(true)
                } else if p.starts_with(&base) {
                    Some(false)
                } else {
                    None
                }
            });
            let depth = if current == Some(true) {
                overlay.len()
            } else {
                base.len()
            };
            config_table = path.is_some_and(|p| p.get(depth).is_some_and(|s| s == "config"));
        }
        match current {
            Some(true) => in_overlay.push((start, end, config_table)),
            Some(false) => in_base.push((start, end, config_table)),
            None => {}
        }
        start += line.len();
    }
    in_overlay.extend(in_base);
    Some((header.source, in_overlay))
}

/// The first line of the service's tables (comments aside) for which `pred` holds,
/// as a span without its indentation; the service header when none does.
pub fn locate(stack: &Stack, service: &Service, pred: impl Fn(&str) -> bool) -> Option<Span> {
    find(stack, service, pred).or_else(|| service.span.clone())
}

/// Like [`locate`], without the fallback: `None` when no line of the stack file's
/// tables for this service matches.
pub fn find(stack: &Stack, service: &Service, pred: impl Fn(&str) -> bool) -> Option<Span> {
    find_lines(stack, service, false, pred)
}

fn find_lines(
    stack: &Stack,
    service: &Service,
    config_only: bool,
    pred: impl Fn(&str) -> bool,
) -> Option<Span> {
    if let Some((source, lines)) = service_lines(stack, service) {
        let text = stack.sources.text(source);
        for (start, end, config_table) in lines {
            let line = &text[start..end];
            let code = line.split(" #").next().unwrap_or(line);
            if code.trim_start().starts_with('#') {
                continue;
            }
            if config_only && !config_table && !has_key(code, "config") {
                continue;
            }
            if pred(code) {
                let indent = line.len() - line.trim_start().len();
                return Some(Span::new(source, start + indent..end));
            }
        }
    }
    None
}

/// `key` written as a TOML key on this line: `key =`, `key.x =`, `{ key = ...}`, or
/// as a segment of a table header.
pub fn has_key(line: &str, key: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with('[') {
        return header_path(t).is_some_and(|p| p.iter().any(|s| s == key));
    }
    let mut from = 0;
    while let Some(i) = line[from..].find(key) {
        let at = from + i;
        let before = line[..at].chars().next_back();
        let after = line[at + key.len()..].trim_start().chars().next();
        let quoted = before == Some('"') && line[at + key.len()..].starts_with('"');
        let before_ok = matches!(before, None | Some(' ' | '\t' | '{' | ',' | '.')) || quoted;
        let rest = if quoted {
            line[at + key.len() + 1..].trim_start().chars().next()
        } else {
            after
        };
        if before_ok && matches!(rest, Some('=' | '.')) {
            return true;
        }
        from = at + key.len();
    }
    false
}

/// The line that sets `key` in the service's tables.
pub fn locate_key(stack: &Stack, service: &Service, key: &str) -> Option<Span> {
    locate(stack, service, |l| has_key(l, key))
}

/// The line of the deepest key of a `config` path (`["tools", "web", "fetch"]`)
/// written in the service's `config` table, else of the `config` table itself,
/// else the service header.
pub fn locate_config(stack: &Stack, service: &Service, path: &[&str]) -> Option<Span> {
    path.iter()
        .rev()
        .filter(|k| k.parse::<usize>().is_err())
        .find_map(|key| find_lines(stack, service, true, |l| has_key(l, key)))
        .or_else(|| find(stack, service, |l| has_key(l, "config")))
        .or_else(|| service.span.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn keys_on_a_line() {
        assert!(has_key("image = \"x\"", "image"));
        assert!(has_key("health = { cmd = [\"a\"] }", "cmd"));
        assert!(has_key("config.heartbeat.every = \"1h\"", "heartbeat"));
        assert!(has_key("data.\"/var/lib/x\" = {}", "/var/lib/x"));
        assert!(has_key("[services.a.config.tools]", "tools"));
        assert!(!has_key("description = \"image = nothing\"", "nothing"));
        assert!(!has_key("imagery = 1", "image"));
    }
}
