use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags an image without a tag or digest, or with a tag that moves: `latest`,
    /// `stable`, `main`, `nightly`, `edge`, `dev`, `lts`, `next`, and the variants
    /// of those that carry no version (`main-stable`, `stable-alpine`, `alpine`,
    /// `cuda`) (CIS Docker Benchmark v1.6.0 §5.27 asks for images to be current;
    /// pinning is how "current" stays a decision).
    ///
    /// ## Why is this bad?
    /// A moving tag changes under you: the next `pull` or a new host runs different
    /// code, and an upstream release with a breaking change lands unannounced
    /// (PostgreSQL 18's data path, Loki 3.6's distroless image: seed 002 §3.1,
    /// §7.1). Rolling back means guessing what the tag pointed to yesterday.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   ollama:
    ///     image: ollama/ollama
    /// ```
    ///
    /// ## Fix
    /// Pin a version (`ollama/ollama:0.12.6`) or a digest (`@sha256:...`), and let a
    /// notifier (Diun) tell you about new ones.
    pub struct ComposeUnpinnedImage => "compose-unpinned-image", Warning, [Compose];
}

impl ComposeUnpinnedImage {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            let Some((image, node)) = service.image() else {
                continue;
            };
            let Some(label) = image.unpinned() else {
                continue;
            };
            // A variable (`${TAG}`) is pinned wherever it is set.
            if node.as_str().is_some_and(|s| s.contains("${")) {
                continue;
            }
            out.push(
                Self::diagnostic(format!("`{}`'s image is not pinned", service.name))
                    .at(Some(&file.span(node.span.clone())), label)
                    .help("pin a version tag or a digest"),
            );
        }
    }
}
