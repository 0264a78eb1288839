use crate::diagnostic::{Diagnostic, Severity};
use crate::knowledge::cis::sensitive_host_path;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a bind mount of a sensitive host directory: `/`, `/boot`, `/dev`,
    /// `/etc`, `/lib`, `/proc`, `/sys`, `/usr` or anything under `/boot`, `/dev`,
    /// `/proc` and `/sys` (CIS Docker Benchmark v1.6.0 §5.5, "Ensure sensitive
    /// host system directories are not mounted on containers"). Writable mounts
    /// are errors; read-only ones are warnings. Single files such as
    /// `/etc/localtime` are not flagged.
    ///
    /// ## Why is this bad?
    /// A writable `/etc` or `/usr` lets the container change the host's users,
    /// sudoers, services or binaries; `/proc` and `/sys` expose kernel knobs. Even
    /// read-only, `/` and `/etc` hand over the host's secrets (SSH host keys,
    /// `/etc/shadow` when the container runs as root).
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   agent:
    ///     image: acme/agent:1.2.0
    ///     volumes:
    ///       - /etc:/host/etc
    /// ```
    ///
    /// ## Fix
    /// Mount only the file or directory the service reads, read-only
    /// (`/etc/localtime:/etc/localtime:ro`). A monitoring agent that needs `/sys`
    /// or `/` read-only (cAdvisor, node exporter) can keep it with
    /// `# vpai: ignore[compose-sensitive-mount] REASON`.
    pub struct ComposeSensitiveMount => "compose-sensitive-mount", Error, [Compose];
}

impl ComposeSensitiveMount {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            for mount in service.mounts() {
                let Some(source) = mount.host_path().filter(|s| sensitive_host_path(s)) else {
                    continue;
                };
                let mut d =
                    Self::diagnostic(format!("`{}` mounts the host's `{source}`", service.name));
                if mount.read_only {
                    d.severity = Severity::Warning;
                }
                // A long-syntax mount is a block mapping whose span runs on to the
                // next key: point at its `source:` line.
                let span = match mount.node.entry("source") {
                    Some((key, value)) => key.span.start..value.span.end,
                    None => mount.node.span.clone(),
                };
                out.push(
                    d.at(
                        Some(&file.span(span)),
                        if mount.read_only {
                            "read-only, but it exposes the host's files"
                        } else {
                            "writable: the container can change the host"
                        },
                    )
                    .help("mount only the file the service needs, read-only, or keep it with `# vpai: ignore[compose-sensitive-mount] REASON`"),
                );
            }
        }
    }
}
