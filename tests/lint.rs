//! `vpai lint` end to end: one fixture and one snapshot per lint rule, the output
//! formats, selection and suppressions, and the lint of vpai's own bundles.

mod common;

use common::{root, run, vpai};
use std::path::{Path, PathBuf};

/// The files of a fixture directory, sorted, as names relative to it.
fn fixture_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "select.txt")
        .collect();
    files.sort();
    files
}

/// `tests/lint/RULE/` holds the files of one run; `select.txt`, if present, lists
/// the rules to run (default: RULE alone). The snapshot is the human output.
#[test]
fn rule_fixtures() {
    for rule in vpai::lint::rules::LINT_RULES {
        let name = rule.name();
        let dir = root().join("tests/lint").join(name);
        assert!(
            dir.is_dir(),
            "lint rule `{name}` has no fixture {}",
            dir.display()
        );
        let select = std::fs::read_to_string(dir.join("select.txt"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| name.to_string());
        let out = run(vpai()
            .current_dir(&dir)
            .args(["lint", "--select", &select])
            .args(fixture_files(&dir)));
        assert!(
            out.stdout.contains(&format!("[{name}]")),
            "fixture of `{name}` produced no finding of it:\n{}{}",
            out.stdout,
            out.stderr
        );
        let expected_code = if rule.severity() == vpai::diagnostic::Severity::Error {
            1
        } else {
            out.code
        };
        assert_eq!(out.code, expected_code, "{name}: {}", out.stdout);
        insta::assert_snapshot!(format!("lint-{name}"), out.stdout);
    }
}

/// Render an example for one environment into a fresh directory.
fn render(example: &str, env: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let dir = root().join("examples").join(example);
    let result = run(vpai().args([
        "render",
        "-C",
        dir.to_str().unwrap(),
        "--env",
        env,
        "-o",
        out.to_str().unwrap(),
        "--identity",
        dir.join("example-identity.txt").to_str().unwrap(),
    ]));
    assert_eq!(result.code, 0, "{}", result.stderr);
    (tmp, out)
}

/// What vpai renders passes its own lint: no error in any example and environment.
/// The warnings that remain are listed here, so a new one is a decision.
#[test]
fn rendered_bundles_lint_clean() {
    for (example, envs) in [
        ("javisi", &["prod", "preprod"][..]),
        ("accoreboot", &["prod", "preprod", "test"][..]),
        ("local", &["prod"][..]),
    ] {
        for env in envs {
            let (_tmp, out) = render(example, env);
            let result = run(vpai().args(["lint", "--format", "json"]).arg(&out));
            let doc: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
            let diagnostics = doc["diagnostics"].as_array().unwrap();
            let errors: Vec<_> = diagnostics
                .iter()
                .filter(|d| d["severity"] == "error")
                .collect();
            assert!(
                errors.is_empty(),
                "{example}/{env}: vpai lint finds errors in vpai's own bundle: {errors:#?}"
            );
            assert_eq!(result.code, 0);
            assert!(
                doc["files"].as_u64().unwrap() >= 2,
                "{example}/{env}: compose file and Caddyfile"
            );
            assert!(
                diagnostics.is_empty(),
                "{example}/{env}: vpai lint finds something in vpai's own bundle: {diagnostics:#?}"
            );
        }
    }
}

/// `(file, line, rule)` of every finding of a JSON report.
fn findings(json: &str) -> Vec<(String, u64, String)> {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut out: Vec<_> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["location"]["file"].as_str().unwrap_or("").to_string(),
                d["location"]["line"].as_u64().unwrap_or(0),
                d["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const GPU: &str = "services:
  gpu:
    image: ollama/ollama
    privileged: true
    ports: [\"11434:11434\"]
";

/// Human, JSON and SARIF report the same findings; the SARIF file is read back by
/// Microsoft's sarif-tools (`sarif csv`), a real consumer of the format.
#[test]
fn formats_agree_and_sarif_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "docker-compose.yml", GPU);
    let lint = |format: &str| {
        run(vpai()
            .current_dir(tmp.path())
            .args(["lint", "--format", format, "docker-compose.yml"]))
    };
    let human = lint("human");
    assert_eq!(human.code, 1);
    assert!(
        human
            .stdout
            .contains("error[compose-privileged]: `gpu` runs privileged")
    );
    assert!(
        human.stdout.contains("┌─ docker-compose.yml:4:5"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("1 error, 5 warnings in 1 file"));

    let json = lint("json");
    assert_eq!(json.code, 1);
    let expected = findings(&json.stdout);
    assert_eq!(
        expected
            .iter()
            .map(|(_, l, r)| (*l, r.as_str()))
            .collect::<Vec<_>>(),
        [
            (2, "compose-no-healthcheck"),
            (2, "compose-no-memory-limit"),
            (2, "compose-no-pids-limit"),
            (3, "compose-unpinned-image"),
            (4, "compose-privileged"),
            (5, "compose-port-all-interfaces"),
        ]
    );

    let sarif = lint("sarif");
    assert_eq!(sarif.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let run0 = &doc["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), vpai::lint::rules::LINT_RULES.len());
    for result in run0["results"].as_array().unwrap() {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert!(
            rules[index]["help"]["markdown"]
                .as_str()
                .unwrap()
                .contains("## Why is this bad?")
        );
    }
    let privileged = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "compose-privileged")
        .unwrap();
    assert_eq!(privileged["level"], "error");
    let region = &privileged["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(4), Some(5))
    );
    assert_eq!(region["endColumn"].as_u64(), Some(21));

    let sarif_file = tmp.path().join("out.sarif");
    std::fs::write(&sarif_file, &sarif.stdout).unwrap();
    let csv_file = tmp.path().join("out.csv");
    let tool = std::process::Command::new("sarif")
        .args(["csv", "--output"])
        .arg(&csv_file)
        .arg(&sarif_file)
        .output()
        .expect("`sarif` (pip install sarif-tools==3.0.5) is on PATH; `bash .ci/run` installs it");
    assert!(
        tool.status.success(),
        "{}",
        String::from_utf8_lossy(&tool.stderr)
    );
    let csv = std::fs::read_to_string(&csv_file).unwrap();
    // Tool,Severity,Code,Description,Location,Line; descriptions span lines, so a
    // record starts at a line beginning with the tool's name.
    let mut read_back: Vec<(String, u64, String)> = csv
        .split("\nvpai,")
        .skip(1)
        .map(|record| {
            let code = record.split(',').nth(1).unwrap().to_string();
            let mut tail = record.trim_end().rsplitn(3, ',');
            let line = tail.next().unwrap().parse().unwrap();
            let file = tail.next().unwrap().to_string();
            (file, line, code)
        })
        .collect();
    read_back.sort();
    assert_eq!(read_back, expected, "sarif-tools read back:\n{csv}");
}

/// Inline comments silence one finding each and need a reason; selection works per
/// run and per file; a typo in a selector is refused with a suggestion.
#[test]
fn suppressions_and_selection() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "docker-compose.yml",
        "# vpai: ignore-file[compose-no-pids-limit] pids are capped by the host's systemd slice
services:
  gpu:
    image: ollama/ollama:0.12.6  # vpai: ignore[compose-unpinned-image] pinned already, nothing to silence
    # vpai: ignore[compose-privileged] the GPU driver needs it until the NVIDIA runtime lands
    privileged: true
    # vpai: ignore[compose-port-all-interfaces]
    ports: [\"11434:11434\"]
    # vpai: ignore[compose-no-memory-limt] typo
    healthcheck:
      test: [\"CMD\", \"ollama\", \"list\"]
",
    );
    let lint = |args: &[&str]| {
        let out = run(vpai().current_dir(tmp.path()).arg("lint").args(args).args([
            "--format",
            "json",
            "docker-compose.yml",
        ]));
        (
            out.code,
            findings(&out.stdout)
                .into_iter()
                .map(|(_, l, r)| (l, r))
                .collect::<Vec<_>>(),
        )
    };
    let rules = |list: &[(u64, &str)]| {
        list.iter()
            .map(|(l, r)| (*l, r.to_string()))
            .collect::<Vec<_>>()
    };

    // privileged and pids are silenced (no-new-privileges is not reported on a
    // privileged service); the comment without a reason and the one
    // with a misspelled rule are findings and silence nothing; the suppression of a
    // tag that is pinned is unused.
    let (code, all) = lint(&[]);
    assert_eq!(
        all,
        rules(&[
            (3, "compose-no-memory-limit"),
            (4, "unused-suppression"),
            (7, "invalid-suppression"),
            (8, "compose-port-all-interfaces"),
            (9, "invalid-suppression"),
        ])
    );
    assert_eq!(code, 1, "invalid suppressions are errors");

    let (code, only) = lint(&["--select", "compose-privileged,compose-port"]);
    assert_eq!(only, rules(&[(8, "compose-port-all-interfaces")]));
    assert_eq!(code, 0);

    let (_, ignored) = lint(&[
        "--ignore",
        "compose-no,invalid-suppression,unused-suppression",
    ]);
    assert_eq!(ignored, rules(&[(8, "compose-port-all-interfaces")]));

    let (_, per_file) = lint(&[
        "--select",
        "compose-port-all-interfaces,compose-no-memory-limit",
        "--per-file-ignores",
        "*.yml:compose-port-all-interfaces",
    ]);
    assert_eq!(per_file, rules(&[(3, "compose-no-memory-limit")]));

    let typo = run(vpai().current_dir(tmp.path()).args([
        "lint",
        "--select",
        "compose-privilegd",
        "docker-compose.yml",
    ]));
    assert_eq!(typo.code, 1);
    assert!(
        typo.stderr
            .contains("`--select compose-privilegd` names no lint rule"),
        "{}",
        typo.stderr
    );
    assert!(
        typo.stderr.contains("did you mean `compose-privileged`?"),
        "{}",
        typo.stderr
    );
}

/// Files vpai cannot read or parse are reported with their position; the others are
/// still linted.
#[test]
fn unreadable_and_broken_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "notes.txt", "hello\n");
    write(tmp.path(), "broken.yml", "services:\n  a:\n    image: [x\n");
    write(tmp.path(), "Caddyfile", "a.example {\n  respond 200\n");
    write(tmp.path(), "docker-compose.yml", GPU);
    let out = run(vpai().current_dir(tmp.path()).args([
        "lint",
        "--format",
        "json",
        "notes.txt",
        "broken.yml",
        "Caddyfile",
        "docker-compose.yml",
        "missing.yml",
    ]));
    assert_eq!(out.code, 1);
    let all = findings(&out.stdout);
    let codes: Vec<(&str, u64, &str)> = all
        .iter()
        .map(|(f, l, r)| (f.as_str(), *l, r.as_str()))
        .filter(|(_, _, r)| !r.starts_with("compose-"))
        .collect();
    assert_eq!(
        codes,
        [
            ("", 0, "lint-input"),
            ("", 0, "lint-input"),
            ("Caddyfile", 1, "syntax-error"),
            ("broken.yml", 4, "syntax-error"),
        ]
    );
    assert!(
        all.iter()
            .any(|(f, _, r)| f == "docker-compose.yml" && r == "compose-privileged")
    );
}
