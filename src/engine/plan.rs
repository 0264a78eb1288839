//! The plan: what `apply` will do to one host, and why, computed by comparing the
//! desired state with what the daemon reports.
//!
//! A plan names the reason for every recreate (which env key, which image tag,
//! which config file, which setting) and never a value. Saved to a file it holds no
//! secret: only hashes, so `apply --plan FILE` can refuse a plan whose stack or host
//! changed since it was made.

use serde::{Deserialize, Serialize};

use super::desired::{Desired, DesiredContainer, DesiredNetwork};
use super::state::{Actual, ActualContainer, ActualNetwork};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Recreate,
    /// Exists with the right configuration but is stopped.
    Start,
    Unchanged,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceChange {
    pub service: String,
    pub container: String,
    pub action: Action,
    pub reasons: Vec<String>,
    pub hash: String,
}

/// A network whose properties differ from the stack's: removed and created again,
/// its containers disconnected first and reconnected with the same aliases.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetworkChange {
    pub network: String,
    /// `internal false -> true`, `subnet A -> B`, `driver X -> bridge`.
    pub reasons: Vec<String>,
    /// The stack's containers on this host attached to it (others are reconnected too).
    pub reconnects: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub project: String,
    pub host: String,
    pub env: String,
    pub networks_to_create: Vec<String>,
    #[serde(default)]
    pub networks_to_recreate: Vec<NetworkChange>,
    pub directories: Vec<String>,
    pub services: Vec<ServiceChange>,
    pub orphans: Vec<String>,
    /// Digest of the host state this plan was computed against.
    pub actual_fingerprint: String,
    /// Digest of the desired state (container hashes, networks, host files).
    pub desired_fingerprint: String,
}

impl Plan {
    /// Nothing to create, start, recreate or remove.
    pub fn is_empty(&self) -> bool {
        self.networks_to_create.is_empty()
            && self.networks_to_recreate.is_empty()
            && self.orphans.is_empty()
            && self.services.iter().all(|s| s.action == Action::Unchanged)
    }

    pub fn changes(&self) -> impl Iterator<Item = &ServiceChange> {
        self.services
            .iter()
            .filter(|s| s.action != Action::Unchanged)
    }
}

pub fn desired_fingerprint(desired: &Desired) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for c in &desired.containers {
        hasher.update(format!("{} {}\n", c.name, c.hash));
    }
    for n in &desired.networks {
        hasher.update(format!(
            "net {} {} {} {}\n",
            n.name, n.subnet, n.internal, n.driver
        ));
    }
    for e in &desired.entries {
        hasher.update(format!("{} {:o} {}:{}\n", e.path, e.mode, e.uid, e.gid));
        if let Some(c) = &e.content {
            hasher.update(Sha256::digest(c.as_bytes()));
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why `actual` must be replaced by `desired`, in words an operator acts on.
fn reasons(desired: &DesiredContainer, actual: &ActualContainer) -> Vec<String> {
    let mut out = Vec::new();
    if desired.image != actual.image {
        out.push(format!("image {} -> {}", actual.image, desired.image));
    }
    for (key, value) in &desired.env {
        match actual.env.get(key) {
            None => out.push(format!("env {key} added")),
            Some(v) if v != value => out.push(format!("env {key} changed")),
            _ => {}
        }
    }
    for key in &actual.env_keys {
        if !desired.env.contains_key(key) {
            out.push(format!("env {key} removed"));
        }
    }
    for (file, digest) in &desired.file_digests {
        match actual.file_digests.get(file) {
            None => out.push(format!("file {file} added")),
            Some(d) if d != digest => out.push(format!("file {file} changed")),
            _ => {}
        }
    }
    for file in actual.file_digests.keys() {
        if !desired.file_digests.contains_key(file) {
            out.push(format!("file {file} removed"));
        }
    }
    if desired.settings_hash != actual.settings_hash {
        out.push(
            "container settings changed (command, ports, limits, networks, mounts or healthcheck)"
                .to_string(),
        );
    }
    if out.is_empty() && desired.hash != actual.hash {
        out.push("configuration hash changed".to_string());
    }
    out
}

/// What differs between the network the stack wants and the one on the host.
fn network_reasons(desired: &DesiredNetwork, actual: &ActualNetwork) -> Vec<String> {
    let mut out = Vec::new();
    if desired.internal != actual.internal {
        out.push(format!(
            "internal {} -> {}",
            actual.internal, desired.internal
        ));
    }
    if actual.subnet.as_deref() != Some(desired.subnet.as_str()) {
        out.push(format!(
            "subnet {} -> {}",
            actual.subnet.as_deref().unwrap_or("none"),
            desired.subnet
        ));
    }
    if actual.driver != desired.driver {
        out.push(format!("driver {} -> {}", actual.driver, desired.driver));
    }
    out
}

pub fn compute(desired: &Desired, actual: &Actual, env: &str) -> Plan {
    let networks_to_recreate = desired
        .networks
        .iter()
        .filter_map(|n| {
            let existing = actual.networks.iter().find(|a| a.name == n.name)?;
            let reasons = network_reasons(n, existing);
            if reasons.is_empty() {
                return None;
            }
            let reconnects = desired
                .containers
                .iter()
                .filter(|c| actual.container(&c.name).is_some())
                .filter(|c| c.networks.contains(&n.name))
                .map(|c| c.service.clone())
                .collect();
            Some(NetworkChange {
                network: n.name.clone(),
                reasons,
                reconnects,
            })
        })
        .collect();
    let networks_to_create = desired
        .networks
        .iter()
        .filter(|n| !actual.networks.iter().any(|a| a.name == n.name))
        .map(|n| n.name.clone())
        .collect();
    let services = desired
        .containers
        .iter()
        .map(|d| {
            let (action, reasons) = match actual.container(&d.name) {
                None => (Action::Create, vec!["new service".to_string()]),
                Some(a) if a.hash != d.hash => (Action::Recreate, reasons(d, a)),
                Some(a) if !a.running => (Action::Start, vec!["stopped".to_string()]),
                Some(_) => (Action::Unchanged, Vec::new()),
            };
            ServiceChange {
                service: d.service.clone(),
                container: d.name.clone(),
                action,
                reasons,
                hash: d.hash.clone(),
            }
        })
        .collect();
    let orphans = actual
        .containers
        .iter()
        .filter(|a| !desired.containers.iter().any(|d| d.name == a.name))
        .map(|a| a.name.clone())
        .collect();
    Plan {
        project: desired.project.clone(),
        host: desired.host.clone(),
        env: env.to_string(),
        networks_to_create,
        networks_to_recreate,
        directories: desired
            .entries
            .iter()
            .filter(|e| e.content.is_none())
            .map(|e| e.path.clone())
            .collect(),
        services,
        orphans,
        actual_fingerprint: actual.fingerprint(),
        desired_fingerprint: desired_fingerprint(desired),
    }
}

/// Terraform-style text: one line per change, with its reasons.
pub fn render_text(plan: &Plan) -> String {
    let mut out = format!(
        "plan for `{}` on host `{}` ({}):\n",
        plan.project, plan.host, plan.env
    );
    if plan.is_empty() {
        out.push_str("  no changes: every container matches the stack\n");
        return out;
    }
    for n in &plan.networks_to_create {
        out.push_str(&format!("  + network {n}\n"));
    }
    for n in &plan.networks_to_recreate {
        out.push_str(&format!(
            "  ~ recreate network {}: {}",
            n.network,
            n.reasons.join("; ")
        ));
        if !n.reconnects.is_empty() {
            out.push_str(&format!(" (reconnects {})", n.reconnects.join(", ")));
        }
        out.push('\n');
    }
    for s in &plan.services {
        let (sign, word) = match s.action {
            Action::Create => ("+", "create"),
            Action::Recreate => ("~", "recreate"),
            Action::Start => (">", "start"),
            Action::Unchanged => continue,
        };
        out.push_str(&format!("  {sign} {word} {}", s.service));
        if !s.reasons.is_empty() && s.action != Action::Create {
            out.push_str(&format!(": {}", s.reasons.join("; ")));
        }
        out.push('\n');
    }
    for o in &plan.orphans {
        out.push_str(&format!("  - remove orphan {o}\n"));
    }
    let unchanged = plan
        .services
        .iter()
        .filter(|s| s.action == Action::Unchanged)
        .count();
    out.push_str(&format!(
        "{} to create, {} to recreate, {} to start, {} orphan(s) to remove, {unchanged} unchanged\n",
        plan.services.iter().filter(|s| s.action == Action::Create).count(),
        plan.services.iter().filter(|s| s.action == Action::Recreate).count(),
        plan.services.iter().filter(|s| s.action == Action::Start).count(),
        plan.orphans.len(),
    ));
    out
}
