use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags a memory limit below what two services were measured to need: LiteLLM
    /// 1024M (seed 002 §10.2: "1024M, not 768M, for PostgreSQL + Redis cache + model
    /// routing") and OpenClaw 1536M (002 §11.2: a Node.js heap capped at 768M by
    /// `NODE_OPTIONS=--max-old-space-size=768`, plus native memory and the Control
    /// UI). Matched on the image (`ghcr.io/berriai/litellm`,
    /// `ghcr.io/openclaw/openclaw`), in the environment being checked.
    ///
    /// ## Why is this bad?
    /// The container is OOM-killed under load and restarts in a loop; from outside
    /// it looks like random 502s. The catalog's limits are these minimums, so the
    /// problem only comes from an override written to fit a small host.
    ///
    /// ## Example
    /// ```toml
    /// [env.preprod.services.litellm]
    /// memory = "512M"
    /// ```
    ///
    /// ## Fix
    /// Keep the minimum and make room elsewhere (`memory-budget` shows the table), or
    /// disable the service in that environment (`enabled = false`).
    pub struct MemoryBelowMinimum => "memory-below-minimum", Error;
}

const MINIMUMS: &[(&[&str], u64, &str)] = &[
    (
        &[
            "ghcr.io/berriai/litellm",
            "berriai/litellm",
            "docker.litellm.ai/berriai/litellm",
        ],
        1024,
        "LiteLLM needs 1024M with PostgreSQL, the Redis cache and model routing (002 §10.2)",
    ),
    (
        &["ghcr.io/openclaw/openclaw"],
        1536,
        "OpenClaw needs 1536M: a 768M Node.js heap plus native memory and the Control UI (002 §11.2)",
    ),
];

impl MemoryBelowMinimum {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let image = support::image(service);
            let Some((_, minimum, why)) = MINIMUMS.iter().find(|(repos, _, _)| image.is(repos))
            else {
                continue;
            };
            let memory = service.resources.memory.0;
            if memory >= *minimum {
                continue;
            }
            let span = service
                .resources
                .memory_span
                .clone()
                .or_else(|| support::locate_key(stack, service, "memory"));
            out.push(
                Self::diagnostic(format!(
                    "`{}` gets {memory} MB of memory in `{}`, below its {minimum} MB minimum",
                    service.name, stack.env
                ))
                .at(span.as_ref(), "OOM-killed under load")
                .note(*why)
                .help(format!(
                    "set `memory = \"{minimum}M\"` or more and make room elsewhere, or disable `{}` in `{}`",
                    service.name, stack.env
                )),
            );
        }
    }
}
