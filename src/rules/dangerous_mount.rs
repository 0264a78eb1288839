use crate::diagnostic::{Diagnostic, Severity};
use crate::knowledge::cis::{holds_docker_socket, is_docker_socket, sensitive_host_path};
use crate::lint::rules::LintRule;
use crate::lint::rules::compose_docker_socket::ComposeDockerSocket;
use crate::lint::rules::compose_sensitive_mount::ComposeSensitiveMount;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::stack::model::Mount;

declare_rule! {
    /// ## What it does
    /// Flags a service's `mounts` entry that hands the container the host: the
    /// Docker socket or a directory holding it (`/var/run`, `/run`, `/`), or a
    /// sensitive host directory (`/`, `/etc`, `/usr`, `/boot`, `/dev`, `/proc`,
    /// `/sys`, ...), the CIS Docker Benchmark v1.6.0 §5.31 and §5.5 questions that
    /// `vpai lint` asks of the rendered compose file (`compose-docker-socket`,
    /// `compose-sensitive-mount`). A read-only sensitive directory is a warning;
    /// the socket is an error even read-only. A mount that accepts the risk in
    /// `lint_ignore`, with its reason, is not flagged.
    ///
    /// ## Why is this bad?
    /// Whoever reaches the socket starts a privileged container with the host's
    /// `/` mounted: it is root on the host, `:ro` or not. A writable `/etc` or
    /// `/usr` lets the container change the host's users and binaries. Without
    /// this rule `vpai check` passed such a stack and only a lint of its bundle
    /// refused it.
    ///
    /// ## Example
    /// ```toml
    /// [services.dashboard]
    /// image = "acme/dashboard:1.2.0"
    /// mounts = [{ source = "/var/run/docker.sock", target = "/var/run/docker.sock" }]
    /// ```
    ///
    /// ## Fix
    /// Mount only what the service reads, read-only, or give it a socket proxy
    /// limited to the API calls it needs. When the tool cannot work without it
    /// (log shippers, update notifiers), say why:
    /// `{ ..., lint_ignore = { compose-docker-socket = "DIUN lists containers through the API" } }`.
    pub struct DangerousMount => "dangerous-mount", Error;
}

impl DangerousMount {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            for mount in &service.mounts {
                let quoted_source = format!("\"{}\"", mount.source);
                let span = support::locate(stack, service, |l| l.contains(&quoted_source));
                for (severity, what, lint_rule) in findings(mount) {
                    let mut d = Self::diagnostic(format!(
                        "`{}`: mount `{}` {what}",
                        service.name,
                        mount.bind()
                    ))
                    .at(span.as_ref(), "this mount")
                    .help(format!(
                        "mount only what the service reads, read-only; or accept it with `lint_ignore = {{ {lint_rule} = \"REASON\" }}` on the mount"
                    ));
                    d.severity = severity;
                    out.push(d);
                }
            }
        }
    }
}

/// Both questions, as lint asks them: `/` holds the socket and is a sensitive
/// directory, and each risk is accepted on its own.
fn findings(mount: &Mount) -> Vec<(Severity, &'static str, &'static str)> {
    let accepted = |rule: &dyn LintRule| mount.lint_ignore.contains_key(rule.name());
    let mut found = Vec::new();
    let socket = is_docker_socket(&mount.source) || holds_docker_socket(&mount.source);
    if socket && !accepted(&ComposeDockerSocket) {
        found.push((
            Severity::Error,
            "reaches the Docker socket: root on the host",
            ComposeDockerSocket.name(),
        ));
    }
    if sensitive_host_path(&mount.source) && !accepted(&ComposeSensitiveMount) {
        found.push(if mount.read_only {
            (
                Severity::Warning,
                "hands over a sensitive host directory, read-only",
                ComposeSensitiveMount.name(),
            )
        } else {
            (
                Severity::Error,
                "hands over a sensitive host directory, writable",
                ComposeSensitiveMount.name(),
            )
        });
    }
    found
}
