//! Apply: execute a plan on one host.
//!
//! Order: images present, deploy lock, networks, host files, then a walk of the
//! dependency graph in which each service starts as soon as its own dependencies
//! are ready (started, or healthy, as each edge asks), not in lock-step levels.
//! Health is followed through the daemon's event stream. A database server is
//! provisioned between "healthy" and "ready", so its consumers never start before
//! their role exists. A recreated service keeps its previous container, stopped and
//! renamed, until the new one is healthy; if the new one fails its gate, the
//! previous one is put back and started. Every run writes a release record.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::errors::Error as DockerError;
use bollard::models::{
    EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkDisconnectRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder,
    InspectContainerOptions, LogsOptionsBuilder, RenameContainerOptionsBuilder,
    StartContainerOptions, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::desired::{Desired, DesiredContainer, DesiredNetwork, LABEL_PROJECT};
use super::lock::{self, MOUNT};
use super::plan::{Action, Plan};
use super::{Engine, EngineError, provision, releases, remove_container};

mod gate;
mod task;

use crate::secrets::SecretValues;
use crate::stack::Stack;
use crate::stack::host_root;
use crate::stack::kinds::Condition;
use task::ServiceTask;

/// How far a service got.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Waiting,
    Started,
    Ready,
    Failed,
}

/// Each service's phase, published by its task and watched by its dependents.
type Phases = HashMap<String, (watch::Sender<Phase>, watch::Receiver<Phase>)>;

/// What an apply tells as it goes. The engine only reports; how it is shown (live
/// lines on a terminal, plain lines in a log) is the caller's: the CLI implements it.
pub trait Progress: Send + Sync {
    /// The services this run walks, once, before any update.
    fn start(&self, _services: &[String]) {}
    /// Where one service has got to.
    fn update(&self, service: &str, message: &str);
    /// A line about the run as a whole.
    fn note(&self, text: &str);
    fn finish(&self) {}
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceOutcome {
    pub service: String,
    pub action: Action,
    /// Dependencies it waited for (same host).
    pub depends_on: Vec<String>,
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
    /// Its own time, from create/start to ready, without the wait for dependencies.
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub release: String,
    pub ok: bool,
    pub services: Vec<ServiceOutcome>,
    pub provisioned: Vec<String>,
    pub removed_orphans: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broke_stale_lock: Option<String>,
    pub seconds: f64,
}

fn is_404(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Execute `plan` (made from `desired`) on the engine's host.
/// What provisioning needs: the stack's databases and Redis users, and their
/// secrets. A rollback applies a recorded release without it: data and roles are
/// never rolled back.
#[derive(Clone)]
pub struct Provisioning {
    pub stack: Arc<Stack>,
    pub secrets: Arc<SecretValues>,
}

pub async fn apply(
    engine: Arc<Engine>,
    provisioning: Option<Provisioning>,
    desired: Arc<Desired>,
    plan: &Plan,
    progress: Arc<dyn Progress>,
) -> Result<Report, EngineError> {
    let started = Instant::now();
    // The release record holds the desired state, secrets included, encrypted to
    // these recipients: a recipient that cannot seal stops the apply before it starts.
    crate::secrets::seal(b"", &desired.release_recipients)
        .map_err(|e| EngineError::Refused(format!("cannot seal the release record: {e}")))?;
    let services: Vec<String> = desired
        .containers
        .iter()
        .map(|c| c.service.clone())
        .collect();
    // A host file that would leave the project root stops the apply here,
    // before an image is pulled or the lock taken.
    let host_files = super::archive::tar(Path::new(MOUNT), &desired.entries)?;
    progress.start(&services);
    ensure_images(&engine, &desired, progress.as_ref()).await?;
    let lock_image = desired
        .containers
        .first()
        .map(|c| c.image.clone())
        .ok_or_else(|| EngineError::Refused("no service to deploy on this host".into()))?;
    let root = host_root(&desired.project);
    let lock = lock::acquire(&engine, &desired.project, &lock_image, &root).await?;
    let broke = lock.broke_stale.as_ref().map(|h| h.to_string());
    if let Some(h) = &broke {
        progress.note(&format!("broke a stale deploy lock left by {h}"));
    }

    let body = run(
        engine.clone(),
        provisioning,
        desired.clone(),
        plan,
        progress.clone(),
        &lock.name,
        host_files,
    );
    let outcome = tokio::select! {
        r = body => r,
        _ = interrupted() => Err(EngineError::Refused(
            "interrupted: the deploy lock is released; run apply again to converge".into(),
        )),
    };
    progress.finish();
    let release_result = lock::release(&engine, &lock).await;
    let mut report = outcome?;
    release_result?;
    report.broke_stale_lock = broke;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Ctrl-C or SIGTERM.
async fn interrupted() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn ensure_images(
    engine: &Engine,
    desired: &Desired,
    progress: &dyn Progress,
) -> Result<(), EngineError> {
    let mut images: Vec<&str> = desired
        .containers
        .iter()
        .map(|c| c.image.as_str())
        .collect();
    images.sort();
    images.dedup();
    for image in images {
        match engine.docker.inspect_image(image).await {
            Ok(_) => continue,
            Err(e) if is_404(&e) => {}
            Err(e) => return Err(e.into()),
        }
        progress.update("images", &format!("pulling {image}"));
        let mut pull = engine.docker.create_image(
            Some(
                CreateImageOptionsBuilder::default()
                    .from_image(image)
                    .build(),
            ),
            None,
            None,
        );
        while let Some(step) = pull.next().await {
            step.map_err(|e| EngineError::Docker(format!("cannot pull {image}: {e}")))?;
        }
    }
    Ok(())
}

async fn run(
    engine: Arc<Engine>,
    provisioning: Option<Provisioning>,
    desired: Arc<Desired>,
    plan: &Plan,
    progress: Arc<dyn Progress>,
    lock_container: &str,
    host_files: Vec<u8>,
) -> Result<Report, EngineError> {
    recreate_networks(&engine, &desired, plan, progress.as_ref()).await?;
    ensure_networks(&engine, &desired).await?;
    upload(&engine, lock_container, host_files).await?;

    // Health and exits arrive as events; subscribe before anything starts.
    let (events_tx, _) = broadcast::channel::<(String, String)>(1024);
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        (
            "label".to_string(),
            vec![format!("{LABEL_PROJECT}={}", desired.project)],
        ),
    ]);
    let mut stream = engine.docker.events(Some(
        EventsOptionsBuilder::default().filters(&filters).build(),
    ));
    let forward = events_tx.clone();
    let listener = tokio::spawn(async move {
        while let Some(Ok(event)) = stream.next().await {
            let name = event
                .actor
                .and_then(|a| a.attributes)
                .and_then(|a| a.get("name").cloned())
                .unwrap_or_default();
            let _ = forward.send((name, event.action.unwrap_or_default()));
        }
    });

    let phases: Phases = desired
        .containers
        .iter()
        .map(|c| (c.service.clone(), watch::channel(Phase::Waiting)))
        .collect();
    let phases = Arc::new(phases);
    let mut tasks = Vec::new();
    for (index, container) in desired.containers.iter().enumerate() {
        let change = plan
            .services
            .iter()
            .find(|s| s.service == container.service)
            .cloned()
            .ok_or_else(|| {
                EngineError::Refused(format!("the plan does not cover `{}`", container.service))
            })?;
        let ctx = ServiceTask {
            engine: engine.clone(),
            provisioning: provisioning.clone(),
            desired: desired.clone(),
            index,
            action: change.action,
            phases: phases.clone(),
            events: events_tx.clone(),
            progress: progress.clone(),
        };
        tasks.push(tokio::spawn(ctx.run()));
    }
    let mut outcomes = Vec::new();
    let mut provisioned = Vec::new();
    for task in tasks {
        let (outcome, changes) = task
            .await
            .map_err(|e| EngineError::Docker(format!("a deploy task panicked: {e}")))?;
        outcomes.push(outcome);
        provisioned.extend(changes);
    }
    listener.abort();
    let ok = outcomes.iter().all(|o| o.error.is_none());

    let mut removed = Vec::new();
    if ok {
        for orphan in &plan.orphans {
            progress.update("orphans", &format!("removing {orphan}"));
            remove_container(&engine, orphan).await?;
            removed.push(orphan.clone());
        }
    }
    let recorded: Vec<releases::Outcome> = outcomes
        .iter()
        .map(|o| releases::Outcome {
            service: &o.service,
            action: o.action,
            result: &o.result,
        })
        .collect();
    let (release, entries) = releases::record(&desired, plan, &recorded, ok)?;
    upload(
        &engine,
        lock_container,
        super::archive::tar(Path::new(MOUNT), &entries)?,
    )
    .await?;
    match releases::prune(&engine, lock_container, &desired).await {
        Ok(0) => {}
        Ok(n) => progress.note(&format!(
            "pruned {n} old release file(s), keeping the newest {} release(s)",
            desired.keep_releases
        )),
        Err(e) => progress.note(&format!("release records not pruned: {e}")),
    }
    Ok(Report {
        release,
        ok,
        services: outcomes,
        provisioned,
        removed_orphans: removed,
        broke_stale_lock: None,
        seconds: 0.0,
    })
}

async fn ensure_networks(engine: &Engine, desired: &Desired) -> Result<(), EngineError> {
    for network in &desired.networks {
        match engine
            .docker
            .inspect_network(
                &network.name,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            Ok(existing) => {
                let subnet = existing
                    .ipam
                    .and_then(|i| i.config)
                    .and_then(|c| c.first().and_then(|c| c.subnet.clone()));
                if subnet.as_deref() != Some(network.subnet.as_str())
                    || existing.internal.unwrap_or(false) != network.internal
                {
                    return Err(EngineError::Refused(format!(
                        "network {} exists with subnet {} (internal: {}), the stack wants {} (internal: {}); run `vpai plan` again: it recreates the network",
                        network.name,
                        subnet.unwrap_or_default(),
                        existing.internal.unwrap_or(false),
                        network.subnet,
                        network.internal
                    )));
                }
            }
            Err(e) if is_404(&e) => create_network(engine, desired, network).await?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn create_network(
    engine: &Engine,
    desired: &Desired,
    network: &DesiredNetwork,
) -> Result<(), EngineError> {
    let short = network
        .name
        .strip_prefix(&format!("{}_", desired.project))
        .unwrap_or(&network.name);
    engine
        .docker
        .create_network(NetworkCreateRequest {
            name: network.name.clone(),
            driver: Some(network.driver.clone()),
            internal: Some(network.internal),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(network.subnet.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            labels: Some(HashMap::from([
                (LABEL_PROJECT.to_string(), desired.project.clone()),
                (
                    "com.docker.compose.project".to_string(),
                    desired.project.clone(),
                ),
                ("com.docker.compose.network".to_string(), short.to_string()),
            ])),
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// Each network the plan recreates: every container on it, running or stopped and
/// whoever made it, is disconnected (its aliases kept), the network removed and
/// created as the stack says, and the containers reconnected. A container the plan
/// also recreates, and the previous one a rollback would restart, find the new
/// network like any other.
async fn recreate_networks(
    engine: &Engine,
    desired: &Desired,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<(), EngineError> {
    for change in &plan.networks_to_recreate {
        let network = desired
            .networks
            .iter()
            .find(|n| n.name == change.network)
            .ok_or_else(|| {
                EngineError::Refused(format!(
                    "the plan recreates network {}, which the stack does not have",
                    change.network
                ))
            })?;
        progress.update(
            "networks",
            &format!(
                "recreating {} ({})",
                network.name,
                change.reasons.join("; ")
            ),
        );
        let on_it = engine
            .docker
            .list_containers(Some(
                bollard::query_parameters::ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&HashMap::from([(
                        "network".to_string(),
                        vec![network.name.clone()],
                    )]))
                    .build(),
            ))
            .await?;
        let mut attached = Vec::new();
        for summary in on_it {
            let Some(id) = summary.id else { continue };
            // The list leaves aliases out; the container's own record has them.
            let aliases = engine
                .docker
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await?
                .network_settings
                .and_then(|n| n.networks)
                .and_then(|mut n| n.remove(&network.name))
                .and_then(|e| e.aliases);
            engine
                .docker
                .disconnect_network(
                    &network.name,
                    NetworkDisconnectRequest {
                        container: id.clone(),
                        force: Some(true),
                    },
                )
                .await?;
            attached.push((id, aliases));
        }
        match engine.docker.remove_network(&network.name).await {
            Ok(()) => {}
            Err(e) if is_404(&e) => {}
            Err(e) => return Err(e.into()),
        }
        create_network(engine, desired, network).await?;
        for (id, aliases) in attached {
            engine
                .docker
                .connect_network(
                    &network.name,
                    NetworkConnectRequest {
                        container: id,
                        endpoint_config: Some(EndpointSettings {
                            aliases,
                            ..Default::default()
                        }),
                    },
                )
                .await?;
        }
    }
    Ok(())
}

async fn upload(engine: &Engine, container: &str, archive: Vec<u8>) -> Result<(), EngineError> {
    engine
        .docker
        .upload_to_container(
            container,
            Some(
                UploadToContainerOptionsBuilder::default()
                    .path(MOUNT)
                    .build(),
            ),
            bollard::body_full(archive.into()),
        )
        .await?;
    Ok(())
}
