use crate::diagnostic::Diagnostic;
use crate::lint::rules::declare_lint_rule;
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a valid `# vpai: ignore[...]` comment that silenced no finding in this
    /// run. It is reported by the suppression pass, after every other rule ran, and
    /// only when all the rules it names ran on the file.
    ///
    /// ## Why is this bad?
    /// The exception outlived its reason: the mount was removed, the port was
    /// rebound, or the comment sits one line off and silences nothing while the
    /// finding it meant is fixed. Left in place it will silence a future, real
    /// finding on that line.
    ///
    /// ## Example
    /// ```yaml
    ///     # vpai: ignore[compose-privileged] the GPU driver needed it
    ///     image: ollama/ollama:0.12.6
    /// ```
    ///
    /// ## Fix
    /// Delete the comment, or move it directly above the line the finding points at.
    pub struct UnusedSuppression => "unused-suppression", Warning, [Compose, Caddyfile, Script];
}

impl UnusedSuppression {
    /// Nothing to look at per file: [`crate::lint::suppress::apply`] reports it once
    /// it knows which suppressions were used.
    fn run(&self, _file: &File, _run: &Run, _out: &mut Vec<Diagnostic>) {}
}
