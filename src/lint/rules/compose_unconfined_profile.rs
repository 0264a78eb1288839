use crate::diagnostic::Diagnostic;
use crate::knowledge::cis::disables_confinement;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags `security_opt` entries that switch off the kernel's confinement:
    /// `seccomp:unconfined`, `apparmor:unconfined`, `label:disable` (CIS Docker
    /// Benchmark v1.6.0 §5.21 "Ensure the default seccomp profile is not
    /// disabled", §5.1 AppArmor, §5.2 SELinux).
    ///
    /// ## Why is this bad?
    /// Docker's default seccomp profile blocks about 44 system calls that
    /// containers do not need and that kernel exploits use (`keyctl`, `bpf`,
    /// `unshare`, `mount`...); the AppArmor profile stops writes to `/proc` and
    /// `/sys`. Without them, a kernel bug reachable from the container is a host
    /// compromise.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   browser:
    ///     image: acme/headless-chrome:131.0
    ///     security_opt: [seccomp:unconfined]
    /// ```
    ///
    /// ## Fix
    /// Remove the option. A service that needs one more system call gets a custom
    /// profile that allows just that call: `seccomp:./chrome.json`.
    pub struct ComposeUnconfinedProfile => "compose-unconfined-profile", Error, [Compose];
}

impl ComposeUnconfinedProfile {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            for (option, node) in service.list("security_opt") {
                let Some(what) = disables_confinement(&option) else {
                    continue;
                };
                out.push(
                    Self::diagnostic(format!("`{}` runs without {what}", service.name))
                        .at(Some(&file.span(node.span.clone())), "confinement switched off")
                        .help("remove it; allow a missing system call with a custom profile (`seccomp:./profile.json`)"),
                );
            }
        }
    }
}
