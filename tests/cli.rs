//! End-to-end tests of the CLI: init (flags and the interactive wizard), secrets,
//! render's refusals, the JSON Schema and JSON output, `host audit`'s arguments.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Outcome, root, run, vpai};

struct Stack {
    tmp: tempfile::TempDir,
}

impl Stack {
    /// `vpai init --defaults` in a fresh directory, with its own identity.
    fn init(services: &str) -> Stack {
        let tmp = tempfile::tempdir().unwrap();
        let s = Stack { tmp };
        let out = run(vpai()
            .args([
                "init",
                "--defaults",
                "--name",
                "acme",
                "--domain",
                "acme.example",
                "--services",
                services,
            ])
            .arg(s.dir())
            .arg("--identity-out")
            .arg(s.identity()));
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        s
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("acme")
    }

    fn identity(&self) -> PathBuf {
        self.tmp.path().join("identity.txt")
    }

    fn vpai(&self, args: &[&str]) -> Outcome {
        run(vpai()
            .args(args)
            .arg("-C")
            .arg(self.dir())
            .env("VPAI_IDENTITY", self.identity()))
    }

    fn reveal(&self, name: &str) -> String {
        let out = self.vpai(&["secrets", "show", name, "--reveal"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout.trim().to_string()
    }
}

#[test]
fn init_with_defaults_writes_a_stack_that_checks_and_renders() {
    let s = Stack::init("caddy,postgresql,n8n");
    assert!(s.dir().join("vpai.toml").exists() && s.dir().join("secrets.age").exists());
    let check = s.vpai(&["check"]);
    assert_eq!(check.code, 0, "{}", check.stdout);
    let out = s.tmp.path().join("out");
    let render = run(vpai()
        .args(["render", "-C"])
        .arg(s.dir())
        .arg("--out")
        .arg(&out)
        .env("VPAI_IDENTITY", s.identity()));
    assert_eq!(render.code, 0, "{}", render.stderr);
    assert!(out.join("main/docker-compose.yml").exists());
    assert!(out.join("main/configs/n8n/n8n.env").exists());
}

#[test]
fn init_never_overwrites_an_existing_stack() {
    let s = Stack::init("postgresql");
    let before = std::fs::read(s.dir().join("secrets.age")).unwrap();
    let again = run(vpai()
        .args(["init", "--defaults", "--name", "other"])
        .arg(s.dir())
        .arg("--identity-out")
        .arg(s.identity()));
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("already holds a stack"),
        "{}",
        again.stderr
    );
    assert_eq!(before, std::fs::read(s.dir().join("secrets.age")).unwrap());
}

#[test]
fn init_without_a_terminal_asks_for_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(vpai()
        .arg("init")
        .arg(tmp.path().join("x"))
        .stdin(Stdio::null()));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("--defaults"), "{}", out.stderr);
    assert!(!tmp.path().join("x").exists(), "nothing is written");
}

#[test]
fn init_rejects_unknown_services_with_a_suggestion() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(vpai()
        .args([
            "init",
            "--defaults",
            "--name",
            "x",
            "--services",
            "postgres",
        ])
        .arg(tmp.path().join("x"))
        .arg("--identity-out")
        .arg(tmp.path().join("id")));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("did you mean `postgresql`?"),
        "{}",
        out.stderr
    );
    assert!(!tmp.path().join("x/vpai.toml").exists());
}

#[test]
fn interactive_wizard_through_a_terminal() {
    // `script` gives the wizard a real pseudo-terminal and types the answers.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wiz");
    let identity = tmp.path().join("id.txt");
    let (ok, text) = common::on_a_terminal(
        &[
            "init",
            dir.to_str().unwrap(),
            "--identity-out",
            identity.to_str().unwrap(),
        ],
        "acme\ncaddy,postgresql,nocodb\nacme.example\nops@acme.example\nEurope/Paris\n",
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("project name [wiz]:"),
        "the wizard asked: {text}"
    );
    let stack = std::fs::read_to_string(dir.join("vpai.toml")).unwrap();
    for expected in [
        "name = \"acme\"",
        "domain = \"acme.example\"",
        "timezone = \"Europe/Paris\"",
        "[services.nocodb]",
    ] {
        assert!(stack.contains(expected), "{expected} missing from\n{stack}");
    }
    // NocoDB's API token is created in its UI: the wizard says how to set it.
    let hint = format!("vpai secrets set {} nocodb_api_token", dir.display());
    assert!(text.contains(&hint), "{text}");
}

#[test]
fn the_wizard_asks_again_after_a_bad_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("My Stack");
    let identity = tmp.path().join("id.txt");
    let answers = [
        "MyStack",
        "acme",
        "litelm",
        "litellm,nocodb",
        "",
        "http://acme.example",
        "acme.example",
        "nope",
        "ops@acme.example",
        "Mars/Base",
        "Europe/Paris",
    ];
    let (ok, text) = common::on_a_terminal(
        &[
            "init",
            dir.to_str().unwrap(),
            "--identity-out",
            identity.to_str().unwrap(),
        ],
        &(answers.join("\n") + "\n"),
    );
    assert!(ok, "{text}");
    // The directory's name, made valid, is the default.
    assert!(text.contains("project name [my-stack]:"), "{text}");
    for refusal in [
        "`MyStack` is not valid",
        "`litelm` is not in the catalog; did you mean `litellm`?",
        "without a domain one site is served",
        "`http://` is a URL scheme",
        "`nope` is not valid: there is no `@`",
        "`Mars/Base` is not valid: not a time zone",
    ] {
        assert!(text.contains(refusal), "{refusal} missing from\n{text}");
    }
    // The catalog is listed before the services are asked for.
    assert!(text.contains("the catalog: alloy, caddy"), "{text}");
    let check = run(vpai().args(["check", "-C"]).arg(&dir));
    assert_eq!(check.code, 0, "{}", check.stdout);
    let stack = std::fs::read_to_string(dir.join("vpai.toml")).unwrap();
    for expected in [
        "name = \"acme\"",
        "timezone = \"Europe/Paris\"",
        "[services.redis]",
        "[services.caddy]",
    ] {
        assert!(stack.contains(expected), "{expected} missing from\n{stack}");
    }
}

#[test]
fn init_refuses_bad_flags_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--name", "MyStack"], "write `mystack`"),
        (&["--name", "my stack"], "write `my-stack`"),
        (&["--name", "1stack"], "does not start with a letter"),
        (&["--domain", "http://foo"], "URL scheme"),
        (&["--email", "nope"], "there is no `@`"),
        (&["--timezone", "Mars/Base"], "not a time zone"),
        (&["--timezone", "europe/paris"], "write `Europe/Paris`"),
        (
            &["--services", "n8n,nocodb"],
            "without a domain one site is served",
        ),
    ];
    for (flags, expected) in cases {
        let dir = tmp.path().join("stack");
        let identity = tmp.path().join("id.txt");
        let out = run(vpai()
            .args(["init", "--defaults"])
            .args(*flags)
            .arg(&dir)
            .arg("--identity-out")
            .arg(&identity));
        assert_eq!(out.code, 1, "{flags:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(expected), "{flags:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert!(
            !dir.exists() && !identity.exists(),
            "{flags:?} wrote something"
        );
    }
}

#[test]
fn init_enables_what_the_chosen_services_need() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stack");
    let out = run(vpai()
        .args(["init", "--defaults", "--services", "litellm"])
        .arg(&dir)
        .arg("--identity-out")
        .arg(tmp.path().join("id.txt")));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("(services: litellm, caddy, redis, postgresql)"),
        "{}",
        out.stdout
    );
    let check = run(vpai().args(["check", "-C"]).arg(&dir));
    assert_eq!(check.code, 0, "{}", check.stdout);
}

#[test]
fn secrets_sync_generates_only_what_is_missing() {
    let s = Stack::init("postgresql");
    let before = s.reveal("postgresql_password");
    let file = s.dir().join("vpai.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}\n[services.redis]\n")).unwrap();
    let sync = s.vpai(&["secrets", "sync"]);
    assert_eq!(sync.code, 0, "{}", sync.stderr);
    assert_eq!(
        sync.stdout
            .lines()
            .filter(|l| l.starts_with("generated"))
            .collect::<Vec<_>>(),
        vec!["generated redis_password"]
    );
    assert_eq!(
        s.reveal("postgresql_password"),
        before,
        "an existing secret changed"
    );
    let again = s.vpai(&["secrets", "sync"]);
    assert!(!again.stdout.contains("generated"), "{}", again.stdout);
}

#[test]
fn secret_values_are_printed_only_with_reveal() {
    let s = Stack::init("postgresql,redis");
    let value = s.reveal("redis_password");
    assert!(
        value.len() >= 32,
        "a generated password of {} characters",
        value.len()
    );
    let show = s.vpai(&["secrets", "show"]);
    assert_eq!(show.code, 0);
    assert!(
        show.stdout.contains("redis_password") && show.stdout.contains("set"),
        "{}",
        show.stdout
    );
    assert!(
        !show.stdout.contains(&value),
        "value printed without --reveal"
    );
}

#[test]
fn secrets_set_reads_the_value_from_stdin() {
    let s = Stack::init("postgresql");
    let mut cmd = vpai();
    cmd.args(["secrets", "set", "postgresql_password", "-C"])
        .arg(s.dir())
        .env("VPAI_IDENTITY", s.identity());
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery staple\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("horse"));
    assert_eq!(
        s.reveal("postgresql_password"),
        "correct horse battery staple"
    );
    let unknown = s.vpai(&["secrets", "set", "postgresql_pasword"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("did you mean `postgresql_password`?"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_wrong_or_missing_identity_names_where_vpai_looked() {
    let s = Stack::init("postgresql");
    let other = s.tmp.path().join("other.txt");
    let made = run(vpai()
        .args(["init", "--defaults", "--name", "o"])
        .arg(s.tmp.path().join("o"))
        .arg("--identity-out")
        .arg(&other));
    assert_eq!(made.code, 0);
    let wrong = run(vpai()
        .args(["secrets", "show", "-C"])
        .arg(s.dir())
        .env("VPAI_IDENTITY", &other));
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains(&other.display().to_string()) && wrong.stderr.contains("can decrypt"),
        "{}",
        wrong.stderr
    );
    let missing = s.tmp.path().join("nowhere.txt");
    let none = run(vpai()
        .args(["secrets", "show", "-C"])
        .arg(s.dir())
        .env("VPAI_IDENTITY", &missing));
    assert_eq!(none.code, 1);
    assert!(
        none.stderr.contains("looked in") && none.stderr.contains("nowhere.txt"),
        "{}",
        none.stderr
    );
}

#[test]
fn ssh_ed25519_keys_work_as_recipient_and_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("id_ed25519");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status();
    assert!(keygen.expect("ssh-keygen (openssh-client) runs").success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let dir = tmp.path().join("s");
    let init = run(vpai()
        .args([
            "init",
            "--defaults",
            "--name",
            "s",
            "--services",
            "postgresql",
            "--recipient",
            public.trim(),
        ])
        .arg(&dir));
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert!(
        std::fs::read_to_string(dir.join("vpai.toml"))
            .unwrap()
            .contains("ssh-ed25519 ")
    );
    let show = run(vpai()
        .args(["secrets", "show", "postgresql_password", "--reveal", "-C"])
        .arg(&dir)
        .arg("--identity")
        .arg(&key));
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert_eq!(show.stdout.trim().len(), 32);
}

#[test]
fn render_names_missing_secrets_and_writes_nothing() {
    let s = Stack::init("postgresql,nocodb,caddy");
    let out = s.tmp.path().join("out");
    let r = run(vpai()
        .args(["render", "-C"])
        .arg(s.dir())
        .arg("--out")
        .arg(&out)
        .env("VPAI_IDENTITY", s.identity()));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("nocodb_api_token") && r.stderr.contains("vpai secrets set"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
}

#[test]
fn render_refuses_a_stack_with_errors_and_keeps_the_previous_bundle() {
    let s = Stack::init("caddy,postgresql");
    let out = s.tmp.path().join("out");
    let ok = run(vpai()
        .args(["render", "-C"])
        .arg(s.dir())
        .arg("--out")
        .arg(&out)
        .env("VPAI_IDENTITY", s.identity()));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let compose = std::fs::read(out.join("main/docker-compose.yml")).unwrap();
    let file = s.dir().join("vpai.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "[services.postgresql]",
            "[services.postgresql]\nnetworks = [\"backend\", \"frontend\"]",
        ),
    )
    .unwrap();
    let refused = run(vpai()
        .args(["render", "-C"])
        .arg(s.dir())
        .arg("--out")
        .arg(&out)
        .env("VPAI_IDENTITY", s.identity()));
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("datastore-on-frontend")
            && refused.stderr.contains("nothing rendered"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        compose,
        std::fs::read(out.join("main/docker-compose.yml")).unwrap()
    );
}

#[test]
fn render_never_replaces_a_directory_it_did_not_write() {
    let s = Stack::init("postgresql");
    let foreign = s.tmp.path().join("home");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("precious.txt"), "keep me").unwrap();
    let r = run(vpai()
        .args(["render", "-C"])
        .arg(s.dir())
        .arg("--out")
        .arg(&foreign)
        .env("VPAI_IDENTITY", s.identity()));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a vpai bundle"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(foreign.join("precious.txt")).unwrap(),
        "keep me"
    );
}

/// Every path under `dir`, with the bytes of each file: what a refusal must not change.
fn tree(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                todo.push(path.clone());
                out.push((path, None));
            } else if kind.is_symlink() {
                out.push((
                    path.clone(),
                    Some(
                        std::fs::read_link(&path)
                            .unwrap()
                            .into_os_string()
                            .into_encoded_bytes(),
                    ),
                ));
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, Some(bytes)));
            }
        }
    }
    out.sort();
    out
}

/// An `--out` that is, holds or lies inside the stack directory, or is a symlink
/// (dangling or not), is refused before anything is written, and leaves nothing
/// behind: no staging copy of the secrets, no deleted `vpai.toml`.
#[test]
fn render_refuses_an_out_that_would_destroy_or_expose_the_stack() {
    let s = Stack::init("postgresql");
    let root = s.tmp.path();
    // A previous bundle that the stack was then moved into (the reported data loss).
    let bundle = root.join("bundle");
    let first = s.vpai(&["render", "--out", bundle.to_str().unwrap()]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let moved = bundle.join("acme");
    std::fs::rename(s.dir(), &moved).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
    std::os::unix::fs::symlink(root.join("bundle"), root.join("link")).unwrap();
    let cases = [
        (bundle.clone(), "contains the stack directory"),
        (moved.clone(), "is the stack directory"),
        (moved.join("out"), "lies inside the stack directory"),
        (moved.join("."), "is the stack directory"),
        (root.join("dangling"), "is a symbolic link"),
        (root.join("link"), "is a symbolic link"),
    ];
    let before = tree(root);
    for (out, says) in cases {
        let r = run(vpai()
            .arg("render")
            .arg(&moved)
            .arg("--out")
            .arg(&out)
            .env("VPAI_IDENTITY", s.identity()));
        assert_eq!(r.code, 1, "--out {}: {}", out.display(), r.stderr);
        assert!(
            r.stderr.contains(says) && r.stderr.contains("nothing was written"),
            "--out {}: {}",
            out.display(),
            r.stderr
        );
        assert_eq!(tree(root), before, "--out {} changed files", out.display());
    }
}

fn toml_to_json(path: &Path) -> serde_json::Value {
    let value: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::to_value(value).unwrap()
}

#[test]
fn the_json_schema_accepts_the_examples_and_rejects_typos() {
    let out = run(vpai().arg("schema"));
    assert_eq!(out.code, 0);
    let schema: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    for example in ["javisi", "accoreboot"] {
        let doc = toml_to_json(&root().join("examples").join(example).join("vpai.toml"));
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{example}: {errors:?}");
    }
    let broken = toml_to_json(&root().join("tests/broken/01-unknown-key.toml"));
    assert!(
        !validator.is_valid(&broken),
        "the schema must reject unknown keys"
    );
}

#[test]
fn check_speaks_json_for_scripts() {
    let out = run(vpai()
        .args(["check", "--format", "json", "-C"])
        .arg(root().join("tests/broken/25-depends-on-unknown-service.toml")));
    assert_eq!(out.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    let d = &doc["diagnostics"][0];
    assert_eq!(d["code"], "unknown-reference");
    assert_eq!(d["location"]["line"], 11);
    assert_eq!(d["help"], "did you mean `postgresql`?");
}

#[test]
fn secrets_edit_round_trips_through_the_editor() {
    let s = Stack::init("postgresql");
    // The "editor" rewrites one value in place, as a person would.
    let editor = "sed -i 's/^postgresql_password = .*/postgresql_password = \"edited-in-editor\"/'";
    let out = run(vpai()
        .args(["secrets", "edit", "-C"])
        .arg(s.dir())
        .env("VPAI_IDENTITY", s.identity())
        .env("EDITOR", editor));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(s.reveal("postgresql_password"), "edited-in-editor");
    // A broken edit changes nothing.
    let before = std::fs::read(s.dir().join("secrets.age")).unwrap();
    let broken = run(vpai()
        .args(["secrets", "edit", "-C"])
        .arg(s.dir())
        .env("VPAI_IDENTITY", s.identity())
        .env("EDITOR", "sed -i 's/=/==/'"));
    assert_eq!(broken.code, 1);
    assert!(
        broken.stderr.contains("nothing changed"),
        "{}",
        broken.stderr
    );
    assert_eq!(before, std::fs::read(s.dir().join("secrets.age")).unwrap());
}

#[test]
fn host_audit_says_what_it_checks_and_explains_its_codes() {
    let help = run(vpai().args(["host", "audit", "--help"]));
    assert_eq!(help.code, 0, "{}", help.stderr);
    for words in [
        "CIS Docker Benchmark v1.6.0 §5",
        "--host <HOST>",
        "--target <TARGET>",
        "--json",
        "lint_ignore",
        "vpai explain CODE",
        "vpai host audit examples/local --target local --json",
    ] {
        assert!(
            help.stdout.contains(words),
            "no `{words}` in:\n{}",
            help.stdout
        );
    }
    // Its codes are lint rules or audit checks, and both have a page.
    for code in ["compose-docker-socket", "audit-unmanaged", "audit-orphan"] {
        let page = run(vpai().args(["explain", code]));
        assert_eq!(page.code, 0, "{}", page.stderr);
        assert!(
            page.stdout.starts_with(&format!("# {code} (")),
            "{}",
            page.stdout
        );
    }
    let list = run(vpai().arg("explain"));
    assert!(list.stdout.contains("Host audit checks"), "{}", list.stdout);
}

#[test]
fn host_audit_refuses_an_unknown_host_before_reaching_any_engine() {
    // A target nobody listens on: the refusal must come first.
    let out = run(vpai()
        .args([
            "host",
            "audit",
            "--host",
            "locla",
            "--target",
            "unix:///nonexistent/docker.sock",
        ])
        .arg(root().join("examples/local")));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("no host `locla` in this stack"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `local`?"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn check_names_the_secrets_render_would_miss_and_the_command_that_fixes_them() {
    let s = Stack::init("caddy,postgresql,n8n");
    let stack_file = s.dir().join("vpai.toml");
    let mut text = std::fs::read_to_string(&stack_file).unwrap();
    text.push_str("\n[services.redis]\n");
    std::fs::write(&stack_file, text).unwrap();
    let check = s.vpai(&["check"]);
    assert_eq!(check.code, 0, "a warning, not an error: {}", check.stdout);
    assert!(
        check
            .stdout
            .contains("warning[missing-secret]: secrets without a value in"),
        "{}",
        check.stdout
    );
    let sync = format!("run `vpai secrets sync {}`", s.dir().display());
    assert!(check.stdout.contains(&sync), "{}", check.stdout);
    // The hint, run as printed, clears the warning.
    let synced = run(vpai()
        .args(["secrets", "sync"])
        .arg(s.dir())
        .env("VPAI_IDENTITY", s.identity()));
    assert_eq!(synced.code, 0, "{}", synced.stderr);
    let again = s.vpai(&["check"]);
    assert!(again.stdout.starts_with("ok:"), "{}", again.stdout);
    // Without secrets.age at all, check says so too.
    std::fs::remove_file(s.dir().join("secrets.age")).unwrap();
    let none = s.vpai(&["check"]);
    assert!(
        none.stdout.contains("secrets.age does not exist"),
        "{}",
        none.stdout
    );
}

#[test]
fn overriding_a_built_in_networks_subnet_keeps_it_internal() {
    let s = Stack::init("postgresql,caddy");
    let stack = s.dir().join("vpai.toml");
    let text = std::fs::read_to_string(&stack).unwrap();
    std::fs::write(
        &stack,
        format!("{text}\n[networks.backend]\nsubnet = \"172.30.2.0/24\"\n\n[networks.extra]\ninternal = true\n"),
    )
    .unwrap();
    let check = s.vpai(&["check"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check.stdout.contains("network `extra` has no subnet")
            && check.stdout.contains("vpai.toml:"),
        "{}",
        check.stdout
    );

    std::fs::write(
        &stack,
        format!("{text}\n[networks.backend]\nsubnet = \"172.30.2.0/24\"\n"),
    )
    .unwrap();
    assert_eq!(s.vpai(&["secrets", "sync"]).code, 0);
    let out = s.tmp.path().join("out");
    let r = s.vpai(&["render", "--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let compose = std::fs::read_to_string(out.join("main/docker-compose.yml")).unwrap();
    let backend: String = compose
        .lines()
        .skip_while(|l| *l != "  backend:")
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        backend.contains("internal: true") && backend.contains("172.30.2.0/24"),
        "{backend}"
    );
}
