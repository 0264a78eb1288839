use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a service with `privileged: true` (CIS Docker Benchmark v1.6.0 §5.4,
    /// "Ensure that privileged containers are not used").
    ///
    /// ## Why is this bad?
    /// A privileged container gets every capability, every host device and no
    /// seccomp or AppArmor confinement: root in it is root on the host. One bug in
    /// the service, or one malicious image update, owns the machine and every other
    /// container's data.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   ollama:
    ///     image: ollama/ollama:0.12.6
    ///     privileged: true
    /// ```
    ///
    /// ## Fix
    /// Remove it and grant only what the service needs: `devices:` for a GPU (or
    /// `deploy.resources.reservations.devices` with the NVIDIA runtime), one
    /// capability in `cap_add` after `cap_drop: [ALL]`.
    pub struct ComposePrivileged => "compose-privileged", Error, [Compose];
}

impl ComposePrivileged {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            let Some((key, value)) = service.node.entry("privileged") else {
                continue;
            };
            if !value.is_true() {
                continue;
            }
            out.push(
                Self::diagnostic(format!("`{}` runs privileged", service.name))
                    .at(
                        Some(&file.span(key.span.start..value.span.end)),
                        "every capability and device, no seccomp or AppArmor",
                    )
                    .help("remove `privileged`; add the one device or capability the service needs after `cap_drop: [ALL]`"),
            );
        }
    }
}
