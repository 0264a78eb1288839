//! The CLI's conventions, end to end: `vpai CMD [DIR] [THING]` on every command with
//! the other order refused by a hint that runs; hints that run exactly as printed;
//! destructive commands that ask, and refuse without a terminal; a closed pipe that
//! is no crash; `--json` where a command reports.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{Outcome, root, run, vpai};

/// A target no engine listens on: whatever reaches it fails to connect, so a test
/// sees how far a command got without touching the machine's Docker.
const NOWHERE: &str = "unix:///nonexistent/vpai-cli-args.sock";

/// The first `` `vpai ...` `` in `text` after `after`, split into arguments as a
/// shell would.
fn hint(text: &str, after: &str) -> Vec<String> {
    let from = text
        .find(after)
        .unwrap_or_else(|| panic!("`{after}` not in:\n{text}"));
    let rest = &text[from..];
    let start = rest.find("`vpai ").expect("a hint") + 1;
    let len = rest[start..].find('`').expect("a closed hint");
    let words = shlex::split(&rest[start..start + len]).expect("a hint a shell can split");
    assert_eq!(words[0], "vpai");
    words[1..].to_vec()
}

/// Run a printed hint as it is, from the same directory, with `stdin` as input.
fn run_hint(words: &[String], stdin: &[u8]) -> Outcome {
    let mut child = vpai()
        .args(words)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// examples/local without its secrets, in a directory whose path needs quoting.
fn local_without_secrets(tmp: &Path) -> PathBuf {
    let dir = tmp.join("my stacks").join("local");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["vpai.toml", "example-identity.txt"] {
        std::fs::copy(root().join("examples/local").join(f), dir.join(f)).unwrap();
    }
    dir
}

#[test]
fn the_hints_of_a_missing_secrets_file_run_as_printed_until_render_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = local_without_secrets(tmp.path());
    let out = tmp.path().join("bundle");
    let render = || run(vpai().arg("render").arg(&dir).arg("--out").arg(&out));

    let refused = render();
    assert_eq!(refused.code, 1);
    assert!(!out.exists(), "nothing rendered");
    let sync = hint(&refused.stderr, "does not exist");
    assert_eq!(sync[..2], ["secrets", "sync"]);
    assert_eq!(Path::new(&sync[2]), dir, "the hint names the stack");

    let synced = run_hint(&sync, b"");
    assert_eq!(synced.code, 0, "{}", synced.stderr);
    // NocoDB's token is made in its UI: sync says how to set it, and that runs too.
    let set = hint(&synced.stdout, "nocodb_api_token");
    let token = run_hint(&set, b"a-nocodb-token\n");
    assert_eq!(token.code, 0, "{}", token.stderr);

    let rendered = render();
    assert_eq!(rendered.code, 0, "{}", rendered.stderr);
    assert!(out.join("local/docker-compose.yml").exists());
}

#[test]
fn the_other_order_is_refused_with_a_hint_in_the_right_one() {
    let local = root().join("examples/local");
    let local = local.to_str().unwrap();
    for (wrong, want) in [
        (
            vec!["logs", "api", local, "--target", NOWHERE],
            vec!["logs", local, "api", "--target", NOWHERE],
        ),
        (
            vec![
                "rollback",
                "some-release",
                local,
                "--yes",
                "--target",
                NOWHERE,
            ],
            vec![
                "rollback",
                local,
                "some-release",
                "--yes",
                "--target",
                NOWHERE,
            ],
        ),
        (
            vec!["backup", "drill", "postgresql", local, "--target", NOWHERE],
            vec!["backup", "drill", local, "postgresql", "--target", NOWHERE],
        ),
        (
            vec!["secrets", "show", "redis_password", local],
            vec!["secrets", "show", local, "redis_password"],
        ),
    ] {
        let refused = run(vpai().args(&wrong));
        assert_eq!(refused.code, 1, "{wrong:?}");
        assert!(
            refused.stderr.contains("the stack directory comes first"),
            "{wrong:?}: {}",
            refused.stderr
        );
        let fixed = hint(&refused.stderr, "help:");
        assert_eq!(fixed, want, "{}", refused.stderr);
        // Run as printed, it gets past the arguments: to the engine it cannot
        // reach, or to the answer itself.
        let ran = run_hint(&fixed, b"");
        assert!(
            !ran.stderr.contains("error[usage]"),
            "{fixed:?}: {}",
            ran.stderr
        );
        assert!(
            ran.code == 0 || ran.stderr.contains("cannot reach the Docker daemon"),
            "{fixed:?}: {}",
            ran.stderr
        );
    }
    let twice = run(vpai().args(["check", local, "-C", local]));
    assert_eq!(twice.code, 1);
    assert!(twice.stderr.contains("given twice"), "{}", twice.stderr);
}

#[test]
fn every_command_takes_the_stack_first_then_what_it_acts_on() {
    let local = root().join("examples/local");
    let javisi = root().join("examples/javisi");
    let reaches_the_engine = |args: &[&str], dir: &Path, rest: &[&str]| {
        let out = run(vpai()
            .args(args)
            .arg(dir)
            .args(rest)
            .args(["--target", NOWHERE]));
        assert_eq!(out.code, 1, "{args:?}");
        assert!(
            out.stderr.contains("cannot reach the Docker daemon"),
            "{args:?} {rest:?}: {}",
            out.stderr
        );
    };
    reaches_the_engine(&["logs"], &local, &["api"]);
    reaches_the_engine(&["rollback"], &local, &["--list"]);
    reaches_the_engine(&["status"], &local, &[]);
    reaches_the_engine(&["unlock"], &local, &[]);
    reaches_the_engine(&["backup", "list"], &local, &[]);
    reaches_the_engine(&["backup", "drill"], &local, &["postgresql"]);
    // The same, with `-C DIR` instead.
    let out = run(vpai()
        .args(["logs", "api", "--target", NOWHERE, "-C"])
        .arg(&local));
    assert!(
        out.stderr.contains("cannot reach the Docker daemon"),
        "{}",
        out.stderr
    );
    // Commands without an engine.
    let shown = run(vpai()
        .args(["secrets", "show"])
        .arg(&local)
        .arg("redis_password"));
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.starts_with("redis_password "),
        "{}",
        shown.stdout
    );
    let user_data = run(vpai().args(["host", "bootstrap"]).arg(&javisi).args([
        "workstation",
        "--env",
        "preprod",
    ]));
    assert_eq!(user_data.code, 0, "{}", user_data.stderr);
    assert!(
        user_data.stdout.starts_with("#cloud-config"),
        "{}",
        user_data.stdout
    );
}

/// `vpai ARGS` on a pseudo-terminal, answering `answer` to its question.
fn through_a_terminal(args: &[&str], answer: &str) -> (bool, String) {
    common::on_a_terminal(args, &format!("{answer}\n"))
}

#[test]
fn destructive_commands_ask_and_refuse_without_a_terminal() {
    let local = root().join("examples/local");
    let local = local.to_str().unwrap();
    for (args, question) in [
        (
            vec!["down", local, "--volumes", "--target", NOWHERE],
            "DELETE its data",
        ),
        (
            vec!["rollback", local, "--target", NOWHERE],
            "on `local` back to the previous release",
        ),
    ] {
        // No terminal: refused before anything is reached, and --yes is the way.
        let refused = run(vpai().args(&args).stdin(Stdio::null()));
        assert_eq!(refused.code, 1, "{args:?}");
        assert!(
            refused.stderr.contains("no terminal to ask on") && refused.stderr.contains("--yes"),
            "{args:?}: {}",
            refused.stderr
        );
        assert!(
            !refused.stderr.contains("cannot reach"),
            "{}",
            refused.stderr
        );
        // A terminal: asked, and a "no" changes nothing.
        let (ok, screen) = through_a_terminal(&args, "n");
        assert!(!ok, "{args:?}: {screen}");
        assert!(
            screen.contains(question) && screen.contains("[y/N]"),
            "{args:?}: {screen}"
        );
        assert!(screen.contains("nothing changed"), "{args:?}: {screen}");
        assert!(!screen.contains("cannot reach"), "{args:?}: {screen}");
        // A "yes" goes on, to the engine nobody runs.
        let (ok, screen) = through_a_terminal(&args, "y");
        assert!(!ok);
        assert!(
            screen.contains("cannot reach the Docker daemon"),
            "{args:?}: {screen}"
        );
        // --yes skips the question.
        let mut yes = args.clone();
        yes.push("--yes");
        let skipped = run(vpai().args(&yes).stdin(Stdio::null()));
        assert!(
            skipped.stderr.contains("cannot reach the Docker daemon"),
            "{yes:?}: {}",
            skipped.stderr
        );
    }
    // A restore asks once it knows which snapshot it would use (after reading the
    // repository); without a terminal it refuses before reaching the host at all.
    let restore = [
        "backup",
        "restore",
        local,
        "postgresql",
        "--target",
        NOWHERE,
    ];
    let refused = run(vpai().args(restore).stdin(Stdio::null()));
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("no terminal to ask on") && refused.stderr.contains("--yes"),
        "{}",
        refused.stderr
    );
    let (ok, screen) = through_a_terminal(&restore, "n");
    assert!(
        !ok && screen.contains("cannot reach the Docker daemon"),
        "{screen}"
    );
    // Listing releases and a plain down delete nothing: no question.
    for args in [
        vec!["rollback", local, "--list", "--target", NOWHERE],
        vec!["down", local, "--target", NOWHERE],
    ] {
        let out = run(vpai().args(&args).stdin(Stdio::null()));
        assert!(
            out.stderr.contains("cannot reach the Docker daemon"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_reader_that_closes_the_pipe_is_no_crash() {
    let local = root().join("examples/local");
    let local = local.to_str().unwrap();
    for args in [
        vec!["explain"],
        vec!["explain", "--json"],
        vec!["explain", "memory-budget"],
        vec!["schema"],
        vec!["check", local],
        vec!["check", local, "--format", "json"],
        vec!["graph", local, "--format", "dot"],
        vec!["lint", local],
        vec!["init", "--list-services"],
        vec!["secrets", "show", local],
        vec!["secrets", "show", local, "--json"],
        vec!["--help"],
    ] {
        // The reader has gone before vpai writes a byte.
        let mut child = vpai()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(
            out.status.code().is_some(),
            "{args:?} was killed: {:?}",
            out.status
        );
    }
}

#[test]
fn secrets_speak_json_and_keep_values_out_unless_revealed() {
    let local = root().join("examples/local");
    let show = run(vpai().args(["secrets", "show"]).arg(&local).arg("--json"));
    assert_eq!(show.code, 0, "{}", show.stderr);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&show.stdout).unwrap();
    let redis = rows
        .iter()
        .find(|r| r["name"] == "redis_password")
        .expect("redis_password listed");
    assert_eq!(redis["state"], "set");
    assert_eq!(redis["owner"], "redis");
    assert!(
        rows.iter().all(|r| r.get("value").is_none()),
        "{}",
        show.stdout
    );

    let revealed = run(vpai().args(["secrets", "show"]).arg(&local).args([
        "redis_password",
        "--json",
        "--reveal",
    ]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&revealed.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    let plain = run(vpai()
        .args(["secrets", "show"])
        .arg(&local)
        .args(["redis_password", "--reveal"]));
    assert_eq!(rows[0]["value"], plain.stdout.trim());

    let tmp = tempfile::tempdir().unwrap();
    let dir = local_without_secrets(tmp.path());
    let sync = run(vpai().args(["secrets", "sync"]).arg(&dir).arg("--json"));
    assert_eq!(sync.code, 0, "{}", sync.stderr);
    let doc: serde_json::Value = serde_json::from_str(&sync.stdout).unwrap();
    assert!(
        doc["generated"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "redis_password"),
        "{doc}"
    );
    assert_eq!(doc["missing"], serde_json::json!(["nocodb_api_token"]));
    let explain = run(vpai().args(["explain", "--json"]));
    let checks: Vec<serde_json::Value> = serde_json::from_str(&explain.stdout).unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "invalid-lint-ignore" && c["command"] == "vpai check")
    );
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "audit-orphan" && c["command"] == "vpai host audit")
    );
}

/// `KEY=value` of a rendered env file.
fn env_value(bundle: &Path, file: &str, key: &str) -> String {
    let text = std::fs::read_to_string(bundle.join(file)).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {file}"))
        .to_string()
}

#[test]
fn each_environment_has_its_own_secrets_and_a_shared_one_is_kept_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = local_without_secrets(tmp.path());
    let stack = dir.join("vpai.toml");
    let mut text = std::fs::read_to_string(&stack).unwrap();
    text.push_str("\n[secrets.nocodb_api_token]\nshared = true\n");
    std::fs::write(&stack, text).unwrap();
    let render = |env: &str| {
        let out = tmp.path().join(format!("bundle-{env}"));
        let outcome = run(vpai()
            .arg("render")
            .arg(&dir)
            .args(["--env", env, "--out"])
            .arg(&out));
        (outcome, out)
    };
    let sync = run(vpai().args(["secrets", "sync"]).arg(&dir));
    assert_eq!(sync.code, 0, "{}", sync.stderr);
    let set = hint(&sync.stdout, "nocodb_api_token");
    assert_eq!(run_hint(&set, b"one-token\n").code, 0);
    let (prod, prod_out) = render("prod");
    assert_eq!(prod.code, 0, "{}", prod.stderr);

    // preprod has no values yet: the refusal names its file and the command for it.
    let (refused, preprod_out) = render("preprod");
    assert_eq!(refused.code, 1);
    assert!(!preprod_out.exists());
    assert!(
        refused
            .stderr
            .contains("secrets.preprod.age does not exist"),
        "{}",
        refused.stderr
    );
    let sync = hint(&refused.stderr, "does not exist");
    assert_eq!(sync[sync.len() - 2..], ["--env", "preprod"]);
    // check warns of the same, with the same command.
    let check = run(vpai().arg("check").arg(&dir).args(["--env", "preprod"]));
    assert_eq!(check.code, 0, "{}", check.stdout);
    assert_eq!(
        hint(&check.stdout, "secrets.preprod.age does not exist"),
        sync
    );
    let synced = run_hint(&sync, b"");
    assert_eq!(synced.code, 0, "{}", synced.stderr);
    assert!(
        !synced.stdout.contains("nocodb_api_token"),
        "a shared secret is asked for again:\n{}",
        synced.stdout
    );
    let (preprod, preprod_out) = render("preprod");
    assert_eq!(preprod.code, 0, "{}", preprod.stderr);

    let password = |out: &Path| {
        env_value(
            out,
            "local/configs/postgresql/postgresql.env",
            "POSTGRES_PASSWORD",
        )
    };
    let token = |out: &Path| env_value(out, "local/configs/n8n/n8n.env", "NOCODB_API_TOKEN");
    assert_eq!(password(&prod_out).len(), 32);
    assert_ne!(password(&prod_out), password(&preprod_out));
    assert_eq!(token(&prod_out), "one-token");
    assert_eq!(token(&preprod_out), "one-token");

    // Setting the shared secret from preprod changes it for prod too.
    let words = [
        "secrets",
        "set",
        dir.to_str().unwrap(),
        "nocodb_api_token",
        "--env",
        "preprod",
    ];
    let set = run_hint(&words.map(str::to_string), b"another-token\n");
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert_eq!(set.stdout.trim(), "set nocodb_api_token in secrets.age");
    let show = |env: &str| {
        let out = run(vpai()
            .args(["secrets", "show"])
            .arg(&dir)
            .args(["--env", env, "--json"]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()
    };
    let file_of = |rows: &serde_json::Value, name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["file"].as_str().unwrap().to_string())
            .unwrap()
    };
    let preprod_rows = show("preprod");
    assert_eq!(file_of(&preprod_rows, "nocodb_api_token"), "secrets.age");
    assert_eq!(
        file_of(&preprod_rows, "postgresql_password"),
        "secrets.preprod.age"
    );
    assert_eq!(file_of(&show("prod"), "postgresql_password"), "secrets.age");
    let reveal = run(vpai()
        .args(["secrets", "show"])
        .arg(&dir)
        .args(["nocodb_api_token", "--reveal"]));
    assert_eq!(reveal.stdout.trim(), "another-token");
}
