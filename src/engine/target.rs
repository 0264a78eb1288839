//! Where the engine deploys: the local Docker socket or a host over SSH.
//!
//! SSH goes through the system `ssh` binary with a Unix-socket forward
//! (`ssh -N -L LOCAL.sock:/var/run/docker.sock`), rather than a Rust SSH client:
//! the operator's `~/.ssh/config`, keys, agent, ProxyJump and known_hosts apply
//! exactly as they do for `ssh` itself, and nothing of them is reimplemented.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::EngineError;
use crate::diagnostic::Diagnostic;

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A local Unix socket (default `/var/run/docker.sock`, or `$DOCKER_HOST=unix://...`).
    Local(PathBuf),
    /// `ssh://user@host:port`.
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local(p) => write!(f, "unix://{}", p.display()),
            Target::Ssh { user, host, port } => {
                write!(f, "ssh://")?;
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                write!(f, "{host}")?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
        }
    }
}

/// A `--target` (or `$DOCKER_HOST`) vpai cannot use.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("`{0}` is not a port")]
    NotAPort(String),
    #[error("`{0}` names no host")]
    NoHost(String),
    #[error("`{0}` is not a target")]
    Unknown(String),
}

impl From<TargetError> for Diagnostic {
    fn from(e: TargetError) -> Diagnostic {
        Diagnostic::error("target", e.to_string())
            .help("use `local`, `unix:///path/docker.sock` or `ssh://user@host:port`")
    }
}

impl Target {
    /// `local`, `unix:///path`, or `ssh://[user@]host[:port]`. Without an argument:
    /// `$DOCKER_HOST` if it is a unix socket, else `/var/run/docker.sock`.
    pub fn parse(text: Option<&str>) -> Result<Target, TargetError> {
        let text = match text {
            Some(t) => t.to_string(),
            None => std::env::var("DOCKER_HOST").unwrap_or_else(|_| "local".to_string()),
        };
        if text == "local" {
            return Ok(Target::Local(PathBuf::from("/var/run/docker.sock")));
        }
        if let Some(path) = text.strip_prefix("unix://") {
            return Ok(Target::Local(PathBuf::from(path)));
        }
        if let Some(rest) = text.strip_prefix("ssh://") {
            let (user, hostport) = match rest.split_once('@') {
                Some((u, h)) => (Some(u.to_string()), h),
                None => (None, rest),
            };
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    Some(
                        p.parse::<u16>()
                            .map_err(|_| TargetError::NotAPort(p.to_string()))?,
                    ),
                ),
                None => (hostport.to_string(), None),
            };
            if host.is_empty() {
                return Err(TargetError::NoHost(text));
            }
            return Ok(Target::Ssh { user, host, port });
        }
        Err(TargetError::Unknown(text))
    }

    /// The local socket to talk to, and the tunnel that must live while it is used.
    pub(super) async fn open(&self) -> Result<(String, Option<Tunnel>), EngineError> {
        match self {
            Target::Local(path) => Ok((path.display().to_string(), None)),
            Target::Ssh { user, host, port } => {
                let tunnel =
                    Tunnel::open(user.as_deref(), host, *port)
                        .await
                        .map_err(|reason| EngineError::Connect {
                            target: self.to_string(),
                            reason: reason.to_string(),
                        })?;
                Ok((tunnel.socket.display().to_string(), Some(tunnel)))
            }
        }
    }
}

/// Why the SSH forward to a host's Docker socket did not open.
#[derive(Debug, thiserror::Error)]
enum TunnelError {
    #[error("cannot create a private directory for the socket: {0}")]
    Directory(std::io::Error),
    #[error("cannot run ssh: {0}")]
    Spawn(std::io::Error),
    #[error("ssh exited with {status}: {stderr}")]
    Exited {
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("ssh did not open the socket forward within 15 s")]
    Timeout,
}

/// A running `ssh -N -L` forward; killed when dropped.
pub struct Tunnel {
    child: tokio::process::Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tunnel {
    async fn open(
        user: Option<&str>,
        host: &str,
        port: Option<u16>,
    ) -> Result<Tunnel, TunnelError> {
        let dir = tempfile::Builder::new()
            .prefix("vpai-ssh-")
            .tempdir()
            .map_err(TunnelError::Directory)?;
        let socket = dir.path().join("docker.sock");
        // Like GIT_SSH_COMMAND: `VPAI_SSH_COMMAND="ssh -F /path/config"`.
        let command = std::env::var("VPAI_SSH_COMMAND").unwrap_or_else(|_| "ssh".to_string());
        let mut words = command.split_whitespace();
        let mut cmd = tokio::process::Command::new(words.next().unwrap_or("ssh"));
        cmd.args(words);
        cmd.arg("-N")
            .args([
                "-o",
                "ExitOnForwardFailure=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "StreamLocalBindUnlink=yes",
            ])
            .arg("-L")
            .arg(format!("{}:/var/run/docker.sock", socket.display()));
        if let Some(p) = port {
            cmd.arg("-p").arg(p.to_string());
        }
        if let Some(u) = user {
            cmd.arg("-l").arg(u);
        }
        cmd.arg(host)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(TunnelError::Spawn)?;
        for _ in 0..150 {
            if socket.exists() {
                return Ok(Tunnel {
                    child,
                    socket,
                    _dir: dir,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let _ = stderr.read_to_string(&mut err).await;
                }
                return Err(TunnelError::Exited {
                    status,
                    stderr: err.trim().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill().await;
        Err(TunnelError::Timeout)
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert_eq!(
            Target::parse(Some("ssh://root@127.0.0.1:2222")).unwrap(),
            Target::Ssh {
                user: Some("root".into()),
                host: "127.0.0.1".into(),
                port: Some(2222)
            }
        );
        assert_eq!(
            Target::parse(Some("unix:///tmp/d.sock")).unwrap(),
            Target::Local("/tmp/d.sock".into())
        );
        assert!(Target::parse(Some("tcp://x")).is_err());
        assert!(Target::parse(Some("ssh://h:notaport")).is_err());
    }
}
