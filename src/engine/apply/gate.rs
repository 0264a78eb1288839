//! The health gate: a container is ready when it runs and, if it has a health
//! check, when the daemon's events say healthy, within the patience its check allows.

use super::task::{Failure, ServiceTask, TaskError};
use super::*;

impl ServiceTask {
    /// Running, and healthy when the container has a healthcheck.
    pub(super) async fn wait_ready(
        &self,
        c: &DesiredContainer,
        events: &mut broadcast::Receiver<(String, String)>,
    ) -> Result<(), Failure> {
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
                .map_err(|e| (e.into(), None))?;
            let state = inspect.state.unwrap_or_default();
            let running = state.running.unwrap_or(false);
            if !running
                && !state.restarting.unwrap_or(false)
                && state
                    .started_at
                    .as_deref()
                    .is_some_and(|s| !s.starts_with("0001"))
            {
                return Err((TaskError::Exited(state.exit_code.unwrap_or(-1)), None));
            }
            let health = state.health.and_then(|h| h.status).map(|s| s.to_string());
            if running && !c.has_health {
                self.set(Phase::Started);
                return Ok(());
            }
            match health.as_deref() {
                Some("healthy") => return Ok(()),
                Some("unhealthy") => return Err((TaskError::Unhealthy, None)),
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
                    return Err((TaskError::NotHealthy(c.health_timeout_secs), None));
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
    pub(super) async fn early_probe(&self, c: &DesiredContainer, running: bool) -> bool {
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
            || crate::engine::desired::supports_start_interval(&self.engine.api_version)
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
}
