use crate::diagnostic::Diagnostic;
use crate::lint::caddyfile::Directive;
use crate::lint::rules::declare_lint_rule;
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a status code written on the line after a heredoc's closing marker:
    /// `respond <<HTML ... HTML` followed by a line `200`.
    ///
    /// ## Why is this bad?
    /// A directive is one line; the line after the closing marker is a new
    /// directive, and Caddy refuses to start: `unrecognized directive: 200`. In
    /// seed 002 §6.2.1 Caddy crash-looped on it, and every site behind it was down
    /// (1525 consecutive DNS timeouts while it restarted).
    ///
    /// ## Example
    /// ```caddyfile
    /// respond <<HTML
    ///     <h1>Maintenance</h1>
    ///     HTML
    ///     503
    /// ```
    ///
    /// ## Fix
    /// Put the status on the marker's line: `HTML 503`.
    pub struct CaddyHeredocStatus => "caddy-heredoc-status", Error, [Caddyfile];
}

fn is_status(text: &str) -> bool {
    text.len() == 3 && text.parse::<u16>().is_ok_and(|s| (100..=599).contains(&s))
}

impl CaddyHeredocStatus {
    fn check_block(&self, file: &File, text: &str, block: &[Directive], out: &mut Vec<Diagnostic>) {
        for pair in block.windows(2) {
            let (before, line) = (&pair[0], &pair[1]);
            let ends_with_heredoc = before.tokens.last().is_some_and(|t| t.heredoc);
            if !ends_with_heredoc || !is_status(line.name()) || line.tokens.len() != 1 {
                continue;
            }
            let marker = before.tokens.last().expect("checked above");
            // The token starts at `<<NAME`.
            let marker_name = text[marker.span.start + 2..]
                .split_whitespace()
                .next()
                .unwrap_or("MARKER");
            out.push(
                Self::diagnostic(format!(
                    "the status `{}` is on its own line after the heredoc",
                    line.name()
                ))
                .at(
                    Some(&file.span(line.name_span())),
                    "Caddy reads this as a directive: `unrecognized directive`",
                )
                .also(
                    Some(&file.span(marker.span.clone())),
                    "the heredoc ends here",
                )
                .note("Caddy refuses to start, and restarts in a loop (002 §6.2.1)")
                .help(format!(
                    "write the status after the closing marker, on its line: `{marker_name} {}`",
                    line.name()
                )),
            );
        }
    }

    fn run(&self, file: &File, run: &Run, out: &mut Vec<Diagnostic>) {
        let Some(caddyfile) = file.caddyfile() else {
            return;
        };
        let text = run.sources.text(file.source);
        self.check_block(file, text, &caddyfile.items, out);
        for d in caddyfile.walk() {
            self.check_block(file, text, d.children(), out);
        }
    }
}
