//! A view of a compose file for the lint rules: services, and the fields the rules
//! ask about read in both of compose's syntaxes (`"8080:80"` or `{published:
//! 8080, target: 80}`, `"./data:/data:ro"` or `{type: bind, source: ...}`), each
//! with the node it was read from so a finding points at its line.

use std::path::Path;

use crate::knowledge::image::ImageRef;
use crate::lint::yaml::{Node, Value};

pub struct Service<'a> {
    pub name: &'a str,
    /// The service's key under `services:`.
    pub key: &'a Node,
    pub node: &'a Node,
}

/// The services of a compose file, in file order.
pub fn services(root: &Node) -> Vec<Service<'_>> {
    root.get("services")
        .map(|s| s.entries())
        .unwrap_or_default()
        .iter()
        .filter_map(|(key, node)| {
            Some(Service {
                name: key.as_str()?,
                key,
                node,
            })
        })
        .collect()
}

/// A file is a compose file when its top level has a `services` mapping.
pub fn is_compose(root: &Node) -> bool {
    root.get("services")
        .is_some_and(|s| matches!(s.value, Value::Map(_)))
}

pub struct Mount<'a> {
    /// Host path (starting with `/`, `.` or `~`) or volume name; `None` for tmpfs
    /// and anonymous volumes.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub node: &'a Node,
}

impl Mount<'_> {
    /// A bind mount of a host path (not a named volume).
    pub fn host_path(&self) -> Option<&str> {
        self.source
            .as_deref()
            .filter(|s| s.starts_with('/') || s.starts_with('.') || s.starts_with('~'))
    }
}

pub struct Port<'a> {
    pub host_ip: Option<String>,
    /// The host port or range (`8080`, `8000-8010`); `None` when Docker picks one.
    pub published: Option<String>,
    pub node: &'a Node,
}

impl<'a> Service<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.node.get(key)
    }

    pub fn image(&self) -> Option<(ImageRef, &'a Node)> {
        let node = self.get("image")?;
        Some((ImageRef::parse(node.as_str()?), node))
    }

    /// The image is one of `repos` (`grafana/loki`, `qdrant/qdrant`, ...).
    pub fn image_is(&self, repos: &[&str]) -> bool {
        self.image().is_some_and(|(image, _)| image.is(repos))
    }

    pub fn mounts(&self) -> Vec<Mount<'a>> {
        let Some(volumes) = self.get("volumes") else {
            return Vec::new();
        };
        volumes
            .as_seq()
            .iter()
            .filter_map(|node| match &node.value {
                Value::Str(short) => Some(short_mount(short, node)),
                Value::Map(_) => {
                    let target = node.get("target").and_then(Node::text)?;
                    let source = node.get("source").and_then(Node::text);
                    Some(Mount {
                        source,
                        target,
                        read_only: node.get("read_only").is_some_and(Node::is_true),
                        node,
                    })
                }
                _ => None,
            })
            .collect()
    }

    pub fn ports(&self) -> Vec<Port<'a>> {
        let Some(ports) = self.get("ports") else {
            return Vec::new();
        };
        ports
            .as_seq()
            .iter()
            .filter_map(|node| match &node.value {
                Value::Map(_) => Some(Port {
                    host_ip: node.get("host_ip").and_then(Node::text),
                    published: node.get("published").and_then(Node::text),
                    node,
                }),
                _ => Some(short_port(&node.text()?, node)),
            })
            .collect()
    }

    /// `environment` as (name, value) pairs, from a mapping or a `KEY=VALUE` list.
    pub fn environment(&self) -> Vec<(String, Option<String>, &'a Node)> {
        let Some(env) = self.get("environment") else {
            return Vec::new();
        };
        match &env.value {
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(k, v)| Some((k.text()?, v.text(), v)))
                .collect(),
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| {
                    let text = item.text()?;
                    Some(match text.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string()), item),
                        None => (text, None, item),
                    })
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The value Compose gives the container's variable `name`: from `environment`,
    /// else from the `env_file`s (read relative to `compose_dir`, as Compose does;
    /// a file that cannot be read counts as not setting it).
    pub fn variable(&self, name: &str, compose_dir: &Path) -> Option<String> {
        if let Some((_, value, _)) = self.environment().into_iter().find(|(n, _, _)| n == name) {
            return value;
        }
        self.list("env_file").iter().rev().find_map(|(file, _)| {
            let text = std::fs::read_to_string(compose_dir.join(file)).ok()?;
            env_file_value(&text, name)
        })
    }

    /// The healthcheck's command as one line of text, and its node; `None` when
    /// there is none or it is disabled.
    pub fn healthcheck_command(&self) -> Option<(String, &'a Node)> {
        let health = self.get("healthcheck")?;
        if health.get("disable").is_some_and(Node::is_true) {
            return None;
        }
        let test = health.get("test")?;
        let text = match &test.value {
            Value::Str(s) => s.clone(),
            Value::Seq(items) => {
                let words: Vec<String> = items.iter().filter_map(Node::text).collect();
                match words.first().map(String::as_str) {
                    Some("NONE") => return None,
                    Some("CMD") | Some("CMD-SHELL") => words[1..].join(" "),
                    _ => words.join(" "),
                }
            }
            _ => return None,
        };
        Some((text, test))
    }

    /// Whether the healthcheck's command runs through a shell (`CMD-SHELL` or a
    /// string), rather than as an exec list.
    pub fn healthcheck_uses_shell(&self) -> bool {
        match self.get("healthcheck").and_then(|h| h.get("test")) {
            Some(test) => match &test.value {
                Value::Str(_) => true,
                Value::Seq(items) => items.first().and_then(Node::as_str) == Some("CMD-SHELL"),
                _ => false,
            },
            None => false,
        }
    }

    /// A limit set either as the legacy key (`mem_limit`) or under
    /// `deploy.resources.limits` (`memory`).
    pub fn limit(&self, legacy: &str, deploy: &str) -> Option<&'a Node> {
        self.get(legacy)
            .or_else(|| self.node.path(&["deploy", "resources", "limits", deploy]))
            .filter(|n| !n.is_null())
    }

    /// The items of a list field, as text with their nodes (`cap_add`,
    /// `security_opt`, `env_file`...). A single string counts as a list of one.
    pub fn list(&self, key: &str) -> Vec<(String, &'a Node)> {
        match self.get(key) {
            Some(node) => match &node.value {
                Value::Seq(items) => items
                    .iter()
                    .filter_map(|item| {
                        let text = item.text().or_else(|| item.get("path")?.text())?;
                        Some((text, item))
                    })
                    .collect(),
                _ => node.text().map(|t| vec![(t, node)]).unwrap_or_default(),
            },
            None => Vec::new(),
        }
    }
}

/// The value of `name` in an env file (`KEY=VALUE` lines, `#` comments, optional
/// quotes); the last assignment wins, as in Compose.
fn env_file_value(text: &str, name: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let line = line.trim_start();
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line.split_once('=')?;
        (!line.starts_with('#') && key.trim() == name).then(|| {
            let value = value.trim();
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value)
                .to_string()
        })
    })
}

/// `text` split at the `:` that are not inside a `${VAR:-default}` interpolation.
fn split_colons(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `[SOURCE:]TARGET[:MODE]`.
fn short_mount<'a>(short: &str, node: &'a Node) -> Mount<'a> {
    let parts: Vec<&str> = split_colons(short);
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [source, target] => (Some(*source), *target, ""),
        [source, target, mode, ..] => (Some(*source), *target, *mode),
        [] => (None, "", ""),
    };
    Mount {
        source: source.map(str::to_string),
        target: target.to_string(),
        read_only: mode.split(',').any(|m| m == "ro"),
        node,
    }
}

/// `[[HOST_IP:]PUBLISHED:]TARGET[/PROTO]`; an IPv6 host IP is written in brackets.
fn short_port<'a>(short: &str, node: &'a Node) -> Port<'a> {
    let spec = short.split('/').next().unwrap_or(short);
    let (host_ip, rest) = match spec.strip_prefix('[') {
        Some(v6) => match v6.split_once("]:") {
            Some((ip, rest)) => (Some(ip.to_string()), rest),
            None => (None, spec),
        },
        None => match split_colons(spec).as_slice() {
            [ip, _, _] => (Some(ip.to_string()), &spec[ip.len() + 1..]),
            _ => (None, spec),
        },
    };
    let published = match split_colons(rest).as_slice() {
        [published, _, ..] => Some(published.to_string()),
        _ => None,
    }
    .filter(|p| !p.is_empty());
    Port {
        host_ip: host_ip.filter(|ip| !ip.is_empty()),
        published,
        node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::yaml;

    fn service(text: &str) -> Node {
        yaml::parse(text).unwrap()
    }

    #[test]
    fn ports_in_both_syntaxes() {
        let root = service(
            "services:\n  a:\n    ports:\n      - \"8080:80\"\n      - 127.0.0.1:9000:9000/udp\n      - \"[::1]:53:53\"\n      - 3000\n      - { published: 443, target: 443, host_ip: 0.0.0.0 }\n      - \"${BIND:-127.0.0.1}:${PORT:-4000}:4000\"\n      - \"${PORT:-8000}:8000\"\n",
        );
        let services = services(&root);
        let ports = services[0].ports();
        let view: Vec<_> = ports
            .iter()
            .map(|p| (p.host_ip.as_deref(), p.published.as_deref()))
            .collect();
        assert_eq!(
            view,
            [
                (None, Some("8080")),
                (Some("127.0.0.1"), Some("9000")),
                (Some("::1"), Some("53")),
                (None, None),
                (Some("0.0.0.0"), Some("443")),
                (Some("${BIND:-127.0.0.1}"), Some("${PORT:-4000}")),
                (None, Some("${PORT:-8000}")),
            ]
        );
    }

    #[test]
    fn mounts_in_both_syntaxes() {
        let root = service(
            "services:\n  a:\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock:ro\n      - data:/data\n      - /cache\n      - { type: bind, source: /etc, target: /host/etc, read_only: true }\n      - ${PGDATA:-./pg}:/var/lib/postgresql/data:z\n",
        );
        let services = services(&root);
        let mounts = services[0].mounts();
        let view: Vec<_> = mounts
            .iter()
            .map(|m| (m.host_path(), m.target.as_str(), m.read_only))
            .collect();
        assert_eq!(
            view,
            [
                (Some("/var/run/docker.sock"), "/var/run/docker.sock", true),
                (None, "/data", false),
                (None, "/cache", false),
                (Some("/etc"), "/host/etc", true),
                (None, "/var/lib/postgresql/data", false),
            ]
        );
    }

    #[test]
    fn environment_as_map_or_list() {
        let root = service(
            "services:\n  a:\n    environment:\n      - N8N_PATH=/n8n/\n      - EMPTY\n  b:\n    environment:\n      PORT: 80\n",
        );
        let services = services(&root);
        let a = services[0].environment();
        assert_eq!(a[0].0, "N8N_PATH");
        assert_eq!(a[0].1.as_deref(), Some("/n8n/"));
        assert_eq!(a[1].1, None);
        assert_eq!(services[1].environment()[0].1.as_deref(), Some("80"));
    }

    #[test]
    fn env_file_values_as_compose_reads_them() {
        let text =
            "# comment\nPGDATA=/a\nexport TOKEN='x y'\nPGDATA=\"/var/lib/postgresql/data/pg\"\n";
        assert_eq!(
            env_file_value(text, "PGDATA").as_deref(),
            Some("/var/lib/postgresql/data/pg")
        );
        assert_eq!(env_file_value(text, "TOKEN").as_deref(), Some("x y"));
        assert_eq!(env_file_value(text, "MISSING"), None);
    }
}
