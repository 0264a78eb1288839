//! `vpai lint` on a corpus of realistic stacks: what it finds on the files people
//! publish, and that it finds nothing on correct ones.
//!
//! Each directory of `tests/lint-corpus/` holds the files of one lint run (a
//! compose file, often a Caddyfile, sometimes a deploy script) and `expected.txt`:
//! one line per finding a careful reviewer expects, `FILE:LINE RULE`, with FILE
//! relative to the case directory. An empty `expected.txt` is a correct stack.
//! Lines starting with `#` are comments.

mod common;

use common::{root, run, vpai};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One finding: file relative to the case, 1-based line, rule.
type Finding = (String, u64, String);

fn corpus() -> PathBuf {
    root().join("tests/lint-corpus")
}

/// The case directories, sorted.
fn cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("tests/lint-corpus exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The files of a case (all but `expected.txt`), relative to it, sorted.
fn case_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if path.file_name().is_some_and(|n| n != "expected.txt") {
                let relative = path.strip_prefix(base).unwrap();
                out.push(relative.to_str().unwrap().replace('\\', "/"));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}

fn expected(dir: &Path) -> Vec<Finding> {
    let path = dir.join("expected.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut findings: Vec<Finding> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let parsed = l.split_once(' ').and_then(|(location, rule)| {
                let (file, line) = location.rsplit_once(':')?;
                Some((
                    file.to_string(),
                    line.parse().ok()?,
                    rule.trim().to_string(),
                ))
            });
            parsed.unwrap_or_else(|| panic!("{}: `{l}` is not `FILE:LINE RULE`", path.display()))
        })
        .collect();
    findings.sort();
    findings
}

struct Actual {
    findings: Vec<Finding>,
    /// Severity as reported, per finding.
    severity: BTreeMap<Finding, String>,
    code: i32,
    output: String,
}

fn lint(dir: &Path, files: &[String]) -> Actual {
    let out = run(vpai()
        .current_dir(dir)
        .args(["lint", "--format", "json"])
        .args(files));
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON from vpai lint ({e}):\n{}{}",
            dir.display(),
            out.stdout,
            out.stderr
        )
    });
    let mut findings = Vec::new();
    let mut severity = BTreeMap::new();
    for d in doc["diagnostics"].as_array().expect("diagnostics") {
        let location = &d["location"];
        let finding = (
            location["file"].as_str().unwrap_or_default().to_string(),
            location["line"].as_u64().unwrap_or_default(),
            d["code"].as_str().expect("code").to_string(),
        );
        severity.insert(
            finding.clone(),
            d["severity"].as_str().unwrap_or_default().to_string(),
        );
        findings.push(finding);
    }
    findings.sort();
    Actual {
        findings,
        severity,
        code: out.code,
        output: out.stdout,
    }
}

/// `expected` minus `actual`, as a multiset.
fn minus(expected: &[Finding], actual: &[Finding]) -> Vec<Finding> {
    let mut rest = actual.to_vec();
    expected
        .iter()
        .filter(|f| match rest.iter().position(|a| a == *f) {
            Some(i) => {
                rest.remove(i);
                false
            }
            None => true,
        })
        .cloned()
        .collect()
}

fn show(findings: &[Finding], sign: char) -> String {
    findings
        .iter()
        .map(|(file, line, rule)| format!("  {sign} {file}:{line} {rule}\n"))
        .collect()
}

/// Whether a finding is an error. The rule's declared severity, except for
/// `compose-sensitive-mount`, whose read-only mounts are warnings: for it the
/// severity vpai reported for that very finding is used.
fn is_error(finding: &Finding, actual: &Actual) -> bool {
    let rule = &finding.2;
    if rule == "compose-sensitive-mount" {
        return actual.severity.get(finding).map(String::as_str) == Some("error");
    }
    let declared = vpai::lint::rules::find(rule)
        .unwrap_or_else(|| panic!("expected.txt names `{rule}`, which is no lint rule"));
    declared.severity() == vpai::diagnostic::Severity::Error
}

#[test]
fn corpus_findings_match_the_reviewers_expectations() {
    let mut failures = String::new();
    for dir in cases() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let files = case_files(&dir);
        assert!(!files.is_empty(), "{name}: no files to lint");
        let expected = expected(&dir);
        let actual = lint(&dir, &files);

        let missing = minus(&expected, &actual.findings);
        let unexpected = minus(&actual.findings, &expected);
        if !missing.is_empty() || !unexpected.is_empty() {
            failures.push_str(&format!(
                "\n{name} (vpai lint --format json {}):\n{}{}",
                files.join(" "),
                show(&missing, '-'),
                show(&unexpected, '+'),
            ));
            continue;
        }

        let error_expected = expected.iter().any(|f| is_error(f, &actual));
        let code = i32::from(error_expected);
        if actual.code != code {
            failures.push_str(&format!(
                "\n{name}: exit code {} (expected {code}: {}):\n{}",
                actual.code,
                if error_expected {
                    "an error is expected"
                } else {
                    "warnings only"
                },
                actual.output
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "vpai lint differs from tests/lint-corpus/*/expected.txt \
         (- expected but not found, + found but not expected):{failures}"
    );
}

#[test]
fn corpus_has_enough_cases_and_correct_stacks() {
    let cases = cases();
    assert!(
        cases.len() >= 15,
        "the corpus has {} cases, fewer than 15",
        cases.len()
    );
    let clean = cases.iter().filter(|dir| expected(dir).is_empty()).count();
    assert!(
        clean >= 5,
        "only {clean} cases are correct stacks (empty expected.txt); at least 5 are needed"
    );
}
