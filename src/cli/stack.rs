//! The commands over a stack file alone: check, render, graph, lint, explain.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::diagnostic::{self, Diagnostic};
use crate::graph::GraphFormat;
use crate::secrets::{self, SecretValues};
use crate::source::Sources;
use crate::stack::{self, Stack};
use crate::{render, rules};

use super::args::*;
use super::output::*;

pub(super) fn load(args: &StackArgs) -> Result<Stack, Failure> {
    Ok(stack::load(args.dir(), &args.env)?)
}

pub(super) fn check(args: &StackArgs, format: Format, color: bool) -> Result<ExitCode, Failure> {
    let (diagnostics, sources, services) = match stack::load(args.dir(), &args.env) {
        Ok(stack) => {
            let d = rules::check(&stack);
            (d, stack.sources, stack.services.len())
        }
        Err(report) => (report.diagnostics, report.sources, 0),
    };
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    let mut stdout = std::io::stdout().lock();
    if format == Format::Json {
        let doc = serde_json::json!({
            "env": args.env,
            "ok": !failed,
            "diagnostics": diagnostic::render_json(&diagnostics, &sources),
        });
        writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&doc).expect("serializes")
        )
        .ok();
    } else {
        let color = color && std::io::stdout().is_terminal();
        write!(
            stdout,
            "{}",
            diagnostic::render_human(&diagnostics, &sources, color)
        )
        .ok();
        if diagnostics.is_empty() {
            writeln!(
                stdout,
                "ok: {services} services checked for `{}`, no problems found",
                args.env
            )
            .ok();
        } else {
            writeln!(
                stdout,
                "{} in `{}`",
                diagnostic::summary(&diagnostics),
                args.env
            )
            .ok();
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn stack_dir(args: &StackArgs) -> PathBuf {
    let path = stack::load::stack_path(args.dir());
    path.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub(super) fn secrets_file(args: &StackArgs) -> PathBuf {
    stack_dir(args).join(secrets::SECRETS_FILE)
}

pub(super) fn decrypt(
    args: &StackArgs,
    stack: &Stack,
    identity: &IdentityArgs,
) -> Result<SecretValues, Failure> {
    let file = secrets_file(args);
    if !file.exists() {
        return Err(
            Diagnostic::error("secrets", format!("{} does not exist", file.display()))
                .help("run `vpai secrets sync` to create it")
                .into(),
        );
    }
    let candidates = secrets::identity_candidates(
        identity.identity.as_deref(),
        &stack_dir(args),
        stack.identity.as_deref(),
    );
    Ok(secrets::decrypt(&file, &candidates)?)
}

/// Load a stack and refuse it, with every diagnostic, when `check` finds an error.
pub(super) fn load_checked(
    args: &StackArgs,
    code: &'static str,
    refusal: &str,
) -> Result<Stack, Failure> {
    let stack = load(args)?;
    let problems = rules::check(&stack);
    if problems.iter().any(Diagnostic::is_error) {
        let mut failure = Failure {
            diagnostics: problems,
            sources: stack.sources,
        };
        failure.diagnostics.push(
            Diagnostic::error(code, refusal.to_string())
                .help("run `vpai check` and fix them first"),
        );
        return Err(failure);
    }
    Ok(stack)
}

pub(super) fn render_cmd(
    args: &StackArgs,
    out: &Path,
    identity: &IdentityArgs,
) -> Result<ExitCode, Failure> {
    let stack = load_checked(
        args,
        "render-refused",
        "nothing rendered: the stack has errors",
    )?;
    let values = decrypt(args, &stack, identity)?;
    let bundle = render::render(&stack, &values).map_err(|diagnostics| Failure {
        diagnostics,
        sources: stack.sources.clone(),
    })?;
    render::write(&bundle, out)
        .map_err(|e| Diagnostic::error("io", format!("cannot write {}: {e}", out.display())))?;
    let hosts: Vec<&str> = stack
        .hosts
        .keys()
        .map(String::as_str)
        .filter(|h| out.join(h).exists())
        .collect();
    eprintln!(
        "rendered {} files for `{}` into {} (hosts: {})",
        bundle.files.len(),
        stack.env,
        out.display(),
        hosts.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn graph_cmd(
    args: &StackArgs,
    format: Option<GraphFormat>,
    out: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let format = format
        .or_else(|| out.and_then(format_of_extension))
        .unwrap_or(GraphFormat::Svg);
    let stack = load_checked(args, "graph-refused", "nothing drawn: the stack has errors")?;
    let drawing = crate::graph::render(&stack, format);
    match out {
        Some(path) => {
            std::fs::write(path, &drawing).map_err(|e| {
                Diagnostic::error("io", format!("cannot write {}: {e}", path.display()))
            })?;
            let count =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            eprintln!(
                "drew `{}` ({}: {} on {}) into {}",
                stack.project.name,
                stack.env,
                count(stack.services.len(), "service"),
                count(stack.hosts.len(), "host"),
                path.display()
            );
        }
        None => print!("{drawing}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The format a file name asks for: `stack.dot` is Graphviz source, not a picture.
pub(super) fn format_of_extension(path: &Path) -> Option<GraphFormat> {
    match path.extension()?.to_str()? {
        "svg" => Some(GraphFormat::Svg),
        "dot" | "gv" => Some(GraphFormat::Dot),
        "mmd" | "mermaid" => Some(GraphFormat::Mermaid),
        _ => None,
    }
}

pub(super) fn lint_cmd(
    paths: &[PathBuf],
    format: LintFormat,
    options: &crate::lint::suppress::Options,
    color: bool,
) -> Result<ExitCode, Failure> {
    let report = crate::lint::lint(paths, options).map_err(|d| Failure {
        diagnostics: vec![d],
        sources: Sources::default(),
    })?;
    let failed = report.diagnostics.iter().any(Diagnostic::is_error);
    let mut stdout = std::io::stdout().lock();
    match format {
        LintFormat::Json => {
            let doc = serde_json::json!({
                "ok": !failed,
                "files": report.files,
                "diagnostics": diagnostic::render_json(&report.diagnostics, &report.sources),
            });
            writeln!(
                stdout,
                "{}",
                serde_json::to_string_pretty(&doc).expect("serializes")
            )
            .ok();
        }
        LintFormat::Sarif => {
            let doc = crate::lint::sarif::render(&report.diagnostics, &report.sources);
            writeln!(
                stdout,
                "{}",
                serde_json::to_string_pretty(&doc).expect("serializes")
            )
            .ok();
        }
        LintFormat::Human => {
            let color = color && std::io::stdout().is_terminal();
            write!(
                stdout,
                "{}",
                diagnostic::render_human(&report.diagnostics, &report.sources, color)
            )
            .ok();
            let files = format!(
                "{} file{}",
                report.files,
                if report.files == 1 { "" } else { "s" }
            );
            if report.diagnostics.is_empty() {
                writeln!(stdout, "ok: {files} linted, no problems found").ok();
            } else {
                writeln!(
                    stdout,
                    "{} in {files}",
                    diagnostic::summary(&report.diagnostics)
                )
                .ok();
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn explain(rule: Option<&str>) -> Result<ExitCode, Failure> {
    let summary = |doc: &str| {
        doc.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("")
            .to_string()
    };
    let names = || {
        rules::RULES
            .iter()
            .map(|r| r.name())
            .chain(crate::lint::rules::LINT_RULES.iter().map(|r| r.name()))
            .chain(crate::host::audit::AUDIT_CHECKS.iter().map(|c| c.name))
    };
    match rule {
        None => {
            println!("Stack rules (vpai check):");
            for r in rules::RULES {
                println!("  {:<38} {}", r.name(), summary(r.meta().doc));
            }
            println!("\nLint rules (vpai lint):");
            for r in crate::lint::rules::LINT_RULES {
                println!("  {:<38} {}", r.name(), summary(r.meta().doc));
            }
            println!("\nHost audit checks (vpai host audit; it also reports the compose- rules):");
            for c in crate::host::audit::AUDIT_CHECKS {
                println!("  {:<38} {}", c.name, summary(c.doc));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(name) => {
            let page = match (
                rules::find(name),
                crate::lint::rules::find(name),
                crate::host::audit::find(name),
            ) {
                (Some(r), _, _) => r.meta().explain(),
                (None, Some(r), _) => r.meta().explain(),
                (None, None, Some(c)) => c.explain(),
                (None, None, None) => {
                    return Err(Diagnostic::error(
                        "unknown-rule",
                        format!("no rule named `{name}`"),
                    )
                    .maybe_help(crate::suggest::hint(name, names()))
                    .note("`vpai explain` lists every rule")
                    .into());
                }
            };
            print!("{page}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
