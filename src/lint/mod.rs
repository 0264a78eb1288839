//! `vpai lint`: the pitfalls vpai makes impossible in its own output, looked for in
//! compose files, Caddyfiles and deploy scripts that someone else wrote.
//!
//! Files are read with positions kept ([`yaml`], [`caddyfile`]), every rule of
//! [`rules::LINT_RULES`] whose kind matches runs on each file (rules may also look
//! at the other files of the run: the compose service that mounts a Caddyfile, the
//! script that restarts a service), then [`suppress`] applies what the operator
//! asked to silence: `--select`/`--ignore`, `--per-file-ignores`, and `# vpai:`
//! comments in the files themselves.
//!
//! **Invariant:** linting reads files and prints; it never writes, never talks to
//! Docker and never needs secrets.

pub mod caddyfile;
pub mod compose;
pub mod rules;
pub mod sarif;
pub mod suppress;
pub mod yaml;

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::source::{SourceId, Sources, Span};

/// What a file is, which decides the rules that read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Compose,
    Caddyfile,
    /// A shell script, Makefile or Ansible task file that drives `docker compose`.
    Script,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Compose => "compose",
            Kind::Caddyfile => "caddyfile",
            Kind::Script => "script",
        }
    }
}

pub enum Parsed {
    Compose(yaml::Node),
    Caddyfile(caddyfile::Caddyfile),
    Script,
}

pub struct File {
    pub path: PathBuf,
    pub source: SourceId,
    pub kind: Kind,
    pub parsed: Parsed,
}

impl File {
    pub fn span(&self, range: std::ops::Range<usize>) -> Span {
        Span::new(self.source, range)
    }

    pub fn compose(&self) -> Option<&yaml::Node> {
        match &self.parsed {
            Parsed::Compose(root) => Some(root),
            _ => None,
        }
    }

    pub fn caddyfile(&self) -> Option<&caddyfile::Caddyfile> {
        match &self.parsed {
            Parsed::Caddyfile(c) => Some(c),
            _ => None,
        }
    }

    pub fn directory(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Everything one run reads: the rules see all files, to follow references between
/// them.
pub struct Run {
    pub sources: Sources,
    pub files: Vec<File>,
}

/// The outcome: findings sorted by file, line, then rule.
pub struct Report {
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
    pub files: usize,
}

/// A file's kind from its name alone; `None` for YAML, which only its content decides.
fn kind_by_name(path: &Path) -> Option<Option<Kind>> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if name.starts_with("caddyfile") || name.ends_with(".caddy") || name.ends_with(".caddyfile") {
        return Some(Some(Kind::Caddyfile));
    }
    if name.ends_with(".sh") || name == "makefile" || name == "justfile" || name.ends_with(".mk") {
        return Some(Some(Kind::Script));
    }
    if name.ends_with(".yml") || name.ends_with(".yaml") {
        return Some(None);
    }
    None
}

fn is_yaml(path: &Path) -> bool {
    kind_by_name(path) == Some(None)
}

/// A parse failure: the message and the byte offset it was found at.
type SyntaxError = (String, usize);

/// The kind and the parsed content of a file, parsed once. YAML with a top-level
/// `services` mapping is a compose file, other YAML a script (Ansible tasks); YAML
/// that does not parse is reported as a compose file's syntax error rather than
/// skipped as a script.
fn parse(path: &Path, text: &str) -> Option<(Kind, Result<Parsed, SyntaxError>)> {
    Some(match kind_by_name(path)? {
        Some(Kind::Caddyfile) => (
            Kind::Caddyfile,
            caddyfile::Caddyfile::parse(text)
                .map(Parsed::Caddyfile)
                .map_err(|e| (e.message, e.offset)),
        ),
        Some(kind) => (kind, Ok(Parsed::Script)),
        None => match yaml::parse(text) {
            Ok(root) if !compose::is_compose(&root) => (Kind::Script, Ok(Parsed::Script)),
            Ok(root) => (Kind::Compose, Ok(Parsed::Compose(root))),
            Err(e) => (Kind::Compose, Err((e.message, e.offset))),
        },
    })
}

/// The files to read: the paths given, with directories searched (sorted) for the
/// files `vpai lint` reads by name. `true` marks a file found by searching.
fn expand(paths: &[PathBuf]) -> Vec<(PathBuf, bool)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            out.push((dir.to_path_buf(), false));
            return;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if kind_by_name(&path).is_some() {
                out.push((path, true));
            }
        }
    }
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out);
        } else {
            out.push((path.clone(), false));
        }
    }
    out
}

/// Read and parse the files (directories searched); a file that cannot be read or
/// parsed becomes a diagnostic and is left out of the rules.
pub fn load(paths: &[PathBuf]) -> (Run, Vec<Diagnostic>) {
    let mut run = Run {
        sources: Sources::default(),
        files: Vec::new(),
    };
    let mut problems = Vec::new();
    for (path, found) in expand(paths) {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(
                    Diagnostic::error("lint-input", format!("cannot read {}: {e}", path.display()))
                        .help("pass compose files, Caddyfiles or deploy scripts"),
                );
                continue;
            }
        };
        let Some((kind, parsed)) = parse(&path, &text) else {
            problems.push(
                Diagnostic::error(
                    "lint-input",
                    format!("{}: not a compose file, Caddyfile or deploy script", path.display()),
                )
                .help("vpai lint reads *.yml/*.yaml (compose files and Ansible tasks), Caddyfile* and *.caddy, *.sh and Makefiles"),
            );
            continue;
        };
        // In a searched directory, YAML other than compose files is configuration
        // (Loki, LiteLLM...), not a deploy script.
        if found && kind == Kind::Script && is_yaml(&path) {
            continue;
        }
        let source = run.sources.add(path.display().to_string(), text);
        match parsed {
            Ok(parsed) => run.files.push(File {
                path,
                source,
                kind,
                parsed,
            }),
            Err((message, offset)) => problems.push(
                Diagnostic::error(
                    "syntax-error",
                    format!("cannot parse this {}", kind.as_str()),
                )
                .at(Some(&Span::new(source, offset..offset)), message),
            ),
        }
    }
    (run, problems)
}

/// Lint `paths` with `options`: the findings that remain after suppressions.
pub fn lint(paths: &[PathBuf], options: &suppress::Options) -> Result<Report, Diagnostic> {
    let selection = options.selection(&rules::names())?;
    let (run, mut diagnostics) = load(paths);
    for file in &run.files {
        let mut found = Vec::new();
        for rule in rules::LINT_RULES {
            if rule.kinds().contains(&file.kind) && selection.wants(rule.name(), &file.path) {
                rule.check(file, &run, &mut found);
            }
        }
        diagnostics.extend(suppress::apply(file, &run.sources, found, &selection));
    }
    let sources = run.sources;
    let location = |d: &Diagnostic| {
        d.primary
            .as_ref()
            .map(|p| (p.span.source, p.span.range.start))
    };
    diagnostics.sort_by(|a, b| location(a).cmp(&location(b)).then(a.code.cmp(b.code)));
    Ok(Report {
        sources,
        diagnostics,
        files: run.files.len(),
    })
}
