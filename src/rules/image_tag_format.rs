use crate::diagnostic::Diagnostic;
use crate::knowledge::image::{self, ImageRef};
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags image references that are spelled in a way the registry never
    /// published, for images whose tagging is known:
    ///
    /// - `ghcr.io/openclaw/openclaw`: tags are the release version with the `v`
    ///   removed (`2026.2.22`, not `v2026.2.22`): the release workflow tags
    ///   `${GITHUB_REF#refs/tags/v}` (openclaw/openclaw,
    ///   `.github/workflows/docker-release.yml`; seed 002 §11.2).
    /// - `ghcr.io/google/cadvisor` 0.54.0 to 0.56.2: published as `0.55.1`, never
    ///   `v0.55.1` (google/cadvisor#3871; the publish workflow's tag pattern was
    ///   `{{version}}`; seed 002 §8.3).
    /// - `gcr.io/cadvisor/cadvisor` 0.54 and later: releases are pushed to
    ///   `ghcr.io/google/cadvisor` only (google/cadvisor#3806, seed 002 §8.3).
    ///
    /// ## Why is this bad?
    /// The pull fails with `manifest unknown` on the host, in the middle of a deploy.
    ///
    /// ## Example
    /// ```toml
    /// [services.cadvisor]
    /// image = "ghcr.io/google/cadvisor:v0.55.1"
    /// ```
    ///
    /// ## Fix
    /// Use the published spelling: `ghcr.io/google/cadvisor:0.55.1`,
    /// `ghcr.io/openclaw/openclaw:2026.2.22`.
    pub struct ImageTagFormat => "image-tag-format", Error;
}

/// What is wrong with the reference, and the reference to use instead.
fn problem(image: &ImageRef) -> Option<(String, String)> {
    let tag = image.tag.as_deref()?;
    if image.is(&["ghcr.io/openclaw/openclaw"]) && tag.starts_with('v') && image.version().is_some()
    {
        return Some((
            "OpenClaw images are tagged without the `v` of the release".to_string(),
            format!("{}:{}", image.repo, &tag[1..]),
        ));
    }
    if image.is(&["ghcr.io/google/cadvisor"])
        && tag.starts_with('v')
        && let Some(v) = image.version()
        && image::compare(&v, &[0, 54, 0]).is_ge()
        && image::compare(&v, &[0, 56, 2]).is_le()
    {
        return Some((
            "cAdvisor 0.54.0 to 0.56.2 are published on ghcr.io without a `v` (google/cadvisor#3871)".to_string(),
            format!("{}:{}", image.repo, &tag[1..]),
        ));
    }
    if image.is(&["gcr.io/cadvisor/cadvisor"]) && image.at_least(&[0, 54, 0]) == Some(true) {
        return Some((
            "cAdvisor 0.54 and later are published on ghcr.io/google/cadvisor only (google/cadvisor#3806)".to_string(),
            format!("ghcr.io/google/cadvisor:{}", tag.trim_start_matches('v')),
        ));
    }
    None
}

impl ImageTagFormat {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let Some((why, instead)) = problem(&support::image(service)) else {
                continue;
            };
            let span = support::locate_key(stack, service, "image");
            out.push(
                Self::diagnostic(format!(
                    "`{}`: image `{}` is not published under that name",
                    service.name, service.image
                ))
                .at(span.as_ref(), "the pull fails with `manifest unknown`")
                .note(why)
                .help(format!("use `image = \"{instead}\"`")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_spellings_pass() {
        for ok in [
            "ghcr.io/openclaw/openclaw:2026.2.22",
            "ghcr.io/google/cadvisor:0.55.1",
            "ghcr.io/google/cadvisor:v0.53.0",
            "gcr.io/cadvisor/cadvisor:v0.49.1",
        ] {
            assert!(problem(&ImageRef::parse(ok)).is_none(), "{ok}");
        }
        for bad in [
            "ghcr.io/openclaw/openclaw:v2026.2.22",
            "ghcr.io/google/cadvisor:v0.55.1",
            "gcr.io/cadvisor/cadvisor:v0.55.1",
        ] {
            assert!(problem(&ImageRef::parse(bad)).is_some(), "{bad}");
        }
    }
}
