//! Operating a deployed host: status (state, health, memory against the limit),
//! logs, and down (containers and networks; data only when asked).

use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt;
use serde::Serialize;

use super::{Engine, EngineError, lock, state};

#[derive(Serialize)]
pub struct StatusLine {
    pub service: String,
    pub container: String,
    pub state: String,
    pub health: Option<String>,
    pub image: String,
    pub memory_mb: Option<u64>,
    pub limit_mb: Option<u64>,
}

pub async fn status(engine: &Engine, project: &str) -> Result<Vec<StatusLine>, EngineError> {
    let actual = state::read(engine, project).await?;
    let mut lines = Vec::new();
    for c in actual.containers {
        let (memory_mb, limit_mb) = if c.running {
            let mut stats = engine.docker.stats(
                &c.name,
                Some(
                    bollard::query_parameters::StatsOptionsBuilder::default()
                        .stream(false)
                        .one_shot(true)
                        .build(),
                ),
            );
            match stats.next().await {
                Some(Ok(s)) => {
                    let m = s.memory_stats.unwrap_or_default();
                    (
                        m.usage.map(|u| u / 1024 / 1024),
                        m.limit.map(|l| l / 1024 / 1024),
                    )
                }
                _ => (None, None),
            }
        } else {
            (None, None)
        };
        lines.push(StatusLine {
            service: c.service,
            container: c.name,
            state: if c.running {
                "running".into()
            } else {
                "stopped".into()
            },
            health: c.health,
            image: c.image,
            memory_mb,
            limit_mb,
        });
    }
    Ok(lines)
}

/// A container's logs into `out`; a reader that went away ends them quietly.
pub async fn logs(
    engine: &Engine,
    container: &str,
    follow: bool,
    tail: &str,
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), EngineError> {
    let mut stream = engine.docker.logs(
        container,
        Some(
            LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .follow(follow)
                .tail(tail)
                .build(),
        ),
    );
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if out
            .write_all(&chunk.into_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
    Ok(())
}

#[derive(Serialize, Default)]
pub struct DownReport {
    pub removed_containers: Vec<String>,
    pub removed_networks: Vec<String>,
    pub removed_data: bool,
}

/// Remove the project's containers and networks; its data only with `volumes`.
pub async fn down(
    engine: &Engine,
    project: &str,
    volumes: bool,
) -> Result<DownReport, EngineError> {
    let mut report = DownReport::default();
    let filters = state::project_filter(project);
    let containers = state::project_containers(engine, project).await?;
    let images: Vec<String> = containers.iter().filter_map(|c| c.image.clone()).collect();
    if let Some(holder) = lock::holder(engine, project).await? {
        return Err(EngineError::Refused(format!(
            "an apply holds the deploy lock of `{project}`: {holder}; wait for it, or break a dead one with `vpai unlock`"
        )));
    }
    for c in containers {
        let name = c
            .names
            .and_then(|n| n.first().cloned())
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string();
        super::remove_container(engine, &name).await?;
        report.removed_containers.push(name);
    }
    let networks = engine
        .docker
        .list_networks(Some(
            bollard::query_parameters::ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await?;
    for n in networks {
        let name = n.name.unwrap_or_default();
        engine.docker.remove_network(&name).await?;
        report.removed_networks.push(name);
    }
    if volumes {
        remove_data(engine, project, &images).await?;
        report.removed_data = true;
    }
    report.removed_containers.sort();
    report.removed_networks.sort();
    Ok(report)
}

/// Removes `paths` (relative to the project root, each through `paths::within`).
/// Host directories take a process on the host to delete, so a throwaway container
/// of the first of the stack's `images` that runs `rm` does it; false when none could.
pub(super) async fn remove_under_root(
    engine: &Engine,
    project: &str,
    images: &[String],
    paths: &[&str],
) -> Result<bool, EngineError> {
    use bollard::models::{ContainerCreateBody, HostConfig};
    let root = crate::stack::host_root(project);
    let name = format!("vpai-rm-{project}");
    let mut argv: Vec<String> = vec!["rm".into(), "-rf".into(), "--".into()];
    for path in paths {
        let inside = crate::paths::within(std::path::Path::new("/vpai-root"), path)
            .map_err(|e| EngineError::Refused(e.to_string()))?;
        argv.push(inside.display().to_string());
    }
    for image in images {
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            entrypoint: Some(argv.clone()),
            cmd: Some(vec![]),
            user: Some("0:0".into()),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{root}:/vpai-root")]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let _ = super::remove_container(engine, &name).await;
        if engine
            .docker
            .create_container(
                Some(
                    bollard::query_parameters::CreateContainerOptionsBuilder::default()
                        .name(&name)
                        .build(),
                ),
                body,
            )
            .await
            .is_err()
        {
            continue;
        }
        let started = engine
            .docker
            .start_container(
                &name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await;
        let mut wait = engine.docker.wait_container(
            &name,
            None::<bollard::query_parameters::WaitContainerOptions>,
        );
        let waited = wait.next().await;
        let _ = super::remove_container(engine, &name).await;
        if started.is_ok() && matches!(waited, Some(Ok(ref r)) if r.status_code == 0) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The project's data, config files and release records.
async fn remove_data(engine: &Engine, project: &str, images: &[String]) -> Result<(), EngineError> {
    let root = crate::stack::host_root(project);
    if remove_under_root(engine, project, images, &["data", "configs", "releases"]).await? {
        return Ok(());
    }
    Err(EngineError::Refused(format!(
        "could not remove {root}/data: none of the stack's images can run `rm`; remove it on the host: rm -rf {root}/data {root}/configs {root}/releases"
    )))
}
