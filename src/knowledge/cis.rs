//! The container-runtime questions of the CIS Docker Benchmark v1.6.0 §5, answered
//! once for a compose file (`vpai lint`), a live container (`vpai host audit`) and the
//! stack (`published-port`): what counts as the Docker socket, a sensitive host
//! path, a host namespace, a privileged port, switched-off confinement.

use crate::stack::kinds::Kind;

/// `cap_drop` starts from nothing: `ALL`.
pub fn drops_all<'a>(cap_drop: impl IntoIterator<Item = &'a str>) -> bool {
    cap_drop
        .into_iter()
        .any(|cap| cap.eq_ignore_ascii_case("ALL"))
}

/// Where Docker clients look for the engine's socket.
pub const SOCKETS: &[&str] = &["/var/run/docker.sock", "/run/docker.sock"];

/// The engine's socket wherever it lives: rootless Docker
/// (`/run/user/1000/docker.sock`), Podman's Docker-compatible API.
const SOCKET_FILES: &[&str] = &["docker.sock", "podman.sock"];

/// The host path is the engine's socket.
pub fn is_docker_socket(source: &str) -> bool {
    let source = source.trim_end_matches('/');
    let file_name = source.rsplit('/').next().unwrap_or(source);
    SOCKETS.contains(&source) || SOCKET_FILES.contains(&file_name)
}

/// The host path is a directory that holds the engine's socket (`/var/run`, `/run`, `/`).
pub fn holds_docker_socket(source: &str) -> bool {
    let source = source.trim_end_matches('/');
    source.is_empty() || SOCKETS.iter().any(|s| s.starts_with(&format!("{source}/")))
}

/// The host namespaces a container can join: its compose key and the namespace's name.
pub const NAMESPACES: &[(&str, &str)] = &[
    ("network_mode", "network"),
    ("pid", "process"),
    ("ipc", "IPC"),
    ("uts", "UTS"),
    ("userns_mode", "user"),
];

/// A `security_opt` entry that sets `no-new-privileges`.
pub fn sets_no_new_privileges(option: &str) -> bool {
    let option = option.trim();
    option == "no-new-privileges"
        || ["no-new-privileges:true", "no-new-privileges=true"].contains(&option)
}

/// The lowest port of `published` (`53`, `20-21`) when it is privileged and not the
/// proxy's 80 or 443.
pub fn privileged_host_port(published: &str) -> Option<u16> {
    let low: u16 = published.split('-').next()?.trim().parse().ok()?;
    (low < 1024 && low != 80 && low != 443).then_some(low)
}

const EXACT: &[&str] = &[
    "/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr",
];
const WHOLE_TREE: &[&str] = &["/boot", "/dev", "/proc", "/sys"];

/// A host directory that must not be mounted into a container (§5.5).
pub fn sensitive_host_path(path: &str) -> bool {
    let trimmed = match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    EXACT.contains(&trimmed)
        || WHOLE_TREE
            .iter()
            .any(|dir| trimmed.starts_with(&format!("{dir}/")))
}

/// What `disables_confinement` names for `label:disable`.
pub const SELINUX_LABELS: &str = "SELinux labels";

/// The confinement a `security_opt` entry switches off, if it does.
pub fn disables_confinement(option: &str) -> Option<&'static str> {
    let normalized = option.trim().replace('=', ":").to_ascii_lowercase();
    match normalized.as_str() {
        "seccomp:unconfined" => Some("seccomp"),
        "apparmor:unconfined" => Some("AppArmor"),
        "label:disable" => Some(SELINUX_LABELS),
        _ => None,
    }
}

/// No address, `0.0.0.0` or `::`: Docker listens on every interface.
pub fn on_every_interface(bind: &str) -> bool {
    bind.is_empty() || bind == "0.0.0.0" || bind == "::"
}

/// 80 and 443 of the reverse proxy: the one service meant to face the internet.
pub fn proxy_web_port(kind: Kind, published: u16) -> bool {
    kind == Kind::Proxy && matches!(published, 80 | 443)
}

#[cfg(test)]
mod tests {
    #[test]
    fn directories_not_single_files() {
        assert!(super::sensitive_host_path("/"));
        assert!(super::sensitive_host_path("/etc/"));
        assert!(super::sensitive_host_path("/sys/fs/cgroup"));
        assert!(super::sensitive_host_path("/dev/disk"));
        assert!(!super::sensitive_host_path("/etc/localtime"));
        assert!(!super::sensitive_host_path("/var/lib/docker"));
        assert!(!super::sensitive_host_path("/srv/data"));
    }
}
