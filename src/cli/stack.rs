//! The commands over a stack file alone: check, render, graph, lint, explain.

use crate::console::{stderrln, stdout, stdoutln};
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
            let mut d = rules::check(&stack);
            d.extend(
                secrets::unset_values(&stack::load::stack_path(args.dir()), &stack)
                    .into_iter()
                    .map(super::hints::runnable_diagnostic),
            );
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
    stack::load::stack_dir(args.dir())
}

/// The stack's secrets, as every command reads them ([`secrets::load`]).
pub(super) fn secrets(
    args: &StackArgs,
    stack: &Stack,
    identity: &IdentityArgs,
) -> Result<SecretValues, Failure> {
    Ok(secrets::load(
        &stack_dir(args),
        stack,
        identity.identity.as_deref(),
    )?)
}

/// Load a stack and refuse it, with every diagnostic, when `check` finds an error.
pub(super) fn load_checked(
    args: &StackArgs,
    code: &'static str,
    refusal: &str,
) -> Result<Stack, Failure> {
    Ok(rules::require_clean(load(args)?, code, refusal)?)
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
    let values = secrets(args, &stack, identity)?;
    let bundle = render::render(&stack, &values).map_err(|diagnostics| Failure {
        diagnostics,
        sources: stack.sources.clone(),
    })?;
    render::write(&bundle, out, &stack_dir(args))?;
    let hosts: Vec<&str> = stack
        .hosts
        .keys()
        .map(String::as_str)
        .filter(|h| out.join(h).exists())
        .collect();
    stderrln!(
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
            stderrln!(
                "drew `{}` ({}: {} on {}) into {}",
                stack.project.name,
                stack.env,
                count(stack.services.len(), "service"),
                count(stack.hosts.len(), "host"),
                path.display()
            );
        }
        None => stdout!("{drawing}"),
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

/// Every check vpai knows, with the command that runs it.
fn every_check() -> Vec<(&'static str, &'static crate::diagnostic::Check)> {
    rules::RULES
        .iter()
        .map(|r| ("check", r.meta()))
        .chain(
            crate::lint::rules::LINT_RULES
                .iter()
                .map(|r| ("lint", r.meta())),
        )
        .chain(
            crate::host::audit::AUDIT_CHECKS
                .iter()
                .map(|c| ("host audit", *c)),
        )
        .collect()
}

pub(super) fn explain(rule: Option<&str>, json: bool) -> Result<ExitCode, Failure> {
    let summary = |doc: &str| {
        doc.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("")
            .to_string()
    };
    let checks = every_check();
    let as_json = |command: &str, c: &crate::diagnostic::Check| {
        serde_json::json!({
            "name": c.name,
            "command": format!("vpai {command}"),
            "severity": c.severity,
            "summary": summary(c.doc),
            "page": c.explain(),
        })
    };
    let Some(name) = rule else {
        if json {
            let all: Vec<_> = checks.iter().map(|(cmd, c)| as_json(cmd, c)).collect();
            print_json(&all);
            return Ok(ExitCode::SUCCESS);
        }
        for (command, title) in [
            ("check", "Stack rules (vpai check):"),
            ("lint", "\nLint rules (vpai lint):"),
            (
                "host audit",
                "\nHost audit checks (vpai host audit; it also reports the compose- rules):",
            ),
        ] {
            stdoutln!("{title}");
            for (_, c) in checks.iter().filter(|(cmd, _)| *cmd == command) {
                stdoutln!("  {:<38} {}", c.name, summary(c.doc));
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some((command, check)) = checks.iter().find(|(_, c)| c.name == name) else {
        return Err(
            Diagnostic::error("unknown-rule", format!("no rule named `{name}`"))
                .maybe_help(crate::suggest::hint(
                    name,
                    checks.iter().map(|(_, c)| c.name),
                ))
                .note("`vpai explain` lists every rule")
                .into(),
        );
    };
    if json {
        print_json(&as_json(command, check));
    } else {
        stdout!("{}", check.explain());
    }
    Ok(ExitCode::SUCCESS)
}
