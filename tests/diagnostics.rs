//! CLI tests of errors: every broken stack file under `tests/broken/` and every
//! rule fixture under `tests/rules/` runs through the real binary. Each fixture
//! names the diagnostic it must produce (`# expect: CODE`); the full output is a
//! snapshot.

mod common;

use common::{header, relative, root, run, vpai};

fn check_fixture(path: &std::path::Path, expected: &str) -> String {
    let env = header(path, "env").unwrap_or_else(|| "prod".to_string());
    let rel = path.strip_prefix(root()).unwrap();
    let out = run(vpai()
        .current_dir(root())
        .args(["check", "--env", &env, "-C"])
        .arg(rel));
    // `check` fails on errors only: a fixture of a warning rule may exit 0.
    let errors = out.stdout.contains("error[");
    assert_eq!(
        out.code,
        i32::from(errors),
        "{}: exit code against the diagnostics\n{}{}",
        rel.display(),
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.contains(&format!("[{expected}]")),
        "{}: expected a `{expected}` diagnostic, got:\n{}",
        rel.display(),
        out.stdout
    );
    relative(&out.stdout)
}

#[test]
fn broken_stack_files() {
    let mut count = 0;
    insta::glob!("broken/*.toml", |path| {
        let expected = header(path, "expect").expect("every broken fixture has `# expect: CODE`");
        insta::assert_snapshot!(check_fixture(path, &expected));
        count += 1;
    });
    assert!(
        count >= 20,
        "the broken-stack corpus has {count} files; keep at least 20"
    );
}

#[test]
fn rule_fixtures() {
    insta::glob!("rules/*.toml", |path| {
        let rule = path.file_stem().unwrap().to_str().unwrap().to_string();
        insta::assert_snapshot!(check_fixture(path, &rule));
    });
}

#[test]
fn every_rule_has_a_fixture() {
    let out = run(vpai().arg("explain"));
    assert_eq!(out.code, 0);
    let mut section = "";
    let mut seen = 0;
    for line in out.stdout.lines() {
        if !line.starts_with("  ") {
            section = line;
            continue;
        }
        seen += 1;
        let rule = line.split_whitespace().next().unwrap();
        // Host audit checks judge a live engine's facts: their fixtures are the unit
        // tests of `host::audit`.
        let fixture = if section.starts_with("Lint rules") {
            Some(root().join("tests/lint").join(rule))
        } else if section.starts_with("Stack rules") {
            Some(root().join("tests/rules").join(format!("{rule}.toml")))
        } else {
            assert!(section.starts_with("Host audit checks"), "{section}");
            None
        };
        if let Some(fixture) = fixture {
            assert!(
                fixture.exists(),
                "rule `{rule}` has no fixture {}",
                fixture.display()
            );
        }
        let page = run(vpai().args(["explain", rule]));
        assert_eq!(page.code, 0);
        for section in [
            "## What it does",
            "## Why is this bad?",
            "## Example",
            "## Fix",
        ] {
            assert!(
                page.stdout.contains(section),
                "`vpai explain {rule}` lacks {section}"
            );
        }
    }
    assert!(seen > 50, "`vpai explain` listed only {seen} rules");
}

#[test]
fn explain_unknown_rule_suggests() {
    let out = run(vpai().args(["explain", "memory-budgte"]));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("did you mean `memory-budget`?"),
        "{}",
        out.stderr
    );
}
