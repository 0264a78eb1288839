//! The layer matrix: which top-level module of `src/` may name which, so that the
//! architecture ARCHITECTURE.md draws cannot rot one convenient import at a time.
//!
//! Read from the source itself: every `crate::…` and `super::…` path outside the
//! `#[cfg(test)]` tail of a file, with comments, strings and char literals removed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom first. A module may name the modules of the layers below its own.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundation",
        &[
            "console",
            "diagnostic",
            "paths",
            "source",
            "suggest",
            "units",
        ],
    ),
    ("model", &["stack"]),
    ("knowledge", &["knowledge"]),
    ("secrets", &["secrets"]),
    ("pure stages", &["rules", "render", "graph", "lint"]),
    ("engine", &["engine"]),
    ("operations", &["smoke", "deploy", "backup", "host", "init"]),
    ("cli", &["cli"]),
];

/// Inside one layer, only these; the cycle check below keeps them a one-way street.
const SAME_LAYER: &[(&str, &str)] = &[
    ("diagnostic", "source"),
    ("deploy", "smoke"),
    ("backup", "deploy"),
    // A mount's `lint_ignore` must name a lint rule (`invalid-lint-ignore`).
    ("rules", "lint"),
];

/// The modules that may read the file format's types; everything above the model
/// speaks the resolved `Stack` and `stack::kinds`. `cli` prints the JSON Schema of the file.
const RAW_READERS: &[&str] = &["stack", "cli"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `text` without comments, string and char literals, and without its test tail.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        let after_ident = i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if !after_ident && (rest.starts_with("r\"") || rest.starts_with("r#")) {
            let hashes = rest[1..].bytes().take_while(|&b| b == b'#').count();
            if rest.as_bytes().get(1 + hashes) == Some(&b'"') {
                let close = format!("\"{}", "#".repeat(hashes));
                let body = 2 + hashes;
                i += rest[body..]
                    .find(&close)
                    .map_or(rest.len(), |e| body + e + close.len());
                out.push_str("\"\"");
            } else {
                out.push('r');
                i += 1;
            }
        } else if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            i = j + 1;
            out.push_str("\"\"");
        } else if bytes[i] == b'\'' && char_literal_len(rest).is_some() {
            i += char_literal_len(rest).unwrap();
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of a char literal at the start of `rest` (`'a'`, `'\n'`, `'\u{1F600}'`),
/// or none for a lifetime.
fn char_literal_len(rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices().skip(1);
    let (_, first) = chars.next()?;
    if first == '\\' {
        return rest[2..].find('\'').map(|e| e + 3);
    }
    let (at, second) = chars.next()?;
    (second == '\'').then_some(at + 1)
}

/// The module path of a file under src/: `render/mod.rs` -> ["render"].
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// Every path a file names, made absolute from the crate root (`super::` resolved),
/// grouped imports (`use crate::{a, b::c}`) expanded.
fn paths_named(file: &Path, code: &str) -> Vec<Vec<String>> {
    let here = module_of(file);
    // `super` of `a/b.rs` and of `a/b/mod.rs` alike is `a`.
    let parent: Vec<String> = here[..here.len().saturating_sub(1)].to_vec();
    let mut found = Vec::new();
    for (start, anchor) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let begin = from + at;
            from = begin + start.len();
            let before = code[..begin].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            for tail in expand(&code[from..]) {
                let mut path = anchor.clone();
                path.extend(tail);
                found.push(path);
            }
        }
    }
    found
}

/// `a::b::{c, d::e}` at the start of `rest` -> [a,b,c], [a,b,d,e].
fn expand(rest: &str) -> Vec<Vec<String>> {
    let mut path = Vec::new();
    let mut i = 0;
    let bytes = rest.as_bytes();
    loop {
        let len = rest[i..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len() - i);
        if len == 0 {
            if bytes.get(i) == Some(&b'{') {
                let close = matching_brace(&rest[i..]);
                let inner = &rest[i + 1..i + close];
                return split_top_level(inner)
                    .into_iter()
                    .flat_map(|item| {
                        let item = item.trim();
                        let subs = expand(item);
                        subs.into_iter()
                            .map(|s| path.iter().cloned().chain(s).collect())
                            .collect::<Vec<Vec<String>>>()
                    })
                    .collect();
            }
            return vec![path];
        }
        path.push(rest[i..i + len].to_string());
        i += len;
        if rest[i..].starts_with("::") {
            i += 2;
        } else {
            return vec![path];
        }
    }
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut depth, mut start, mut items) = (0, 0, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// The source file that holds the longest prefix of `path` that is a module.
fn file_of(path: &[String]) -> Option<PathBuf> {
    (1..=path.len()).rev().find_map(|n| {
        let base = path[..n].iter().fold(src(), |p, part| p.join(part));
        [base.with_extension("rs"), base.join("mod.rs")]
            .into_iter()
            .find(|f| f.is_file())
    })
}

/// The unit a circle is looked for between: a file, or a whole sub-module of a
/// top-level module (`lint/rules/*.rs` is `lint/rules`), whose files may freely
/// name their siblings.
fn unit_of(file: &Path) -> PathBuf {
    let rel = file.strip_prefix(src()).unwrap();
    let parts: Vec<_> = rel.components().collect();
    if parts.len() > 2 {
        src().join(parts[0]).join(parts[1])
    } else {
        file.to_path_buf()
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

struct Graph {
    /// file -> files it names
    files: BTreeMap<PathBuf, BTreeSet<PathBuf>>,
    /// (from module, to module) -> one file that makes the edge
    modules: BTreeMap<(String, String), PathBuf>,
    raw_readers: BTreeSet<(String, PathBuf)>,
}

fn graph() -> Graph {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph = Graph {
        files: BTreeMap::new(),
        modules: BTreeMap::new(),
        raw_readers: BTreeSet::new(),
    };
    for file in files {
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        let from = module_of(&file);
        let Some(top) = from.first().cloned() else {
            continue;
        };
        for path in paths_named(&file, &code) {
            let Some(first) = path.first() else { continue };
            if path.len() >= 2 && path[0] == "stack" && path[1] == "raw" {
                graph.raw_readers.insert((top.clone(), file.clone()));
            }
            if *first != top {
                graph
                    .modules
                    .entry((top.clone(), first.clone()))
                    .or_insert_with(|| file.clone());
            }
            if let Some(target) = file_of(&path) {
                let (a, b) = (unit_of(&file), unit_of(&target));
                if a != b {
                    graph.files.entry(a).or_default().insert(b);
                }
            }
        }
    }
    graph
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

fn shown(file: &Path) -> String {
    file.strip_prefix(src().parent().unwrap())
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn every_top_level_module_has_a_layer() {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if ["lib", "main"].contains(&name.as_str()) {
            continue;
        }
        if layer_of(&name).is_none() {
            missing.push(name);
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "put these modules in a layer of tests/layers.rs (and ARCHITECTURE.md): {missing:?}"
    );
}

#[test]
fn imports_point_down_the_layers() {
    let graph = graph();
    assert!(
        graph.modules.len() > 20,
        "the scanner found only {} module edges",
        graph.modules.len()
    );
    let mut upward = Vec::new();
    for ((from, to), file) in &graph.modules {
        let (Some(a), Some(b)) = (layer_of(from), layer_of(to)) else {
            continue; // a module without a layer fails the test above
        };
        let allowed = b < a || (a == b && SAME_LAYER.contains(&(from.as_str(), to.as_str())));
        if !allowed {
            upward.push(format!(
                "{} ({}) names {to} ({}), e.g. in {}",
                from,
                LAYERS[a].0,
                LAYERS[b].0,
                shown(file)
            ));
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layers:\n{}",
        upward.join("\n")
    );
}

#[test]
fn only_the_model_reads_the_file_format() {
    let readers: Vec<String> = graph()
        .raw_readers
        .iter()
        .filter(|(module, _)| !RAW_READERS.contains(&module.as_str()))
        .map(|(_, file)| shown(file))
        .collect();
    assert!(
        readers.is_empty(),
        "`stack::raw` named above the model (use the resolved `Stack` or `stack::kinds`): {readers:?}"
    );
}

#[test]
fn no_two_files_name_each_other_through_a_circle() {
    let graph = graph();
    // Tarjan's strongly connected components over the file graph.
    struct State<'g> {
        edges: &'g BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'g Path, usize>,
        low: BTreeMap<&'g Path, usize>,
        stack: Vec<&'g Path>,
        on_stack: BTreeSet<&'g Path>,
        circles: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Path) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let w = w.as_path();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(shown(w));
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.circles.push(component);
            }
        }
    }
    let mut state = State {
        edges: &graph.files,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        circles: Vec::new(),
    };
    for file in graph.files.keys() {
        if !state.index.contains_key(file.as_path()) {
            visit(&mut state, file);
        }
    }
    assert!(
        state.circles.is_empty(),
        "files that name each other in a circle: {:?}",
        state.circles
    );
}

#[test]
fn the_scanner_reads_grouped_imports_and_ignores_comments_and_strings() {
    let code = code_of(
        "use crate::{a::{B, c::D}, e};\n// crate::commented\nlet s = \"crate::quoted\";\nlet c = '\"'; crate::f::g();\n#[cfg(test)]\nmod tests { use crate::tested; }\n",
    );
    let paths = paths_named(&src().join("x.rs"), &code);
    let shown: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(shown, ["a::B", "a::c::D", "e", "f::g"]);
}
