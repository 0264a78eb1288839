use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags an image without a tag or digest, or with a tag that moves: `latest`,
    /// `stable`, `main`, `nightly`, `edge`, `dev`, `lts`, `next`, and the variants
    /// of those that carry no version (`stable-alpine`, `alpine`, `cuda`), the same
    /// tags `compose-unpinned-image` flags in a compose file.
    ///
    /// ## Why is this bad?
    /// A missing tag means `latest` (Docker docs, "docker image tag"). `latest`
    /// changes under you: two hosts deploying the same stack run different code, an
    /// upstream release with a breaking change (PostgreSQL 18's data path, Loki 3.6's
    /// distroless image, OpenClaw's plugins: seed 002 §3.1, §7.1, §11.10) lands
    /// on the next restart, and `vpai rollback` restores the same moving tag, not
    /// the previous version. Every catalog image is pinned for this reason.
    ///
    /// ## Example
    /// ```toml
    /// [services.api]
    /// image = "acme/api"          # or "acme/api:latest", "acme/api:stable"
    /// ```
    ///
    /// ## Fix
    /// Pin a version tag (`acme/api:1.4.2`) or a digest (`acme/api@sha256:...`).
    pub struct UnpinnedImage => "unpinned-image", Error;
}

impl UnpinnedImage {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let image = support::image(service);
            let Some(why) = image.unpinned() else {
                continue;
            };
            let span = support::locate_key(stack, service, "image");
            out.push(
                Self::diagnostic(format!(
                    "`{}`: image `{}` is not pinned",
                    service.name, service.image
                ))
                .at(span.as_ref(), why)
                .help(format!(
                    "pin a version: `image = \"{}:<version>\"` (or a `@sha256:` digest)",
                    image.repo
                )),
            );
        }
    }
}
