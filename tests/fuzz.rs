//! Property test over mutated example stacks: whatever a stack file says, loading,
//! resolving, checking and rendering never panic, and render never writes outside
//! `--out`. The examples are the seeds; each case applies a few mutations (hostile
//! strings in place of values and keys, removed keys, changed types, new keys) and
//! runs the whole model-to-disk path. The case budget and the seed are fixed so
//! `cargo test` stays fast and reproducible (proptest's failure persistence is
//! off: a failure prints its minimal case); `VPAI_FUZZ_CASES` and
//! `VPAI_FUZZ_SEED` widen the search.

use std::path::{Component, Path};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
use toml::{Table, Value};
use vpai::secrets::SecretValues;

const EXAMPLES: &[(&str, &str)] = &[
    ("javisi", "prod"),
    ("accoreboot", "prod"),
    ("local", "prod"),
];

/// Strings that have broken a writer or a path join before, or would if a check
/// were missing: traversal, separators, newlines, templates, Caddy address lists,
/// env assignment, case collisions, the Docker socket.
const HOSTILE: &[&str] = &[
    "../../x",
    "..",
    "/",
    "a/b",
    "a\nb",
    "a\r\nINJ=1",
    "{{ secret.x }}",
    "{{ services.x.url }}",
    "A=B",
    "",
    " ",
    "x, evil.example",
    "hooks.x evil.example {",
    "MyStack",
    "my_svc",
    "1stack",
    "/var/run/docker.sock",
    "/:/host",
    "$HOME",
    "${X}",
    "'; DROP TABLE x; --",
    "a\"b",
    "a\u{0}b",
    "🦀",
    "-rf",
    "~/.ssh",
    "/etc/passwd",
    "http://foo",
    "Mars/Base",
    "0.0.0.0/0",
    "999999999999999999999",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Put a string where a value was (strings, numbers, tables alike).
    Replace(usize, String),
    /// Rename the key that holds the chosen value.
    Rename(usize, String),
    Remove(usize),
    /// Swap the value for one of another type.
    Retype(usize, u8),
    /// Add `key = value` to the chosen table (or the table holding the chosen value).
    Insert(usize, String, String),
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(HOSTILE).prop_map(str::to_string),
        1 => "[a-zA-Z0-9._/ -]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        4 => (at, hostile()).prop_map(|(i, s)| Mutation::Replace(i, s)),
        2 => (at, hostile()).prop_map(|(i, s)| Mutation::Rename(i, s)),
        2 => at.prop_map(Mutation::Remove),
        1 => (at, any::<u8>()).prop_map(|(i, t)| Mutation::Retype(i, t)),
        2 => (at, hostile(), hostile()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
    ]
}

/// A step from a value to one it holds.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every value's position under `value`, as the steps leading to it.
fn positions(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    let children: Vec<(Step, &Value)> = match value {
        Value::Table(t) => t.iter().map(|(k, v)| (Step::Key(k.clone()), v)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (Step::Index(i), v))
            .collect(),
        _ => return,
    };
    for (step, child) in children {
        prefix.push(step);
        out.push(prefix.clone());
        positions(child, prefix, out);
        prefix.pop();
    }
}

/// The value holding the one at `path`, and the last step to it.
fn parent_mut<'a>(root: &'a mut Value, path: &'a [Step]) -> Option<(&'a mut Value, &'a Step)> {
    let (last, init) = path.split_last()?;
    let mut here = root;
    for step in init {
        here = match step {
            Step::Key(k) => here.as_table_mut()?.get_mut(k)?,
            Step::Index(i) => here.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some((here, last))
}

fn apply(root: &mut Value, mutation: &Mutation) {
    let mut all = Vec::new();
    positions(root, &mut Vec::new(), &mut all);
    let (Mutation::Replace(i, _)
    | Mutation::Rename(i, _)
    | Mutation::Remove(i)
    | Mutation::Retype(i, _)
    | Mutation::Insert(i, _, _)) = mutation;
    let Some(path) = all.get(i % all.len().max(1)) else {
        return;
    };
    let Some((parent, last)) = parent_mut(root, path) else {
        return;
    };
    match (mutation, parent, last) {
        (Mutation::Replace(_, s), parent, last) => set(parent, last, Value::String(s.clone())),
        (Mutation::Retype(_, t), parent, last) => {
            let value = match t % 4 {
                0 => Value::Integer(-1),
                1 => Value::Boolean(true),
                2 => Value::Array(vec![Value::String("..".into())]),
                _ => Value::Table(Table::new()),
            };
            set(parent, last, value);
        }
        (Mutation::Remove(_), Value::Table(t), Step::Key(k)) => {
            t.remove(k);
        }
        (Mutation::Remove(_), Value::Array(a), Step::Index(i)) => {
            a.remove(*i);
        }
        (Mutation::Rename(_, name), Value::Table(t), Step::Key(old)) => {
            if let Some(value) = t.remove(old) {
                t.insert(name.clone(), value);
            }
        }
        (Mutation::Insert(_, key, value), Value::Table(t), Step::Key(k)) => {
            // Into the chosen table when it is one, else beside the chosen value.
            let table = match t.get_mut(k) {
                Some(Value::Table(inner)) => inner,
                _ => t,
            };
            table.insert(key.clone(), Value::String(value.clone()));
        }
        _ => {}
    }
}

fn set(parent: &mut Value, last: &Step, value: Value) {
    match (parent, last) {
        (Value::Table(t), Step::Key(k)) => {
            t.insert(k.clone(), value);
        }
        (Value::Array(a), Step::Index(i)) => a[*i] = value,
        _ => {}
    }
}

fn seed(example: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(example)
        .join("vpai.toml");
    let table: Table = std::fs::read_to_string(&path)
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Value::Table(table)
}

/// Everything under `root`, relative to it, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Load, check and render one stack text; on success write the bundle to `out`.
/// Returns how far it got, so the test can tell that mutations do reach render.
fn exercise(text: &str, env: &str) -> &'static str {
    let tmp = tempfile::tempdir().unwrap();
    let stack_dir = tmp.path().join("stack");
    let out = tmp.path().join("out");
    std::fs::create_dir(&stack_dir).unwrap();
    std::fs::write(stack_dir.join("vpai.toml"), text).unwrap();
    let Ok(stack) = vpai::stack::load(&stack_dir, env) else {
        return "refused by the model";
    };
    let _ = vpai::rules::check(&stack);
    let mut values = SecretValues::default();
    for spec in stack.secrets.values().filter(|s| s.provided) {
        values.set(&spec.name, "provided-value".into());
    }
    values.generate_missing(&stack.secrets.values().collect::<Vec<_>>());
    let Ok(bundle) = vpai::render::render(&stack, &values) else {
        return "refused by render";
    };
    for path in bundle.files.keys() {
        assert!(
            path.is_relative()
                && path
                    .components()
                    .all(|c| matches!(c, Component::Normal(_) | Component::CurDir)),
            "a bundle path leaves the bundle: {}",
            path.display()
        );
    }
    let written = vpai::render::write(&bundle, &out, &stack_dir);
    let outside: Vec<String> = tree(tmp.path())
        .into_iter()
        .filter(|p| {
            !(p == "stack" || p == "stack/vpai.toml" || p == "out" || p.starts_with("out/"))
        })
        .collect();
    assert!(
        outside.is_empty(),
        "render wrote outside --out: {outside:?}"
    );
    assert_eq!(
        tree(&stack_dir),
        ["vpai.toml"],
        "render touched the stack directory"
    );
    match written {
        Ok(()) => "rendered",
        Err(_) => "refused by the writer",
    }
}

/// The first case the property test found: an env variable named `""` made the
/// diagnostic's key search match the empty string at one place forever.
#[test]
fn an_empty_env_key_is_refused_not_hung_on() {
    let mut table = seed("accoreboot");
    let Some(Value::Table(env)) = table
        .get_mut("services")
        .and_then(|s| s.get_mut("api"))
        .and_then(|s| s.get_mut("env"))
    else {
        panic!("accoreboot's api has an env table");
    };
    env.insert(String::new(), Value::String("<'ꥮ*¥&🕴ῥx".into()));
    let text = toml::to_string(&table).unwrap();
    assert_eq!(exercise(&text, "prod"), "refused by the model");
}

#[test]
fn unmutated_examples_render() {
    for (example, env) in EXAMPLES {
        let text = toml::to_string(&seed(example)).unwrap();
        assert_eq!(exercise(&text, env), "rendered", "{example}/{env}");
    }
}

proptest! {
    #![proptest_config(Config {
        cases: std::env::var("VPAI_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        // Fixed unless asked otherwise, so a CI run explores the same cases as the
        // last local one; `VPAI_FUZZ_SEED=<n>` explores others.
        rng_seed: RngSeed::Fixed(
            std::env::var("VPAI_FUZZ_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(11),
        ),
        ..Config::default()
    })]

    #[test]
    fn mutated_stacks_never_panic_nor_write_outside_out(
        example in 0..EXAMPLES.len(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let (name, env) = EXAMPLES[example];
        let mut table = seed(name);
        for m in &mutations {
            apply(&mut table, m);
        }
        let text = toml::to_string(&table).unwrap();
        exercise(&text, env);
    }
}
