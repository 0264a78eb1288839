//! Release records on the host (`/opt/<project>/releases/`), read back through the
//! engine for `vpai rollback`.

use std::io::Read;

use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::desired::Desired;
use super::lock::{self, MOUNT};
use super::{Engine, EngineError};
use crate::stack::host_root;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Release {
    pub id: String,
    pub at: String,
    pub by: String,
    pub env: String,
    pub ok: bool,
    #[serde(skip)]
    pub desired: Option<Desired>,
}

/// Every recorded release, oldest first. `image` must exist on the host (it backs
/// the short-lived lock container that reads the directory).
pub async fn read(
    engine: &Engine,
    project: &str,
    image: &str,
) -> Result<Vec<Release>, EngineError> {
    let root = host_root(project);
    let held = lock::acquire(engine, project, image, &root).await?;
    let archive = download(engine, &held.name, &format!("{MOUNT}/releases")).await;
    lock::release(engine, &held).await?;
    let archive = archive?;
    let mut records = Vec::new();
    let mut desired = std::collections::HashMap::new();
    let mut tar = tar::Archive::new(&archive[..]);
    for entry in tar
        .entries()
        .map_err(|e| EngineError::Docker(e.to_string()))?
    {
        let mut entry = entry.map_err(|e| EngineError::Docker(e.to_string()))?;
        let name = entry
            .path()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let mut text = String::new();
        if entry.read_to_string(&mut text).is_err() {
            continue;
        }
        if let Some(id) = name.strip_suffix(".desired.json") {
            if let Ok(d) = serde_json::from_str::<Desired>(&text) {
                desired.insert(id.to_string(), d);
            }
        } else if name.ends_with(".json")
            && let Ok(r) = serde_json::from_str::<Release>(&text)
        {
            records.push(r);
        }
    }
    for r in &mut records {
        r.desired = desired.remove(&r.id);
    }
    records.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(records)
}

async fn download(engine: &Engine, container: &str, path: &str) -> Result<Vec<u8>, EngineError> {
    let mut stream = engine.docker.download_from_container(
        container,
        Some(
            DownloadFromContainerOptionsBuilder::default()
                .path(path)
                .build(),
        ),
    );
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk?);
    }
    Ok(bytes)
}
