use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// For OpenClaw (`ghcr.io/openclaw/openclaw`) with the Docker socket mounted (it
    /// spawns sandbox containers), checks that its state directory is mounted at the
    /// same path inside the container as on the host (`identity = true`) and that
    /// `OPENCLAW_STATE_DIR` points at that path.
    ///
    /// ## Why is this bad?
    /// The gateway writes each sandbox's files under its state directory, then asks
    /// the host's Docker daemon to bind-mount that path into the sandbox. The daemon
    /// resolves the path on the *host*: with the state directory mounted at
    /// `/home/node/.openclaw`, the host has no such path and every sub-agent fails
    /// with "Sandbox FS error (ENOENT): .../AGENTS.md" (seed 002 §11.23). The catalog
    /// mounts it with `identity = true`; a `data` override that omits `identity`
    /// replaces that entry.
    ///
    /// ## Example
    /// ```toml
    /// [services.openclaw.data."/home/node/.openclaw"]
    /// owner = "1000:1000"          # identity and dir lost
    /// ```
    ///
    /// ## Fix
    /// `data."/home/node/.openclaw" = { owner = "1000:1000", identity = true, dir = "openclaw" }`
    /// and `OPENCLAW_STATE_DIR = "/opt/{{ project.name }}/data/openclaw"` (the
    /// catalog's).
    pub struct OpenclawSandboxPaths => "openclaw-sandbox-paths", Error;
}

impl OpenclawSandboxPaths {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            if !support::image(service).is(&["ghcr.io/openclaw/openclaw"]) {
                continue;
            }
            if !service
                .mounts
                .iter()
                .any(|m| m.target == "/var/run/docker.sock")
            {
                continue;
            }
            let state = service.env.get("OPENCLAW_STATE_DIR");
            let state_dir = state.map(|t| {
                t.text
                    .replace("{{ project.name }}", &stack.project.name)
                    .replace("{{project.name}}", &stack.project.name)
            });
            let identity = service.data.iter().find(|d| d.identity);
            let problem = match identity {
                None => Some((
                    "its state directory is not identity-mounted".to_string(),
                    support::locate(stack, service, |l| l.contains(".openclaw")),
                )),
                Some(d) => {
                    let host = format!("/opt/{}/data/{}", stack.project.name, d.dir);
                    (state_dir.as_deref().map(|s| s.trim_end_matches('/')) != Some(host.as_str())).then(|| {
                        (
                            format!("OPENCLAW_STATE_DIR is not `{host}`, the identity-mounted state directory"),
                            state.and_then(|t| t.span.clone()).or_else(|| service.span.clone()),
                        )
                    })
                }
            };
            if let Some((what, span)) = problem {
                out.push(
                    Self::diagnostic(format!("`{}` spawns sandboxes through the Docker socket, but {what}", service.name))
                        .at(span.as_ref(), "the host's daemon resolves sandbox paths on the host: ENOENT")
                        .note("the gateway's paths must be the same inside the container and on the host (002 §11.23)")
                        .help("mount the state directory with `identity = true` (as the catalog does) and set `OPENCLAW_STATE_DIR = \"/opt/{{ project.name }}/data/<dir>\"`"),
                );
            }
        }
    }
}
