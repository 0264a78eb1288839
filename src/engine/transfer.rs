//! Data in and out of containers through the engine API, for backups: a command's
//! standard output streamed to a file (a `pg_dump` is binary and may be large),
//! files copied out as tar and back in, containers stopped, started and made for a
//! restore drill. Nothing listens on a port for it and nothing is copied by SSH.

use std::collections::HashMap;
use std::path::Path;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, InspectContainerOptions,
    RemoveContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{Engine, EngineError};

fn io(e: std::io::Error) -> EngineError {
    EngineError::Docker(e.to_string())
}

/// Run `cmd` in `container`, its standard output written to `out` as it comes.
/// Returns the exit code and the standard error.
pub async fn exec_to_file(
    engine: &Engine,
    container: &str,
    cmd: &[String],
    out: &Path,
) -> Result<(i64, String), EngineError> {
    let exec = engine
        .docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let mut file = tokio::fs::File::create(out).await.map_err(io)?;
    let mut stderr = String::new();
    if let StartExecResults::Attached { mut output, .. } =
        engine.docker.start_exec(&exec.id, None).await?
    {
        while let Some(chunk) = output.next().await {
            match chunk? {
                LogOutput::StdOut { message } => file.write_all(&message).await.map_err(io)?,
                other => stderr.push_str(&other.to_string()),
            }
        }
    }
    file.flush().await.map_err(io)?;
    Ok((super::provision::exit_code(engine, &exec.id).await?, stderr))
}

/// `path` of a container (running or not) as the tar the engine makes of it: its
/// top entry is the path's last component.
pub async fn copy_out(
    engine: &Engine,
    container: &str,
    path: &str,
) -> Result<Vec<u8>, EngineError> {
    let options = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let mut stream = engine
        .docker
        .download_from_container(container, Some(options));
    let mut tar = Vec::new();
    while let Some(chunk) = stream.next().await {
        tar.extend_from_slice(&chunk?);
    }
    Ok(tar)
}

/// Unpack `tar` into the directory `dir` of a container (running or not).
pub async fn copy_in(
    engine: &Engine,
    container: &str,
    dir: &str,
    tar: Vec<u8>,
) -> Result<(), EngineError> {
    let options = UploadToContainerOptionsBuilder::default().path(dir).build();
    engine
        .docker
        .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
        .await?;
    Ok(())
}

pub async fn stop(engine: &Engine, container: &str) -> Result<(), EngineError> {
    let options = StopContainerOptionsBuilder::default().t(30).build();
    engine
        .docker
        .stop_container(container, Some(options))
        .await?;
    Ok(())
}

pub async fn start(engine: &Engine, container: &str) -> Result<(), EngineError> {
    engine
        .docker
        .start_container(container, None::<StartContainerOptions>)
        .await?;
    Ok(())
}

/// Remove a container and its anonymous volumes; gone already is fine.
pub async fn remove(engine: &Engine, container: &str) -> Result<(), EngineError> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match engine
        .docker
        .remove_container(container, Some(options))
        .await
    {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A never-started container with the host directory `root` bind-mounted at
/// `mount`: what files are copied through. `image` must be on the host already.
pub async fn create_with_bind(
    engine: &Engine,
    name: &str,
    image: &str,
    root: &str,
    mount: &str,
) -> Result<(), EngineError> {
    remove(engine, name).await?;
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(vec!["true".to_string()]),
        labels: Some(HashMap::from([(
            "vpai.role".to_string(),
            "backup".to_string(),
        )])),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{root}:{mount}")]),
            network_mode: Some("none".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    engine.docker.create_container(Some(options), body).await?;
    Ok(())
}

/// A scratch copy of a deployed container for a restore drill: same image, command,
/// user, environment and healthcheck, no network, no published port, and every
/// read-write bind replaced by an anonymous volume, so nothing of production is
/// shared. Created, not started: data can be copied into its volumes first.
/// Removed (with its volumes) by [`remove`].
pub async fn create_drill(
    engine: &Engine,
    production: &str,
    name: &str,
) -> Result<(), EngineError> {
    let inspect = engine
        .docker
        .inspect_container(production, None::<InspectContainerOptions>)
        .await?;
    let config = inspect.config.unwrap_or_default();
    let host = inspect.host_config.unwrap_or_default();
    let mut read_only = Vec::new();
    let mut mounts = Vec::new();
    for bind in host.binds.unwrap_or_default() {
        let parts: Vec<&str> = bind.split(':').collect();
        match parts.as_slice() {
            [_, _, mode] if mode.split(',').any(|m| m == "ro") => read_only.push(bind.clone()),
            [_, target, ..] => mounts.push(Mount {
                target: Some(target.to_string()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }),
            _ => {}
        }
    }
    remove(engine, name).await?;
    let body = ContainerCreateBody {
        image: config.image,
        cmd: config.cmd,
        entrypoint: config.entrypoint,
        user: config.user,
        env: config.env,
        working_dir: config.working_dir,
        healthcheck: config.healthcheck,
        labels: Some(HashMap::from([(
            "vpai.role".to_string(),
            "drill".to_string(),
        )])),
        host_config: Some(HostConfig {
            binds: Some(read_only),
            mounts: Some(mounts),
            network_mode: Some("none".to_string()),
            memory: host.memory,
            pids_limit: host.pids_limit,
            init: host.init,
            cap_drop: host.cap_drop,
            cap_add: host.cap_add,
            security_opt: host.security_opt,
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    engine.docker.create_container(Some(options), body).await?;
    Ok(())
}

/// The container's health (`healthy`, `starting`, `unhealthy`) or its state when it
/// has no healthcheck.
pub async fn health(engine: &Engine, container: &str) -> Result<String, EngineError> {
    let state = engine
        .docker
        .inspect_container(container, None::<InspectContainerOptions>)
        .await?
        .state
        .unwrap_or_default();
    let health = state
        .health
        .and_then(|h| h.status)
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty() && s != "none");
    Ok(health.unwrap_or_else(|| state.status.map(|s| s.to_string()).unwrap_or_default()))
}
