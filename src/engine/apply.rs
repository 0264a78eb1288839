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

use crate::console::stderrln;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::errors::Error as DockerError;
use bollard::models::{
    EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder,
    InspectContainerOptions, LogsOptionsBuilder, RenameContainerOptionsBuilder,
    StartContainerOptions, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::desired::{Desired, DesiredContainer, HostEntry, LABEL_PROJECT};
use super::lock::{self, MOUNT};
use super::plan::{Action, Plan};
use super::{Engine, EngineError, provision, remove_container};
use crate::secrets::SecretValues;
use crate::stack::Stack;
use crate::stack::host_root;
use crate::stack::kinds::Condition;

/// How far a service got.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Waiting,
    Started,
    Ready,
    Failed(String),
}

/// Each service's phase, published by its task and watched by its dependents.
type Phases = HashMap<String, (watch::Sender<Phase>, watch::Receiver<Phase>)>;

/// Progress reporting: live lines on a terminal, plain log lines otherwise.
pub trait Progress: Send + Sync {
    fn update(&self, service: &str, message: &str);
    fn finish(&self) {}
}

/// Plain lines, for logs and CI.
pub struct LogProgress;

impl Progress for LogProgress {
    fn update(&self, service: &str, message: &str) {
        stderrln!("{service}: {message}");
    }
}

/// One live line per service (indicatif), for a terminal.
pub struct LiveProgress {
    bars: HashMap<String, indicatif::ProgressBar>,
    _multi: indicatif::MultiProgress,
}

impl LiveProgress {
    pub fn new(services: &[String]) -> Self {
        let multi = indicatif::MultiProgress::new();
        let style = indicatif::ProgressStyle::with_template("{spinner} {prefix:<20} {msg}")
            .expect("valid template");
        let bars = services
            .iter()
            .map(|s| {
                let bar = multi.add(indicatif::ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(s.clone());
                bar.set_message("waiting");
                bar.enable_steady_tick(Duration::from_millis(120));
                (s.clone(), bar)
            })
            .collect();
        LiveProgress {
            bars,
            _multi: multi,
        }
    }
}

impl Progress for LiveProgress {
    fn update(&self, service: &str, message: &str) {
        if let Some(bar) = self.bars.get(service) {
            bar.set_message(message.to_string());
        }
    }

    fn finish(&self) {
        for bar in self.bars.values() {
            bar.finish();
        }
    }
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
        progress.update("lock", &format!("broke a stale deploy lock left by {h}"));
    }

    let body = run(
        engine.clone(),
        provisioning,
        desired.clone(),
        plan,
        progress.clone(),
        &lock.name,
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
) -> Result<Report, EngineError> {
    ensure_networks(&engine, &desired).await?;
    upload(&engine, lock_container, &desired.entries).await?;

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
    let release = write_release(&engine, lock_container, &desired, plan, &outcomes, ok).await?;
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
                        "network {} exists with subnet {} (internal: {}), the stack wants {} (internal: {}); remove it with `vpai down` first",
                        network.name,
                        subnet.unwrap_or_default(),
                        existing.internal.unwrap_or(false),
                        network.subnet,
                        network.internal
                    )));
                }
            }
            Err(e) if is_404(&e) => {
                let short = network
                    .name
                    .strip_prefix(&format!("{}_", desired.project))
                    .unwrap_or(&network.name);
                engine
                    .docker
                    .create_network(NetworkCreateRequest {
                        name: network.name.clone(),
                        driver: Some("bridge".into()),
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
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn upload(
    engine: &Engine,
    container: &str,
    entries: &[HostEntry],
) -> Result<(), EngineError> {
    let archive = super::archive::tar(entries);
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

struct ServiceTask {
    engine: Arc<Engine>,
    provisioning: Option<Provisioning>,
    desired: Arc<Desired>,
    index: usize,
    action: Action,
    phases: Arc<Phases>,
    events: broadcast::Sender<(String, String)>,
    progress: Arc<dyn Progress>,
}

impl ServiceTask {
    fn container(&self) -> &DesiredContainer {
        &self.desired.containers[self.index]
    }

    fn set(&self, phase: Phase) {
        let _ = self.phases[&self.container().service].0.send(phase);
    }

    async fn run(self) -> (ServiceOutcome, Vec<String>) {
        let c = self.container().clone();
        let started = Instant::now();
        let mut outcome = ServiceOutcome {
            service: c.service.clone(),
            action: self.action,
            depends_on: c.depends_on.iter().map(|(d, _)| d.clone()).collect(),
            result: String::new(),
            error: None,
            logs: None,
            seconds: 0.0,
        };
        let mut provisioned = Vec::new();
        // A new container is created while its dependencies get ready, so only
        // starting it stays on the critical path.
        let prepared = if self.action == Action::Create {
            self.progress.update(&c.service, "creating");
            match remove_container(&self.engine, &c.name).await {
                Ok(()) => self.create(&c).await,
                Err(e) => Err((e.to_string(), None)),
            }
        } else {
            Ok(())
        };
        // A container that stays as it is keeps running whatever its dependencies do.
        let waited = match prepared {
            Err(e) => Err(e),
            Ok(()) if self.action == Action::Unchanged => Ok(()),
            Ok(()) => self.wait_for_dependencies(&c).await.map_err(|e| (e, None)),
        };
        let result = match waited {
            Err(e) => Err(e),
            Ok(()) => {
                // Its own time: start to ready, provisioning included (consumers wait
                // for it, as they would for an image's init scripts).
                let timer = Instant::now();
                let r = match self.converge(&c).await {
                    Ok(()) => self
                        .provision(&c)
                        .await
                        .map(|p| provisioned = p)
                        .map_err(|e| (e, None)),
                    Err(e) => Err(e),
                };
                outcome.seconds = timer.elapsed().as_secs_f64();
                r
            }
        };
        match result {
            Ok(()) => {
                outcome.result = match self.action {
                    Action::Unchanged => "unchanged",
                    Action::Create => "created",
                    Action::Recreate => "recreated",
                    Action::Start => "started",
                }
                .to_string();
                self.progress.update(
                    &c.service,
                    &format!(
                        "{} ({:.1}s)",
                        outcome.result,
                        started.elapsed().as_secs_f64()
                    ),
                );
                self.set(Phase::Ready);
            }
            Err((e, logs)) => {
                outcome.result = "failed".to_string();
                self.progress.update(&c.service, &format!("FAILED: {e}"));
                outcome.error = Some(e.clone());
                outcome.logs = logs;
                self.set(Phase::Failed(e));
            }
        }
        (outcome, provisioned)
    }

    async fn wait_for_dependencies(&self, c: &DesiredContainer) -> Result<(), String> {
        for (dep, condition) in &c.depends_on {
            let Some((_, rx)) = self.phases.get(dep) else {
                continue;
            };
            let mut rx = rx.clone();
            self.progress
                .update(&c.service, &format!("waiting for {dep}"));
            loop {
                let phase = rx.borrow_and_update().clone();
                match (phase, condition) {
                    (Phase::Ready, _) | (Phase::Started, Condition::Started) => break,
                    (Phase::Failed(_), _) => {
                        return Err(format!("not started: dependency `{dep}` failed"));
                    }
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return Err(format!("dependency `{dep}` never became ready"));
                }
            }
        }
        Ok(())
    }

    /// Bring the container to its desired state; on failure, the error and the
    /// tail of the new container's logs.
    async fn converge(&self, c: &DesiredContainer) -> Result<(), (String, Option<String>)> {
        let docker = &self.engine.docker;
        let err = |e: DockerError| (e.to_string(), None);
        let mut events = self.events.subscribe();
        match self.action {
            Action::Unchanged => {}
            Action::Start => {
                self.progress.update(&c.service, "starting");
                docker
                    .start_container(&c.name, None::<StartContainerOptions>)
                    .await
                    .map_err(err)?;
            }
            // Created (and its networks attached) while its dependencies got ready.
            Action::Create => self.start(c).await?,
            Action::Recreate => {
                self.progress.update(&c.service, "replacing");
                let previous = format!("{}.vpai-previous", c.name);
                remove_container(&self.engine, &previous)
                    .await
                    .map_err(|e| (e.to_string(), None))?;
                docker
                    .stop_container(
                        &c.name,
                        Some(StopContainerOptionsBuilder::default().t(20).build()),
                    )
                    .await
                    .or_else(|e| if is_404(&e) { Ok(()) } else { Err(e) })
                    .map_err(err)?;
                docker
                    .rename_container(
                        &c.name,
                        RenameContainerOptionsBuilder::default()
                            .name(&previous)
                            .build(),
                    )
                    .await
                    .map_err(err)?;
                let result = match self.create_and_start(c).await {
                    Ok(()) => self.wait_ready(c, &mut events).await,
                    Err(e) => Err(e),
                };
                return match result {
                    Ok(()) => {
                        remove_container(&self.engine, &previous)
                            .await
                            .map_err(|e| (e.to_string(), None))?;
                        Ok(())
                    }
                    Err((e, _)) => {
                        let logs = self.logs_tail(&c.name).await;
                        self.progress
                            .update(&c.service, "rolling back to the previous container");
                        remove_container(&self.engine, &c.name)
                            .await
                            .map_err(|e| (e.to_string(), None))?;
                        docker
                            .rename_container(
                                &previous,
                                RenameContainerOptionsBuilder::default()
                                    .name(&c.name)
                                    .build(),
                            )
                            .await
                            .map_err(err)?;
                        docker
                            .start_container(&c.name, None::<StartContainerOptions>)
                            .await
                            .map_err(err)?;
                        Err((format!("{e}; rolled back to the previous container"), logs))
                    }
                };
            }
        }
        match self.wait_ready(c, &mut events).await {
            Ok(()) => Ok(()),
            Err((e, _)) => Err((e, self.logs_tail(&c.name).await)),
        }
    }

    async fn create_and_start(&self, c: &DesiredContainer) -> Result<(), (String, Option<String>)> {
        self.create(c).await?;
        self.start(c).await
    }

    async fn start(&self, c: &DesiredContainer) -> Result<(), (String, Option<String>)> {
        self.progress.update(&c.service, "starting");
        self.engine
            .docker
            .start_container(&c.name, None::<StartContainerOptions>)
            .await
            .map_err(|e| (e.to_string(), None))
    }

    /// Create the container and attach its networks, without starting it.
    async fn create(&self, c: &DesiredContainer) -> Result<(), (String, Option<String>)> {
        let docker = &self.engine.docker;
        let err = |e: DockerError| (e.to_string(), None);
        docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name(&c.name)
                        .build(),
                ),
                c.spec.clone(),
            )
            .await
            .map_err(err)?;
        // API 1.41 accepts one network at creation; the others are connected before start.
        for network in c.networks.iter().skip(1) {
            docker
                .connect_network(
                    network,
                    NetworkConnectRequest {
                        container: c.name.clone(),
                        endpoint_config: Some(EndpointSettings {
                            aliases: Some(c.aliases()),
                            ..Default::default()
                        }),
                    },
                )
                .await
                .map_err(err)?;
        }
        Ok(())
    }

    /// Running, and healthy when the container has a healthcheck.
    async fn wait_ready(
        &self,
        c: &DesiredContainer,
        events: &mut broadcast::Receiver<(String, String)>,
    ) -> Result<(), (String, Option<String>)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(c.health_timeout_secs);
        self.progress.update(
            &c.service,
            if c.has_health {
                "waiting for health"
            } else {
                "waiting to run"
            },
        );
        loop {
            // The current state first: an event may have passed before we listened.
            let inspect = self
                .engine
                .docker
                .inspect_container(&c.name, None::<InspectContainerOptions>)
                .await
                .map_err(|e| (e.to_string(), None))?;
            let state = inspect.state.unwrap_or_default();
            let running = state.running.unwrap_or(false);
            if !running
                && !state.restarting.unwrap_or(false)
                && state
                    .started_at
                    .as_deref()
                    .is_some_and(|s| !s.starts_with("0001"))
            {
                return Err((
                    format!("exited with code {}", state.exit_code.unwrap_or(-1)),
                    None,
                ));
            }
            let health = state.health.and_then(|h| h.status).map(|s| s.to_string());
            if running && !c.has_health {
                self.set(Phase::Started);
                return Ok(());
            }
            match health.as_deref() {
                Some("healthy") => return Ok(()),
                Some("unhealthy") => return Err(("failed its healthcheck".to_string(), None)),
                _ if running => self.set(Phase::Started),
                _ => {}
            }
            let next_event = async {
                loop {
                    match events.recv().await {
                        Ok((name, action)) if name == c.name => {
                            if action.starts_with("health_status")
                                || action == "die"
                                || action == "start"
                            {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => return,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            };
            let early = self.early_probe(c, running);
            let wait = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    _ = next_event => false,
                    passed = early => passed,
                }
            })
            .await;
            match wait {
                Err(_) => {
                    return Err((
                        format!("not healthy within {}s", c.health_timeout_secs),
                        None,
                    ));
                }
                Ok(true) => return Ok(()),
                Ok(false) => {}
            }
        }
    }

    /// Daemons before Engine 25 (API 1.44) run a container's first healthcheck only
    /// after a full `interval`; newer ones re-check every second during
    /// `start_period` (`start_interval`). On an old daemon vpai runs the very same
    /// test itself through `exec`, twice a second, so a dependent starts as soon as
    /// the service answers rather than up to an interval later. Resolves `true` once
    /// the test passes; never resolves on a new daemon or without a healthcheck.
    async fn early_probe(&self, c: &DesiredContainer, running: bool) -> bool {
        let test = c
            .spec
            .healthcheck
            .as_ref()
            .and_then(|h| h.test.clone())
            .unwrap_or_default();
        let argv: Vec<String> = match test.first().map(String::as_str) {
            Some("CMD") => test[1..].to_vec(),
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
            _ => Vec::new(),
        };
        if !running
            || argv.is_empty()
            || super::desired::supports_start_interval(&self.engine.api_version)
        {
            return std::future::pending().await;
        }
        let timeout = Duration::from_nanos(
            c.spec
                .healthcheck
                .as_ref()
                .and_then(|h| h.timeout)
                .unwrap_or(5_000_000_000)
                .max(0) as u64,
        );
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let probe =
                tokio::time::timeout(timeout, provision::exec(&self.engine, &c.name, &argv, None))
                    .await;
            if let Ok(Ok((0, _))) = probe {
                self.progress.update(&c.service, "answers its healthcheck");
                return true;
            }
        }
    }

    async fn logs_tail(&self, name: &str) -> Option<String> {
        let mut stream = self.engine.docker.logs(
            name,
            Some(
                LogsOptionsBuilder::default()
                    .stdout(true)
                    .stderr(true)
                    .tail("20")
                    .build(),
            ),
        );
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&chunk.to_string());
        }
        (!text.is_empty()).then_some(text)
    }

    async fn provision(&self, c: &DesiredContainer) -> Result<Vec<String>, String> {
        let Some(Provisioning { stack, secrets }) = &self.provisioning else {
            return Ok(Vec::new());
        };
        let Some(service) = stack.services.get(&c.service) else {
            return Ok(Vec::new());
        };
        let mut changes = Vec::new();
        if stack.databases.iter().any(|d| d.server == service.name) {
            self.progress.update(&c.service, "provisioning databases");
            changes.extend(
                provision::postgres(&self.engine, stack, service, secrets)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        if service.catalog.as_deref() == Some("redis")
            && stack.services.values().any(|s| s.redis_user.is_some())
        {
            self.progress.update(&c.service, "provisioning ACL users");
            changes.extend(
                provision::redis(&self.engine, stack, service, secrets)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok(changes)
    }
}

#[derive(Serialize)]
struct ReleaseRecord<'a> {
    id: &'a str,
    at: String,
    by: String,
    project: &'a str,
    host: &'a str,
    env: &'a str,
    ok: bool,
    services: Vec<ReleaseService<'a>>,
}

#[derive(Serialize)]
struct ReleaseService<'a> {
    service: &'a str,
    image: &'a str,
    hash: &'a str,
    action: Action,
    result: &'a str,
}

/// `/opt/<project>/releases/<id>.json`: what was deployed, when, by whom, how it went.
async fn write_release(
    engine: &Engine,
    lock_container: &str,
    desired: &Desired,
    plan: &Plan,
    outcomes: &[ServiceOutcome],
    ok: bool,
) -> Result<String, EngineError> {
    let now = std::time::SystemTime::now();
    let stamp = humantime::format_rfc3339_millis(now).to_string();
    let id = stamp
        .replace([':', '-'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string();
    let holder = lock::Holder::me();
    let record = ReleaseRecord {
        id: &id,
        at: stamp,
        by: format!("{}@{}", holder.user, holder.machine),
        project: &desired.project,
        host: &desired.host,
        env: &plan.env,
        ok,
        services: desired
            .containers
            .iter()
            .map(|c| {
                let outcome = outcomes.iter().find(|o| o.service == c.service);
                ReleaseService {
                    service: &c.service,
                    image: &c.image,
                    hash: &c.hash,
                    action: outcome.map(|o| o.action).unwrap_or(Action::Unchanged),
                    result: outcome.map(|o| o.result.as_str()).unwrap_or(""),
                }
            })
            .collect(),
    };
    let mut json = serde_json::to_string_pretty(&record).expect("serializes");
    json.push('\n');
    // The desired state, env included, so `vpai rollback` can restore this release.
    let spec = serde_json::to_string(desired).expect("serializes");
    let entries = vec![
        HostEntry {
            path: format!("releases/{id}.json"),
            mode: 0o600,
            uid: 0,
            gid: 0,
            content: Some(json),
        },
        HostEntry {
            path: format!("releases/{id}.desired.json"),
            mode: 0o600,
            uid: 0,
            gid: 0,
            content: Some(spec),
        },
    ];
    upload(engine, lock_container, &entries).await?;
    Ok(id)
}
