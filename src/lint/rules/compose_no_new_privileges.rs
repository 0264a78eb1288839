use crate::diagnostic::Diagnostic;
use crate::knowledge::cis::sets_no_new_privileges;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a service without `security_opt: [no-new-privileges:true]` (CIS Docker
    /// Benchmark v1.6.0 §5.25, "Ensure that the container is restricted from
    /// acquiring additional privileges").
    ///
    /// ## Why is this bad?
    /// Without it, a process in the container can gain privileges through setuid
    /// binaries (`su`, `sudo`, `ping` in some images) or file capabilities: an
    /// attacker who gets a shell as the service user climbs to root in the
    /// container, the first step towards the host. Seed 001 §2.3 sets it on every
    /// service.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   n8n:
    ///     image: n8nio/n8n:2.39.10
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    ///     security_opt: [no-new-privileges:true]
    /// ```
    pub struct ComposeNoNewPrivileges => "compose-no-new-privileges", Warning, [Compose];
}

impl ComposeNoNewPrivileges {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            if service
                .list("security_opt")
                .iter()
                .any(|(o, _)| sets_no_new_privileges(o))
            {
                continue;
            }
            let privileged = service.get("privileged").is_some_and(|p| p.is_true());
            if privileged {
                // compose-privileged already says worse.
                continue;
            }
            out.push(
                Self::diagnostic(format!(
                    "`{}` may gain privileges through setuid binaries",
                    service.name
                ))
                .at(
                    Some(&file.span(service.key.span.clone())),
                    "no `no-new-privileges:true` in `security_opt`",
                )
                .help("add `security_opt: [no-new-privileges:true]`"),
            );
        }
    }
}
