use std::ops::Range;

use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::yaml::{self, Node, Value};
use crate::lint::{File, Kind, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a deploy script, Makefile or Ansible task that *restarts* a compose
    /// service which reads an `env_file`: `docker compose restart`, `docker restart`,
    /// or Ansible's `docker_compose_v2` with `state: restarted`. It needs the compose
    /// file in the same run (`vpai lint compose.yml deploy.sh`) to know which
    /// services read env files; a restart of no such service is fine.
    ///
    /// ## Why is this bad?
    /// A restart re-runs the process inside the *existing* container, which keeps
    /// the environment it was created with: the new `env_file` is not read. The
    /// deploy "succeeds" and the service runs with the old password or URL (seed 002
    /// §11.18, §41.2: NocoDB kept crashing on a rotated database password).
    ///
    /// ## Example
    /// ```yaml
    /// - name: Restart NocoDB
    ///   community.docker.docker_compose_v2:
    ///     project_src: /opt/javisi
    ///     services: [nocodb]
    ///     state: restarted
    /// ```
    ///
    /// ## Fix
    /// Recreate the container: `docker compose up -d --force-recreate SERVICE`, or in
    /// Ansible `state: present` with `recreate: always`. (`vpai apply` recreates a
    /// service whenever its env file's content changes.)
    pub struct ScriptRestartEnvFile => "script-restart-env-file", Error, [Script];
}

/// The words of the command starting `rest`, up to where it ends: a separator
/// (`;`, `&&`, `|`, `)`, a redirection) or the quote that closes the string it sits
/// in (`ssh host 'cd /opt/app && docker compose restart nocodb'`). Quotes around a
/// word are removed. Also the length of the command's text in `rest`.
fn command_words(rest: &str) -> (Vec<&str>, usize) {
    let mut end = rest.len();
    let mut open: Option<char> = None;
    let mut previous = ' ';
    for (i, c) in rest.char_indices() {
        match open {
            Some(quote) if c == quote => open = None,
            Some(_) => {}
            None if matches!(c, '\'' | '"') => {
                if previous.is_whitespace() {
                    open = Some(c);
                } else {
                    end = i;
                    break;
                }
            }
            None if matches!(c, ';' | '&' | '|' | '<' | '>' | ')' | '`') => {
                end = i;
                break;
            }
            None => {}
        }
        previous = c;
    }
    let words = rest[..end]
        .split_whitespace()
        .map(|w| w.trim_matches(['\'', '"']))
        .filter(|w| !w.is_empty())
        .collect();
    (words, rest[..end].trim_end().len())
}

/// The services a line restarts, and where the command is in the line:
/// `Some(vec![])` means all of them.
fn restarted(line: &str) -> Option<(Range<usize>, Vec<String>)> {
    let code = line.split(" #").next().unwrap_or(line);
    let mut found = Vec::new();
    for command in ["docker compose", "docker-compose"] {
        for (at, _) in code.match_indices(command) {
            let (words, len) = command_words(&code[at + command.len()..]);
            // Skip global options with values (`-f file`, `-p name`).
            let Some(verb) = words
                .iter()
                .enumerate()
                .skip_while(|(i, w)| {
                    w.starts_with('-')
                        || (*i > 0
                            && ["-f", "-p", "--file", "--project-name", "--env-file"]
                                .contains(&words[i - 1]))
                })
                .map(|(i, _)| i)
                .next()
            else {
                continue;
            };
            if words[verb] == "restart" {
                let services = words[verb + 1..]
                    .iter()
                    .filter(|w| !w.starts_with('-'))
                    .map(|w| w.to_string())
                    .collect();
                found.push((at..at + command.len() + len, services));
            }
        }
    }
    for command in ["docker restart", "docker container restart"] {
        for (at, _) in code.match_indices(command) {
            let (words, len) = command_words(&code[at + command.len()..]);
            let containers = words
                .into_iter()
                .filter(|w| !w.starts_with('-'))
                .map(str::to_string)
                .collect();
            found.push((at..at + command.len() + len, containers));
        }
    }
    found.into_iter().min_by_key(|(at, _)| at.start)
}

/// The Ansible tasks that restart compose services: `docker_compose_v2` with
/// `state: restarted`, found anywhere in the file (plays, `tasks`, `block`s,
/// handlers), with the span of the `state` line and the services it names (`[]`:
/// all, also when the list is templated).
fn ansible_restarts(node: &Node, found: &mut Vec<(Range<usize>, Vec<String>)>) {
    match &node.value {
        Value::Map(entries) => {
            for (key, value) in entries {
                let module = key.as_str().is_some_and(|k| {
                    ["community.docker.docker_compose_v2", "docker_compose_v2"].contains(&k)
                });
                if module
                    && let Some((state_key, state)) = value.entry("state")
                    && state.as_str() == Some("restarted")
                {
                    let services: Vec<String> = match value.get("services") {
                        Some(list) if !list.as_seq().is_empty() => {
                            list.as_seq().iter().filter_map(Node::text).collect()
                        }
                        Some(one) => one.text().into_iter().collect(),
                        None => Vec::new(),
                    };
                    let templated = services.iter().any(|s| s.contains("{{"));
                    found.push((
                        state_key.span.start..state.span.end,
                        if templated { Vec::new() } else { services },
                    ));
                }
                ansible_restarts(value, found);
            }
        }
        Value::Seq(items) => {
            for item in items {
                ansible_restarts(item, found);
            }
        }
        _ => {}
    }
}

impl ScriptRestartEnvFile {
    fn run(&self, file: &File, run: &Run, out: &mut Vec<Diagnostic>) {
        // Services that read an env file, across the compose files of the run, with
        // the container names they may be restarted by.
        let mut readers = Vec::new();
        for compose in run.files.iter().filter(|f| f.kind == Kind::Compose) {
            for service in services(compose) {
                if service.list("env_file").is_empty() {
                    continue;
                }
                let mut names = vec![service.name.to_string()];
                if let Some(name) = service.get("container_name").and_then(|n| n.text()) {
                    names.push(name);
                }
                readers.push((service.name.to_string(), names, compose));
            }
        }
        if readers.is_empty() {
            return;
        }
        let text = run.sources.text(file.source);
        // Restarts, as (span, targets), where targets `[]` means every service.
        let mut restarts: Vec<(Range<usize>, Vec<String>)> = Vec::new();
        // An Ansible task file is read as YAML, to know which services a task names.
        let is_yaml = file
            .path
            .extension()
            .is_some_and(|e| e == "yml" || e == "yaml");
        let tasks = is_yaml.then(|| yaml::parse(text).ok()).flatten();
        if let Some(root) = &tasks {
            ansible_restarts(root, &mut restarts);
        }
        let ansible_compose = tasks.is_none() && text.contains("docker_compose");
        let mut offset = 0;
        let mut lines = text.split_inclusive('\n');
        while let Some(first) = lines.next() {
            let start = offset;
            offset += first.len();
            if first.trim_start().starts_with('#') {
                continue;
            }
            // A `\` at the end of a line continues the command on the next one: join
            // them, the backslash turned into a space so offsets stay the same.
            let mut joined = first.to_string();
            while joined.trim_end().ends_with('\\') {
                let Some(next) = lines.next() else {
                    break;
                };
                let backslash = joined.trim_end().len() - 1;
                joined.replace_range(backslash..backslash + 1, " ");
                joined.push_str(next);
                offset += next.len();
            }
            let line = joined.as_str();
            let trimmed = line.trim_start();
            let end = start + line.trim_end().len();
            match restarted(line) {
                Some((at, targets)) => restarts.push((start + at.start..start + at.end, targets)),
                None if ansible_compose && trimmed.trim_end() == "state: restarted" => {
                    restarts.push((start + line.len() - trimmed.len()..end, Vec::new()))
                }
                None => {}
            }
        }
        for (span, targets) in restarts {
            let hit: Vec<&(String, Vec<String>, &File)> = readers
                .iter()
                .filter(|(_, names, _)| {
                    targets.is_empty()
                        || targets.iter().any(|t| {
                            names.iter().any(|n| {
                                t == n
                                    || t.strip_suffix("-1").is_some_and(|base| {
                                        base.ends_with(&format!("-{n}"))
                                            || base.ends_with(&format!("_{n}"))
                                    })
                            })
                        })
                })
                .collect();
            let Some((service, _, compose)) = hit.first() else {
                continue;
            };
            let others = hit.len() - 1;
            out.push(
                Self::diagnostic(if others > 0 {
                    format!(
                        "this restarts `{service}` and {others} more, which read env files that a restart does not reload"
                    )
                } else {
                    format!(
                        "this restarts `{service}`, which reads an env_file that a restart does not reload"
                    )
                })
                .at(Some(&file.span(span)), "a restart keeps the container's old environment")
                .note(format!("`{service}` reads an env_file in {} (002 §11.18, §41.2)", compose.path.display()))
                .help("recreate it: `docker compose up -d --force-recreate SERVICE` (Ansible: `state: present`, `recreate: always`)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ansible_restarts, restarted};
    use crate::lint::yaml;

    #[test]
    fn finds_ansible_restarts_with_their_services() {
        let text = "- hosts: all\n  tasks:\n    - block:\n        - community.docker.docker_compose_v2:\n            project_src: /opt/app\n            services: [nocodb]\n            state: restarted\n  handlers:\n    - name: Restart everything\n      docker_compose_v2:\n        project_src: /opt/app\n        state: restarted\n    - community.docker.docker_compose_v2:\n        project_src: /opt/app\n        services: \"{{ app_services }}\"\n        state: restarted\n    - community.docker.docker_compose_v2:\n        project_src: /opt/app\n        state: present\n";
        let mut found = Vec::new();
        ansible_restarts(&yaml::parse(text).unwrap(), &mut found);
        let view: Vec<_> = found
            .iter()
            .map(|(span, services)| (&text[span.clone()], services.clone()))
            .collect();
        assert_eq!(
            view,
            [
                ("state: restarted", vec!["nocodb".to_string()]),
                ("state: restarted", vec![]),
                ("state: restarted", vec![]),
            ]
        );
    }

    #[test]
    fn finds_restart_commands() {
        assert_eq!(
            restarted("docker compose restart nocodb").unwrap().1,
            ["nocodb"]
        );
        assert_eq!(
            restarted("docker compose -f a.yml -p x restart n8n litellm && echo ok")
                .unwrap()
                .1,
            ["n8n", "litellm"]
        );
        assert!(restarted("docker-compose restart").unwrap().1.is_empty());
        assert_eq!(
            restarted("docker restart javisi_nocodb").unwrap().1,
            ["javisi_nocodb"]
        );
        assert!(restarted("docker compose up -d --force-recreate nocodb").is_none());
        assert!(restarted("docker compose logs restart").is_none());
        assert_eq!(
            restarted("docker compose pull && docker compose restart nocodb; echo ok").unwrap(),
            (23..52, vec!["nocodb".to_string()])
        );
        assert_eq!(
            restarted("ssh vps 'cd /opt/app && docker compose restart nocodb' || exit 1")
                .unwrap()
                .1,
            ["nocodb"]
        );
        assert_eq!(
            restarted("ssh vps \"docker compose restart \"n8n\" nocodb\"")
                .unwrap()
                .1,
            ["n8n", "nocodb"]
        );
        assert_eq!(
            restarted("docker container restart -t 30 nocodb>/dev/null")
                .unwrap()
                .1,
            ["30", "nocodb"]
        );
    }
}
