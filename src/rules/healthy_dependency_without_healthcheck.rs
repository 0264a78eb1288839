use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;
use crate::stack::kinds::Condition;

declare_rule! {
    /// ## What it does
    /// Flags `depends_on = { X = "healthy" }` when `X` has no healthcheck.
    ///
    /// ## Why is this bad?
    /// Docker never reports a container without a healthcheck as healthy, so the
    /// dependent service waits until the deploy times out (001 §10, 002 §2.2).
    ///
    /// ## Example
    /// ```toml
    /// [services.api]
    /// image = "acme/api:1.0"
    /// depends_on = { worker = "healthy" }
    /// [services.worker]
    /// image = "acme/worker:1.0"   # no health
    /// ```
    ///
    /// ## Fix
    /// Give `X` a `health` that works inside its image (`http`, `tcp`, `cmd`), or
    /// depend on it with `"started"`.
    pub struct HealthyDependencyWithoutHealthcheck => "healthy-dependency-without-healthcheck", Error;
}

impl HealthyDependencyWithoutHealthcheck {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            for (dep, d) in &service.depends_on {
                if d.condition != Condition::Healthy {
                    continue;
                }
                let Some(target) = stack.services.get(dep) else {
                    continue;
                };
                if !target.has_healthcheck() {
                    out.push(
                        Self::diagnostic(format!(
                            "`{}` waits for `{dep}` to be healthy, but `{dep}` has no healthcheck",
                            service.name
                        ))
                        .at(d.span.as_ref().or(service.span.as_ref()), "waits forever")
                        .also(
                            target.span.as_ref(),
                            format!("`{dep}` defined here without `health`"),
                        )
                        .help(format!(
                            "add a `health` to `{dep}`, or use `{dep} = \"started\"`"
                        )),
                    );
                }
            }
        }
    }
}
