//! One service's task in the walk: wait for its dependencies, converge its container
//! (create, start, or recreate keeping the previous one aside), pass the health
//! gate, provision a database server, and report how it went.

use super::*;

/// Why a service's task stopped.
#[derive(Debug, thiserror::Error)]
pub(super) enum TaskError {
    #[error("not started: dependency `{0}` failed")]
    DependencyFailed(String),
    #[error("dependency `{0}` never became ready")]
    DependencyGone(String),
    #[error("exited with code {0}")]
    Exited(i64),
    #[error("failed its healthcheck")]
    Unhealthy,
    #[error("not healthy within {0}s")]
    NotHealthy(u64),
    #[error("{0}; rolled back to the previous container")]
    RolledBack(Box<TaskError>),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A failure, and the tail of the new container's logs when it got that far.
pub(super) type Failure = (TaskError, Option<String>);

pub(super) struct ServiceTask {
    pub(super) engine: Arc<Engine>,
    pub(super) provisioning: Option<Provisioning>,
    pub(super) desired: Arc<Desired>,
    pub(super) index: usize,
    pub(super) action: Action,
    pub(super) phases: Arc<Phases>,
    pub(super) events: broadcast::Sender<(String, String)>,
    pub(super) progress: Arc<dyn Progress>,
}

impl ServiceTask {
    pub(super) fn container(&self) -> &DesiredContainer {
        &self.desired.containers[self.index]
    }

    pub(super) fn set(&self, phase: Phase) {
        let _ = self.phases[&self.container().service].0.send(phase);
    }

    pub(super) async fn run(self) -> (ServiceOutcome, Vec<String>) {
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
                Err(e) => Err((e.into(), None)),
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
                outcome.error = Some(e.to_string());
                outcome.logs = logs;
                self.set(Phase::Failed);
            }
        }
        (outcome, provisioned)
    }

    pub(super) async fn wait_for_dependencies(
        &self,
        c: &DesiredContainer,
    ) -> Result<(), TaskError> {
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
                    (Phase::Failed, _) => {
                        return Err(TaskError::DependencyFailed(dep.clone()));
                    }
                    _ => {}
                }
                if rx.changed().await.is_err() {
                    return Err(TaskError::DependencyGone(dep.clone()));
                }
            }
        }
        Ok(())
    }

    /// Bring the container to its desired state; on failure, the error and the
    /// tail of the new container's logs.
    pub(super) async fn converge(&self, c: &DesiredContainer) -> Result<(), Failure> {
        let docker = &self.engine.docker;
        let err = |e: DockerError| (TaskError::from(e), None);
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
                    .map_err(|e| (e.into(), None))?;
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
                            .map_err(|e| (e.into(), None))?;
                        Ok(())
                    }
                    Err((e, _)) => {
                        let logs = self.logs_tail(&c.name).await;
                        self.progress
                            .update(&c.service, "rolling back to the previous container");
                        remove_container(&self.engine, &c.name)
                            .await
                            .map_err(|e| (e.into(), None))?;
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
                        Err((TaskError::RolledBack(Box::new(e)), logs))
                    }
                };
            }
        }
        match self.wait_ready(c, &mut events).await {
            Ok(()) => Ok(()),
            Err((e, _)) => Err((e, self.logs_tail(&c.name).await)),
        }
    }

    pub(super) async fn create_and_start(&self, c: &DesiredContainer) -> Result<(), Failure> {
        self.create(c).await?;
        self.start(c).await
    }

    pub(super) async fn start(&self, c: &DesiredContainer) -> Result<(), Failure> {
        self.progress.update(&c.service, "starting");
        self.engine
            .docker
            .start_container(&c.name, None::<StartContainerOptions>)
            .await
            .map_err(|e| (e.into(), None))
    }

    /// Create the container and attach its networks, without starting it.
    pub(super) async fn create(&self, c: &DesiredContainer) -> Result<(), Failure> {
        let docker = &self.engine.docker;
        let err = |e: DockerError| (TaskError::from(e), None);
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

    pub(super) async fn logs_tail(&self, name: &str) -> Option<String> {
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

    pub(super) async fn provision(&self, c: &DesiredContainer) -> Result<Vec<String>, TaskError> {
        let Some(Provisioning { stack, secrets }) = &self.provisioning else {
            return Ok(Vec::new());
        };
        let Some(service) = stack.services.get(&c.service) else {
            return Ok(Vec::new());
        };
        let mut changes = Vec::new();
        if stack.databases.iter().any(|d| d.server == service.name) {
            self.progress.update(&c.service, "provisioning databases");
            changes.extend(provision::postgres(&self.engine, stack, service, secrets).await?);
        }
        if service.generates(crate::stack::kinds::Generator::RedisConf)
            && stack.services.values().any(|s| s.redis_user.is_some())
        {
            self.progress.update(&c.service, "provisioning ACL users");
            changes.extend(provision::redis(&self.engine, stack, service, secrets).await?);
        }
        Ok(changes)
    }
}
