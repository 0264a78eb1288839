//! The lint rules: one file per rule, one registry.
//!
//! Like the stack rules (`crate::rules`), each rule has a stable kebab-case name and
//! a doc comment in four parts (what it does, why it is bad, example, fix) that
//! `vpai explain NAME` prints. Names start with the kind of file they read
//! (`compose-`, `caddy-`, `script-`), so `--select caddy` picks a family. Adding a
//! rule is one file, one line in [`LINT_RULES`], one fixture under
//! `tests/lint/NAME/`.

use crate::diagnostic::{Check, Diagnostic, Severity};
use crate::lint::{File, Kind, Run};

mod caddy_duplicate_handle_errors;
mod caddy_handle_response_errors;
mod caddy_heredoc_status;
mod caddy_rate_limit_plugin;
mod caddy_subpath_unsupported;
mod caddy_websocket_http1;
pub(crate) mod compose_cap_add_without_drop_all;
pub(crate) mod compose_docker_socket;
mod compose_healthcheck_localhost;
mod compose_healthcheck_missing_tool;
pub(crate) mod compose_host_namespace;
mod compose_n8n_subpath;
mod compose_no_healthcheck;
pub(crate) mod compose_no_memory_limit;
pub(crate) mod compose_no_new_privileges;
pub(crate) mod compose_no_pids_limit;
pub(crate) mod compose_port_all_interfaces;
mod compose_postgres_data_path;
pub(crate) mod compose_privileged;
pub(crate) mod compose_privileged_port;
pub(crate) mod compose_sensitive_mount;
pub(crate) mod compose_unconfined_profile;
mod compose_unpinned_image;
mod invalid_suppression;
mod script_restart_env_file;
mod unused_suppression;

/// A check over one file of a lint run.
pub trait LintRule: Sync {
    /// Its name, severity and `explain` page.
    fn meta(&self) -> &'static Check;
    fn name(&self) -> &'static str {
        self.meta().name
    }
    fn severity(&self) -> Severity {
        self.meta().severity
    }
    /// The kinds of file it reads.
    fn kinds(&self) -> &'static [Kind];
    /// Push a diagnostic per finding in `file`; `run` holds the other files.
    fn check(&self, file: &File, run: &Run, out: &mut Vec<Diagnostic>);
}

/// Declares a lint rule: the struct, its name, severity and kinds, and its doc
/// comment as the `explain` page. The rule file then implements
/// `fn run(&self, file, run, out)`.
macro_rules! declare_lint_rule {
    ($(#[doc = $doc:literal])+ pub struct $ty:ident => $name:literal, $severity:ident, [$($kind:ident),+];) => {
        $(#[doc = $doc])+
        pub struct $ty;

        impl $ty {
            const META: $crate::diagnostic::Check = $crate::diagnostic::Check {
                name: $name,
                severity: $crate::diagnostic::Severity::$severity,
                doc: concat!($($doc, "\n"),+),
            };

            /// A diagnostic of this rule at its declared severity.
            #[allow(dead_code)]
            fn diagnostic(message: impl Into<String>) -> $crate::diagnostic::Diagnostic {
                Self::META.diagnostic(message)
            }
        }

        impl $crate::lint::rules::LintRule for $ty {
            fn meta(&self) -> &'static $crate::diagnostic::Check {
                &Self::META
            }
            fn kinds(&self) -> &'static [$crate::lint::Kind] {
                &[$($crate::lint::Kind::$kind),+]
            }
            fn check(
                &self,
                file: &$crate::lint::File,
                run: &$crate::lint::Run,
                out: &mut Vec<$crate::diagnostic::Diagnostic>,
            ) {
                self.run(file, run, out)
            }
        }
    };
}
pub(crate) use declare_lint_rule;

/// Every lint rule, in the order they run.
pub static LINT_RULES: &[&dyn LintRule] = &[
    // CIS Docker Benchmark, section 5 (container runtime), as far as a compose file
    // can answer it.
    &compose_privileged::ComposePrivileged,
    &compose_host_namespace::ComposeHostNamespace,
    &compose_docker_socket::ComposeDockerSocket,
    &compose_sensitive_mount::ComposeSensitiveMount,
    &compose_cap_add_without_drop_all::ComposeCapAddWithoutDropAll,
    &compose_no_new_privileges::ComposeNoNewPrivileges,
    &compose_unconfined_profile::ComposeUnconfinedProfile,
    &compose_port_all_interfaces::ComposePortAllInterfaces,
    &compose_privileged_port::ComposePrivilegedPort,
    &compose_no_memory_limit::ComposeNoMemoryLimit,
    &compose_no_pids_limit::ComposeNoPidsLimit,
    &compose_no_healthcheck::ComposeNoHealthcheck,
    &compose_unpinned_image::ComposeUnpinnedImage,
    // Seed 002's pitfalls, recognised from the image.
    &compose_healthcheck_missing_tool::ComposeHealthcheckMissingTool,
    &compose_healthcheck_localhost::ComposeHealthcheckLocalhost,
    &compose_postgres_data_path::ComposePostgresDataPath,
    &compose_n8n_subpath::ComposeN8nSubpath,
    &caddy_duplicate_handle_errors::CaddyDuplicateHandleErrors,
    &caddy_rate_limit_plugin::CaddyRateLimitPlugin,
    &caddy_heredoc_status::CaddyHeredocStatus,
    &caddy_websocket_http1::CaddyWebsocketHttp1,
    &caddy_handle_response_errors::CaddyHandleResponseErrors,
    &caddy_subpath_unsupported::CaddySubpathUnsupported,
    &script_restart_env_file::ScriptRestartEnvFile,
    // The suppression comments themselves.
    &invalid_suppression::InvalidSuppression,
    &unused_suppression::UnusedSuppression,
];

/// The name of every lint rule: what a selector or a suppression may name.
pub fn names() -> Vec<&'static str> {
    LINT_RULES.iter().map(|r| r.name()).collect()
}

pub fn find(name: &str) -> Option<&'static dyn LintRule> {
    LINT_RULES.iter().copied().find(|r| r.name() == name)
}

/// The upstreams of a `reverse_proxy` line: its arguments (after a matcher) and
/// its `to` subdirectives, as `host` without scheme or port, with their tokens.
pub(crate) fn upstreams(
    proxy: &crate::lint::caddyfile::Directive,
) -> Vec<(String, &crate::lint::caddyfile::Token)> {
    let args = proxy
        .args()
        .iter()
        .filter(|t| !t.text.starts_with('@') && !t.text.starts_with('/') && t.text != "*");
    let to = proxy
        .children()
        .iter()
        .filter(|c| c.name() == "to")
        .flat_map(|c| c.args().iter());
    args.chain(to)
        .map(|t| {
            let without_scheme = t.text.split("://").last().unwrap_or(&t.text);
            let host = without_scheme
                .split([':', '/'])
                .next()
                .unwrap_or(without_scheme);
            (host.to_ascii_lowercase(), t)
        })
        .collect()
}

/// The image of the compose service named `host` in the run's compose files, if
/// one is.
pub(crate) fn image_of_host(run: &Run, host: &str) -> Option<crate::knowledge::image::ImageRef> {
    run.files
        .iter()
        .flat_map(services)
        .find(|s| {
            s.name == host
                || s.get("container_name").and_then(|n| n.text()).as_deref() == Some(host)
        })
        .and_then(|s| s.image().map(|(image, _)| image))
}

/// The services of a compose file (none for other kinds).
pub(crate) fn services(file: &File) -> Vec<crate::lint::compose::Service<'_>> {
    file.compose()
        .map(crate::lint::compose::services)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for rule in LINT_RULES {
            let name = rule.name();
            assert!(seen.insert(name), "duplicate rule {name}");
            let family = rule.kinds().iter().map(|k| match k {
                Kind::Compose => "compose-",
                Kind::Caddyfile => "caddy-",
                Kind::Script => "script-",
            });
            assert!(
                rule.kinds().len() > 1 || family.clone().any(|p| name.starts_with(p)),
                "{name} does not start with its kind"
            );
            for part in [
                "## What it does",
                "## Why is this bad?",
                "## Example",
                "## Fix",
            ] {
                assert!(rule.meta().doc.contains(part), "{name}'s doc lacks {part}");
            }
        }
    }
}
