//! `vpai backup run|restore|drill` against a live host: the hooks' steps through
//! the engine, their files staged on the machine that runs vpai, then restic.
//!
//! Data is pulled through the engine API (exec output, tar copies), so the runner
//! works the same from the host's timer and from an operator's machine or the VPN
//! server, as seed 001 §5.1's orchestrator pulls over the VPN: nothing listens on
//! a port for it, nothing is copied by SSH. A restore writes into production only
//! when asked (`restore`); a drill restores into a scratch container that shares no
//! volume, network or port with production, checks what came back, and removes it.

use crate::paths::within;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backup::error::BackupError;
use crate::backup::error::local;
use crate::backup::hooks::Step;
use crate::backup::restic::{Restic, Snapshot};
use crate::engine::lock::MOUNT;
use crate::engine::{Engine, provision, transfer};
use crate::stack::backup::{BackupJob, Hook};
use crate::stack::host_root;
use crate::stack::model::container_name;

/// What the runner needs from its caller.
pub struct Runner<'a> {
    pub engine: &'a Engine,
    pub project: &'a str,
    pub env: &'a str,
    pub restic: &'a Restic,
    /// Jobs stage their files under `staging_root/<job>`.
    pub staging_root: PathBuf,
    /// An image present on the host, for the container `files` jobs copy through.
    pub helper_image: String,
}

#[derive(Debug, Serialize)]
pub struct JobReport {
    pub job: String,
    pub ok: bool,
    pub snapshot: Option<String>,
    /// Staged files and their sizes in bytes.
    pub files: Vec<(String, u64)>,
    pub kept: usize,
    pub removed: usize,
    pub error: Option<String>,
    pub seconds: f64,
}

/// What a drill counted in one database: `(database, [(table, rows)])`, or
/// `("redis", [("keys", count)])`.
pub type Found = (String, Vec<(String, u64)>);

/// Where restored data was checked in a drill.
#[derive(Debug, Serialize)]
pub struct DrillReport {
    pub job: String,
    pub snapshot: String,
    pub found: Vec<Found>,
    pub seconds: f64,
}

impl Runner<'_> {
    fn staging(&self, job: &BackupJob) -> Result<PathBuf, BackupError> {
        Ok(within(&self.staging_root, &job.name)?)
    }

    /// Stage, back up, apply retention. Errors are in the report, never partial
    /// snapshots: restic runs only once every step succeeded.
    pub async fn run(&self, job: &BackupJob, time: Option<&str>) -> JobReport {
        let started = Instant::now();
        let mut report = JobReport {
            job: job.name.clone(),
            ok: false,
            snapshot: None,
            files: Vec::new(),
            kept: 0,
            removed: 0,
            error: None,
            seconds: 0.0,
        };
        let result = self.run_inner(job, time, &mut report).await;
        report.ok = result.is_ok();
        report.error = result.err().map(|e| e.report());
        report.seconds = started.elapsed().as_secs_f64();
        report
    }

    async fn run_inner(
        &self,
        job: &BackupJob,
        time: Option<&str>,
        report: &mut JobReport,
    ) -> Result<(), BackupError> {
        let staging = self.staging(job)?;
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(local("empty", &staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(local("create", &staging))?;
        match &job.hook {
            Hook::Files { paths } => self.stage_files(paths, &staging).await?,
            _ => {
                let container =
                    job.container(self.project)
                        .ok_or_else(|| BackupError::NoService {
                            job: job.name.clone(),
                        })?;
                for step in job.steps() {
                    self.step(&container, &step, &staging).await?;
                }
            }
        }
        report.files = list_files(&staging);
        let labels = job.labels(self.project, self.env);
        let restic = self.restic;
        let snapshot = tokio::task::block_in_place(|| {
            restic.init()?;
            restic.backup(&[staging.as_path()], &labels, time)
        })?;
        report.snapshot = Some(snapshot);
        let forgotten = tokio::task::block_in_place(|| restic.forget(&labels, &job.retention))?;
        report.kept = forgotten.kept.len();
        report.removed = forgotten.removed.len();
        Ok(())
    }

    async fn step(&self, container: &str, step: &Step, staging: &Path) -> Result<(), BackupError> {
        let engine = self.engine;
        match step {
            Step::Capture { command, file } => {
                let (code, stderr) =
                    transfer::exec_to_file(engine, container, command, &within(staging, file)?)
                        .await?;
                check_exit(command, code, &stderr)
            }
            Step::Run { command } => {
                let args: Vec<&str> = command.iter().map(String::as_str).collect();
                let (code, out) = provision::exec(engine, container, &args, None).await?;
                check_exit(command, code, &out)
            }
            Step::TriggerAndWait {
                trigger,
                probe,
                timeout_secs,
            } => {
                let run = |cmd: &[String]| {
                    let args: Vec<String> = cmd.to_vec();
                    async move {
                        let args: Vec<&str> = args.iter().map(String::as_str).collect();
                        let (code, out) = provision::exec(engine, container, &args, None).await?;
                        check_exit(&args, code, &out)?;
                        Ok::<String, BackupError>(out.trim().to_string())
                    }
                };
                let before = run(probe).await?;
                run(trigger).await?;
                let deadline = Instant::now() + Duration::from_secs(*timeout_secs);
                while run(probe).await? == before {
                    if Instant::now() > deadline {
                        return Err(BackupError::Timeout {
                            trigger: trigger.join(" "),
                            seconds: *timeout_secs,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(())
            }
            Step::CopyOut { path, to } => {
                let tar = transfer::copy_out(engine, container, path).await?;
                unpack_as(&tar, path, &within(staging, to)?)
            }
        }
    }

    /// A never-started container with the host's project root bind-mounted at
    /// [`MOUNT`], as the deploy lock has it: what data directories are copied
    /// through. Its name; the caller removes it.
    async fn files_helper(&self) -> Result<String, BackupError> {
        let helper = format!("vpai-backup-{}", self.project);
        transfer::create_with_bind(
            self.engine,
            &helper,
            &self.helper_image,
            &host_root(self.project),
            MOUNT,
        )
        .await?;
        Ok(helper)
    }

    /// `files` jobs: directories of the host's project root, copied out through
    /// [`Self::files_helper`].
    async fn stage_files(&self, paths: &[String], staging: &Path) -> Result<(), BackupError> {
        let helper = self.files_helper().await?;
        let mut result = Ok(());
        for path in paths {
            let copied = transfer::copy_out(self.engine, &helper, &format!("{MOUNT}/{path}")).await;
            result = match copied {
                Ok(tar) => within(staging, path)
                    .map_err(BackupError::from)
                    .and_then(|dest| unpack_as(&tar, path, &dest)),
                Err(e) => Err(BackupError::Unexpected(format!(
                    "cannot read {path} on the host: {e}"
                ))),
            };
            if result.is_err() {
                break;
            }
        }
        transfer::remove(self.engine, &helper).await?;
        result
    }

    /// The job's newest snapshot, or the one named (an id or its short form).
    pub fn snapshot(&self, job: &BackupJob, wanted: Option<&str>) -> Result<Snapshot, BackupError> {
        let labels = job.labels(self.project, self.env);
        let snapshots = tokio::task::block_in_place(|| self.restic.snapshots(Some(&labels)))?;
        let found = match wanted {
            Some(id) => snapshots
                .into_iter()
                .find(|s| s.id.starts_with(id) || s.short_id == id),
            None => snapshots.into_iter().last(),
        };
        found.ok_or_else(|| match wanted {
            Some(id) => BackupError::UnknownSnapshot {
                job: job.name.clone(),
                wanted: id.to_string(),
            },
            None => BackupError::NoSnapshotYet {
                job: job.name.clone(),
            },
        })
    }

    /// The snapshot's files, restored under a temporary directory; returns that
    /// directory (kept alive by the caller) and the job's staged directory inside.
    fn fetch(&self, snapshot: &Snapshot) -> Result<(tempfile::TempDir, PathBuf), BackupError> {
        let scratch = tempfile::tempdir().map_err(local("create", &std::env::temp_dir()))?;
        tokio::task::block_in_place(|| self.restic.restore(&snapshot.id, scratch.path(), &[]))?;
        let path = snapshot.paths.first().ok_or_else(|| {
            BackupError::Incomplete(format!("{} holds no path", snapshot.short_id))
        })?;
        let inside = within(scratch.path(), path.trim_start_matches('/'))?;
        Ok((scratch, inside))
    }

    /// Bring the job's service back to `snapshot` in production. PostgreSQL: each
    /// database is dropped and recreated from its dump (roles first, from the
    /// globals). Redis: the server is stopped, its AOF set aside, the RDB put back
    /// as the base of a new AOF, then started again.
    pub async fn restore(
        &self,
        job: &BackupJob,
        snapshot: &Snapshot,
    ) -> Result<Vec<String>, BackupError> {
        let Some(service) = &job.service else {
            return Err(BackupError::Rendered {
                job: job.name.clone(),
                snapshot: snapshot.short_id.clone(),
            });
        };
        let container = container_name(self.project, service);
        let (_scratch, staged) = self.fetch(snapshot)?;
        match &job.hook {
            Hook::PgDump { databases } => {
                self.restore_postgres(&container, databases, &staged, true)
                    .await
            }
            Hook::RedisRdb => self.restore_redis(&container, &staged).await,
            Hook::Files { paths } => self.restore_files(&container, paths, &staged).await,
            other => Err(BackupError::NotBuilt {
                what: "restoring",
                kind: format!("{:?}", other.kind()),
                snapshot: snapshot.short_id.clone(),
            }),
        }
    }

    /// Data directories copied back through a container that has the project root
    /// bind-mounted, with the service stopped meanwhile. Files written since the
    /// snapshot and absent from it are left in place.
    async fn restore_files(
        &self,
        container: &str,
        paths: &[String],
        staged: &Path,
    ) -> Result<Vec<String>, BackupError> {
        let mut archives = Vec::new();
        for path in paths {
            let source = within(staged, path)?;
            let (parent, name) = match path.rsplit_once('/') {
                Some((parent, name)) => (format!("/{parent}"), name),
                None => (String::new(), path.as_str()),
            };
            let mut builder = tar::Builder::new(Vec::new());
            builder
                .append_dir_all(name, &source)
                .map_err(local("read", &source))?;
            let tar = builder.into_inner().map_err(local("read", &source))?;
            archives.push((path, parent, tar));
        }
        let helper = self.files_helper().await?;
        transfer::stop(self.engine, container).await?;
        let mut done = Vec::new();
        let mut result = Ok(());
        for (path, parent, tar) in archives {
            result = transfer::copy_in(self.engine, &helper, &format!("{MOUNT}{parent}"), tar)
                .await
                .map_err(BackupError::from);
            if result.is_err() {
                break;
            }
            done.push(format!("{path} restored"));
        }
        // The service comes back whatever happened to the copy.
        let started = transfer::start(self.engine, container).await;
        transfer::remove(self.engine, &helper).await?;
        result?;
        started.map_err(BackupError::from)?;
        Ok(done)
    }

    async fn restore_postgres(
        &self,
        container: &str,
        databases: &[String],
        staged: &Path,
        drop_first: bool,
    ) -> Result<Vec<String>, BackupError> {
        let mut done = Vec::new();
        let globals = staged.join("globals.sql");
        if globals.exists() {
            // Roles that exist already make `CREATE ROLE` fail: expected, not fatal.
            let sql = std::fs::read(&globals).map_err(local("read", &globals))?;
            provision::exec(
                self.engine,
                container,
                &[
                    "psql",
                    "--username=postgres",
                    "--dbname=postgres",
                    "--quiet",
                ],
                Some(&sql),
            )
            .await?;
        }
        for db in databases {
            let dump = within(staged, format!("{db}.dump"))?;
            let Ok(bytes) = std::fs::read(&dump) else {
                return Err(BackupError::Incomplete(format!("has no dump of `{db}`")));
            };
            if drop_first {
                let drop = [
                    "dropdb",
                    "--username=postgres",
                    "--if-exists",
                    "--force",
                    db.as_str(),
                ];
                let (code, out) = provision::exec(self.engine, container, &drop, None).await?;
                check_exit(&drop, code, &out)?;
            }
            let restore = [
                "pg_restore",
                "--username=postgres",
                "--create",
                "--exit-on-error",
                "--dbname=postgres",
            ];
            let (code, out) =
                provision::exec(self.engine, container, &restore, Some(&bytes)).await?;
            check_exit(&restore, code, &out)?;
            done.push(format!("database `{db}` restored"));
        }
        Ok(done)
    }

    async fn restore_redis(
        &self,
        container: &str,
        staged: &Path,
    ) -> Result<Vec<String>, BackupError> {
        let bytes = read_rdb(staged)?;
        let engine = self.engine;
        let (uid, gid) = self.data_owner(container).await?;
        // Stop appending and set the AOF aside first: on start Redis prefers the
        // AOF to the RDB, and on stop it would write its current data over ours.
        for cmd in [
            vec![
                "redis-cli",
                "-h",
                "127.0.0.1",
                "CONFIG",
                "SET",
                "appendonly",
                "no",
            ],
            vec!["redis-cli", "-h", "127.0.0.1", "CONFIG", "SET", "save", ""],
        ] {
            let (code, out) = provision::exec(engine, container, &cmd, None).await?;
            check_exit(&cmd, code, &out)?;
        }
        let set_aside = [
            "sh",
            "-c",
            "rm -rf /data/appendonlydir.vpai-restore && if [ -d /data/appendonlydir ]; then mv /data/appendonlydir /data/appendonlydir.vpai-restore; fi",
        ];
        let (code, out) = provision::exec(engine, container, &set_aside, None).await?;
        check_exit(&set_aside, code, &out)?;
        transfer::stop(engine, container).await?;
        transfer::copy_in(
            engine,
            container,
            "/data",
            redis_restore_tar(&bytes, uid, gid),
        )
        .await?;
        transfer::start(engine, container).await?;
        Ok(vec![format!(
            "redis data restored ({} bytes of RDB); the previous AOF is kept in /data/appendonlydir.vpai-restore",
            bytes.len()
        )])
    }

    /// Restore the snapshot into a scratch container and check what came back,
    /// without touching production: PostgreSQL dumps are restored and every table
    /// counted; a Redis RDB is loaded and its keys counted.
    pub async fn drill(
        &self,
        job: &BackupJob,
        snapshot: &Snapshot,
    ) -> Result<DrillReport, BackupError> {
        let started = Instant::now();
        let production = job
            .container(self.project)
            .ok_or_else(|| BackupError::NoService {
                job: job.name.clone(),
            })?;
        if !matches!(job.hook, Hook::PgDump { .. } | Hook::RedisRdb) {
            return Err(BackupError::NotBuilt {
                what: "a drill",
                kind: format!("{:?}", job.hook.kind()),
                snapshot: snapshot.short_id.clone(),
            });
        }
        let (_scratch, staged) = self.fetch(snapshot)?;
        let owner = match job.hook {
            Hook::RedisRdb => Some(self.data_owner(&production).await?),
            _ => None,
        };
        let drill = format!("vpai-drill-{}-{}", self.project, job.name);
        transfer::create_drill(self.engine, &production, &drill).await?;
        let result: Result<Vec<Found>, BackupError> = async {
            if let Some((uid, gid)) = owner {
                let rdb = read_rdb(&staged)?;
                transfer::copy_in(
                    self.engine,
                    &drill,
                    "/data",
                    redis_restore_tar(&rdb, uid, gid),
                )
                .await?;
            }
            transfer::start(self.engine, &drill).await?;
            self.wait_healthy(&drill, Duration::from_secs(120)).await?;
            match &job.hook {
                Hook::PgDump { databases } => {
                    self.restore_postgres(&drill, databases, &staged, false)
                        .await?;
                    let mut found = Vec::new();
                    for db in databases {
                        found.push((db.clone(), self.row_counts(&drill, db).await?));
                    }
                    Ok(found)
                }
                _ => {
                    let cmd = ["redis-cli", "-h", "127.0.0.1", "DBSIZE"];
                    let (code, out) = provision::exec(self.engine, &drill, &cmd, None).await?;
                    check_exit(&cmd, code, &out)?;
                    let keys = out.trim().parse().map_err(|_| {
                        BackupError::Unexpected(format!("DBSIZE answered `{}`", out.trim()))
                    })?;
                    Ok(vec![(
                        "redis".to_string(),
                        vec![("keys".to_string(), keys)],
                    )])
                }
            }
        }
        .await;
        transfer::remove(self.engine, &drill).await?;
        Ok(DrillReport {
            job: job.name.clone(),
            snapshot: snapshot.short_id.clone(),
            found: result?,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The owner of `/data` in a running Redis container: restored files must be
    /// the server's user's.
    async fn data_owner(&self, container: &str) -> Result<(u64, u64), BackupError> {
        let owner = ["stat", "-c", "%u %g", "/data"];
        let (code, out) = provision::exec(self.engine, container, &owner, None).await?;
        check_exit(&owner, code, &out)?;
        out.trim()
            .split_once(' ')
            .and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)))
            .ok_or_else(|| {
                BackupError::Unexpected(format!("cannot read the owner of /data: {out}"))
            })
    }

    async fn wait_healthy(&self, container: &str, limit: Duration) -> Result<(), BackupError> {
        let deadline = Instant::now() + limit;
        loop {
            let health = transfer::health(self.engine, container).await?;
            match health.as_str() {
                "healthy" => return Ok(()),
                "unhealthy" | "exited" | "dead" => {
                    return Err(BackupError::Unexpected(format!(
                        "the drill container is {health}"
                    )));
                }
                _ if Instant::now() > deadline => {
                    return Err(BackupError::Unexpected(format!(
                        "the drill container is not healthy after {}s",
                        limit.as_secs()
                    )));
                }
                _ => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }

    /// Exact row counts of every table of `db` (not the planner's estimates).
    async fn row_counts(
        &self,
        container: &str,
        db: &str,
    ) -> Result<Vec<(String, u64)>, BackupError> {
        let query = "SELECT format('SELECT %L, count(*) FROM %I.%I', schemaname || '.' || tablename, schemaname, tablename) \
                     FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \
                     ORDER BY schemaname, tablename \\gexec\n";
        let dbname = format!("--dbname={db}");
        let cmd = [
            "psql",
            "--username=postgres",
            dbname.as_str(),
            "--no-align",
            "--tuples-only",
            "--field-separator=|",
            "--set=ON_ERROR_STOP=1",
        ];
        let (code, out) =
            provision::exec(self.engine, container, &cmd, Some(query.as_bytes())).await?;
        check_exit(&cmd, code, &out)?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('|'))
            .filter_map(|(table, n)| Some((table.to_string(), n.trim().parse().ok()?)))
            .collect())
    }
}

fn check_exit(command: &[impl AsRef<str>], code: i64, output: &str) -> Result<(), BackupError> {
    if code == 0 {
        return Ok(());
    }
    let command: Vec<&str> = command.iter().map(AsRef::as_ref).collect();
    let output = output.trim();
    let tail: String = output
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    Err(BackupError::Exited {
        command: command.join(" "),
        code,
        tail,
    })
}

/// A Redis job's RDB in a restored snapshot.
fn read_rdb(staged: &Path) -> Result<Vec<u8>, BackupError> {
    std::fs::read(staged.join("dump.rdb"))
        .map_err(|_| BackupError::Incomplete("has no dump.rdb".to_string()))
}

/// Unpack the engine's tar of `source` so that its content lands at `dest`.
fn unpack_as(tar: &[u8], source: &str, dest: &Path) -> Result<(), BackupError> {
    let parent = dest
        .parent()
        .ok_or_else(|| BackupError::Unexpected(format!("{} has no parent", dest.display())))?;
    let unpack_dir = parent.join(".vpai-unpack");
    std::fs::create_dir_all(&unpack_dir).map_err(local("create", &unpack_dir))?;
    let mut archive = tar::Archive::new(tar);
    // Owners matter: a restore hands the files back to the service's user. Only
    // root may set them; anyone else stages them as their own.
    archive.set_preserve_ownerships(running_as_root());
    archive.set_preserve_permissions(true);
    archive
        .unpack(&unpack_dir)
        .map_err(local("unpack into", &unpack_dir))?;
    let top = Path::new(source.trim_end_matches('/'))
        .file_name()
        .ok_or_else(|| BackupError::Unexpected(format!("{source} names no file")))?;
    std::fs::rename(unpack_dir.join(top), dest).map_err(local("write", dest))?;
    std::fs::remove_dir_all(&unpack_dir).map_err(local("remove", &unpack_dir))
}

/// `/proc/self` belongs to the process's effective user.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The RDB as Redis 7 finds it at start with `appendonly yes`: a server with AOF
/// on loads only its AOF and ignores `dump.rdb`, so the RDB also becomes the base
/// of a fresh multi-part AOF (a manifest naming it, no increment), all owned by
/// the server's user so that it can read them and append.
fn redis_restore_tar(rdb: &[u8], uid: u64, gid: u64) -> Vec<u8> {
    let manifest: &[u8] = b"file appendonly.aof.1.base.rdb seq 1 type b\n";
    let file_mode = 0o600;
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let entries: [(&str, &[u8], tar::EntryType, u32); 4] = [
        ("dump.rdb", rdb, tar::EntryType::Regular, file_mode),
        ("appendonlydir/", &[], tar::EntryType::Directory, 0o755),
        (
            "appendonlydir/appendonly.aof.1.base.rdb",
            rdb,
            tar::EntryType::Regular,
            file_mode,
        ),
        (
            "appendonlydir/appendonly.aof.manifest",
            manifest,
            tar::EntryType::Regular,
            file_mode,
        ),
    ];
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content, kind, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(content.len() as u64);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_mtime(mtime);
        builder
            .append_data(&mut header, name, content)
            .expect("writing to memory");
    }
    builder.into_inner().expect("writing to memory")
}

/// Every file under `dir`, relative, with its size, in name order.
fn list_files(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) => out.push((
                    path.strip_prefix(dir)
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                    m.len(),
                )),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}
