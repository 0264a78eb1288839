//! Backups without Docker: the resolved plan of the javisi example, the real
//! `restic` binary on local and SFTP repositories (init, backup, restore, GFS
//! retention with controlled snapshot times), the scheduler files judged by
//! `systemd-analyze verify`, the Qdrant hook's script against a stand-in API, and
//! the heartbeat against a stand-in Uptime Kuma.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Sshd, root};
use vpai::backup::heartbeat::{self, Status};
use vpai::backup::hooks::{Step, qdrant_snapshot_script};
use vpai::backup::restic::{Init, Labels, Restic};
use vpai::secrets::SecretValues;
use vpai::secrets::restic_env::ResticEnv;
use vpai::stack::Stack;
use vpai::stack::backup::{BackupJob, HostPlan, PLAN_FILE, Repository};

fn load_javisi(env: &str) -> (Stack, SecretValues) {
    common::stack_and_secrets(&root().join("examples/javisi"), env)
}

/// A stack written to a temporary directory, resolved for `prod`.
fn resolve(text: &str) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vpai.toml"), text).unwrap();
    vpai::stack::load(dir.path(), "prod").unwrap_or_else(|r| panic!("{:?}", r.diagnostics))
}

fn command_line(command: &[String]) -> String {
    command
        .iter()
        .map(|word| match word.lines().count() {
            0 | 1 => word.clone(),
            n => format!("<script of {n} lines>"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The plan as an operator would review it: every job, what it runs and where.
fn describe(stack: &Stack) -> String {
    let backup = stack.backup.as_ref().expect("the stack has [backup]");
    let project = &stack.project.name;
    let mut out = format!(
        "repository: {} ({:?})\nschedule: {:?}\nheartbeat: {}\n",
        backup.repository.url, backup.repository.kind, backup.schedule, backup.heartbeat
    );
    for secret in stack.secrets.values().filter(|s| s.owner == "backup") {
        let how = if secret.provided {
            "provided"
        } else {
            "generated"
        };
        out.push_str(&format!("secret: {} ({how})\n", secret.name));
    }
    for job in &backup.jobs {
        let r = job.retention;
        out.push_str(&format!(
            "\n[{}] {} at {}: {:?}\n  retention: {}d {}w {}m {}y\n",
            job.host, job.name, job.at, job.hook, r.daily, r.weekly, r.monthly, r.yearly
        ));
        if let Some(container) = job.container(project) {
            out.push_str(&format!("  container: {container}\n"));
        }
        if let Some(staging) = job.staging_dir(project) {
            out.push_str(&format!("  staging: {}\n", staging.display()));
        }
        for source in job.sources(project) {
            out.push_str(&format!("  restic backs up: {}\n", source.display()));
        }
        let labels = job.labels(project, &stack.env);
        out.push_str(&format!(
            "  snapshots: host {}, tags {}\n",
            labels.host,
            labels.tags.join(",")
        ));
        for step in job.steps() {
            let line = match step {
                Step::Capture { command, file } => {
                    format!("capture `{}` > {file}", command_line(&command))
                }
                Step::Run { command } => format!("run `{}`", command_line(&command)),
                Step::TriggerAndWait {
                    trigger,
                    probe,
                    timeout_secs,
                } => format!(
                    "run `{}`, wait until `{}` changes (at most {timeout_secs}s)",
                    command_line(&trigger),
                    command_line(&probe)
                ),
                Step::CopyOut { path, to } => format!("copy {path} out to {to}"),
            };
            out.push_str(&format!("  - {line}\n"));
        }
    }
    out
}

#[test]
fn environments_share_the_repositorys_secrets_and_nothing_else_by_default() {
    let (prod_stack, prod) = load_javisi("prod");
    let (_, preprod) = load_javisi("preprod");
    // One `[backup] repository` for both: each must open it.
    for name in ["restic_password", "backup_s3_access_key_id"] {
        assert!(prod_stack.secrets[name].shared, "{name}");
        assert_eq!(prod.get(name), preprod.get(name), "{name}");
    }
    assert!(!prod_stack.secrets["backup_heartbeat_url"].shared);
    assert_ne!(prod.get("db_n8n_password"), preprod.get("db_n8n_password"));
}

#[test]
fn the_javisi_backup_plan() {
    let (stack, _) = load_javisi("prod");
    insta::assert_snapshot!("plan-javisi-prod", describe(&stack));
    // Every database of the server is dumped, not only a default one.
    let pg = stack
        .backup
        .as_ref()
        .unwrap()
        .jobs
        .iter()
        .find(|j| j.name == "postgresql");
    let dumped: Vec<String> = pg
        .unwrap()
        .steps()
        .iter()
        .filter_map(|s| match s {
            Step::Capture { file, .. } => Some(file.clone()),
            _ => None,
        })
        .collect();
    let mut expected: Vec<String> = stack
        .databases
        .iter()
        .filter(|d| d.server == "postgresql")
        .map(|d| format!("{}.dump", d.name))
        .collect();
    expected.sort();
    expected.push("globals.sql".to_string());
    assert_eq!(dumped, expected);
}

#[test]
fn operators_override_jobs_and_custom_services_declare_hooks() {
    let stack = resolve(
        r#"[project]
name = "acme"
timezone = "Europe/Paris"
[backup]
repository = "sftp://backup@nas.example:2222//srv/restic"
schedule = "cron"
[backup.jobs.postgresql]
at = "01:30"
retention = { daily = 14, monthly = 12 }
[backup.jobs.configs]
enabled = false
[services.postgresql]
[services.api]
image = "registry.example/api:1.0"
port = 3000
databases = [{ name = "acme" }, { name = "audit" }]
data = { "/srv/uploads" = { owner = "1000" }, "/srv/cache" = { owner = "1000" } }
backup = { hook = "files", paths = ["/srv/uploads"], at = "Sat 04:00" }
"#,
    );
    insta::assert_snapshot!("plan-overrides", describe(&stack));
    let secrets: Vec<&str> = stack
        .secrets
        .values()
        .filter(|s| s.owner == "backup")
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(secrets, ["restic_password"], "no S3 keys, no heartbeat");

    let mut values = SecretValues::default();
    values.set("restic_password", "x".repeat(48));
    values.set("postgresql_password", "y".repeat(32));
    for db in &stack.databases {
        values.set(&db.password_secret, "z".repeat(32));
    }
    let bundle = vpai::render::render(&stack, &values).unwrap();
    let cron = &bundle
        .get("local/host/etc/cron.d/vpai-acme-backup")
        .unwrap()
        .content;
    insta::assert_snapshot!("cron-acme", cron);
    assert!(
        !bundle
            .files
            .keys()
            .any(|p| p.to_string_lossy().contains("systemd")),
        "cron replaces the timers"
    );
}

#[test]
fn the_bundle_carries_each_hosts_plan_and_private_credentials() {
    let (stack, values) = load_javisi("prod");
    let bundle = vpai::render::render(&stack, &values).unwrap();
    let backup = stack.backup.as_ref().unwrap();
    for host in ["vps", "workstation"] {
        let json = &bundle.get(&format!("{host}/{PLAN_FILE}")).unwrap().content;
        let plan: HostPlan = serde_json::from_str(json).unwrap();
        assert_eq!(plan, HostPlan::new("javisi", "prod", backup, host));
        assert!(plan.jobs.iter().all(|j| j.host == host));
        let env = bundle
            .get(&format!("{host}/configs/backup/backup.env"))
            .unwrap();
        assert_eq!(env.mode, 0o600);
        for (var, secret) in [
            ("RESTIC_PASSWORD", "restic_password"),
            ("AWS_SECRET_ACCESS_KEY", "backup_s3_secret_access_key"),
            ("VPAI_BACKUP_HEARTBEAT_URL", "backup_heartbeat_url"),
        ] {
            let value = values.get(secret).unwrap();
            assert!(
                env.content.contains(&format!("\n{var}={value}\n")),
                "{host}: {var}"
            );
        }
    }
    // The VPN server runs no service: no job, no backup file (only its Headscale
    // records and monitors).
    assert!(
        !bundle
            .files
            .keys()
            .any(|p| p.starts_with("vpn") && p.to_string_lossy().contains("backup"))
    );
}

#[test]
fn systemd_accepts_the_rendered_units() {
    let (stack, values) = load_javisi("prod");
    let bundle = vpai::render::render(&stack, &values).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for (path, file) in &bundle.files {
        if !path.starts_with("vps/host/etc/systemd/system") {
            continue;
        }
        // verify wants ExecStart to exist: this build stands in for the host's binary.
        let content = file.content.replace(
            vpai::render::schedule::HOST_BINARY,
            env!("CARGO_BIN_EXE_vpai"),
        );
        let unit = dir.path().join(path.file_name().unwrap());
        std::fs::write(&unit, content).unwrap();
        units.push(unit);
    }
    assert_eq!(
        units.len(),
        12,
        "a service and a timer for each of the six jobs"
    );
    // A judge that cannot fail proves nothing: a known-bad unit first.
    let bad = dir.path().join("vpai-known-bad.service");
    std::fs::write(&bad, "[Service]\nExecStart=relative/path\n").unwrap();
    let refused = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&bad)
        .output()
        .expect("systemd-analyze is not installed: bash .ci/run installs it");
    assert!(
        !refused.status.success(),
        "systemd-analyze verify accepted a relative ExecStart"
    );
    std::fs::remove_file(&bad).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}

// ---- restic ----

fn restic(repository: &str, password: &str) -> (Restic, Repository) {
    let repository = Repository::parse(repository).unwrap();
    let mut values = SecretValues::default();
    values.set("restic_password", password.to_string());
    let env = ResticEnv::new(&repository, &values).unwrap();
    (Restic::new(env), repository)
}

/// Files with text, binary and empty content, in nested directories.
fn sample_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("nested/deeper")).unwrap();
    std::fs::write(dir.join("n8n.dump"), b"PGDMP\x00\x01\xff binary dump").unwrap();
    std::fs::write(dir.join("globals.sql"), "CREATE ROLE n8n;\n").unwrap();
    std::fs::write(dir.join("nested/empty"), b"").unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(dir.join("nested/deeper/big.bin"), big).unwrap();
}

fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push((
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn labels(job: &str) -> Labels {
    Labels {
        host: "vps".to_string(),
        tags: vec!["project=t".to_string(), format!("job={job}")],
    }
}

/// Back up `source`, restore the snapshot elsewhere, compare every byte.
fn round_trip(restic: &Restic, tmp: &Path) {
    let source = tmp.join("postgresql");
    sample_tree(&source);
    let id = restic
        .backup(&[&source], &labels("postgresql"), None)
        .unwrap();
    let snapshots = restic.snapshots(Some(&labels("postgresql"))).unwrap();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[0].short_id, id);
    assert_eq!(snapshots[0].hostname, "vps");
    assert_eq!(snapshots[0].tags, labels("postgresql").tags);
    assert!(restic.snapshots(Some(&labels("redis"))).unwrap().is_empty());

    // Snapshots keep absolute paths: the tree comes back under the target.
    let under = |target: &Path| target.join(source.strip_prefix("/").unwrap());
    let target = tmp.join("restored");
    restic.restore(&id, &target, &[]).unwrap();
    assert_eq!(files_under(&under(&target)), files_under(&source));

    let only = tmp.join("one-file");
    let dump = source.join("n8n.dump");
    restic
        .restore("latest", &only, &[dump.to_str().unwrap()])
        .unwrap();
    let restored = files_under(&only);
    assert_eq!(restored.len(), 1, "{restored:?}");
    assert_eq!(
        restored[0].1,
        std::fs::read(source.join("n8n.dump")).unwrap()
    );
    restic.check().unwrap();
}

#[test]
fn a_local_repository_initialises_once_and_restores_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let (restic, _) = restic(repo.to_str().unwrap(), "correct horse battery staple");
    assert_eq!(restic.init().unwrap(), Init::Created);
    assert_eq!(restic.init().unwrap(), Init::Existing, "init is idempotent");
    round_trip(&restic, tmp.path());
}

#[test]
fn a_wrong_password_is_a_clear_error_that_never_shows_a_password() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let right = "TheRightPassword1";
    let wrong = "TheWrongPassword2";
    restic(repo.to_str().unwrap(), right).0.init().unwrap();
    let (intruder, _) = restic(repo.to_str().unwrap(), wrong);
    for error in [
        intruder.snapshots(None).unwrap_err(),
        intruder.init().unwrap_err(),
    ] {
        let text = format!("{error} {:?}", error.hint);
        assert!(text.contains("wrong password"), "{text}");
        assert!(
            error.hint.as_deref().unwrap().contains("restic_password"),
            "{text}"
        );
        assert!(!text.contains(wrong) && !text.contains(right), "{text}");
    }
    // restic echoes the repository path: a secret in it is redacted.
    let leaky = tmp.path().join(wrong).join("repo");
    let error = restic(leaky.to_str().unwrap(), wrong)
        .0
        .snapshots(None)
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("<secret:restic_password>") && !text.contains(wrong),
        "{text}"
    );
    assert!(
        error.hint.as_deref().unwrap().contains("initialise"),
        "{error:?}"
    );
}

/// Two and a half years of snapshots: daily for the last nine days, Sundays for
/// six weeks before, the 15th of each month this year, quarterly last year, two
/// in the year before.
const HISTORY: &[&str] = &[
    "2024-03-15",
    "2024-09-15",
    "2025-03-15",
    "2025-06-15",
    "2025-09-15",
    "2025-12-15",
    "2026-01-15",
    "2026-02-15",
    "2026-03-15",
    "2026-04-15",
    "2026-05-15",
    "2026-06-15",
    "2026-07-15",
    "2026-07-26",
    "2026-08-02",
    "2026-08-09",
    "2026-08-16",
    "2026-08-23",
    "2026-08-30",
    "2026-09-04",
    "2026-09-05",
    "2026-09-06",
    "2026-09-07",
    "2026-09-08",
    "2026-09-09",
    "2026-09-10",
    "2026-09-11",
    "2026-09-12",
];

/// 7d/4w/6m/2y worked out by hand on HISTORY, newest first:
/// - daily 7: Sep 12, 11, 10, 9, 8, 7, 6;
/// - weekly 4 (ISO weeks): W37 Sep 12, W36 Sep 6 (Sun), W35 Aug 30, W34 Aug 23;
/// - monthly 6: Sep 12, Aug 30, Jul 26 (not Jul 15), Jun 15, May 15, Apr 15;
/// - yearly 2: 2026 Sep 12, 2025 Dec 15. 2024 is gone.
const KEPT_7_4_6_2: &[&str] = &[
    "2025-12-15",
    "2026-04-15",
    "2026-05-15",
    "2026-06-15",
    "2026-07-26",
    "2026-08-23",
    "2026-08-30",
    "2026-09-06",
    "2026-09-07",
    "2026-09-08",
    "2026-09-09",
    "2026-09-10",
    "2026-09-11",
    "2026-09-12",
];

/// 7d/4w: the seven days, then the newest of ISO weeks W35 and W34.
const KEPT_7_4: &[&str] = &[
    "2026-08-23",
    "2026-08-30",
    "2026-09-06",
    "2026-09-07",
    "2026-09-08",
    "2026-09-09",
    "2026-09-10",
    "2026-09-11",
    "2026-09-12",
];

fn dates(restic: &Restic, labels: &Labels) -> Vec<String> {
    let mut dates: Vec<String> = restic
        .snapshots(Some(labels))
        .unwrap()
        .iter()
        .map(|s| s.time[..10].to_string())
        .collect();
    dates.sort();
    dates
}

#[test]
fn gfs_retention_keeps_exactly_the_snapshots_the_policy_names_and_jobs_keep_their_own() {
    // The jobs and their policies as resolution makes them.
    let stack = resolve(
        "[project]\nname = \"t\"\n[backup]\nrepository = \"/srv/restic\"\n\
         [services.postgresql]\n[services.redis]\n",
    );
    let jobs = &stack.backup.as_ref().unwrap().jobs;
    let job = |name: &str| -> &BackupJob { jobs.iter().find(|j| j.name == name).unwrap() };
    let (pg, redis) = (job("postgresql"), job("redis"));
    let (pg_labels, redis_labels) = (pg.labels("t", "prod"), redis.labels("t", "prod"));

    let tmp = tempfile::tempdir().unwrap();
    let (restic, _) = restic(tmp.path().join("repo").to_str().unwrap(), "retention");
    restic.init().unwrap();
    // Both jobs back up the same path, so only their labels tell them apart.
    let source = tmp.path().join("staging");
    sample_tree(&source);
    std::thread::scope(|scope| {
        for labels in [&pg_labels, &redis_labels] {
            let (restic, source) = (&restic, &source);
            scope.spawn(move || {
                for date in HISTORY {
                    let time = format!("{date} 12:00:00");
                    restic.backup(&[source], labels, Some(&time)).unwrap();
                }
            });
        }
    });
    assert_eq!(dates(&restic, &pg_labels).len(), HISTORY.len());

    let forgotten = restic.forget(&pg_labels, &pg.retention).unwrap();
    assert_eq!(forgotten.kept.len(), KEPT_7_4_6_2.len());
    assert_eq!(forgotten.removed.len(), HISTORY.len() - KEPT_7_4_6_2.len());
    assert_eq!(dates(&restic, &pg_labels), KEPT_7_4_6_2);
    assert_eq!(
        dates(&restic, &redis_labels).len(),
        HISTORY.len(),
        "the database job's retention left the Redis job alone"
    );

    restic.forget(&redis_labels, &redis.retention).unwrap();
    assert_eq!(dates(&restic, &redis_labels), KEPT_7_4);
    assert_eq!(dates(&restic, &pg_labels), KEPT_7_4_6_2, "and the reverse");
    restic.check().unwrap();
}

#[test]
fn an_sftp_repository_through_a_real_sshd() {
    let sshd = Sshd::start();
    let tmp = tempfile::tempdir().unwrap();
    let url = format!(
        "sftp://root@127.0.0.1:{}/{}",
        sshd.port,
        tmp.path().join("repo").display()
    );
    let (restic, repository) = restic(&url, "over ssh");
    let restic = restic.with_ssh_command(&format!("ssh -F {}", sshd.config.display()), &repository);
    assert_eq!(restic.init().unwrap(), Init::Created);
    assert!(
        tmp.path().join("repo/config").exists(),
        "created through sftp"
    );
    assert_eq!(restic.init().unwrap(), Init::Existing);
    round_trip(&restic, tmp.path());
}

// ---- hooks ----

/// The Qdrant hook's script, run by bash against a stand-in for Qdrant's API: it
/// lists the collections and snapshots each one, with the API key from the
/// environment, and fails on an error status.
#[test]
fn the_qdrant_script_snapshots_every_collection() {
    fn serve(responses: Vec<&'static str>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for body in responses {
                let (mut stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    request.push_str(&line);
                }
                seen.push(request);
                let status = if body.contains("error") {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\r\n{body}"
                )
                .unwrap();
            }
            seen
        });
        (port, handle)
    }
    let run = |port: u16| {
        Command::new("bash")
            .arg("-c")
            .arg(qdrant_snapshot_script(port))
            .env("QDRANT__SERVICE__API_KEY", "k3y")
            .output()
            .unwrap()
    };

    let (port, server) = serve(vec![
        r#"{"result":{"collections":[{"name":"memories"},{"name":"docs"}]},"status":"ok","time":0.1}"#,
        r#"{"result":{"name":"memories-1.snapshot"},"status":"ok"}"#,
        r#"{"result":{"name":"docs-1.snapshot"},"status":"ok"}"#,
    ]);
    let out = run(port);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = server.join().unwrap();
    let lines: Vec<&str> = requests.iter().map(|r| r.lines().next().unwrap()).collect();
    assert_eq!(
        lines,
        [
            "GET /collections HTTP/1.0",
            "POST /collections/memories/snapshots?wait=true HTTP/1.0",
            "POST /collections/docs/snapshots?wait=true HTTP/1.0",
        ]
    );
    assert!(requests.iter().all(|r| r.contains("api-key: k3y\r\n")));

    let (port, server) = serve(vec![r#"{"result":{"collections":[]},"status":"ok"}"#]);
    assert!(run(port).status.success(), "no collection, nothing to do");
    server.join().unwrap();

    let (port, server) = serve(vec![
        r#"{"result":{"collections":[{"name":"docs"}]},"status":"ok"}"#,
        r#"{"status":{"error":"disk full"}}"#,
    ]);
    let out = run(port);
    server.join().unwrap();
    assert!(!out.status.success(), "a failed snapshot fails the hook");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("500"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- heartbeat ----

/// A stand-in Uptime Kuma: answers one request with `body`, returns its request line.
fn kuma(status: &'static str, body: &'static str) -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        let mut rest = [0u8; 1024];
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(200)));
        let _ = reader.read(&mut rest);
        write!(
            stream,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        first.trim_end().to_string()
    });
    (port, handle)
}

#[tokio::test]
async fn the_heartbeat_pushes_the_status_and_never_shows_the_token() {
    let (port, server) = kuma("200 OK", r#"{"ok":true}"#);
    // The URL as Uptime Kuma shows it, query included: vpai sets its own.
    let url = format!("http://127.0.0.1:{port}/api/push/S3cr3tT0ken?status=up&msg=OK&ping=");
    heartbeat::push(&url, Status::Up, "OK").await.unwrap();
    assert_eq!(
        server.join().unwrap(),
        "GET /api/push/S3cr3tT0ken?status=up&msg=OK&ping= HTTP/1.1"
    );

    let (port, server) = kuma("200 OK", r#"{"ok":true}"#);
    let url = format!("http://127.0.0.1:{port}/api/push/S3cr3tT0ken");
    heartbeat::push(&url, Status::Down, "postgresql failed")
        .await
        .unwrap();
    assert_eq!(
        server.join().unwrap(),
        "GET /api/push/S3cr3tT0ken?status=down&msg=postgresql%20failed&ping= HTTP/1.1"
    );

    let (port, server) = kuma(
        "404 Not Found",
        r#"{"ok":false,"msg":"Monitor not found or not active."}"#,
    );
    let url = format!("http://127.0.0.1:{port}/api/push/S3cr3tT0ken");
    let error = heartbeat::push(&url, Status::Up, "OK").await.unwrap_err();
    server.join().unwrap();
    let refused_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = heartbeat::push(
        &format!("http://127.0.0.1:{refused_port}/api/push/S3cr3tT0ken"),
        Status::Up,
        "OK",
    )
    .await
    .unwrap_err();
    // An https URL is tried (TLS through rustls); this name resolves nowhere.
    let unresolved = heartbeat::push(
        "https://kuma.example/api/push/S3cr3tT0ken",
        Status::Up,
        "OK",
    )
    .await
    .unwrap_err();
    for error in [&error, &closed, &unresolved] {
        let text = error.to_string();
        assert!(!text.contains("S3cr3tT0ken"), "{text}");
        assert!(text.contains("heartbeat to http"), "{text}");
    }
    assert!(error.to_string().contains("404"), "{error}");
    assert_eq!(
        unresolved.to_string(),
        "heartbeat to https://kuma.example: cannot connect"
    );
}
