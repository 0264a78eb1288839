//! End to end against this machine's real Docker engine: `examples/local` (real
//! PostgreSQL, Redis and Caddy from the test images of `tests/images/`, built by
//! `.ci/run`, and HTTP stubs for the rest), each test under its own project name. The tests share the standard subnets, so they run one at a
//! time (a process-wide lock), each with its own project, removed at the end.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Outcome, Sshd, root, run, vpai};

static SERIAL: Mutex<()> = Mutex::new(());

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn require_images() {
    for image in [
        "vpai-test/debian:bookworm",
        "vpai-test/stub:broken",
        "vpai-test/caddy:2.11",
    ] {
        let ok = Command::new("docker")
            .args(["image", "inspect", image])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            ok.is_ok_and(|s| s.success()),
            "test image {image} is missing: run `bash tests/images/build-all.sh` (or `bash .ci/run`)"
        );
    }
}

/// One project on the local engine, from `tests/e2e/vpai.toml`.
struct E2e {
    project: String,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl E2e {
    fn new(name: &str) -> E2e {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        require_images();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("stack");
        let identity = tmp.path().join("identity.txt");
        let init = run(vpai()
            .args(["init", "--defaults", "--name", "seed"])
            .arg(tmp.path().join("seed"))
            .arg("--identity-out")
            .arg(&identity));
        assert_eq!(init.code, 0, "{}", init.stderr);
        let recipient = std::fs::read_to_string(&identity)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
            .unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let project = format!("e2e{name}");
        // examples/local under this test's name, encrypted to this test's identity.
        let example = std::fs::read_to_string(root().join("examples/local/vpai.toml")).unwrap();
        let text: String = example
            .lines()
            .filter(|l| !l.starts_with("identity = "))
            .map(|l| match l {
                l if l.starts_with("name = ") => format!("name = \"{project}\""),
                l if l.starts_with("recipients = ") => format!("recipients = [\"{recipient}\"]"),
                l => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(dir.join("vpai.toml"), text).unwrap();
        let e = E2e {
            project,
            dir,
            _tmp: tmp,
            _serial: serial,
        };
        e.cleanup();
        let sync = e.vpai(&["secrets", "sync", "-C"]);
        assert_eq!(sync.code, 0, "{}", sync.stderr);
        let mut set = e.command(&["secrets", "set", "nocodb_api_token", "-C"]);
        set.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = set.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"test-nocodb-token\n")
            .unwrap();
        assert!(child.wait_with_output().unwrap().status.success());
        e
    }

    fn identity(&self) -> PathBuf {
        self.dir.parent().unwrap().join("identity.txt")
    }

    /// `vpai ARGS DIR`, with this stack's identity.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = vpai();
        cmd.args(args)
            .arg(&self.dir)
            .env("VPAI_IDENTITY", self.identity());
        cmd
    }

    fn vpai(&self, args: &[&str]) -> Outcome {
        run(&mut self.command(args))
    }

    fn up(&self) -> Outcome {
        let out = self.vpai(&["up"]);
        assert_eq!(
            out.code, 0,
            "vpai up failed:\n{}\n{}",
            out.stdout, out.stderr
        );
        out
    }

    fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("vpai.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "`{from}` not in the stack");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    fn container(&self, service: &str) -> String {
        format!("{}_{service}", self.project)
    }

    /// name -> (id, image, health) of every container of the project.
    fn containers(&self) -> Vec<(String, String, String, String)> {
        let ids = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=vpai.project={}", self.project),
        ]);
        let mut out: Vec<_> = ids
            .lines()
            .filter_map(|id| {
                // A container listed a moment ago may be gone (an apply is running).
                let out = Command::new("docker")
                    .args([
                        "inspect",
                        "-f",
                        "{{.Name}}|{{.Id}}|{{.Config.Image}}|{{json .State}}",
                        id,
                    ])
                    .output()
                    .ok()
                    .filter(|o| o.status.success())?;
                let f = String::from_utf8_lossy(&out.stdout).trim().to_string();
                let p: Vec<&str> = f.splitn(4, '|').collect();
                let state: serde_json::Value = serde_json::from_str(p[3]).unwrap();
                let health = state["Health"]["Status"]
                    .as_str()
                    .or(state["Status"].as_str())
                    .unwrap_or_default();
                Some((
                    p[0].trim_start_matches('/').to_string(),
                    p[1].to_string(),
                    p[2].to_string(),
                    health.to_string(),
                ))
            })
            .collect();
        out.sort();
        out
    }

    fn id(&self, service: &str) -> String {
        docker(&["inspect", "-f", "{{.Id}}", &self.container(service)])
    }

    fn secret(&self, name: &str) -> String {
        let out = self.vpai(&["secrets", "show", name, "--reveal", "-C"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout.trim().to_string()
    }

    /// Ids of the project's networks, one per line.
    fn networks(&self) -> String {
        docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=vpai.project={}", self.project),
        ])
    }

    /// `psql` as the superuser inside the PostgreSQL container.
    fn psql(&self, database: &str, sql: &str) -> String {
        docker(&[
            "exec",
            &self.container("postgresql"),
            "psql",
            "-h",
            "/tmp",
            "-U",
            "postgres",
            "-d",
            database,
            "-Atc",
            sql,
        ])
    }

    fn host_root(&self) -> PathBuf {
        PathBuf::from("/opt").join(&self.project)
    }

    fn cleanup(&self) {
        let ids = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=vpai.project={}", self.project),
        ]);
        for id in ids.lines() {
            docker(&["rm", "-f", id]);
        }
        let _ = Command::new("docker")
            .args(["rm", "-f", &format!("vpai-lock-{}", self.project)])
            .output();
        let nets = self.networks();
        for id in nets.lines() {
            docker(&["network", "rm", id]);
        }
        let _ = std::fs::remove_dir_all(self.host_root());
    }
}

impl Drop for E2e {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// HTTPS through the published Caddy, with SNI and Host for `site`.
fn https(site: &str, path: &str) -> (String, String) {
    let out = Command::new("curl")
        .args([
            "-sk",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "--max-time",
            "10",
            "--resolve",
        ])
        .arg(format!("{site}:18443:127.0.0.1"))
        .arg(format!("https://{site}:18443{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (code.to_string(), body.to_string())
}

/// `https` until it answers `want` or `limit` passes; the last answer.
fn https_within(site: &str, path: &str, want: &str, limit: Duration) -> (String, String) {
    let deadline = Instant::now() + limit;
    loop {
        let answer = https(site, path);
        if answer.0 == want || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn all_healthy(e: &E2e, expected: usize) {
    // vpai may see a service answer its healthcheck (it runs the test itself on
    // daemons without start_interval) before Docker's first scheduled check.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let containers = e.containers();
        let healthy = containers.iter().all(|c| c.3 == "healthy");
        if (healthy && containers.len() == expected) || Instant::now() > deadline {
            assert_eq!(containers.len(), expected, "{containers:?}");
            for (name, _, _, health) in &containers {
                assert_eq!(health, "healthy", "{name}");
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn cold_apply_converges_provisions_routes_and_guards_the_vpn() {
    let e = E2e::new("cold");
    let out = e.up();
    assert!(out.stderr.contains("converged"), "{}", out.stderr);
    all_healthy(&e, 9);

    // Provisioned: every role logs in with the password its consumer got.
    let stack = vpai::stack::load(&e.dir, "prod").unwrap();
    for db in &stack.databases {
        let password = e.secret(&db.password_secret);
        let q = docker(&[
            "exec",
            "-e",
            &format!("PGPASSWORD={password}"),
            &e.container("api"),
            "psql",
            "-h",
            "postgresql",
            "-U",
            &db.user,
            "-d",
            &db.name,
            "-Atc",
            "SELECT current_user",
        ]);
        assert_eq!(q, db.user);
    }
    let wrong = Command::new("docker")
        .args([
            "exec",
            "-e",
            "PGPASSWORD=wrong",
            &e.container("api"),
            "psql",
            "-h",
            "postgresql",
            "-U",
            "api",
            "-d",
            "api",
            "-c",
            "SELECT 1",
        ])
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "a wrong password is accepted");
    let ext = e.psql(
        "api",
        "SELECT extname FROM pg_extension WHERE extname = 'uuid-ossp'",
    );
    assert_eq!(ext, "uuid-ossp");
    // Redis: the ACL user works with its own password.
    let redis_pw = e.secret("redis_litellm_password");
    let pong = docker(&[
        "exec",
        &e.container("redis"),
        "redis-cli",
        "--user",
        "litellm",
        "--pass",
        &redis_pw,
        "--no-auth-warning",
        "ping",
    ]);
    assert_eq!(pong, "PONG");

    // Caddy routes by Host header.
    for (site, service) in [
        ("api.e2e.example", "api"),
        ("noco.e2e.example", "nocodb"),
        ("n8n.e2e.example", "n8n"),
    ] {
        let (code, body) = https(site, "/probe");
        assert_eq!(code, "200", "{site}: {body}");
        assert!(
            body.contains(&format!("\"service\": \"{service}\"")),
            "{site} answered {body}"
        );
    }

    // VPN-only: a client inside the VPN range passes, one outside gets 403.
    let caddy = e.container("caddy");
    let mut answers = Vec::new();
    for (suffix, subnet) in [("vpn", "100.64.77.0/24"), ("out", "172.31.77.0/24")] {
        let net = format!("{}-{suffix}", e.project);
        let _ = Command::new("docker")
            .args(["network", "rm", &net])
            .output();
        docker(&["network", "create", "--subnet", subnet, &net]);
        docker(&["network", "connect", &net, &caddy]);
        let ip = docker(&[
            "inspect",
            "-f",
            &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
            &caddy,
        ]);
        let code = docker(&[
            "run",
            "--rm",
            "--network",
            &net,
            "vpai-test/debian:bookworm",
            "curl",
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--resolve",
            &format!("hooks.e2e.example:443:{ip}"),
            "https://hooks.e2e.example/",
        ]);
        answers.push(code);
        docker(&["network", "disconnect", &net, &caddy]);
        docker(&["network", "rm", &net]);
    }
    assert_eq!(
        answers,
        vec!["200".to_string(), "403".to_string()],
        "VPN client, outside client"
    );

    // `vpai status` reads the host back: every service running and healthy, memory against its limit.
    let status = e.vpai(&["status", "--json", "--target", "local"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let lines: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(lines.as_array().unwrap().len(), 9, "{}", status.stdout);
    for line in lines.as_array().unwrap() {
        assert_eq!(line["state"], "running", "{line}");
        assert!(
            line["limit_mb"].as_u64().is_some_and(|l| l >= 256),
            "{line}"
        );
    }
    // `docker compose -p NAME ps` sees the project as its own (compose labels).
    let ps = Command::new("docker-compose")
        .args(["-p", &e.project, "ps", "--services"])
        .output()
        .expect("docker-compose (v2) runs");
    let mut services: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    services.sort();
    assert_eq!(
        services,
        [
            "api",
            "caddy",
            "litellm",
            "n8n",
            "nocodb",
            "postgresql",
            "redis",
            "webhook",
            "worker"
        ],
        "{}",
        String::from_utf8_lossy(&ps.stderr)
    );
    // The env file on the host is private.
    let host_env = std::fs::metadata(e.host_root().join("configs/api/api.env")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(host_env.permissions().mode() & 0o777, 0o600);
}

#[test]
fn reapply_without_change_touches_nothing() {
    let e = E2e::new("noop");
    e.up();
    all_healthy(&e, 9);
    let before = e.containers();
    let plan = e.vpai(&["plan", "--target", "local"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("no changes"), "{}", plan.stdout);
    let started = Instant::now();
    let again = e.vpai(&["apply", "--target", "local", "--yes"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(before, e.containers(), "a container changed");
}

#[test]
fn a_change_recreates_exactly_the_service_it_touches() {
    let e = E2e::new("change");
    e.up();
    let before = e.containers();
    // One env value of one service.
    e.edit(
        "STUB_NAME = \"worker\"",
        "STUB_NAME = \"worker\", EXTRA = \"1\"",
    );
    let plan = e.vpai(&["plan", "--target", "local"]);
    assert!(
        plan.stdout.contains("~ recreate worker: env EXTRA added"),
        "{}",
        plan.stdout
    );
    assert_eq!(
        plan.stdout.matches("recreate").count(),
        2,
        "one recreate line and the summary:\n{}",
        plan.stdout
    );
    e.up();
    let after = e.containers();
    for ((name, id_before, ..), (_, id_after, ..)) in before.iter().zip(&after) {
        assert_eq!(id_before != id_after, name.ends_with("_worker"), "{name}");
    }
    assert!(docker(&["exec", &e.container("worker"), "printenv", "EXTRA"]) == "1");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(e.host_root().join("configs/worker/worker.env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // The content of a mounted config file: Caddy's routes change, Caddy is recreated.
    let caddy = e.id("caddy");
    let webhook = e.id("webhook");
    e.edit("subdomain = \"hooks\"", "subdomain = \"hooks2\"");
    let plan = e.vpai(&["plan", "--target", "local"]);
    assert!(
        plan.stdout
            .contains("~ recreate caddy: file Caddyfile changed"),
        "{}",
        plan.stdout
    );
    e.up();
    assert_ne!(caddy, e.id("caddy"));
    assert_eq!(
        webhook,
        e.id("webhook"),
        "the routed service itself did not change"
    );
    // Caddy's healthcheck (`caddy version`, 002 §6.1) passes before it serves a new
    // site's certificate; give it a moment.
    let (code, body) = https_within("hooks2.e2e.example", "/", "200", Duration::from_secs(15));
    assert_eq!(code, "200", "{body}");
}

#[test]
fn a_failing_health_gate_rolls_back_to_the_previous_container() {
    let e = E2e::new("rollback");
    e.up();
    let previous = e.id("api");
    e.edit("image = \"vpai-test/debian:bookworm\"\ncommand = [\"/usr/local/bin/vpai-stub\"]\nport = 3000", "image = \"vpai-test/stub:broken\"\ncommand = [\"/usr/local/bin/vpai-stub\"]\nport = 3000");
    let out = e.vpai(&["up"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("service `api` failed") && out.stderr.contains("rolled back"),
        "{}",
        out.stderr
    );
    assert_eq!(e.id("api"), previous, "the previous container is back");
    let (_, _, image, health) = e
        .containers()
        .into_iter()
        .find(|c| c.0.ends_with("_api"))
        .unwrap();
    assert_eq!(image, "vpai-test/debian:bookworm");
    let (code, _) = https_within("api.e2e.example", "/", "200", Duration::from_secs(30));
    assert_eq!(
        code, "200",
        "the previous api serves again (health {health})"
    );
    assert!(!e.containers().iter().any(|c| c.0.contains("vpai-previous")));
    // The worker, unchanged, kept running and is not reported as failed.
    assert!(
        !out.stderr.contains("service `worker` failed"),
        "{}",
        out.stderr
    );
}

#[test]
fn sigkill_mid_apply_then_apply_again_converges() {
    let e = E2e::new("kill");
    let mut child = e
        .command(&["up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && e.containers().len() < 3 {
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let lock = Command::new("docker")
        .args(["inspect", &format!("vpai-lock-{}", e.project)])
        .output()
        .unwrap();
    assert!(
        lock.status.success(),
        "the killed apply left its lock behind"
    );
    let out = e.up();
    assert!(
        out.stderr.contains("broke a stale deploy lock"),
        "{}",
        out.stderr
    );
    all_healthy(&e, 9);
    let names: Vec<String> = e.containers().into_iter().map(|c| c.0).collect();
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(names, unique, "duplicate containers");
    let lock = Command::new("docker")
        .args(["inspect", &format!("vpai-lock-{}", e.project)])
        .output()
        .unwrap();
    assert!(!lock.status.success(), "the lock is released");
}

#[test]
fn a_second_concurrent_apply_is_refused_with_the_holders_identity() {
    let e = E2e::new("lock");
    let mut first = e
        .command(&["up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = format!("vpai-lock-{}", e.project);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline
        && !Command::new("docker")
            .args(["inspect", &lock])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = e.vpai(&["up"]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains("holds the deploy lock")
            && second.stderr.contains(&format!("pid {}", first.id())),
        "{}",
        second.stderr
    );
    assert!(first.wait().unwrap().success());
    all_healthy(&e, 9);
}

#[test]
fn a_broken_stack_changes_nothing_on_the_engine() {
    let e = E2e::new("broken");
    e.edit(
        "depends_on = { api = \"healthy\" }",
        "depends_on = { apii = \"healthy\" }",
    );
    let out = e.vpai(&["up"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("did you mean `api`?"), "{}", out.stderr);
    assert!(e.containers().is_empty());
    assert!(e.networks().is_empty());
    assert!(!Path::new(&e.host_root()).exists());
}

#[test]
fn down_keeps_data_and_down_volumes_removes_it() {
    let e = E2e::new("down");
    e.up();
    e.psql(
        "api",
        "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)",
    );
    let down = e.vpai(&["down", "--target", "local"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(e.containers().is_empty());
    assert!(e.networks().is_empty());
    assert!(
        e.host_root()
            .join("data/postgresql/data/PG_VERSION")
            .exists(),
        "data kept"
    );
    e.up();
    let kept = e.psql("api", "SELECT x FROM kept");
    assert_eq!(kept, "42");
    let down = e.vpai(&["down", "--target", "local", "--volumes"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(!e.host_root().join("data").exists(), "data removed");
}

#[test]
fn apply_over_ssh_converges_the_same_stack() {
    let e = E2e::new("ssh");
    let sshd = Sshd::start();
    let target = format!("ssh://root@127.0.0.1:{}", sshd.port);
    let ssh = format!("ssh -F {}", sshd.config.display());
    let out = run(e
        .command(&["apply", "--yes", "--target", &target])
        .env("VPAI_SSH_COMMAND", &ssh));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    all_healthy(&e, 9);
    let plan = run(e
        .command(&["plan", "--target", &target])
        .env("VPAI_SSH_COMMAND", &ssh));
    assert!(
        plan.stdout.contains("no changes"),
        "{}{}",
        plan.stdout,
        plan.stderr
    );
    let (code, body) = https_within(
        "api.e2e.example",
        "/over-ssh",
        "200",
        Duration::from_secs(15),
    );
    assert_eq!(code, "200", "{body}");
    // A wrong key: a clear error that names the target, nothing changed.
    let bad = sshd.config.with_file_name("bad_config");
    std::fs::write(&bad, "Host 127.0.0.1\n  IdentityFile /nonexistent\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n").unwrap();
    let refused = run(e
        .command(&["plan", "--target", &target])
        .env("VPAI_SSH_COMMAND", format!("ssh -F {}", bad.display())));
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains(&target) && refused.stderr.contains("ssh exited"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_saved_plan_applies_only_to_the_state_it_was_made_for() {
    let e = E2e::new("planfile");
    let plan_file = e.dir.join("plan.json");
    let plan = run(e
        .command(&["plan", "--target", "local"])
        .arg("--out")
        .arg(&plan_file));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let text = std::fs::read_to_string(&plan_file).unwrap();
    assert!(
        !text.contains(&e.secret("db_api_password")),
        "a plan file holds no secret"
    );
    e.edit("STUB_NAME = \"worker\"", "STUB_NAME = \"worker2\"");
    let stale = run(e
        .command(&["apply", "--target", "local"])
        .arg("--plan")
        .arg(&plan_file));
    assert_eq!(stale.code, 1);
    assert!(
        stale.stderr.contains("changed since this plan was made"),
        "{}",
        stale.stderr
    );
    assert!(e.containers().is_empty(), "a refused plan changes nothing");
    let plan = run(e
        .command(&["plan", "--target", "local"])
        .arg("--out")
        .arg(&plan_file));
    assert_eq!(plan.code, 0);
    let applied = run(e
        .command(&["apply", "--target", "local"])
        .arg("--plan")
        .arg(&plan_file));
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    all_healthy(&e, 9);
}

#[test]
fn sigterm_releases_the_lock() {
    let e = E2e::new("term");
    let child = e
        .command(&["up"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && e.containers().len() < 2 {
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lock = Command::new("docker")
        .args(["inspect", &format!("vpai-lock-{}", e.project)])
        .output()
        .unwrap();
    assert!(!lock.status.success(), "SIGTERM released the lock");
    let again = e.up();
    assert!(!again.stderr.contains("stale"), "{}", again.stderr);
    all_healthy(&e, 9);
}

#[test]
fn rollback_returns_to_a_recorded_release() {
    let e = E2e::new("rollback2");
    e.up();
    let first = docker(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"vpai.config-hash\"}}",
        &e.container("worker"),
    ]);
    e.edit(
        "STUB_NAME = \"worker\"",
        "STUB_NAME = \"worker\", EXTRA = \"2\"",
    );
    e.up();
    assert_eq!(
        docker(&["exec", &e.container("worker"), "printenv", "EXTRA"]),
        "2"
    );
    // RELEASE is the positional argument of rollback, so the stack goes with -C.
    let list = e.vpai(&["rollback", "--list", "--target", "local", "-C"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(
        list.stdout.lines().filter(|l| l.contains(" ok ")).count(),
        2,
        "{}",
        list.stdout
    );
    let back = e.vpai(&["rollback", "--target", "local", "-C"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(
        back.stderr.contains("~ recreate worker: env EXTRA removed"),
        "{}",
        back.stderr
    );
    let now = docker(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"vpai.config-hash\"}}",
        &e.container("worker"),
    ]);
    assert_eq!(now, first, "the worker is the first release's again");
    all_healthy(&e, 9);
}
