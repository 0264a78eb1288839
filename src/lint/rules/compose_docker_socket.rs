use crate::diagnostic::Diagnostic;
use crate::knowledge::cis::{SOCKETS, holds_docker_socket, is_docker_socket};
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a mount of the Docker socket (`/var/run/docker.sock`,
    /// `/run/docker.sock`, rootless Docker's `/run/user/UID/docker.sock`, Podman's
    /// `podman.sock`) or of a directory holding it (`/var/run`, `/run`, `/`), and
    /// a path set by a variable mounted at `/var/run/docker.sock`
    /// (`${DOCKER_SOCKET_LOCATION}:/var/run/docker.sock`) (CIS Docker Benchmark
    /// v1.6.0 §5.31, "Ensure that the Docker socket is not mounted inside any
    /// containers").
    ///
    /// ## Why is this bad?
    /// Whoever talks to the socket can start a privileged container with the host's
    /// `/` mounted: it is root on the host. `:ro` does not help: it stops the
    /// container from deleting the socket file, not from writing API requests to
    /// it. Log shippers, update notifiers and dashboards mount it for reading
    /// container lists; a compromise of any of them is a compromise of the host.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   dashboard:
    ///     image: louislam/dockge:1.5.0
    ///     volumes:
    ///       - /var/run/docker.sock:/var/run/docker.sock:ro
    /// ```
    ///
    /// ## Fix
    /// Give the service a socket proxy that allows only the API calls it needs
    /// (container list and logs, read only), or, when the tool cannot work
    /// without it, keep the mount and say why:
    /// `# vpai: ignore[compose-docker-socket] Alloy discovers containers through the API`.
    pub struct ComposeDockerSocket => "compose-docker-socket", Error, [Compose];
}

impl ComposeDockerSocket {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            for mount in service.mounts() {
                // A host path, or a path set by a variable (`${DOCKER_SOCKET}`); not
                // a named volume.
                let variable = mount.source.as_deref().is_some_and(|s| s.starts_with('$'));
                let Some(source) = mount
                    .host_path()
                    .or(mount.source.as_deref().filter(|_| variable))
                else {
                    continue;
                };
                let label = if is_docker_socket(source) {
                    "the Docker socket: full control of the engine"
                } else if !variable && holds_docker_socket(source) {
                    "this directory holds the Docker socket"
                } else if variable && SOCKETS.contains(&mount.target.trim_end_matches('/')) {
                    "mounted where Docker clients look for the socket"
                } else {
                    continue;
                };
                // A long-syntax mount is a block mapping whose span runs on to the
                // next key: point at its `source:` line.
                let span = match mount.node.entry("source") {
                    Some((key, value)) => key.span.start..value.span.end,
                    None => mount.node.span.clone(),
                };
                out.push(
                    Self::diagnostic(format!(
                        "`{}` can reach the Docker socket: root on the host",
                        service.name
                    ))
                    .at(Some(&file.span(span)), label)
                    .note("`:ro` does not limit the API: a read-only socket still starts containers")
                    .help("use a socket proxy limited to the calls the service needs, or keep it with `# vpai: ignore[compose-docker-socket] REASON`"),
                );
            }
        }
    }
}
