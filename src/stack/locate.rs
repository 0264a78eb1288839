//! Finding the line of the stack file a value of a service was written on.
//!
//! The resolved model keeps spans for templates, routes, ports and the service
//! header only. Diagnostics about a key that carries no span (an env name, a
//! file name, a data directory, the `config` table) find its line by scanning
//! the service's own tables (`[env.ENV.services.NAME...]` first, then
//! `[services.NAME...]`), and fall back to the service header. The resolver and
//! the stack rules both use it.

use crate::source::{Sources, Span};

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

fn service_lines(sources: &Sources, env: &str, service: &str, header: &Span) -> Lines {
    let text = sources.text(header.source);
    let overlay = [
        "env".to_string(),
        env.to_string(),
        "services".to_string(),
        service.to_string(),
    ];
    let base = ["services".to_string(), service.to_string()];
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
    in_overlay
}

/// Where one service is written: the file holding its header, the environment
/// whose overlay applies, and its name.
pub struct ServiceText<'a> {
    pub sources: &'a Sources,
    pub env: &'a str,
    pub service: &'a str,
    pub header: &'a Span,
}

impl ServiceText<'_> {
    /// The first line of the service's tables (comments aside, `config` tables
    /// only if asked) for which `pred` holds, as a span without its indentation.
    pub fn find_line(&self, config_only: bool, pred: impl Fn(&str) -> bool) -> Option<Span> {
        let source = self.header.source;
        let text = self.sources.text(source);
        for (start, end, config_table) in
            service_lines(self.sources, self.env, self.service, self.header)
        {
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
        None
    }

    /// The line that sets `key`, else the service header.
    pub fn key(&self, key: &str) -> Span {
        self.find_line(false, |l| has_key(l, key))
            .unwrap_or_else(|| self.header.clone())
    }
}

/// `key` written as a TOML key on this line: `key =`, `key.x =`, `{ key = ...}`, or
/// as a segment of a table header.
pub fn has_key(line: &str, key: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with('[') {
        return header_path(t).is_some_and(|p| p.iter().any(|s| s == key));
    }
    // A key outside TOML's bare-key alphabet (the empty one included) can only be
    // written quoted. `match_indices` ends even for an empty key, where a
    // hand-advanced `find` would match at the same place forever.
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    line.match_indices(key).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = &line[at + key.len()..];
        let quoted = before == Some('"') && after.starts_with('"');
        let before_ok =
            quoted || bare && matches!(before, None | Some(' ' | '\t' | '{' | ',' | '.'));
        let rest = if quoted { &after[1..] } else { after };
        before_ok && matches!(rest.trim_start().chars().next(), Some('=' | '.'))
    })
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
        assert!(has_key("\"\" = \"x\"", ""));
        assert!(!has_key("A = \"x\"", ""));
    }
}
