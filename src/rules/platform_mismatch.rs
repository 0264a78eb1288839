use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags a service placed on a host whose CPU architecture its image is not
    /// built for (an amd64-only image on the arm64 Raspberry Pi).
    ///
    /// ## Why is this bad?
    /// The container exits at once with `exec format error`, or runs under slow
    /// emulation if binfmt is installed.
    ///
    /// ## Example
    /// ```toml
    /// [hosts.workstation]
    /// arch = "arm64"
    /// [services.litellm]
    /// host = "workstation"
    /// platforms = ["linux/amd64"]
    /// ```
    ///
    /// ## Fix
    /// Place the service on a host of a supported architecture, or use a
    /// multi-arch image and list its `platforms`.
    pub struct PlatformMismatch => "platform-mismatch", Error;
}

impl PlatformMismatch {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let Some(host) = stack.hosts.get(&service.host) else {
                continue;
            };
            let wanted = format!("linux/{}", host.arch);
            if !service.platforms.iter().any(|p| p == &wanted) {
                out.push(
                    Self::diagnostic(format!(
                        "`{}` ({}) is built for {}, but host `{}` is {}",
                        service.name,
                        service.image,
                        service.platforms.join(", "),
                        host.name,
                        host.arch
                    ))
                    .at(service.span.as_ref(), "wrong architecture")
                    .also(
                        host.span.as_ref(),
                        format!("`{}` is {}", host.name, host.arch),
                    )
                    .help(
                        "place it on a host of a supported architecture, or use a multi-arch image",
                    ),
                );
            }
        }
    }
}
