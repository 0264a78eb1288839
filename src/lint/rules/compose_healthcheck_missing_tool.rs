use crate::diagnostic::Diagnostic;
use crate::knowledge::health::{basename, profile, programs, shell_programs};
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::yaml::Value;
use crate::lint::{File, Run};
use crate::stack::model::HealthTest;

declare_lint_rule! {
    /// ## What it does
    /// Flags a `healthcheck` that runs a program its image does not contain, for the
    /// images whose contents are known (the same knowledge as the stack rule
    /// `healthcheck-missing-tool`, where each fact's upstream source is cited):
    /// `grafana/loki` 3.6+ is distroless (only `loki -health` works, and only from
    /// 3.6.5 on), `qdrant/qdrant` has neither `curl` nor `wget`,
    /// `ghcr.io/berriai/litellm` has no `curl` (and no `wget` since v1.80.5),
    /// `n8nio/n8n` has no `curl`.
    ///
    /// ## Why is this bad?
    /// The check fails with "executable file not found" forever: the container is
    /// `unhealthy`, and everything with `depends_on: condition: service_healthy` on
    /// it never starts (seed 002 §2.1, §5.1, §7.1).
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   qdrant:
    ///     image: qdrant/qdrant:v1.15.5
    ///     healthcheck:
    ///       test: ["CMD", "curl", "-f", "http://127.0.0.1:6333/readyz"]
    /// ```
    ///
    /// ## Fix
    /// Use what the image has: `["CMD", "bash", "-c", ":> /dev/tcp/127.0.0.1/6333"]`
    /// for Qdrant, `["CMD", "loki", "-health"]` for Loki, Python's `urllib` for
    /// LiteLLM, BusyBox `wget` for n8n.
    pub struct ComposeHealthcheckMissingTool => "compose-healthcheck-missing-tool", Error, [Compose];
}

impl ComposeHealthcheckMissingTool {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            let Some((image, _)) = service.image() else {
                continue;
            };
            let Some(profile) = profile(&image) else {
                continue;
            };
            let Some(test) = service.get("healthcheck").and_then(|h| h.get("test")) else {
                continue;
            };
            // `loki -health` exists from 3.6.5 on (grafana/loki#20313, 002 §7.1).
            let health_flag = test.as_seq().iter().find(|n| n.as_str() == Some("-health"));
            if let Some(flag) = health_flag
                && image.is(&["grafana/loki"])
                && image.at_least(&[3, 6, 5]) == Some(false)
            {
                out.push(
                    Self::diagnostic(format!(
                        "`{}` runs `loki -health`, which this Loki version does not have yet",
                        service.name
                    ))
                    .at(
                        Some(&file.span(flag.span.clone())),
                        "flag provided but not defined: -health",
                    )
                    .note("`-health` was added by grafana/loki#20313 and is in 3.6.5 and later (002 §7.1)")
                    .help("pin grafana/loki 3.6.5 or later"),
                );
                continue;
            }
            // The compose test as the stack's health test, so both rules read the
            // programs a check runs the same way.
            let health = match &test.value {
                Value::Str(line) => HealthTest::Shell(line.clone()),
                Value::Seq(items) => {
                    let words: Vec<String> = items.iter().filter_map(|n| n.text()).collect();
                    match words.first().map(String::as_str) {
                        Some("CMD-SHELL") => HealthTest::Shell(words[1..].join(" ")),
                        Some("CMD") => HealthTest::Exec(words[1..].to_vec()),
                        _ => continue,
                    }
                }
                _ => continue,
            };
            let programs = programs(&health);
            let Some(program) = profile.absent(&programs) else {
                continue;
            };
            // Point at the word that runs the program (`CMD-SHELL` runs `sh`).
            let span = test
                .as_seq()
                .iter()
                .find(|n| {
                    n.text().is_some_and(|t| {
                        basename(&t) == program.as_str()
                            || (program == "sh" && t == "CMD-SHELL")
                            || (t.contains(' ') && shell_programs(&t).contains(program))
                    })
                })
                .map_or_else(|| test.span.clone(), |n| n.span.clone());
            out.push(
                Self::diagnostic(format!(
                    "`{}`'s health check runs `{program}`, which its image does not contain",
                    service.name
                ))
                .at(
                    Some(&file.span(span)),
                    format!("`{program}`: executable file not found"),
                )
                .note(profile.source)
                .help(format!("use `{}`", profile.compose_instead)),
            );
        }
    }
}
