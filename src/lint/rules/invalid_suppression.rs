use crate::diagnostic::Diagnostic;
use crate::lint::rules::declare_lint_rule;
use crate::lint::suppress::suppressions;
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a `# vpai:` comment that cannot silence anything: a verb other than
    /// `ignore` or `ignore-file`, no `[RULE]` list, a rule name that does not exist,
    /// or no reason after the `]`.
    ///
    /// ## Why is this bad?
    /// The finding it was meant to silence is still reported, and a suppression
    /// without a reason leaves the next reader unable to tell whether the exception
    /// still holds. A misspelled rule name silences nothing while looking like it
    /// does.
    ///
    /// ## Example
    /// ```yaml
    ///     # vpai: ignore[compose-docker-sock]
    ///     - /var/run/docker.sock:/var/run/docker.sock:ro
    /// ```
    ///
    /// ## Fix
    /// Name the rule exactly and say why:
    /// `# vpai: ignore[compose-docker-socket] Alloy discovers containers through the API`.
    pub struct InvalidSuppression => "invalid-suppression", Error, [Compose, Caddyfile, Script];
}

impl InvalidSuppression {
    fn run(&self, file: &File, run: &Run, out: &mut Vec<Diagnostic>) {
        for suppression in suppressions(run.sources.text(file.source), &super::names()) {
            let Some((message, range)) = &suppression.problem else {
                continue;
            };
            out.push(
                Self::diagnostic("this suppression silences nothing")
                    .at(Some(&file.span(range.clone())), message.clone())
                    .help("write `# vpai: ignore[RULE] REASON` (or `ignore-file[RULE] REASON`); `vpai explain` lists the rules"),
            );
        }
    }
}
