//! The actual state of a host, read through the engine: the project's containers
//! (found by label, running or not) and networks.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
};

use super::desired::{
    LABEL_ENV_KEYS, LABEL_FILES, LABEL_HASH, LABEL_IMAGE, LABEL_PROJECT, LABEL_SERVICE,
    LABEL_SETTINGS,
};
use super::{Engine, EngineError};

#[derive(Debug, Clone)]
pub struct ActualContainer {
    pub id: String,
    pub name: String,
    pub service: String,
    pub running: bool,
    pub health: Option<String>,
    pub hash: String,
    pub image: String,
    pub settings_hash: String,
    pub file_digests: BTreeMap<String, String>,
    pub env_keys: Vec<String>,
    /// The container's environment (values included: compared, never printed).
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct ActualNetwork {
    pub name: String,
    pub subnet: Option<String>,
    pub internal: bool,
    pub driver: String,
}

#[derive(Debug, Clone, Default)]
pub struct Actual {
    pub containers: Vec<ActualContainer>,
    pub networks: Vec<ActualNetwork>,
}

impl Actual {
    pub fn container(&self, name: &str) -> Option<&ActualContainer> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// A digest of what the plan was computed against: a saved plan applies only
    /// if the host still matches it.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut lines: Vec<String> = self
            .containers
            .iter()
            .map(|c| format!("{} {} {} {}", c.name, c.id, c.hash, c.running))
            .chain(self.networks.iter().map(|n| {
                format!(
                    "net {} {} {} {}",
                    n.name,
                    n.subnet.as_deref().unwrap_or_default(),
                    n.internal,
                    n.driver
                )
            }))
            .collect();
        lines.sort();
        Sha256::digest(lines.join("\n").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The label filter that selects a project's containers and networks.
pub fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{LABEL_PROJECT}={project}")],
    )])
}

/// Every container of the project, running or not.
pub async fn project_containers(
    engine: &Engine,
    project: &str,
) -> Result<Vec<bollard::models::ContainerSummary>, EngineError> {
    let filters = project_filter(project);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    Ok(engine.docker.list_containers(Some(options)).await?)
}

pub async fn read(engine: &Engine, project: &str) -> Result<Actual, EngineError> {
    let filters = project_filter(project);
    let list = project_containers(engine, project).await?;
    let mut containers = Vec::new();
    for summary in list {
        let Some(id) = summary.id else { continue };
        let inspect = engine
            .docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await?;
        let labels = inspect
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        let Some(service) = labels.get(LABEL_SERVICE).cloned() else {
            continue;
        };
        let env = inspect
            .config
            .as_ref()
            .and_then(|c| c.env.clone())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let state = inspect.state.as_ref();
        containers.push(ActualContainer {
            id,
            name: inspect
                .name
                .clone()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            service,
            running: state.and_then(|s| s.running).unwrap_or(false),
            health: state
                .and_then(|s| s.health.as_ref())
                .and_then(|h| h.status)
                .map(|s| s.to_string()),
            hash: labels.get(LABEL_HASH).cloned().unwrap_or_default(),
            image: labels.get(LABEL_IMAGE).cloned().unwrap_or_default(),
            settings_hash: labels.get(LABEL_SETTINGS).cloned().unwrap_or_default(),
            file_digests: labels
                .get(LABEL_FILES)
                .and_then(|f| serde_json::from_str(f).ok())
                .unwrap_or_default(),
            env_keys: labels
                .get(LABEL_ENV_KEYS)
                .map(|k| {
                    k.split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            env,
        });
    }
    containers.sort_by(|a, b| a.name.cmp(&b.name));

    let networks = engine
        .docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await?
        .into_iter()
        .map(|n| ActualNetwork {
            name: n.name.unwrap_or_default(),
            subnet: n
                .ipam
                .and_then(|i| i.config)
                .and_then(|c| c.first().and_then(|c| c.subnet.clone())),
            internal: n.internal.unwrap_or(false),
            driver: n.driver.unwrap_or_default(),
        })
        .collect();
    Ok(Actual {
        containers,
        networks,
    })
}
