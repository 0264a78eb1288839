use crate::diagnostic::Diagnostic;
use crate::knowledge::health::{profile, programs};
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
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
