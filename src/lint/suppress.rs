//! What the operator chose not to hear: rule selection for the run and per file,
//! and `# vpai:` comments in the linted files.
//!
//! ```text
//! # vpai: ignore[compose-docker-socket] Alloy reads container logs through the API
//! - /var/run/docker.sock:/var/run/docker.sock:ro
//! privileged: true  # vpai: ignore[compose-privileged] the GPU driver needs it
//! # vpai: ignore-file[compose-no-pids-limit] pids are capped by the systemd slice
//! ```
//!
//! A comment alone on its line silences the next non-comment line; a trailing
//! comment silences its own line; `ignore-file` silences the whole file. The reason
//! is required: a suppression without one silences nothing and is reported, so
//! every exception in a repository says why it is there.

use std::cell::Cell;
use std::ops::Range;
use std::path::Path;

use globset::{Glob, GlobMatcher};

use crate::diagnostic::Diagnostic;
use crate::lint::File;
use crate::source::{Sources, Span};

/// The selection as given on the command line.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Rules to run (names or prefixes such as `caddy` or `compose-no`); all when empty.
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    /// `GLOB:RULE[,RULE...]`.
    pub per_file_ignores: Vec<String>,
}

/// The selection, checked against the registry.
pub struct Selection {
    /// The registry's rule names: what a selector or a suppression may name.
    rules: Vec<&'static str>,
    select: Vec<String>,
    ignore: Vec<String>,
    per_file: Vec<(GlobMatcher, Vec<String>)>,
}

fn matches(selector: &str, rule: &str) -> bool {
    selector == "all"
        || rule == selector
        || rule
            .strip_prefix(selector)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// A selector that names no rule is a typo: refuse it, with the closest name.
fn check_selector(selector: &str, flag: &str, rules: &[&str]) -> Result<(), Diagnostic> {
    if rules.iter().any(|r| matches(selector, r)) {
        return Ok(());
    }
    Err(Diagnostic::error(
        "lint-option",
        format!("`{flag} {selector}` names no lint rule"),
    )
    .maybe_help(crate::suggest::hint(selector, rules.iter().copied()))
    .note("a selector is a rule name, a prefix such as `caddy` or `compose-no`, or `all`; `vpai explain` lists the rules"))
}

impl Options {
    /// The selection among `rules`, the names of the registry's rules.
    pub fn selection(&self, registry: &[&'static str]) -> Result<Selection, Diagnostic> {
        for s in &self.select {
            check_selector(s, "--select", registry)?;
        }
        for s in &self.ignore {
            check_selector(s, "--ignore", registry)?;
        }
        let mut per_file = Vec::new();
        for entry in &self.per_file_ignores {
            let Some((pattern, rules)) = entry.rsplit_once(':') else {
                return Err(Diagnostic::error(
                    "lint-option",
                    format!("`--per-file-ignores {entry}` is not GLOB:RULE[,RULE...]"),
                )
                .help(
                    "for example `--per-file-ignores 'monitoring/*.yml:compose-docker-socket'`",
                ));
            };
            let glob = Glob::new(pattern).map_err(|e| {
                Diagnostic::error("lint-option", format!("bad glob `{pattern}`: {e}"))
            })?;
            let selectors: Vec<String> = rules.split(',').map(|r| r.trim().to_string()).collect();
            for selector in &selectors {
                check_selector(selector, "--per-file-ignores", registry)?;
            }
            per_file.push((glob.compile_matcher(), selectors));
        }
        Ok(Selection {
            rules: registry.to_vec(),
            select: self.select.clone(),
            ignore: self.ignore.clone(),
            per_file,
        })
    }
}

impl Selection {
    /// Whether `rule` runs on the file at `path`.
    pub fn wants(&self, rule: &str, path: &Path) -> bool {
        let selected = self.select.is_empty() || self.select.iter().any(|s| matches(s, rule));
        let ignored = self.ignore.iter().any(|s| matches(s, rule));
        let ignored_here = self.per_file.iter().any(|(glob, rules)| {
            (glob.is_match(path) || path.file_name().is_some_and(|n| glob.is_match(n)))
                && rules.iter().any(|s| matches(s, rule))
        });
        selected && !ignored && !ignored_here
    }
}

/// One `# vpai:` comment.
#[derive(Debug)]
pub struct Suppression {
    /// The rule names with their byte ranges.
    pub rules: Vec<(String, Range<usize>)>,
    pub reason: String,
    pub whole_file: bool,
    /// 0-based line it silences (unused for `ignore-file`).
    pub target_line: usize,
    /// The comment itself.
    pub span: Range<usize>,
    /// What is wrong with it, if anything: such a comment silences nothing.
    pub problem: Option<(String, Range<usize>)>,
    used: Cell<bool>,
}

/// Every `# vpai:` comment in `text`; one naming a rule not in `rules` is a problem.
pub fn suppressions(text: &str, rules: &[&str]) -> Vec<Suppression> {
    let lines: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .scan(0, |offset, line| {
            let start = *offset;
            *offset += line.len();
            Some((start, line.trim_end_matches(['\n', '\r'])))
        })
        .collect();
    let code_line_after = |from: usize| {
        (from + 1..lines.len())
            .find(|&i| {
                let t = lines[i].1.trim_start();
                !t.is_empty() && !t.starts_with('#')
            })
            .unwrap_or(from)
    };
    let mut out = Vec::new();
    for (index, &(start, line)) in lines.iter().enumerate() {
        let Some(hash) = find_directive(line) else {
            continue;
        };
        let comment = &line[hash..];
        let body_at = hash + comment.find("vpai:").expect("found above") + "vpai:".len();
        let body = &line[body_at..];
        let trimmed = body.trim_start();
        let body_at = body_at + (body.len() - trimmed.len());
        let (whole_file, after_verb) = if let Some(rest) = trimmed.strip_prefix("ignore-file") {
            (true, rest)
        } else if let Some(rest) = trimmed.strip_prefix("ignore") {
            (false, rest)
        } else {
            out.push(Suppression {
                rules: Vec::new(),
                reason: String::new(),
                whole_file: false,
                target_line: index,
                span: start + hash..start + line.len(),
                problem: Some((
                    "expected `ignore[RULE] REASON` or `ignore-file[RULE] REASON` after `vpai:`"
                        .into(),
                    start + body_at..start + line.len(),
                )),
                used: Cell::new(false),
            });
            continue;
        };
        let verb_end = body_at + (trimmed.len() - after_verb.len());
        let mut suppression = Suppression {
            rules: Vec::new(),
            reason: String::new(),
            whole_file,
            target_line: if line[..hash].trim().is_empty() {
                code_line_after(index)
            } else {
                index
            },
            span: start + hash..start + line.len(),
            problem: None,
            used: Cell::new(false),
        };
        match after_verb.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((names, reason)) => {
                let mut at = verb_end + 1;
                for name in names.split(',') {
                    let leading = name.len() - name.trim_start().len();
                    let name_start = start + at + leading;
                    let trimmed_name = name.trim();
                    suppression.rules.push((
                        trimmed_name.to_string(),
                        name_start..name_start + trimmed_name.len(),
                    ));
                    at += name.len() + 1;
                }
                suppression.reason = reason.trim().to_string();
                if suppression.reason.is_empty() {
                    suppression.problem = Some((
                        "a suppression needs a reason after the `]`".into(),
                        suppression.span.clone(),
                    ));
                }
                for (name, range) in &suppression.rules {
                    if suppression.problem.is_none() && !rules.contains(&name.as_str()) {
                        let hint = crate::suggest::did_you_mean(name, rules.iter().copied())
                            .map_or(String::new(), |c| format!(" (did you mean `{c}`?)"));
                        suppression.problem =
                            Some((format!("no lint rule named `{name}`{hint}"), range.clone()));
                    }
                }
            }
            None => {
                suppression.problem = Some((
                    "expected `[RULE, ...]` right after the verb".into(),
                    start + verb_end..start + line.len(),
                ))
            }
        }
        out.push(suppression);
    }
    out
}

/// The byte index of the `#` of a `# vpai:` comment in `line`.
fn find_directive(line: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = line[from..].find('#') {
        let hash = from + i;
        let rest = line[hash + 1..].trim_start();
        let starts_token = hash == 0 || line[..hash].ends_with(char::is_whitespace);
        if starts_token && rest.starts_with("vpai:") {
            return Some(hash);
        }
        from = hash + 1;
    }
    None
}

/// Drop the findings that a valid suppression covers; report the suppressions that
/// covered nothing.
pub fn apply(
    file: &File,
    sources: &Sources,
    found: Vec<Diagnostic>,
    selection: &Selection,
) -> Vec<Diagnostic> {
    let list = suppressions(sources.text(file.source), &selection.rules);
    let line_of = |offset: usize| sources.line_col(file.source, offset).0 - 1;
    let mut kept = Vec::new();
    for d in found {
        let line = d
            .primary
            .as_ref()
            .filter(|p| p.span.source == file.source)
            .map(|p| line_of(p.span.range.start));
        let cover = list.iter().find(|s| {
            s.problem.is_none()
                && s.rules.iter().any(|(name, _)| name == d.code)
                && (s.whole_file || Some(s.target_line) == line)
        });
        match cover {
            Some(s) => s.used.set(true),
            None => kept.push(d),
        }
    }
    if selection.wants("unused-suppression", &file.path) {
        for s in list.iter().filter(|s| s.problem.is_none() && !s.used.get()) {
            // Only a rule that ran can prove its suppression useless.
            if !s
                .rules
                .iter()
                .all(|(name, _)| selection.wants(name, &file.path))
            {
                continue;
            }
            let names: Vec<&str> = s.rules.iter().map(|(n, _)| n.as_str()).collect();
            kept.push(
                Diagnostic::warning(
                    "unused-suppression",
                    format!(
                        "this suppression of `{}` silences nothing",
                        names.join("`, `")
                    ),
                )
                .at(
                    Some(&Span::new(file.source, s.span.clone())),
                    if s.whole_file {
                        "no finding of this rule in the file"
                    } else {
                        "no finding of this rule on the line it covers"
                    },
                )
                .help("remove it, or move it above the line the finding points at"),
            );
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &[&str] = &[
        "compose-privileged",
        "compose-no-healthcheck",
        "caddy-heredoc-status",
    ];

    #[test]
    fn own_line_comment_covers_the_next_code_line() {
        let text = "a:\n  # vpai: ignore[compose-privileged] the GPU driver needs it\n\n  privileged: true\n";
        let list = suppressions(text, RULES);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].target_line, 3);
        assert_eq!(list[0].reason, "the GPU driver needs it");
        assert!(list[0].problem.is_none());
    }

    #[test]
    fn trailing_comment_covers_its_line() {
        let list = suppressions(
            "privileged: true # vpai: ignore[compose-privileged] GPU\n",
            RULES,
        );
        assert_eq!(list[0].target_line, 0);
        assert_eq!(list[0].rules[0].0, "compose-privileged");
    }

    #[test]
    fn missing_reason_and_unknown_rule_are_problems() {
        let list = suppressions(
            "# vpai: ignore[compose-privileged]\n# vpai: ignore[compose-privileg] why\n",
            RULES,
        );
        assert!(list[0].problem.as_ref().unwrap().0.contains("reason"));
        let (message, range) = list[1].problem.as_ref().unwrap();
        assert!(
            message.contains("did you mean `compose-privileged`"),
            "{message}"
        );
        let text = "# vpai: ignore[compose-privileged]\n# vpai: ignore[compose-privileg] why\n";
        assert_eq!(&text[range.clone()], "compose-privileg");
    }

    #[test]
    fn a_hash_inside_a_word_is_not_a_comment() {
        assert!(suppressions("url: http://x/#vpai:ignore[a] b\n", RULES).is_empty());
    }

    #[test]
    fn selectors_are_names_or_prefixes() {
        assert!(matches("caddy", "caddy-heredoc-status"));
        assert!(matches("compose-no", "compose-no-healthcheck"));
        assert!(!matches("compose-no", "compose-non"));
        assert!(matches("all", "compose-privileged"));
        assert!(check_selector("compose-privilegd", "--select", RULES).is_err());
    }
}
