//! What a live host runs, read through the engine as the CIS Docker Benchmark
//! (§5, container runtime) looks at it: every container, vpai's or not.
//!
//! Only facts are read here; judging them is `host::audit`'s job, so the rules can
//! be tested on facts without a daemon.

use bollard::query_parameters::{InspectContainerOptions, ListContainersOptionsBuilder};
use serde::Serialize;

use super::desired::{LABEL_PROJECT, LABEL_SERVICE};
use super::{Engine, EngineError};

#[derive(Debug, Clone, Serialize)]
pub struct PublishedPort {
    /// The interface address it is bound to; empty, `0.0.0.0` or `::` is all of them.
    pub host_ip: String,
    pub host_port: String,
    /// `80/tcp`.
    pub container_port: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bind {
    pub source: String,
    pub target: String,
    pub read_write: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContainerFacts {
    pub name: String,
    pub image: String,
    pub running: bool,
    /// `vpai.project` and `vpai.service` labels: set on what vpai deployed.
    pub project: Option<String>,
    pub service: Option<String>,
    pub privileged: bool,
    pub network_mode: String,
    pub pid_mode: String,
    pub ipc_mode: String,
    pub uts_mode: String,
    pub userns_mode: String,
    pub ports: Vec<PublishedPort>,
    pub binds: Vec<Bind>,
    /// Bytes; 0 is no limit.
    pub memory: i64,
    /// `None` or a value <= 0 is no limit.
    pub pids_limit: Option<i64>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
}

/// Every container of the engine, running or not, in name order.
pub async fn read(engine: &Engine) -> Result<Vec<ContainerFacts>, EngineError> {
    let options = ListContainersOptionsBuilder::default().all(true).build();
    let mut facts = Vec::new();
    for summary in engine.docker.list_containers(Some(options)).await? {
        let Some(id) = summary.id else { continue };
        // A container listed a moment ago may be gone.
        let Ok(inspect) = engine
            .docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await
        else {
            continue;
        };
        let config = inspect.config.unwrap_or_default();
        let labels = config.labels.unwrap_or_default();
        let host = inspect.host_config.unwrap_or_default();
        let mut ports = Vec::new();
        for (container_port, bindings) in host.port_bindings.unwrap_or_default() {
            for binding in bindings.unwrap_or_default() {
                ports.push(PublishedPort {
                    host_ip: binding.host_ip.unwrap_or_default(),
                    host_port: binding.host_port.unwrap_or_default(),
                    container_port: container_port.clone(),
                });
            }
        }
        ports.sort_by(|a, b| (&a.host_port, &a.host_ip).cmp(&(&b.host_port, &b.host_ip)));
        let binds = inspect
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.typ.as_deref() == Some("bind"))
            .map(|m| Bind {
                source: m.source.unwrap_or_default(),
                target: m.destination.unwrap_or_default(),
                read_write: m.rw.unwrap_or(true),
            })
            .collect();
        facts.push(ContainerFacts {
            name: inspect
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: config.image.unwrap_or_default(),
            running: inspect.state.and_then(|s| s.running).unwrap_or(false),
            project: labels.get(LABEL_PROJECT).cloned(),
            service: labels.get(LABEL_SERVICE).cloned(),
            privileged: host.privileged.unwrap_or(false),
            network_mode: host.network_mode.unwrap_or_default(),
            pid_mode: host.pid_mode.unwrap_or_default(),
            ipc_mode: host.ipc_mode.unwrap_or_default(),
            uts_mode: host.uts_mode.unwrap_or_default(),
            userns_mode: host.userns_mode.unwrap_or_default(),
            ports,
            binds,
            memory: host.memory.unwrap_or(0),
            pids_limit: host.pids_limit,
            cap_add: host.cap_add.unwrap_or_default(),
            cap_drop: host.cap_drop.unwrap_or_default(),
            security_opt: host.security_opt.unwrap_or_default(),
        });
    }
    facts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(facts)
}
