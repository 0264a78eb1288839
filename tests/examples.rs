//! The bundled examples: resolved model and every rendered file as snapshots, for
//! every environment; rendering is deterministic; env files are private; the
//! examples pass their own checks.

mod common;

use std::path::Path;

use common::{root, run, vpai};
use vpai::secrets::{self, SecretValues};

const EXAMPLES: &[(&str, &[&str])] = &[
    ("javisi", &["prod", "preprod"]),
    ("accoreboot", &["test", "preprod", "prod"]),
];

fn load(example: &str, env: &str) -> (vpai::stack::Stack, SecretValues) {
    let dir = root().join("examples").join(example);
    let stack = vpai::stack::load(&dir, env)
        .unwrap_or_else(|r| panic!("{example}/{env}: {:?}", r.diagnostics));
    let candidates = secrets::identity_candidates(None, &dir, stack.identity.as_deref());
    let values = secrets::decrypt(&dir.join(secrets::SECRETS_FILE), &candidates)
        .expect("example secrets decrypt");
    (stack, values)
}

/// Secret values never appear in snapshots: each is replaced by its name.
fn redact(text: &str, values: &SecretValues) -> String {
    let mut pairs: Vec<(&str, &str)> = values.iter().collect();
    pairs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    let mut out = text.to_string();
    for (name, value) in pairs {
        if value.len() >= 8 {
            out = out.replace(value, &format!("<secret:{name}>"));
        }
    }
    out
}

#[test]
fn examples_pass_their_own_checks() {
    for (example, envs) in EXAMPLES {
        for env in *envs {
            let (stack, _) = load(example, env);
            let problems = vpai::rules::check(&stack);
            assert!(problems.is_empty(), "{example}/{env}: {problems:#?}");
        }
    }
}

#[test]
fn resolved_models() {
    for (example, envs) in EXAMPLES {
        for env in *envs {
            let (stack, _) = load(example, env);
            let json = serde_json::to_string_pretty(&stack).unwrap();
            insta::assert_snapshot!(format!("model-{example}-{env}"), json);
        }
    }
}

#[test]
fn rendered_files() {
    for (example, envs) in EXAMPLES {
        for env in *envs {
            let (stack, values) = load(example, env);
            let bundle = vpai::render::render(&stack, &values).expect("example renders");
            for (path, file) in &bundle.files {
                assert!(!file.content.contains('\r'), "{}: CRLF", path.display());
                let name = format!("render-{example}-{env}-{}", path.display()).replace('/', "__");
                insta::assert_snapshot!(name, redact(&file.content, &values));
            }
        }
    }
}

#[test]
fn rendering_is_byte_for_byte_deterministic() {
    for (example, envs) in EXAMPLES {
        for env in *envs {
            let (stack, values) = load(example, env);
            let first = vpai::render::render(&stack, &values).unwrap();
            let (stack2, values2) = load(example, env);
            assert_eq!(
                first,
                vpai::render::render(&stack2, &values2).unwrap(),
                "{example}/{env}"
            );
        }
    }
    // And across processes, through the CLI, down to the bytes on disk.
    let tmp = tempfile::tempdir().unwrap();
    let dirs = [tmp.path().join("a"), tmp.path().join("b")];
    for out in &dirs {
        let o = run(vpai()
            .args(["render", "-C"])
            .arg(root().join("examples/javisi"))
            .arg("--out")
            .arg(out));
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    assert_eq!(tree(&dirs[0]), tree(&dirs[1]));
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                out.push((
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                    mode,
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn env_files_are_private_and_hold_the_only_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle");
    let o = run(vpai()
        .args(["render", "-C"])
        .arg(root().join("examples/javisi"))
        .arg("--out")
        .arg(&out));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (_, values) = load("javisi", "prod");
    for (path, content, mode) in tree(&out) {
        let text = String::from_utf8(content).unwrap();
        if path.ends_with(".env") {
            assert_eq!(mode, 0o600, "{path} must be 0600");
        } else {
            for (name, value) in values.iter() {
                assert!(
                    !text.contains(value),
                    "{path} contains the value of secret `{name}`"
                );
            }
        }
    }
    // Nothing the CLI printed carries a secret either.
    for (name, value) in values.iter() {
        assert!(
            !o.stderr.contains(value) && !o.stdout.contains(value),
            "output leaks `{name}`"
        );
    }
}

#[test]
fn nocodb_is_wired_into_openclaw_and_n8n_as_seed_000_asks() {
    let (stack, values) = load("javisi", "prod");
    let bundle = vpai::render::render(&stack, &values).unwrap();
    let token = values.get("nocodb_api_token").unwrap();
    let n8n = &bundle.get("vps/configs/n8n/n8n.env").unwrap().content;
    let openclaw = &bundle
        .get("vps/configs/openclaw/openclaw.env")
        .unwrap()
        .content;
    assert!(
        n8n.contains("NOCODB_BASE_URL=https://hq.example.cloud\n"),
        "{n8n}"
    );
    assert!(
        openclaw.contains("NOCODB_BASE_URL=http://nocodb:8080\n"),
        "{openclaw}"
    );
    assert!(n8n.contains(&format!("NOCODB_API_TOKEN={token}\n")));
    assert!(openclaw.contains(&format!("NOCODB_API_TOKEN={token}\n")));
    // One secret, one source: the role's password is what NocoDB connects with.
    let nocodb = &bundle.get("vps/configs/nocodb/nocodb.env").unwrap().content;
    let pg = &bundle
        .get("vps/configs/postgresql/postgresql.env")
        .unwrap()
        .content;
    let password = values.get("db_nocodb_password").unwrap();
    assert!(nocodb.contains(&format!("p={password}&")), "{nocodb}");
    assert!(pg.contains(&format!("VPAI_DB_NOCODB_PASSWORD={password}\n")));
}

#[test]
fn disabling_nocodb_removes_its_wiring() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["vpai.toml", "secrets.age", "example-identity.txt"] {
        std::fs::copy(root().join("examples/javisi").join(f), tmp.path().join(f)).unwrap();
    }
    let path = tmp.path().join("vpai.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "[services.nocodb]\nsubdomain = \"hq\"",
            "[services.nocodb]\nenabled = false",
        ),
    )
    .unwrap();
    let stack = vpai::stack::load(tmp.path(), "prod").unwrap();
    assert!(!stack.services.contains_key("nocodb"));
    assert!(!stack.services["n8n"].env.contains_key("NOCODB_BASE_URL"));
    assert!(
        !stack.services["openclaw"]
            .env
            .contains_key("NOCODB_API_TOKEN")
    );
    assert!(!stack.databases.iter().any(|d| d.name == "nocodb"));
}
