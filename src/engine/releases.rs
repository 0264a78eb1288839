//! Release records on the host (`/opt/<project>/releases/`): written by every apply,
//! read back through the engine for `vpai rollback`.

use std::io::Read;

use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::desired::{Desired, HostEntry};
use super::lock;
use super::lock::MOUNT;
use super::plan::{Action, Plan};
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

/// How one service went, as a release records it.
pub struct Outcome<'a> {
    pub service: &'a str,
    pub action: Action,
    pub result: &'a str,
}

/// The files of a release under the project root: `releases/<id>.json` (what was
/// deployed, when, by whom, how it went) and `releases/<id>.desired.json` (the
/// desired state, env included, which `vpai rollback` restores); with the id.
pub fn record(
    desired: &Desired,
    plan: &Plan,
    outcomes: &[Outcome],
    ok: bool,
) -> (String, Vec<HostEntry>) {
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
                    result: outcome.map(|o| o.result).unwrap_or(""),
                }
            })
            .collect(),
    };
    let mut json = serde_json::to_string_pretty(&record).expect("serializes");
    json.push('\n');
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
    (id, entries)
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
