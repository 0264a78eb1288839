use crate::diagnostic::Diagnostic;
use crate::lint::rules::LINT_RULES;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::suggest;

declare_rule! {
    /// ## What it does
    /// Flags a mount's `lint_ignore` entry that names no lint rule, or gives no
    /// one-line reason.
    ///
    /// ## Why is this bad?
    /// `lint_ignore` accepts a lint finding on purpose: vpai writes it into the
    /// rendered compose file as a `# vpai: ignore[RULE] REASON` comment, and `vpai
    /// host audit` accepts the same finding on the live container. A misspelt rule
    /// silences nothing (the bundle's own `vpai lint` then reports an
    /// `invalid-suppression` error), and an exception without a reason tells the next
    /// operator nothing.
    ///
    /// ## Example
    /// ```toml
    /// [services.alloy]
    /// mounts = [{ source = "/var/run/docker.sock", target = "/var/run/docker.sock",
    ///   read_only = true, lint_ignore = { compose-docker-sockt = "" } }]
    /// ```
    ///
    /// ## Fix
    /// Name the rule as `vpai explain` lists it and say why on one line:
    /// `lint_ignore = { compose-docker-socket = "reads container logs through the API" }`.
    pub struct InvalidLintIgnore => "invalid-lint-ignore", Error;
}

impl InvalidLintIgnore {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            for mount in &service.mounts {
                for (rule, reason) in &mount.lint_ignore {
                    let (message, hint) = if !LINT_RULES.iter().any(|r| r.name() == rule) {
                        (
                            format!(
                                "`{}`: mount {}: `lint_ignore` names no lint rule `{rule}`",
                                service.name, mount.source
                            ),
                            suggest::hint(rule, LINT_RULES.iter().map(|r| r.name())),
                        )
                    } else if reason.trim().is_empty() || reason.contains('\n') {
                        (
                            format!(
                                "`{}`: mount {}: `lint_ignore.{rule}` needs a one-line reason",
                                service.name, mount.source
                            ),
                            None,
                        )
                    } else {
                        continue;
                    };
                    let span = support::locate(stack, service, |l| l.contains(rule.as_str()));
                    out.push(
                        Self::diagnostic(message)
                            .at(span.as_ref(), "in this mount")
                            .maybe_help(hint),
                    );
                }
            }
        }
    }
}
