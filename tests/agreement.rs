//! Two parts of vpai that judge the same thing agree: a stack that `vpai check`
//! accepts renders a bundle on which `vpai lint` reports no error. Run over every
//! example and environment, over the stacks of `tests/agreement/` (written to check
//! clean while touching what a stack rule and its lint twin both judge), and over
//! every fixture stack of `tests/rules` and `tests/broken` that checks clean: a stack
//! rule and its lint twin that drift apart fail here.

mod common;

use std::path::{Path, PathBuf};

use common::{header, root};
use vpai::diagnostic::Severity;
use vpai::secrets::{self, SecretValues};

/// Every stack of the repository with the environment it is checked in, and
/// whether it must check clean.
fn stacks() -> Vec<(PathBuf, String, bool)> {
    let mut out = Vec::new();
    for example in ["javisi", "accoreboot", "local"] {
        let dir = root().join("examples").join(example);
        for env in ["prod", "preprod", "test"] {
            // Not every example has every environment.
            out.push((dir.clone(), env.to_string(), false));
        }
    }
    for corpus in ["tests/agreement", "tests/rules", "tests/broken"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(corpus))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let env = header(&file, "env").unwrap_or_else(|| "prod".to_string());
            out.push((file, env, corpus == "tests/agreement"));
        }
    }
    out
}

/// The example's own secrets, or generated ones (a fixed value for those the
/// operator provides) for a fixture that has none.
fn secret_values(path: &Path, stack: &vpai::stack::Stack) -> SecretValues {
    let file = path.join(secrets::SECRETS_FILE);
    if file.exists() {
        let candidates = secrets::identity_candidates(None, path, stack.identity.as_deref());
        return secrets::decrypt(&file, &candidates).expect("example secrets decrypt");
    }
    let mut values = SecretValues::default();
    for spec in stack.secrets.values() {
        if spec.provided {
            values.set(&spec.name, "provided-by-the-operator".to_string());
        }
    }
    values.generate_missing(&stack.secrets.values().collect::<Vec<_>>());
    values
}

/// `vpai lint`'s errors on a rendered bundle, one line each.
fn lint_errors(bundle_dir: &Path) -> Vec<String> {
    let report = vpai::lint::lint(&[bundle_dir.to_path_buf()], &Default::default())
        .expect("the default selection is valid");
    assert!(
        report.files > 0,
        "lint read no file in {}",
        bundle_dir.display()
    );
    report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let at = d.primary.as_ref().map_or(String::new(), |p| {
                let (line, _) = report.sources.line_col(p.span.source, p.span.range.start);
                format!("{}:{line}: ", report.sources.name(p.span.source))
            });
            format!("{at}[{}] {}", d.code, d.message)
        })
        .collect()
}

#[test]
fn what_check_accepts_lint_accepts_once_rendered() {
    let mut judged = Vec::new();
    let mut disagreements = Vec::new();
    for (path, env, must_pass) in stacks() {
        let name = format!("{} ({env})", path.strip_prefix(root()).unwrap().display());
        let stack = match vpai::stack::load(&path, &env) {
            Ok(stack) => stack,
            Err(report) if must_pass => panic!("{name} does not load: {:#?}", report.diagnostics),
            Err(_) => continue, // an environment the example lacks, or a broken file
        };
        let problems = vpai::rules::check(&stack);
        if problems.iter().any(|d| d.is_error()) {
            assert!(!must_pass, "{name} must check clean: {problems:#?}");
            continue;
        }
        let values = secret_values(&path, &stack);
        let bundle = vpai::render::render(&stack, &values).unwrap_or_else(|d| {
            panic!(
                "{} ({env}) checks clean but does not render: {d:#?}",
                path.display()
            )
        });
        let out = tempfile::tempdir().unwrap();
        vpai::render::write(&bundle, out.path()).unwrap();
        let errors = lint_errors(out.path());
        if !errors.is_empty() {
            disagreements.push(format!("{name}:\n  {}", errors.join("\n  ")));
        }
        judged.push(name);
    }
    // The examples in all their environments and the agreement stacks.
    assert!(
        judged.len() >= 9,
        "only {} stacks checked clean: {judged:?}",
        judged.len()
    );
    assert!(
        disagreements.is_empty(),
        "`vpai check` accepts these stacks, `vpai lint` refuses their bundles:\n{}",
        disagreements.join("\n")
    );
}

/// The judge is not blind: the same lint run on a bundle of an example, with one
/// service made privileged by hand, reports the error.
#[test]
fn lint_refuses_a_bundle_spoiled_by_hand() {
    let dir = root().join("examples/local");
    let stack = vpai::stack::load(&dir, "prod").unwrap();
    let bundle = vpai::render::render(&stack, &secret_values(&dir, &stack)).unwrap();
    let out = tempfile::tempdir().unwrap();
    vpai::render::write(&bundle, out.path()).unwrap();
    assert_eq!(lint_errors(out.path()), Vec::<String>::new());
    let compose = walk(out.path())
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "docker-compose.yml"))
        .expect("the bundle has a compose file");
    let text = std::fs::read_to_string(&compose).unwrap();
    let spoiled = text.replacen("    image: ", "    privileged: true\n    image: ", 1);
    assert_ne!(text, spoiled);
    std::fs::write(&compose, spoiled).unwrap();
    let errors = lint_errors(out.path());
    assert!(
        errors.iter().any(|e| e.contains("[compose-privileged]")),
        "{errors:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
