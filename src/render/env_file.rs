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

fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@%+=,?&~*^![]{}()<>|;".contains(c));
    if plain || value.is_empty() {
        return value.to_string();
    }
    if !value.contains('\'') && !value.contains('\n') {
        return format!("'{value}'");
    }
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('$', "\\$")
        .replace('\n', "\\n");
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
    }
}
