use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support::{self, ImageRef};
use crate::stack::Stack;
use crate::stack::kinds::Probe;
use crate::stack::model::HealthTest;

declare_rule! {
    /// ## What it does
    /// Flags a `health` check that runs a program the service's image does not
    /// contain, for the images whose contents are known:
    ///
    /// - `grafana/loki` 3.6 and later is distroless: no shell, `wget`, `curl` or
    ///   `bash` (grafana/loki#20149, "v3.6.0 changed the base image and removed
    ///   busybox"). Only the binary itself can check: `loki -health`, added by
    ///   grafana/loki#20313 and available from 3.6.5 (seed 002 §7.1).
    /// - `qdrant/qdrant` ships neither `curl` nor `wget` (qdrant/qdrant#3491,
    ///   #4250; the PR adding curl, #3505, was closed unmerged): `bash` `/dev/tcp`
    ///   works (seed 002 §5.1).
    /// - `ghcr.io/berriai/litellm` has no `curl` (BerriAI/litellm#9295, #9479), and
    ///   no `wget` either since its Chainguard base image, v1.80.5
    ///   (BerriAI/litellm#17645, #19626): Python is the probe (seed 002 §2.1).
    /// - `n8nio/n8n` has BusyBox `wget` but no `curl` (seed 002 §9.4;
    ///   czlonkowski/n8n-mcp#122 and #791 hit the same).
    ///
    /// `http` checks run the `probe` tool (`wget` by default), `tcp` runs `bash`,
    /// `shell` runs `/bin/sh`, `cmd` runs its first word.
    ///
    /// ## Why is this bad?
    /// The check fails with "executable file not found" forever: the container is
    /// `unhealthy`, the deploy's health gate rolls it back, and every service that
    /// waits for it never starts.
    ///
    /// ## Example
    /// ```toml
    /// [services.loki]
    /// health = { http = "/ready" }          # wget: not in the distroless image
    /// ```
    ///
    /// ## Fix
    /// Use what the image has: `cmd = ["loki", "-health"]` for Loki, `tcp = true` for
    /// Qdrant, `probe = "python"` for LiteLLM, `probe = "wget"` for n8n (these are
    /// the catalog's defaults: removing the `health` override restores them).
    pub struct HealthcheckMissingTool => "healthcheck-missing-tool", Error;
}

/// What is known to be missing from an image, and what to use instead.
pub(crate) struct Profile {
    pub missing: Vec<&'static str>,
    /// Only this program may run (distroless).
    pub only: Option<&'static str>,
    /// The check to use instead, in `vpai.toml` and in a compose file.
    pub instead: &'static str,
    pub compose_instead: &'static str,
    pub source: &'static str,
}

impl Profile {
    /// The first of `programs` the image lacks.
    pub fn absent<'a>(&self, programs: &'a [String]) -> Option<&'a String> {
        programs.iter().find(|p| {
            self.missing.contains(&p.as_str()) || self.only.is_some_and(|only| p.as_str() != only)
        })
    }
}

pub(crate) fn profile(image: &ImageRef) -> Option<Profile> {
    if image.is(&["grafana/loki"]) {
        // Unversioned tags (`latest`) are 3.6+ today.
        if image.at_least(&[3, 6, 0]) != Some(false) {
            return Some(Profile {
                missing: vec![
                    "sh", "bash", "wget", "curl", "python", "python3", "node", "nc",
                ],
                only: Some("loki"),
                instead: "health = { cmd = [\"loki\", \"-health\"] }",
                compose_instead: "test: [\"CMD\", \"loki\", \"-health\"]",
                source: "grafana/loki 3.6+ is distroless (grafana/loki#20149)",
            });
        }
        return None;
    }
    if image.is(&["qdrant/qdrant"]) {
        return Some(Profile {
            missing: vec!["wget", "curl", "python", "python3", "node", "nc"],
            only: None,
            instead: "health = { tcp = true }",
            compose_instead: "test: [\"CMD\", \"bash\", \"-c\", \":> /dev/tcp/127.0.0.1/6333\"]",
            source: "the Qdrant image has no curl or wget (qdrant/qdrant#3491, #4250)",
        });
    }
    if image.is(&[
        "ghcr.io/berriai/litellm",
        "berriai/litellm",
        "docker.litellm.ai/berriai/litellm",
    ]) {
        let mut missing = vec!["curl", "node"];
        if image.at_least(&[1, 80, 5]) != Some(false) {
            missing.push("wget");
        }
        return Some(Profile {
            missing,
            only: None,
            instead: "health = { http = \"/health/liveliness\", probe = \"python\" }",
            compose_instead: "test: [\"CMD\", \"python\", \"-c\", \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health/liveliness')\"]",
            source: "the LiteLLM image has no curl (BerriAI/litellm#9295) and no wget since v1.80.5 (BerriAI/litellm#17645)",
        });
    }
    if image.is(&["n8nio/n8n", "docker.n8n.io/n8nio/n8n"]) {
        return Some(Profile {
            missing: vec!["curl"],
            only: None,
            instead: "health = { http = \"/healthz\", probe = \"wget\" }",
            compose_instead: "test: [\"CMD\", \"wget\", \"-qO-\", \"http://127.0.0.1:5678/healthz\"]",
            source: "the n8n image has BusyBox wget but no curl (002 §9.4)",
        });
    }
    None
}

pub(crate) fn basename(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// Programs a shell command line runs: the first word of each simple command.
pub(crate) fn shell_programs(line: &str) -> Vec<String> {
    line.split(['|', ';', '&', '(', ')', '\n'])
        .filter_map(|part| {
            part.split_whitespace()
                .find(|w| !w.contains('=') && *w != "!" && *w != "exec")
                .map(|w| basename(w.trim_matches(|c| c == '"' || c == '\'')).to_string())
        })
        .collect()
}

/// Every program the check runs, in order.
pub(crate) fn programs(test: &HealthTest) -> Vec<String> {
    match test {
        HealthTest::Http { probe, .. } => vec![
            match probe {
                Probe::Wget => "wget",
                Probe::Curl => "curl",
                Probe::Python => "python",
                Probe::Node => "node",
            }
            .to_string(),
        ],
        HealthTest::Tcp { .. } => vec!["bash".to_string()],
        HealthTest::Shell(s) => {
            let mut p = vec!["sh".to_string()];
            p.extend(shell_programs(s));
            p
        }
        HealthTest::Exec(cmd) => {
            let mut p: Vec<String> = cmd
                .first()
                .map(|c| basename(c).to_string())
                .into_iter()
                .collect();
            if matches!(p.first().map(String::as_str), Some("sh" | "bash")) {
                if let Some(i) = cmd.iter().position(|a| a == "-c") {
                    for a in &cmd[i + 1..] {
                        p.extend(shell_programs(a));
                    }
                }
            }
            p
        }
    }
}

impl HealthcheckMissingTool {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let Some(health) = &service.health else {
                continue;
            };
            let image = support::image(service);
            let span = support::locate_key(stack, service, "health");
            // `loki -health` exists from 3.6.5 on (002 §7.1), whatever the base image.
            if let HealthTest::Exec(cmd) = &health.test
                && image.is(&["grafana/loki"])
                && cmd.iter().any(|a| a == "-health")
                && image.at_least(&[3, 6, 5]) == Some(false)
            {
                out.push(
                    Self::diagnostic(format!(
                        "`{}` runs `loki -health`, which `{}` does not have yet",
                        service.name, service.image
                    ))
                    .at(span.as_ref(), "flag provided but not defined: -health")
                    .note("`-health` was added by grafana/loki#20313 and is in 3.6.5 and later (002 §7.1)")
                    .help("pin grafana/loki 3.6.5 or later"),
                );
                continue;
            }
            let Some(profile) = profile(&image) else {
                continue;
            };
            let programs = programs(&health.test);
            if let Some(program) = profile.absent(&programs) {
                out.push(
                    Self::diagnostic(format!(
                        "`{}`'s health check runs `{program}`, which the image `{}` does not contain",
                        service.name, service.image
                    ))
                    .at(span.as_ref(), format!("`{program}`: executable file not found"))
                    .note(profile.source)
                    .help(format!("use `{}`", profile.instead)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_of_each_form() {
        assert_eq!(
            programs(&HealthTest::Shell(
                "redis-cli -h 127.0.0.1 ping | grep -q PONG".into()
            )),
            ["sh", "redis-cli", "grep"]
        );
        assert_eq!(
            programs(&HealthTest::Exec(vec![
                "/usr/bin/loki".into(),
                "-health".into()
            ])),
            ["loki"]
        );
        assert_eq!(
            programs(&HealthTest::Exec(vec![
                "bash".into(),
                "-c".into(),
                "curl -f x || exit 1".into()
            ])),
            ["bash", "curl", "exit"]
        );
    }
}
