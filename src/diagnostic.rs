//! Diagnostics: what every stage reports instead of stopping at the first problem.
//!
//! Loading, resolving and checking all push [`Diagnostic`]s; the CLI prints them
//! together (human text with the offending line and a caret, or JSON) and the exit
//! code depends on whether any is an error.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term;
use serde::Serialize;
use std::ops::Range;

use crate::source::{SourceId, Sources, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// What a host may hold on purpose (`vpai host audit` only): reported, never failing.
    Info,
    Warning,
    Error,
}

impl Severity {
    /// As the JSON output and `vpai explain` write it.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// What every registry of checks — stack rules, lint rules, host audit checks —
/// says of each: its stable kebab-case name, its severity, and the doc comment that
/// `vpai explain NAME` prints (what it does, why it is bad, example, fix).
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub severity: Severity,
    pub doc: &'static str,
}

impl Check {
    /// The check's `vpai explain` page.
    pub fn explain(&self) -> String {
        let body: String = self
            .doc
            .lines()
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        format!(
            "# {} ({})\n\n{}\n",
            self.name,
            self.severity.label(),
            body.trim()
        )
    }

    /// A finding of this check at its declared severity.
    pub fn diagnostic(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: self.severity,
            ..Diagnostic::error(self.name, message)
        }
    }
}

#[derive(Clone, Debug)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One finding. `code` is the stable kebab-case name of the rule (or of the
/// loading stage) that produced it, so scripts and `vpai explain` can use it.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub fn at(mut self, span: Option<&Span>, label: impl Into<String>) -> Self {
        if let Some(span) = span {
            self.primary = Some(Label {
                span: span.clone(),
                message: label.into(),
            });
        }
        self
    }

    pub fn also(mut self, span: Option<&Span>, label: impl Into<String>) -> Self {
        if let Some(span) = span {
            self.secondary.push(Label {
                span: span.clone(),
                message: label.into(),
            });
        }
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Adapter so codespan can read lines out of [`Sources`].
struct SourceFiles<'a>(&'a Sources);

impl<'a> Files<'a> for SourceFiles<'a> {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(self.0.name(SourceId(id)))
    }

    fn source(&'a self, id: usize) -> Result<&'a str, FilesError> {
        Ok(self.0.text(SourceId(id)))
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, FilesError> {
        Ok(self.0.line_col(SourceId(id), byte_index).0 - 1)
    }

    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, FilesError> {
        self.0
            .line_range(SourceId(id), line_index)
            .ok_or_else(|| FilesError::LineTooLarge {
                given: line_index,
                max: self.0.text(SourceId(id)).lines().count(),
            })
    }
}

/// A label whose span points into a text `sources` does not hold is left out
/// (the message, notes and help still print), so a diagnostic carried past the texts it was
/// made with never stops the report.
fn to_codespan(d: &Diagnostic, sources: &Sources) -> cs::Diagnostic<usize> {
    let known = |span: &Span| span.source.0 < sources.len();
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
        Severity::Info => cs::Severity::Note,
    };
    let mut labels = Vec::new();
    let mut notes = d.notes.clone();
    if let Some(p) = d.primary.as_ref().filter(|p| known(&p.span)) {
        labels.push(
            cs::Label::primary(p.span.source.0, p.span.range.clone()).with_message(&p.message),
        );
    }
    for s in d.secondary.iter().filter(|s| known(&s.span)) {
        labels.push(
            cs::Label::secondary(s.span.source.0, s.span.range.clone()).with_message(&s.message),
        );
    }
    if let Some(help) = &d.help {
        notes.push(format!("help: {help}"));
    }
    cs::Diagnostic::new(severity)
        .with_code(d.code)
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// Human rendering: the offending lines with carets, notes and help.
pub fn render_human(diagnostics: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let mut buffer = if color {
        term::termcolor::Buffer::ansi()
    } else {
        term::termcolor::Buffer::no_color()
    };
    let config = term::Config::default();
    let files = SourceFiles(sources);
    for d in diagnostics {
        // Rendering into a memory buffer with spans we produced cannot fail short of a bug.
        term::emit_to_write_style(&mut buffer, &config, &files, &to_codespan(d, sources))
            .expect("diagnostic spans point into registered sources");
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    location: Option<JsonLocation>,
    help: Option<&'a str>,
    notes: &'a [String],
}

#[derive(Serialize)]
struct JsonLocation {
    file: String,
    line: usize,
    column: usize,
    label: String,
}

/// Machine rendering, one object per diagnostic.
pub fn render_json(diagnostics: &[Diagnostic], sources: &Sources) -> serde_json::Value {
    let list: Vec<_> = diagnostics
        .iter()
        .map(|d| JsonDiagnostic {
            code: d.code,
            severity: d.severity,
            message: &d.message,
            location: d
                .primary
                .as_ref()
                .filter(|p| p.span.source.0 < sources.len())
                .map(|p| {
                    let (line, column) = sources.line_col(p.span.source, p.span.range.start);
                    JsonLocation {
                        file: sources.name(p.span.source).to_string(),
                        line,
                        column,
                        label: p.message.clone(),
                    }
                }),
            help: d.help.as_deref(),
            notes: &d.notes,
        })
        .collect();
    serde_json::to_value(list).expect("diagnostics serialize")
}

/// "2 errors, 1 warning" style summary.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_into_a_text_not_held_is_left_out_not_a_panic() {
        let span = Span::new(SourceId(3), 0..4);
        let d = Diagnostic::error("x", "the message")
            .at(Some(&span), "here")
            .help("the help");
        let text = render_human(std::slice::from_ref(&d), &Sources::default(), false);
        assert!(
            text.contains("the message") && text.contains("the help"),
            "{text}"
        );
        let json = render_json(&[d], &Sources::default());
        assert!(json[0]["location"].is_null(), "{json}");
    }
}
