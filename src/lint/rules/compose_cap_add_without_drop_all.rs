use crate::diagnostic::Diagnostic;
use crate::knowledge::cis::drops_all;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a service that adds capabilities (`cap_add`) without dropping the
    /// default set first (`cap_drop: [ALL]`) (CIS Docker Benchmark v1.6.0 §5.3,
    /// "Ensure that Linux kernel capabilities are restricted within containers").
    ///
    /// ## Why is this bad?
    /// Docker grants 14 capabilities by default (`CHOWN`, `DAC_OVERRIDE`,
    /// `NET_RAW`, `SETUID`, ...). Adding one on top keeps all of them: the list in
    /// the file looks minimal while the container holds far more. Seed 001 §2.3's
    /// baseline is `cap_drop: [ALL]`, then the few the service needs (Caddy:
    /// `NET_BIND_SERVICE`; Qdrant: `DAC_OVERRIDE`, `FOWNER`).
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   caddy:
    ///     image: caddy:2.11.7-alpine
    ///     cap_add: [NET_BIND_SERVICE]
    /// ```
    ///
    /// ## Fix
    /// ```yaml
    ///     cap_drop: [ALL]
    ///     cap_add: [NET_BIND_SERVICE]
    /// ```
    pub struct ComposeCapAddWithoutDropAll => "compose-cap-add-without-drop-all", Warning, [Compose];
}

impl ComposeCapAddWithoutDropAll {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            let Some((key, _)) = service.node.entry("cap_add") else {
                continue;
            };
            if drops_all(service.list("cap_drop").iter().map(|(cap, _)| cap.as_str())) {
                continue;
            }
            let added: Vec<String> = service
                .list("cap_add")
                .into_iter()
                .map(|(c, _)| c)
                .collect();
            out.push(
                Self::diagnostic(format!(
                    "`{}` adds {} on top of Docker's default capabilities",
                    service.name,
                    added.join(", ")
                ))
                .at(
                    Some(&file.span(key.span.clone())),
                    "no `cap_drop: [ALL]` before it",
                )
                .help("add `cap_drop: [ALL]`, keeping only the capabilities in `cap_add`"),
            );
        }
    }
}
