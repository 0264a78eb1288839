//! SARIF 2.1.0 output, the format code-scanning services (GitHub, GitLab, Azure
//! DevOps) import. Every lint rule is described in `tool.driver.rules` with its
//! `explain` page as help; each finding is a result with its region. Findings that
//! come from no rule (a file that does not parse) carry their code as `ruleId`.

use serde_json::{Value, json};

use crate::diagnostic::{Diagnostic, Severity};
use crate::lint::rules::LINT_RULES;
use crate::source::{Sources, Span};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn location(span: &Span, sources: &Sources, message: &str) -> Value {
    let (start_line, start_column) = sources.line_col(span.source, span.range.start);
    let (end_line, end_column) = sources.line_col(span.source, span.range.end);
    let uri = sources.name(span.source).replace('\\', "/");
    let mut location = json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri.strip_prefix("./").unwrap_or(&uri) },
            "region": {
                "startLine": start_line,
                "startColumn": start_column,
                "endLine": end_line,
                "endColumn": end_column,
            }
        }
    });
    if !message.is_empty() {
        location["message"] = json!({ "text": message });
    }
    location
}

/// The first sentence of a rule's "What it does".
fn summary(doc: &str) -> String {
    doc.lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("## What it does"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn render(diagnostics: &[Diagnostic], sources: &Sources) -> Value {
    let rules: Vec<Value> = LINT_RULES
        .iter()
        .map(|rule| {
            let help = rule.meta().explain();
            json!({
                "id": rule.name(),
                "shortDescription": { "text": summary(rule.meta().doc) },
                "help": { "text": help, "markdown": help },
                "defaultConfiguration": { "level": level(rule.severity()) },
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            for note in &d.notes {
                text.push_str(&format!("\nnote: {note}"));
            }
            if let Some(help) = &d.help {
                text.push_str(&format!("\nhelp: {help}"));
            }
            let mut result = json!({
                "ruleId": d.code,
                "level": level(d.severity),
                "message": { "text": text },
            });
            if let Some(index) = LINT_RULES.iter().position(|r| r.name() == d.code) {
                result["ruleIndex"] = json!(index);
            }
            if let Some(primary) = &d.primary {
                result["locations"] = json!([location(&primary.span, sources, &primary.message)]);
            }
            if !d.secondary.is_empty() {
                result["relatedLocations"] = d
                    .secondary
                    .iter()
                    .enumerate()
                    .map(|(id, label)| {
                        let mut l = location(&label.span, sources, &label.message);
                        l["id"] = json!(id);
                        l
                    })
                    .collect();
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "vpai",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}
