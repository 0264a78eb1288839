//! Checks on the resolved stack: one rule per file, one registry.
//!
//! Each rule has a stable kebab-case name and a doc comment in four parts (what it
//! does, why it is bad, example, fix) that `vpai explain NAME` prints. Rules never
//! stop at the first finding: they push every diagnostic they see. Adding a rule is
//! one file, one line in [`RULES`], one fixture under `tests/rules/NAME/`.

use crate::diagnostic::{Check, Diagnostic, Severity};
use crate::stack::{Report, Stack};

mod admin_ui_public;
mod cross_host_internal_url;
mod dangerous_mount;
mod data_owner_mismatch;
mod dependency_cycle;
mod grafana_datasource_user;
mod grafana_subpath;
pub(crate) mod healthcheck_localhost;
pub(crate) mod healthcheck_missing_tool;
mod healthy_dependency_without_healthcheck;
mod image_tag_format;
mod internet_without_egress;
mod invalid_lint_ignore;
mod litellm_health_endpoint;
mod litellm_invalid_config;
mod memory_below_minimum;
mod memory_budget;
mod missing_proxy_hops;
mod network_isolation;
mod openclaw_init;
mod openclaw_invalid_config;
mod openclaw_sandbox_paths;
mod openclaw_unknown_env;
mod openclaw_websocket;
mod platform_mismatch;
mod postgres_data_path;
pub(crate) mod published_port;
mod redis_rename_command;
mod route_collision;
mod route_without_proxy;
mod secret_in_env;
mod subnet_collision;
pub(crate) mod subpath_unsupported;
pub(crate) mod support;
mod template_not_rendered;
mod unknown_network;
mod unpinned_image;
mod unused_config;
mod vpn_admits_containers;

/// A check over the whole stack.
pub trait Rule: Sync {
    /// Its name, severity and `explain` page.
    fn meta(&self) -> &'static Check;
    fn name(&self) -> &'static str {
        self.meta().name
    }
    fn severity(&self) -> Severity {
        self.meta().severity
    }
    fn check(&self, stack: &Stack, out: &mut Vec<Diagnostic>);
}

/// Declares a rule: the struct, its name, and its doc comment as the `explain` page.
/// The rule file then implements `fn run(&self, stack, out)`.
macro_rules! declare_rule {
    ($(#[doc = $doc:literal])+ pub struct $ty:ident => $name:literal, $severity:ident;) => {
        $(#[doc = $doc])+
        pub struct $ty;

        impl $ty {
            const META: $crate::diagnostic::Check = $crate::diagnostic::Check {
                name: $name,
                severity: $crate::diagnostic::Severity::$severity,
                doc: concat!($($doc, "\n"),+),
            };

            /// A diagnostic of this rule at its declared severity.
            fn diagnostic(message: impl Into<String>) -> $crate::diagnostic::Diagnostic {
                Self::META.diagnostic(message)
            }
        }

        impl $crate::rules::Rule for $ty {
            fn meta(&self) -> &'static $crate::diagnostic::Check {
                &Self::META
            }
            fn check(&self, stack: &$crate::stack::Stack, out: &mut Vec<$crate::diagnostic::Diagnostic>) {
                self.run(stack, out)
            }
        }
    };
}
pub(crate) use declare_rule;

/// Every rule, in the order `check` runs them.
pub static RULES: &[&dyn Rule] = &[
    &dependency_cycle::DependencyCycle,
    &healthy_dependency_without_healthcheck::HealthyDependencyWithoutHealthcheck,
    &memory_budget::MemoryBudget,
    &network_isolation::DatastoreOnFrontend,
    &internet_without_egress::InternetWithoutEgress,
    &unknown_network::UnknownNetwork,
    &published_port::PublishedPort,
    &dangerous_mount::DangerousMount,
    &route_collision::RouteCollision,
    &subnet_collision::SubnetCollision,
    &vpn_admits_containers::VpnAdmitsContainers,
    &subpath_unsupported::SubpathUnsupported,
    &route_without_proxy::RouteWithoutProxy,
    &platform_mismatch::PlatformMismatch,
    &cross_host_internal_url::CrossHostInternalUrl,
    // Seed 002's pitfalls (docs/pitfalls.md).
    &unpinned_image::UnpinnedImage,
    &image_tag_format::ImageTagFormat,
    &healthcheck_localhost::HealthcheckLocalhost,
    &healthcheck_missing_tool::HealthcheckMissingTool,
    &litellm_health_endpoint::LitellmHealthEndpoint,
    &postgres_data_path::PostgresDataPath,
    &redis_rename_command::RedisRenameCommand,
    &data_owner_mismatch::DataOwnerMismatch,
    &memory_below_minimum::MemoryBelowMinimum,
    &grafana_subpath::GrafanaSubpath,
    &grafana_datasource_user::GrafanaDatasourceUser,
    &missing_proxy_hops::MissingProxyHops,
    &litellm_invalid_config::LitellmInvalidConfig,
    &openclaw_invalid_config::OpenclawInvalidConfig,
    &openclaw_init::OpenclawInit,
    &openclaw_websocket::OpenclawWebsocket,
    &openclaw_sandbox_paths::OpenclawSandboxPaths,
    &openclaw_unknown_env::OpenclawUnknownEnv,
    &admin_ui_public::AdminUiPublic,
    &secret_in_env::SecretInEnv,
    &template_not_rendered::TemplateNotRendered,
    &invalid_lint_ignore::InvalidLintIgnore,
    &unused_config::UnusedConfig,
];

pub fn find(name: &str) -> Option<&'static dyn Rule> {
    RULES.iter().copied().find(|r| r.name() == name)
}

/// The stack, if `check` finds no error in it; else every diagnostic, closed by
/// `refusal` (what was not done) under `code`.
pub fn require_clean(stack: Stack, code: &'static str, refusal: &str) -> Result<Stack, Report> {
    let mut problems = check(&stack);
    if !problems.iter().any(Diagnostic::is_error) {
        return Ok(stack);
    }
    problems.push(
        Diagnostic::error(code, refusal.to_string()).help("run `vpai check` and fix them first"),
    );
    Err(Report {
        diagnostics: problems,
        sources: stack.sources,
    })
}

/// Run every rule; diagnostics come back sorted by severity (errors first), then rule.
pub fn check(stack: &Stack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in RULES {
        rule.check(stack, &mut out);
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.severity));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for rule in RULES {
            let name = rule.name();
            assert!(seen.insert(name), "duplicate rule {name}");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !name.starts_with('-'),
                "{name} is not kebab-case"
            );
        }
    }
}
