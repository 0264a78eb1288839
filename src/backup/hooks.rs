//! What a job does before restic reads its files: the commands run inside the
//! service's container (through the engine's `exec`, so nothing listens on a port
//! for it) and the files they leave in the job's staging directory.
//!
//! Each hook is a list of [`Step`]s, so the runner stays generic: it executes
//! steps, it does not know PostgreSQL from Redis. Secrets never appear in a
//! command: the tools read them from the container's own environment.

use std::path::PathBuf;

use crate::backup::restic::Labels;
use crate::stack::backup::{BackupJob, Hook};
use crate::stack::host_root;
use crate::stack::model::container_name;

/// One thing a hook does, in order; the first failure fails the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run `command` in the container; its standard output becomes `file` in the
    /// staging directory.
    Capture { command: Vec<String>, file: String },
    /// Run `command` in the container for its effect; a non-zero exit fails the job.
    Run { command: Vec<String> },
    /// Note `probe`'s output, run `trigger`, then run `probe` again until its output
    /// changes (Redis: `LASTSAVE` moves once `BGSAVE` has written the file); fail
    /// after `timeout_secs`.
    TriggerAndWait {
        trigger: Vec<String>,
        probe: Vec<String>,
        timeout_secs: u64,
    },
    /// Copy `path` (a file or a directory) out of the container into `to`, relative
    /// to the staging directory.
    CopyOut { path: String, to: String },
}

/// Where the n8n exports are written inside its container before they are copied out.
const N8N_EXPORT_DIR: &str = "/tmp/vpai-backup";
/// Qdrant's `snapshots_path` (catalog/templates/qdrant-production.yaml).
const QDRANT_SNAPSHOTS: &str = "/qdrant/snapshots";

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

impl BackupJob {
    /// The container the steps run in; `None` for a job that only reads host files.
    pub fn container(&self, project: &str) -> Option<String> {
        match (&self.hook, &self.service) {
            (Hook::Files { .. }, _) | (_, None) => None,
            (_, Some(service)) => Some(container_name(project, service)),
        }
    }

    /// `/opt/<project>/backups/<job>`: where the steps leave their files, emptied
    /// before each run. `None` for a `files` job, which restic reads in place.
    pub fn staging_dir(&self, project: &str) -> Option<PathBuf> {
        match self.hook {
            Hook::Files { .. } => None,
            _ => Some(PathBuf::from(format!(
                "{}/backups/{}",
                host_root(project),
                self.name
            ))),
        }
    }

    /// The host paths restic backs up.
    pub fn sources(&self, project: &str) -> Vec<PathBuf> {
        match &self.hook {
            Hook::Files { paths } => paths
                .iter()
                .map(|p| PathBuf::from(format!("{}/{p}", host_root(project))))
                .collect(),
            _ => self.staging_dir(project).into_iter().collect(),
        }
    }

    /// The restic host and tags of this job's snapshots: retention applies to
    /// exactly these, so two jobs, or one job in two environments, never prune
    /// each other in a shared repository.
    pub fn labels(&self, project: &str, env: &str) -> Labels {
        let mut tags = vec![
            format!("project={project}"),
            format!("env={env}"),
            format!("job={}", self.name),
        ];
        if let Some(service) = &self.service {
            tags.push(format!("service={service}"));
        }
        Labels {
            host: self.host.clone(),
            tags,
        }
    }

    pub fn steps(&self) -> Vec<Step> {
        match &self.hook {
            Hook::PgDump { databases } => {
                // The official image trusts local socket connections: no password
                // on the command line or in the environment of `exec`.
                let mut steps: Vec<Step> = databases
                    .iter()
                    .map(|db| Step::Capture {
                        command: argv(&[
                            "pg_dump",
                            "--username=postgres",
                            "--format=custom",
                            &format!("--dbname={db}"),
                        ]),
                        file: format!("{db}.dump"),
                    })
                    .collect();
                steps.push(Step::Capture {
                    command: argv(&["pg_dumpall", "--username=postgres", "--globals-only"]),
                    file: "globals.sql".to_string(),
                });
                steps
            }
            // redis-cli authenticates with REDISCLI_AUTH from the container's env;
            // 127.0.0.1, not localhost, which is ::1 first on Alpine (002 §2.1).
            Hook::RedisRdb => vec![
                Step::TriggerAndWait {
                    trigger: argv(&["redis-cli", "-h", "127.0.0.1", "BGSAVE"]),
                    probe: argv(&["redis-cli", "-h", "127.0.0.1", "LASTSAVE"]),
                    timeout_secs: 600,
                },
                Step::CopyOut {
                    path: "/data/dump.rdb".to_string(),
                    to: "dump.rdb".to_string(),
                },
            ],
            Hook::QdrantSnapshot { port } => vec![
                Step::Run {
                    command: argv(&["bash", "-c", &format!("rm -rf {QDRANT_SNAPSHOTS}/*")]),
                },
                Step::Run {
                    command: argv(&["bash", "-c", &qdrant_snapshot_script(*port)]),
                },
                Step::CopyOut {
                    path: QDRANT_SNAPSHOTS.to_string(),
                    to: "snapshots".to_string(),
                },
            ],
            // Credentials are exported as stored, encrypted with N8N_ENCRYPTION_KEY
            // (in secrets.age), never `--decrypted`.
            Hook::N8nExport => vec![
                Step::Run {
                    command: argv(&[
                        "sh",
                        "-c",
                        &format!("rm -rf {N8N_EXPORT_DIR} && mkdir -p {N8N_EXPORT_DIR}"),
                    ]),
                },
                Step::Run {
                    command: argv(&[
                        "n8n",
                        "export:workflow",
                        "--all",
                        &format!("--output={N8N_EXPORT_DIR}/workflows.json"),
                    ]),
                },
                Step::Run {
                    command: argv(&[
                        "n8n",
                        "export:credentials",
                        "--all",
                        &format!("--output={N8N_EXPORT_DIR}/credentials.json"),
                    ]),
                },
                Step::CopyOut {
                    path: N8N_EXPORT_DIR.to_string(),
                    to: "n8n".to_string(),
                },
            ],
            Hook::Files { .. } => Vec::new(),
        }
    }
}

/// Snapshot every collection through Qdrant's API from inside its container. The
/// image has neither curl nor wget (002 §5.1), only bash: HTTP/1.0 over
/// `/dev/tcp`, the API key read from the container's environment.
pub fn qdrant_snapshot_script(port: u16) -> String {
    format!(
        r#"set -euo pipefail
request() {{
  exec 3<>/dev/tcp/127.0.0.1/{port}
  printf '%s %s HTTP/1.0\r\nHost: qdrant\r\napi-key: %s\r\nContent-Length: 0\r\n\r\n' "$1" "$2" "$QDRANT__SERVICE__API_KEY" >&3
  local response
  response=$(cat <&3)
  exec 3<&-
  local status=${{response%%$'\r'*}}
  case $status in
    *" 200 "*) printf '%s' "${{response#*$'\r\n\r\n'}}" ;;
    *) echo "qdrant: $1 $2: $status" >&2; return 1 ;;
  esac
}}
collections=$(request GET /collections | {{ grep -o '"name":"[^"]*"' || true; }} | cut -d'"' -f4)
for collection in $collections; do
  request POST "/collections/$collection/snapshots?wait=true" >/dev/null
  echo "snapshot of $collection"
done
"#
    )
}
