//! One env file per service (mode 0600): the only place secrets are written.

use indexmap::IndexMap;

use crate::stack::model::Service;

pub fn path(service: &Service) -> String {
    format!("configs/{0}/{0}.env", service.name)
}

/// `KEY=value` lines in key order. Values that compose would interpolate or
/// split (`$`, quotes, `#`, spaces) are single-quoted, which compose takes
/// literally.
pub fn render(env: &IndexMap<String, String>) -> String {
    let mut keys: Vec<&String> = env.keys().collect();
    keys.sort();
    let mut out = format!("# {}\n", super::HEADER);
    for key in keys {
        out.push_str(key);
        out.push('=');
        out.push_str(&quote(&env[key]));
        out.push('\n');
    }
    out
}

/// The `KEY=value` pairs of a file `render` wrote, values unquoted: what a
/// container sees. Comment and blank lines are skipped.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(key, value)| (key.to_string(), unquote(value)))
        .collect()
}

fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@%+=,?&~*^![]{}()<>|;".contains(c));
    if plain || value.is_empty() {
        return value.to_string();
    }
    if !value.contains(['\'', '\n', '\r']) {
        return format!("'{value}'");
    }
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('$', "\\$")
        .replace('\n', "\\n")
        .replace('\r', "\\r");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("abc123"), "abc123");
        assert_eq!(quote("pg://h:5432?u=a&p=b"), "pg://h:5432?u=a&p=b");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("pa$$word"), "'pa$$word'");
        assert_eq!(quote("it's"), "\"it's\"");
        assert_eq!(quote("a\r\nb"), "\"a\\r\\nb\"");
        assert_eq!(unquote(&quote("a\r\nb")), "a\r\nb");
    }

    #[test]
    fn parse_reads_back_what_render_writes() {
        let env: IndexMap<String, String> = [
            ("PLAIN", "abc123"),
            ("SPACE", "a b"),
            ("DOLLAR", "pa$$word"),
            ("QUOTE", "it's \"x\" $y\\z"),
            ("LINES", "a\nb"),
            ("EMPTY", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut parsed = parse(&render(&env));
        parsed.sort();
        let mut expected: Vec<(String, String)> = env.into_iter().collect();
        expected.sort();
        assert_eq!(parsed, expected);
    }
}
