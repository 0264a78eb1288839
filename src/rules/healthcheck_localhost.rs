use crate::diagnostic::Diagnostic;
use crate::knowledge::health::names_localhost;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::stack::model::HealthTest;

declare_rule! {
    /// ## What it does
    /// Flags a `health` command (`cmd` or `shell`) that reaches the service through
    /// `localhost`.
    ///
    /// ## Why is this bad?
    /// A container's `/etc/hosts` maps `localhost` to both `127.0.0.1` and `::1`,
    /// and in Alpine (musl, BusyBox `wget`) images the probe can try `::1` first,
    /// while many services listen on IPv4 only: the probe is refused, the container
    /// stays `unhealthy` and everything that waits for it never starts (seed 002
    /// §2.1). vpai's own `http` and `tcp` probes always use `127.0.0.1`.
    ///
    /// ## Example
    /// ```toml
    /// [services.api]
    /// health = { shell = "wget -qO- http://localhost:3000/health" }
    /// ```
    ///
    /// ## Fix
    /// Write `127.0.0.1`, or use `health = { http = "/health" }`, which vpai renders
    /// with `127.0.0.1` and a probe tool that exists in the image.
    pub struct HealthcheckLocalhost => "healthcheck-localhost", Error;
}

impl HealthcheckLocalhost {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let Some(health) = &service.health else {
                continue;
            };
            let text = match &health.test {
                HealthTest::Exec(cmd) => cmd.join(" "),
                HealthTest::Shell(s) => s.clone(),
                _ => continue,
            };
            if !names_localhost(&text) {
                continue;
            }
            let span = support::locate(stack, service, names_localhost);
            out.push(
                Self::diagnostic(format!(
                    "`{}`'s health check reaches the service through `localhost`",
                    service.name
                ))
                .at(span.as_ref(), "`localhost` may resolve to ::1 (IPv6) first")
                .note("`localhost` is also ::1, which Alpine images can try first; a service listening on IPv4 only refuses the probe (002 §2.1)")
                .help("write 127.0.0.1, or use `health = { http = \"/path\" }`, which vpai renders with 127.0.0.1"),
            );
        }
    }
}
