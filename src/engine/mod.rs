//! The engine: the only module that talks to a Docker daemon.
//!
//! It reads the actual state of a host, compares it with the desired state built
//! from the stack (`desired`), produces a [`plan::Plan`] and executes exactly that
//! plan (`apply`). Remote hosts are reached through the system OpenSSH: the remote
//! Docker socket is forwarded to a local one (`target`), so the operator's ssh
//! config, keys and agent apply unchanged.

pub mod apply;
pub mod archive;
pub mod audit;
pub mod desired;
pub mod lock;
pub mod ops;
pub mod plan;
pub mod provision;
pub mod releases;
pub mod state;
pub mod target;
pub mod transfer;

use crate::diagnostic::Diagnostic;
use bollard::Docker;

/// A connected daemon and the API version negotiated with it.
pub struct Engine {
    pub docker: Docker,
    pub api_version: String,
    /// Keeps an SSH tunnel alive as long as the engine lives.
    _tunnel: Option<target::Tunnel>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker daemon at {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("{0}")]
    Docker(String),
    #[error("{0}")]
    Refused(String),
}

/// The boundary: how the engine's failures read to the operator.
impl From<EngineError> for Diagnostic {
    fn from(e: EngineError) -> Diagnostic {
        match e {
            EngineError::Connect { .. } => Diagnostic::error("engine", e.to_string())
                .help("check that Docker runs there and that you may use its socket (local: the docker group; ssh: the remote user)"),
            EngineError::Refused(m) => Diagnostic::error("refused", m),
            EngineError::Docker(m) => Diagnostic::error("engine", m),
        }
    }
}

impl From<bollard::errors::Error> for EngineError {
    fn from(e: bollard::errors::Error) -> Self {
        EngineError::Docker(e.to_string())
    }
}

impl Engine {
    pub async fn connect(target: &target::Target) -> Result<Engine, EngineError> {
        let (socket, tunnel) = target.open().await?;
        let docker = Docker::connect_with_unix(&socket, 120, bollard::API_DEFAULT_VERSION)
            .map_err(|e| EngineError::Connect {
                target: target.to_string(),
                reason: e.to_string(),
            })?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| EngineError::Connect {
                target: target.to_string(),
                reason: e.to_string(),
            })?;
        let version = docker.version().await.map_err(|e| EngineError::Connect {
            target: target.to_string(),
            reason: e.to_string(),
        })?;
        let api_version = version.api_version.unwrap_or_else(|| "1.41".to_string());
        Ok(Engine {
            docker,
            api_version,
            _tunnel: tunnel,
        })
    }
}

/// Force-remove a container; one that is already gone is fine.
pub(crate) async fn remove_container(engine: &Engine, name: &str) -> Result<(), EngineError> {
    let options = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
        .force(true)
        .build();
    match engine.docker.remove_container(name, Some(options)).await {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
