//! What each image ships to check its own health, and what a health check runs:
//! the stack rules (`healthcheck-missing-tool`, `healthcheck-localhost`) and their
//! lint twins read these facts from here.

use crate::knowledge::image::ImageRef;
use crate::stack::kinds::Probe;
use crate::stack::model::HealthTest;

/// What is known to be missing from an image, and what to use instead.
pub struct Profile {
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

pub fn profile(image: &ImageRef) -> Option<Profile> {
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

pub fn basename(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// Programs a shell command line runs: the first word of each simple command.
pub fn shell_programs(line: &str) -> Vec<String> {
    line.split(['|', ';', '&', '(', ')', '\n'])
        .filter_map(|part| {
            part.split_whitespace()
                .find(|w| !w.contains('=') && *w != "!" && *w != "exec")
                .map(|w| basename(w.trim_matches(|c| c == '"' || c == '\'')).to_string())
        })
        .collect()
}

/// Every program the check runs, in order.
pub fn programs(test: &HealthTest) -> Vec<String> {
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

/// `localhost` as a host name, not as part of a longer word.
pub fn names_localhost(text: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text[from..].find("localhost") {
        let at = from + i;
        let before = text[..at].chars().next_back();
        let after = text[at + "localhost".len()..].chars().next();
        let word =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !word(before) && !word(after) {
            return true;
        }
        from = at + "localhost".len();
    }
    false
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

    #[test]
    fn localhost_as_a_host_only() {
        assert!(names_localhost("wget http://localhost:3000/"));
        assert!(names_localhost("pg_isready -h localhost"));
        assert!(!names_localhost("curl http://localhost-proxy/"));
        assert!(!names_localhost("check mylocalhost"));
    }
}
