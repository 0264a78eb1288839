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
    /// Each service's configuration hash as deployed: what "the same as now" compares.
    #[serde(default)]
    pub services: Vec<RecordedService>,
    /// The desired state, age-encrypted to the stack's recipients.
    #[serde(skip)]
    pub sealed: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedService {
    pub service: String,
    pub hash: String,
}

impl Release {
    /// The recorded desired state, opened with the first identity of `candidates` that can.
    pub fn desired(&self, candidates: &[std::path::PathBuf]) -> Result<Desired, EngineError> {
        let sealed = self.sealed.as_ref().ok_or_else(|| {
            EngineError::Refused(format!("release `{}` has no recorded state", self.id))
        })?;
        let what = format!("release record {}{SEALED_SUFFIX}", self.id);
        let plain = crate::secrets::open(sealed.as_bytes(), candidates, &what)
            .map_err(|e| EngineError::Refused(e.to_string()))?;
        serde_json::from_slice(&plain).map_err(|e| {
            EngineError::Refused(format!(
                "release `{}`: the recorded state is unreadable: {e}",
                self.id
            ))
        })
    }
}

/// The desired state of a release, encrypted: `releases/<id>.desired.json.age`.
const SEALED_SUFFIX: &str = ".desired.json.age";
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
/// deployed, when, by whom, how it went; no secret) and
/// `releases/<id>.desired.json.age` (the desired state, env included, which
/// `vpai rollback` restores, encrypted to the desired state's `release_recipients`); with the id.
pub fn record(
    desired: &Desired,
    plan: &Plan,
    outcomes: &[Outcome],
    ok: bool,
) -> Result<(String, Vec<HostEntry>), EngineError> {
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
    let spec = crate::secrets::seal(
        serde_json::to_string(desired)
            .expect("serializes")
            .as_bytes(),
        &desired.release_recipients,
    )
    .map_err(|e| EngineError::Refused(format!("cannot seal the release record: {e}")))?;
    let spec = String::from_utf8(spec).expect("ASCII armor");
    let entries = vec![
        HostEntry {
            path: format!("releases/{id}.json"),
            mode: 0o600,
            uid: 0,
            gid: 0,
            content: Some(json),
        },
        HostEntry {
            path: format!("releases/{id}{SEALED_SUFFIX}"),
            mode: 0o600,
            uid: 0,
            gid: 0,
            content: Some(spec),
        },
    ];
    Ok((id, entries))
}

/// The files of `releases/` to remove so that the `keep` newest releases remain:
/// older records with their sealed state, and any plain-text state an earlier vpai
/// wrote (`<id>.desired.json`, which held secrets).
pub fn to_prune(names: &[String], keep: usize) -> Vec<String> {
    let mut ids: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_suffix(".json"))
        .filter(|id| !id.ends_with(".desired"))
        .collect();
    ids.sort_unstable();
    let old = &ids[..ids.len().saturating_sub(keep)];
    let mut out: Vec<String> = names
        .iter()
        .filter(|n| {
            n.ends_with(".desired.json")
                || old.iter().any(|id| {
                    n.strip_prefix(id)
                        .is_some_and(|rest| rest == ".json" || rest == SEALED_SUFFIX)
                })
        })
        .cloned()
        .collect();
    out.sort();
    out
}

/// Removes what [`to_prune`] names from the project's `releases/`, read through
/// the held lock container; the number of files removed.
pub async fn prune(
    engine: &Engine,
    lock_container: &str,
    desired: &Desired,
) -> Result<usize, EngineError> {
    let names: Vec<String> = files(engine, lock_container)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let doomed: Vec<String> = to_prune(&names, desired.keep_releases)
        .into_iter()
        .map(|n| format!("releases/{n}"))
        .collect();
    if doomed.is_empty() {
        return Ok(0);
    }
    let images: Vec<String> = desired.containers.iter().map(|c| c.image.clone()).collect();
    let paths: Vec<&str> = doomed.iter().map(String::as_str).collect();
    if super::ops::remove_under_root(engine, &desired.project, &images, &paths).await? {
        Ok(doomed.len())
    } else {
        Err(EngineError::Refused(format!(
            "cannot prune {} old release file(s): none of the stack's images can run `rm`",
            doomed.len()
        )))
    }
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
    let listed = files(engine, &held.name).await;
    lock::release(engine, &held).await?;
    let mut records = Vec::new();
    let mut desired = std::collections::HashMap::new();
    for (name, text) in listed? {
        if let Some(id) = name.strip_suffix(SEALED_SUFFIX) {
            desired.insert(id.to_string(), text);
        } else if name.ends_with(".json")
            && !name.ends_with(".desired.json")
            && let Ok(r) = serde_json::from_str::<Release>(&text)
        {
            records.push(r);
        }
    }
    for r in &mut records {
        r.sealed = desired.remove(&r.id);
    }
    records.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(records)
}

/// The files of the project's `releases/` (name, text), read through `container`,
/// which has the project root mounted; a file that is not text is left out.
async fn files(engine: &Engine, container: &str) -> Result<Vec<(String, String)>, EngineError> {
    let archive = download(engine, container, &format!("{MOUNT}/releases")).await?;
    let mut out = Vec::new();
    let mut tar = tar::Archive::new(&archive[..]);
    for entry in tar
        .entries()
        .map_err(|e| EngineError::Docker(e.to_string()))?
    {
        let mut entry = entry.map_err(|e| EngineError::Docker(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let Some(name) = entry
            .path()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        else {
            continue;
        };
        let mut text = String::new();
        if entry.read_to_string(&mut text).is_ok() {
            out.push((name, text));
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_records_and_drops_plain_text_state() {
        let names: Vec<String> = [
            "20261201-100000.000.json",
            "20261201-100000.000.desired.json",
            "20261202-100000.000.json",
            "20261202-100000.000.desired.json.age",
            "20261203-100000.000.json",
            "20261203-100000.000.desired.json.age",
            "20261204-100000.000.json",
            "20261204-100000.000.desired.json.age",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            to_prune(&names, 2),
            [
                "20261201-100000.000.desired.json",
                "20261201-100000.000.json",
                "20261202-100000.000.desired.json.age",
                "20261202-100000.000.json",
            ]
        );
        assert_eq!(to_prune(&names, 10), ["20261201-100000.000.desired.json"]);
        assert!(to_prune(&names[2..], 3).is_empty());
    }
}
