//! `vpai host audit`: what the CIS Docker Benchmark v1.6.0 §5 (container runtime)
//! finds on a live host, judged against the stack that deploys there.
//!
//! The compose lint rules ask the same questions of a file; here the answers come
//! from the engine (`engine::audit::read`), so a container started by hand, left over
//! by an old deploy or belonging to another project is seen too. A finding's code is
//! the lint rule that flags the same setting in a compose file, so `vpai explain
//! compose-privileged` documents it, and a catalog mount's `lint_ignore` accepts the
//! same finding on the host, with its reason. What only a host shows (a container vpai
//! did not deploy, one of another project, one of a service the stack no longer has)
//! has its own `audit-` check, documented the same way ([`AUDIT_CHECKS`]).
//!
//! Pure: facts and the stack in, a report out, so every judgement is tested without a
//! daemon.

use serde::Serialize;

use crate::diagnostic::{Check, Severity};

use crate::engine::audit::{Bind, ContainerFacts, PublishedPort};
use crate::knowledge::cis::{
    NAMESPACES, SELINUX_LABELS, disables_confinement, drops_all, holds_docker_socket,
    is_docker_socket, on_every_interface, privileged_host_port, proxy_web_port,
    sensitive_host_path, sets_no_new_privileges,
};
use crate::lint::rules::LintRule;
use crate::lint::rules::compose_cap_add_without_drop_all::ComposeCapAddWithoutDropAll;
use crate::lint::rules::compose_docker_socket::ComposeDockerSocket;
use crate::lint::rules::compose_host_namespace::ComposeHostNamespace;
use crate::lint::rules::compose_no_memory_limit::ComposeNoMemoryLimit;
use crate::lint::rules::compose_no_new_privileges::ComposeNoNewPrivileges;
use crate::lint::rules::compose_no_pids_limit::ComposeNoPidsLimit;
use crate::lint::rules::compose_port_all_interfaces::ComposePortAllInterfaces;
use crate::lint::rules::compose_privileged::ComposePrivileged;
use crate::lint::rules::compose_privileged_port::ComposePrivilegedPort;
use crate::lint::rules::compose_sensitive_mount::ComposeSensitiveMount;
use crate::lint::rules::compose_unconfined_profile::ComposeUnconfinedProfile;
use crate::stack::Stack;
use crate::stack::model::Service;

/// Declares an audit check whose doc comment is its `vpai explain` page, as
/// `declare_lint_rule!` does for lint rules.
macro_rules! declare_audit_check {
    ($(#[doc = $doc:literal])+ const $id:ident => $name:literal, $severity:ident;) => {
        $(#[doc = $doc])+
        pub const $id: Check = Check {
            name: $name,
            severity: Severity::$severity,
            doc: concat!($($doc, "\n"),+),
        };
    };
}

declare_audit_check! {
    /// ## What it does
    /// Reports a container without the `vpai.project` label: started by hand, by
    /// Compose or by another tool, not by vpai. Its settings are audited like every
    /// other container's; this finding only says that the stack does not describe it.
    ///
    /// ## Why is this bad?
    /// Nothing vpai checks covers it: no memory budget counts it, no backup holds its
    /// data, `vpai check` never saw its ports or mounts, and the next operator does not
    /// know why it runs. It is information rather than a fault: a host may run other
    /// things on purpose.
    ///
    /// ## Example
    /// ```sh
    /// docker run -d --name debug -p 8080:80 nginx:1.29
    /// ```
    ///
    /// ## Fix
    /// Make it a service of the stack (any image works: `[services.NAME] image =
    /// "..."`) and deploy it with `vpai apply`, or remove it.
    const UNMANAGED => "audit-unmanaged", Info;
}

declare_audit_check! {
    /// ## What it does
    /// Reports a container that vpai deployed for another project (its `vpai.project`
    /// label is not the audited stack's project name).
    ///
    /// ## Why is this bad?
    /// Two projects on one host share its memory, ports and Docker engine, and each
    /// stack's budget and checks see only its own services. The audit judges the other
    /// project's containers without knowing what their stack accepts (a `lint_ignore`
    /// on a mount), so their accepted risks show as findings here.
    ///
    /// ## Example
    /// `vpai host audit examples/javisi --host vps` on a VPS that also runs
    /// `examples/accoreboot`.
    ///
    /// ## Fix
    /// Nothing, if both projects are meant to share the host: audit each with its own
    /// stack. Otherwise `vpai down` the project that does not belong there.
    const FOREIGN_PROJECT => "audit-foreign-project", Info;
}

declare_audit_check! {
    /// ## What it does
    /// Reports a container of the audited project whose service is no longer in the
    /// stack (removed, disabled in this environment) or belongs to another host of the
    /// stack.
    ///
    /// ## Why is this bad?
    /// Nobody maintains it: it keeps an old image and old settings, holds memory the
    /// budget no longer counts, and may still publish ports or hold secrets that the
    /// stack has since rotated.
    ///
    /// ## Example
    /// `[services.nocodb]` deleted from `vpai.toml` after a deploy, and no apply since.
    ///
    /// ## Fix
    /// `vpai apply` on this host removes it (`vpai plan` lists it as an orphan first).
    const ORPHAN => "audit-orphan", Warning;
}

/// Every audit-only check, in the order a container's findings list them.
pub static AUDIT_CHECKS: &[&Check] = &[&UNMANAGED, &FOREIGN_PROJECT, &ORPHAN];

pub fn find(name: &str) -> Option<&'static Check> {
    AUDIT_CHECKS.iter().copied().find(|c| c.name == name)
}

/// How a container relates to the audited stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Owner {
    /// A service of the stack on this host.
    Stack { service: String },
    /// Of the stack's project, but not a service of this host in the stack (`None`:
    /// no `vpai.service` label at all).
    Orphan { service: Option<String> },
    /// Deployed by vpai for another project.
    Foreign { project: String },
    /// Not deployed by vpai.
    Unmanaged,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditedContainer {
    pub name: String,
    pub image: String,
    pub running: bool,
    pub owner: Owner,
}

/// One published port, for the table of what the host exposes.
#[derive(Debug, Clone, Serialize)]
pub struct PortLine {
    pub container: String,
    /// Empty when Docker was given no address.
    pub host_ip: String,
    pub host_port: String,
    /// `80/tcp`.
    pub container_port: String,
    pub every_interface: bool,
}

impl PortLine {
    /// `127.0.0.1:5432`, `[::]:443`, `*:8080` (no address given to Docker).
    pub fn address(&self) -> String {
        address(&self.host_ip, &self.host_port)
    }
}

fn address(host_ip: &str, host_port: &str) -> String {
    match host_ip {
        "" => format!("*:{host_port}"),
        ip if ip.contains(':') => format!("[{ip}]:{host_port}"),
        ip => format!("{ip}:{host_port}"),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// A lint rule's name or an audit check's: `vpai explain CODE`.
    pub code: &'static str,
    pub severity: Severity,
    pub container: String,
    pub message: String,
    /// Why the stack accepts it (a mount's `lint_ignore`, a port declared public).
    /// An accepted finding does not fail the audit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub project: String,
    pub host: String,
    pub env: String,
    /// No error that the stack does not accept.
    pub ok: bool,
    /// Findings not accepted, by severity; accepted ones are counted apart.
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    pub accepted: usize,
    /// In name order.
    pub containers: Vec<AuditedContainer>,
    pub ports: Vec<PortLine>,
    /// Grouped by container, in the containers' order.
    pub findings: Vec<Finding>,
}

/// Judge every container of the engine of `host` against `stack`.
pub fn judge(facts: &[ContainerFacts], stack: &Stack, host: &str) -> Report {
    let mut containers = Vec::new();
    let mut ports = Vec::new();
    let mut findings = Vec::new();
    for c in facts {
        let service = c
            .service
            .as_deref()
            .filter(|_| c.project.as_deref() == Some(stack.project.name.as_str()))
            .and_then(|s| stack.services.get(s));
        let owner = owner(c, stack, host);
        let mut judged = Judged {
            c,
            service,
            findings: &mut findings,
        };
        judged.ownership(&owner, stack, host);
        judged.privileges();
        judged.namespaces();
        judged.mounts();
        judged.capabilities();
        judged.confinement();
        judged.ports();
        judged.limits();
        ports.extend(c.ports.iter().map(|p| PortLine {
            container: c.name.clone(),
            host_ip: p.host_ip.clone(),
            host_port: p.host_port.clone(),
            container_port: p.container_port.clone(),
            every_interface: on_every_interface(&p.host_ip),
        }));
        containers.push(AuditedContainer {
            name: c.name.clone(),
            image: c.image.clone(),
            running: c.running,
            owner,
        });
    }
    let open = |severity: Severity| {
        findings
            .iter()
            .filter(|f| f.accepted.is_none() && f.severity == severity)
            .count()
    };
    let errors = open(Severity::Error);
    Report {
        project: stack.project.name.clone(),
        host: host.to_string(),
        env: stack.env.clone(),
        ok: errors == 0,
        errors,
        warnings: open(Severity::Warning),
        info: open(Severity::Info),
        accepted: findings.iter().filter(|f| f.accepted.is_some()).count(),
        containers,
        ports,
        findings,
    }
}

fn owner(c: &ContainerFacts, stack: &Stack, host: &str) -> Owner {
    let project = &stack.project.name;
    match (&c.project, &c.service) {
        (None, _) => Owner::Unmanaged,
        (Some(p), _) if p != project => Owner::Foreign { project: p.clone() },
        (Some(_), Some(s)) if stack.services.get(s).is_some_and(|s| s.host == host) => {
            Owner::Stack { service: s.clone() }
        }
        (Some(_), service) => Owner::Orphan {
            service: service.clone(),
        },
    }
}

/// One container under judgement; each method asks one part of §5.
struct Judged<'a> {
    c: &'a ContainerFacts,
    /// The stack's service of this container, when it is one of the project's: its
    /// mounts and ports say what the stack accepts.
    service: Option<&'a Service>,
    findings: &'a mut Vec<Finding>,
}

impl Judged<'_> {
    fn push(&mut self, code: &'static str, severity: Severity, message: String) -> &mut Finding {
        self.findings.push(Finding {
            code,
            severity,
            container: self.c.name.clone(),
            message,
            accepted: None,
        });
        self.findings.last_mut().expect("just pushed")
    }

    /// A finding of `rule`, at the severity the rule gives it in a compose file.
    fn flag(&mut self, rule: &dyn LintRule, message: String) -> &mut Finding {
        self.push(rule.name(), rule.severity(), message)
    }

    fn ownership(&mut self, owner: &Owner, stack: &Stack, host: &str) {
        let project = &stack.project.name;
        let (check, message) = match owner {
            Owner::Stack { .. } => return,
            Owner::Unmanaged => (
                &UNMANAGED,
                "not deployed by vpai (no `vpai.project` label)".to_string(),
            ),
            Owner::Foreign { project: other } => (
                &FOREIGN_PROJECT,
                format!(
                    "deployed by vpai for project `{other}`, not `{project}`: audit it with its own stack to see what that stack accepts"
                ),
            ),
            Owner::Orphan { service: None } => (
                &ORPHAN,
                format!(
                    "labelled for `{project}` but with no `vpai.service`: not a container vpai deploys"
                ),
            ),
            Owner::Orphan {
                service: Some(service),
            } => (
                &ORPHAN,
                match stack.services.get(service) {
                    Some(s) => format!(
                        "service `{service}` of `{project}` belongs to host `{}`, not `{host}`: `vpai apply` here removes it",
                        s.host
                    ),
                    None => format!(
                        "service `{service}` is no longer in `{project}` ({}): `vpai apply` removes it",
                        stack.env
                    ),
                },
            ),
        };
        self.push(check.name, check.severity, message);
    }

    fn privileges(&mut self) {
        if self.c.privileged {
            self.flag(
                &ComposePrivileged,
                "runs privileged: every capability and device, no seccomp or AppArmor".into(),
            );
        } else if !self
            .c
            .security_opt
            .iter()
            .any(|o| sets_no_new_privileges(o))
        {
            // A privileged container is already reported as worse.
            self.flag(
                &ComposeNoNewPrivileges,
                "may gain privileges through setuid binaries: no `no-new-privileges`".into(),
            );
        }
    }

    fn namespaces(&mut self) {
        for (compose_key, namespace) in NAMESPACES {
            if namespace_mode(self.c, compose_key) == Some("host") {
                self.flag(
                    &ComposeHostNamespace,
                    format!("shares the host's {namespace} namespace"),
                );
            }
        }
    }

    fn mounts(&mut self) {
        for bind in &self.c.binds {
            let socket = if is_docker_socket(&bind.source) {
                Some(format!("mounts the Docker socket `{}`", bind.source))
            } else if holds_docker_socket(&bind.source) {
                Some(format!(
                    "mounts `{}`, which holds the Docker socket",
                    bind.source
                ))
            } else {
                None
            };
            if let Some(what) = socket {
                let accepted = self.accepted_mount(bind, &ComposeDockerSocket);
                self.flag(
                    &ComposeDockerSocket,
                    format!("{what}: root on the host, read-only or not"),
                )
                .accepted = accepted;
            }
            if sensitive_host_path(&bind.source) {
                let accepted = self.accepted_mount(bind, &ComposeSensitiveMount);
                let finding = self.flag(
                    &ComposeSensitiveMount,
                    format!(
                        "mounts the host's `{}` {}",
                        bind.source,
                        if bind.read_write {
                            "writable: it can change the host"
                        } else {
                            "read-only: it reads the host's files"
                        }
                    ),
                );
                // As in a compose file: read-only only exposes, so it only warns.
                if !bind.read_write {
                    finding.severity = Severity::Warning;
                }
                finding.accepted = accepted;
            }
        }
    }

    /// The stack's reason to accept `rule` on `bind`: the `lint_ignore` of the
    /// service's mount with the same source and target.
    fn accepted_mount(&self, bind: &Bind, rule: &dyn LintRule) -> Option<String> {
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        self.service?
            .mounts
            .iter()
            .find(|m| same(&m.source, &bind.source) && same(&m.target, &bind.target))?
            .lint_ignore
            .get(rule.name())
            .cloned()
    }

    fn capabilities(&mut self) {
        let c = self.c;
        if !c.cap_add.is_empty() && !drops_all(c.cap_drop.iter().map(String::as_str)) {
            self.flag(
                &ComposeCapAddWithoutDropAll,
                format!(
                    "adds {} on top of Docker's default capabilities: no cap_drop ALL",
                    c.cap_add.join(", ")
                ),
            );
        }
    }

    fn confinement(&mut self) {
        let c = self.c;
        if c.privileged {
            // Privileged already means no seccomp, no AppArmor and no labels.
            return;
        }
        // Docker disables SELinux labels itself for a container that shares the
        // host's PID or IPC namespace, which is reported already.
        let labels_off_by_docker = c.pid_mode == "host" || c.ipc_mode == "host";
        for option in &c.security_opt {
            match disables_confinement(option) {
                Some(SELINUX_LABELS) if labels_off_by_docker => {}
                Some(what) => {
                    self.flag(&ComposeUnconfinedProfile, format!("runs without {what}"));
                }
                None => {}
            }
        }
    }

    fn ports(&mut self) {
        for port in &self.c.ports {
            let published = format!(
                "{} -> {}",
                address(&port.host_ip, &port.host_port),
                port.container_port
            );
            if on_every_interface(&port.host_ip) {
                self.every_interface(port, &published);
            }
            if let Some(low) = privileged_host_port(&port.host_port) {
                self.flag(
                    &ComposePrivilegedPort,
                    format!("takes the privileged host port {low} ({published})"),
                );
            }
        }
    }

    /// A port on every interface: expected of the proxy's 80 and 443, accepted when
    /// the stack declares it public, a finding otherwise.
    fn every_interface(&mut self, port: &PublishedPort, published: &str) {
        let host_port: Option<u16> = port.host_port.parse().ok();
        let protocol = port.container_port.rsplit('/').next().unwrap_or("tcp");
        if let (Some(service), Some(host_port)) = (self.service, host_port)
            && proxy_web_port(service.kind, host_port)
        {
            return;
        }
        let declared_public = self.service.is_some_and(|s| {
            s.ports
                .iter()
                .any(|p| Some(p.published) == host_port && p.protocol == protocol && p.public)
        });
        self.flag(
            &ComposePortAllInterfaces,
            format!("publishes {published} on every interface, past UFW"),
        )
        .accepted = declared_public.then(|| "declared `public = true` in the stack".to_string());
    }

    fn limits(&mut self) {
        if self.c.memory <= 0 {
            self.flag(&ComposeNoMemoryLimit, "has no memory limit".into());
        }
        if self.c.pids_limit.is_none_or(|p| p <= 0) {
            self.flag(&ComposeNoPidsLimit, "has no process limit".into());
        }
    }
}

/// The container's mode of a namespace `compose-host-namespace` knows, by its compose key.
fn namespace_mode<'a>(c: &'a ContainerFacts, compose_key: &str) -> Option<&'a str> {
    let mode = match compose_key {
        "network_mode" => &c.network_mode,
        "pid" => &c.pid_mode,
        "ipc" => &c.ipc_mode,
        "uts" => &c.uts_mode,
        "userns_mode" => &c.userns_mode,
        _ => return None,
    };
    Some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::audit::{Bind, PublishedPort};
    use crate::source::Sources;

    /// Two hosts; on `vps` the proxy, cAdvisor with its catalog mounts, a socket
    /// reader accepted in the stack file and an MQTT port declared public.
    const STACK: &str = r#"
[project]
name = "shop"
domain = "shop.example"

[hosts.vps]
[hosts.pi]

[services.caddy]
[services.cadvisor]

[services.watcher]
image = "acme/watcher:2.1.0"
port = 9000
mounts = [{ source = "/var/run/docker.sock", target = "/var/run/docker.sock", read_only = true, lint_ignore = { compose-docker-socket = "lists containers to watch their images" } }]

[services.mqtt]
image = "emqx/emqx:5.8.6"
port = 18083
ports = [{ published = 1883, bind = "0.0.0.0", public = true }]

[services.studio]
image = "acme/studio:1.0.0"
host = "pi"
port = 8188
"#;

    fn stack() -> Stack {
        let mut sources = Sources::default();
        let id = sources.add("vpai.toml", STACK);
        let raw = crate::stack::load::parse(id, &sources).expect("parses");
        crate::stack::resolve::resolve(raw, id, sources, "prod")
            .unwrap_or_else(|r| panic!("{:?}", r.diagnostics))
    }

    /// A container started by hand with every setting vpai gives its own.
    fn hardened(name: &str) -> ContainerFacts {
        ContainerFacts {
            name: name.to_string(),
            image: "acme/app:1.0.0".to_string(),
            running: true,
            project: None,
            service: None,
            privileged: false,
            network_mode: "shop_backend".to_string(),
            pid_mode: String::new(),
            ipc_mode: "private".to_string(),
            uts_mode: String::new(),
            userns_mode: String::new(),
            ports: Vec::new(),
            binds: Vec::new(),
            memory: 256 * 1024 * 1024,
            pids_limit: Some(512),
            cap_add: Vec::new(),
            cap_drop: vec!["ALL".to_string()],
            security_opt: vec!["no-new-privileges:true".to_string()],
        }
    }

    /// `hardened`, labelled as vpai labels `project`'s `service`.
    fn deployed(project: &str, service: &str) -> ContainerFacts {
        ContainerFacts {
            project: Some(project.to_string()),
            service: Some(service.to_string()),
            ..hardened(&format!("{project}_{service}"))
        }
    }

    fn port(host_ip: &str, host_port: &str, container_port: &str) -> PublishedPort {
        PublishedPort {
            host_ip: host_ip.to_string(),
            host_port: host_port.to_string(),
            container_port: container_port.to_string(),
        }
    }

    fn bind(source: &str, target: &str, read_write: bool) -> Bind {
        Bind {
            source: source.to_string(),
            target: target.to_string(),
            read_write,
        }
    }

    /// `(code, severity, accepted)` of every finding of one container.
    fn findings_of(report: &Report, container: &str) -> Vec<(&'static str, Severity, bool)> {
        report
            .findings
            .iter()
            .filter(|f| f.container == container)
            .map(|f| (f.code, f.severity, f.accepted.is_some()))
            .collect()
    }

    fn judge_one(c: ContainerFacts) -> Report {
        judge(&[c], &stack(), "vps")
    }

    #[test]
    fn a_hardened_container_of_the_stack_has_no_finding() {
        let report = judge_one(deployed("shop", "watcher"));
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
        assert!(report.ok);
        assert_eq!(
            report.containers[0].owner,
            Owner::Stack {
                service: "watcher".into()
            }
        );
    }

    #[test]
    fn the_proxy_publishes_80_and_443_everywhere_as_expected() {
        let mut caddy = deployed("shop", "caddy");
        caddy.cap_add = vec!["NET_BIND_SERVICE".into(), "DAC_OVERRIDE".into()];
        caddy.ports = vec![
            port("0.0.0.0", "443", "443/tcp"),
            port("0.0.0.0", "443", "443/udp"),
            port("0.0.0.0", "80", "80/tcp"),
            port("0.0.0.0", "2019", "2019/tcp"),
        ];
        let report = judge_one(caddy);
        assert_eq!(
            findings_of(&report, "shop_caddy"),
            [("compose-port-all-interfaces", Severity::Warning, false)],
            "only the admin port is a finding"
        );
        assert!(report.findings[0].message.contains("2019"));
        assert_eq!(report.ports.len(), 4, "the table lists every port");
        assert!(report.ports.iter().all(|p| p.every_interface));
    }

    #[test]
    fn ports_80_and_443_everywhere_are_findings_for_anyone_but_the_stacks_proxy() {
        for c in [hardened("nginx"), deployed("other", "caddy")] {
            let name = c.name.clone();
            let mut c = c;
            c.ports = vec![port("", "443", "443/tcp")];
            let report = judge_one(c);
            assert!(
                findings_of(&report, &name).contains(&(
                    "compose-port-all-interfaces",
                    Severity::Warning,
                    false
                )),
                "{name}: {:#?}",
                report.findings
            );
        }
    }

    #[test]
    fn a_port_the_stack_declares_public_is_accepted_and_no_other() {
        let mut mqtt = deployed("shop", "mqtt");
        mqtt.ports = vec![
            port("0.0.0.0", "1883", "1883/tcp"),
            port("::", "8883", "8883/tcp"),
            port("127.0.0.1", "18083", "18083/tcp"),
            port("100.64.0.1", "9001", "9001/tcp"),
        ];
        let report = judge_one(mqtt);
        let ports: Vec<_> = report
            .findings
            .iter()
            .map(|f| (f.message.as_str(), f.accepted.as_deref()))
            .collect();
        assert_eq!(
            ports,
            [
                (
                    "publishes 0.0.0.0:1883 -> 1883/tcp on every interface, past UFW",
                    Some("declared `public = true` in the stack")
                ),
                (
                    "publishes [::]:8883 -> 8883/tcp on every interface, past UFW",
                    None
                ),
            ]
        );
        let every: Vec<bool> = report.ports.iter().map(|p| p.every_interface).collect();
        assert_eq!(every, [true, true, false, false]);
    }

    #[test]
    fn a_rogue_container_is_reported_for_everything_it_does() {
        let mut rogue = hardened("rogue");
        rogue.privileged = true;
        rogue.memory = 0;
        rogue.pids_limit = None;
        rogue.cap_drop = Vec::new();
        rogue.security_opt = vec!["label=disable".into()];
        rogue.ports = vec![port("0.0.0.0", "18999", "8080/tcp")];
        rogue.binds = vec![bind("/var/run/docker.sock", "/var/run/docker.sock", true)];
        let report = judge_one(rogue);
        assert_eq!(
            findings_of(&report, "rogue"),
            [
                ("audit-unmanaged", Severity::Info, false),
                ("compose-privileged", Severity::Error, false),
                ("compose-docker-socket", Severity::Error, false),
                ("compose-port-all-interfaces", Severity::Warning, false),
                ("compose-no-memory-limit", Severity::Warning, false),
                ("compose-no-pids-limit", Severity::Warning, false),
            ],
            "no-new-privileges and Docker's own label=disable say less than privileged"
        );
        assert!(!report.ok);
        assert_eq!(
            (report.errors, report.warnings, report.info, report.accepted),
            (2, 3, 1, 0)
        );
    }

    #[test]
    fn each_namespace_of_the_host_is_a_finding() {
        let mut c = hardened("agent");
        c.network_mode = "host".into();
        c.pid_mode = "host".into();
        c.ipc_mode = "host".into();
        c.uts_mode = "host".into();
        c.userns_mode = "host".into();
        let report = judge_one(c);
        let messages: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.code == "compose-host-namespace")
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "shares the host's network namespace",
                "shares the host's process namespace",
                "shares the host's IPC namespace",
                "shares the host's UTS namespace",
                "shares the host's user namespace",
            ]
        );
        let mut sharing = hardened("sidecar");
        sharing.network_mode = "container:abc".into();
        sharing.ipc_mode = "shareable".into();
        assert_eq!(findings_of(&judge_one(sharing), "sidecar").len(), 1);
    }

    #[test]
    fn every_namespace_the_lint_rule_knows_is_read() {
        let c = hardened("x");
        for (compose_key, _) in NAMESPACES {
            assert!(
                namespace_mode(&c, compose_key).is_some(),
                "{compose_key} is not read from the container"
            );
        }
    }

    #[test]
    fn sockets_and_sensitive_directories_as_the_lint_rules_see_them() {
        let mut c = hardened("agent");
        c.binds = vec![
            bind("/run/user/1000/docker.sock", "/var/run/docker.sock", false),
            bind("/run/", "/host/run", false),
            bind("/etc", "/host/etc", true),
            bind("/sys/fs/cgroup", "/sys/fs/cgroup", false),
            bind("/etc/localtime", "/etc/localtime", false),
            bind("/opt/shop/data/app", "/data", true),
        ];
        let report = judge_one(c);
        assert_eq!(
            findings_of(&report, "agent")[1..],
            [
                ("compose-docker-socket", Severity::Error, false),
                ("compose-docker-socket", Severity::Error, false),
                ("compose-sensitive-mount", Severity::Error, false),
                ("compose-sensitive-mount", Severity::Warning, false),
            ]
        );
        assert_eq!(
            report.findings[2].message,
            "mounts `/run/`, which holds the Docker socket: root on the host, read-only or not"
        );
        assert_eq!(
            report.findings[3].message,
            "mounts the host's `/etc` writable: it can change the host"
        );
    }

    #[test]
    fn mounts_the_stack_accepts_are_reported_with_its_reason() {
        let mut cadvisor = deployed("shop", "cadvisor");
        cadvisor.binds = vec![
            bind("/", "/rootfs", false),
            bind("/var/run", "/var/run", false),
            bind("/sys", "/sys", false),
            bind("/var/lib/docker", "/var/lib/docker", false),
            bind("/dev/disk", "/dev/disk", false),
        ];
        let mut watcher = deployed("shop", "watcher");
        watcher.binds = vec![bind("/var/run/docker.sock", "/var/run/docker.sock", false)];
        let report = judge(&[cadvisor.clone(), watcher], &stack(), "vps");
        let accepted: Vec<(&str, &str, Option<&str>)> = report
            .findings
            .iter()
            .map(|f| (f.container.as_str(), f.code, f.accepted.as_deref()))
            .collect();
        let reason = |rule: &str, source: &str| {
            stack().services["cadvisor"]
                .mounts
                .iter()
                .find(|m| m.source == source)
                .and_then(|m| m.lint_ignore.get(rule).cloned())
                .unwrap()
        };
        let (root_socket, root_sensitive, run, sys, disk) = (
            reason("compose-docker-socket", "/"),
            reason("compose-sensitive-mount", "/"),
            reason("compose-docker-socket", "/var/run"),
            reason("compose-sensitive-mount", "/sys"),
            reason("compose-sensitive-mount", "/dev/disk"),
        );
        assert_eq!(
            accepted,
            [
                (
                    "shop_cadvisor",
                    "compose-docker-socket",
                    Some(root_socket.as_str())
                ),
                (
                    "shop_cadvisor",
                    "compose-sensitive-mount",
                    Some(root_sensitive.as_str())
                ),
                ("shop_cadvisor", "compose-docker-socket", Some(run.as_str())),
                (
                    "shop_cadvisor",
                    "compose-sensitive-mount",
                    Some(sys.as_str())
                ),
                (
                    "shop_cadvisor",
                    "compose-sensitive-mount",
                    Some(disk.as_str())
                ),
                (
                    "shop_watcher",
                    "compose-docker-socket",
                    Some("lists containers to watch their images")
                ),
            ]
        );
        assert!(report.ok, "accepted errors do not fail the audit");
        assert_eq!((report.errors, report.accepted), (0, 6));

        // The same mounts without the stack's word for them: another project's
        // container, one started by hand, one at another target path.
        let mut moved = deployed("shop", "watcher");
        moved.binds = vec![bind("/var/run/docker.sock", "/docker.sock", false)];
        for c in [
            ContainerFacts {
                project: Some("other".into()),
                name: "other_cadvisor".into(),
                ..cadvisor.clone()
            },
            ContainerFacts {
                project: None,
                service: None,
                name: "cadvisor".into(),
                ..cadvisor.clone()
            },
            moved,
        ] {
            let report = judge_one(c);
            assert!(
                report.findings.iter().all(|f| f.accepted.is_none()),
                "{:#?}",
                report.findings
            );
            assert!(!report.ok);
        }
    }

    #[test]
    fn capabilities_privileges_and_confinement() {
        let mut c = hardened("app");
        c.cap_add = vec!["NET_ADMIN".into()];
        c.cap_drop = vec!["NET_RAW".into()];
        c.security_opt = vec!["seccomp=unconfined".into(), "apparmor:unconfined".into()];
        let report = judge_one(c);
        let messages: Vec<(&str, &str)> = report
            .findings
            .iter()
            .map(|f| (f.code, f.message.as_str()))
            .collect();
        assert_eq!(
            messages[1..],
            [
                (
                    "compose-no-new-privileges",
                    "may gain privileges through setuid binaries: no `no-new-privileges`"
                ),
                (
                    "compose-cap-add-without-drop-all",
                    "adds NET_ADMIN on top of Docker's default capabilities: no cap_drop ALL"
                ),
                ("compose-unconfined-profile", "runs without seccomp"),
                ("compose-unconfined-profile", "runs without AppArmor"),
            ]
        );

        let mut lowercase = hardened("app");
        lowercase.cap_add = vec!["NET_BIND_SERVICE".into()];
        lowercase.cap_drop = vec!["all".into()];
        lowercase.security_opt = vec!["no-new-privileges".into()];
        assert_eq!(findings_of(&judge_one(lowercase), "app").len(), 1);

        // Docker switches SELinux labels off by itself for the host's PID namespace:
        // the namespace is the finding. Asked for explicitly, it is one.
        let mut pid = hardened("top");
        pid.pid_mode = "host".into();
        pid.security_opt.push("label=disable".into());
        let codes: Vec<_> = findings_of(&judge_one(pid.clone()), "top");
        assert_eq!(
            codes[1..],
            [("compose-host-namespace", Severity::Error, false)]
        );
        pid.pid_mode = String::new();
        let codes: Vec<_> = findings_of(&judge_one(pid), "top");
        assert_eq!(
            codes[1..],
            [("compose-unconfined-profile", Severity::Error, false)]
        );
    }

    #[test]
    fn privileged_host_ports_but_80_and_443() {
        let mut c = hardened("gitea");
        c.ports = vec![
            port("127.0.0.1", "22", "22/tcp"),
            port("127.0.0.1", "443", "3000/tcp"),
            port("127.0.0.1", "2222", "22/tcp"),
        ];
        let report = judge_one(c);
        assert_eq!(
            report
                .findings
                .iter()
                .filter(|f| f.code == "compose-privileged-port")
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>(),
            ["takes the privileged host port 22 (127.0.0.1:22 -> 22/tcp)"]
        );
    }

    #[test]
    fn limits_missing_or_zero() {
        let mut c = hardened("app");
        c.memory = 0;
        c.pids_limit = Some(-1);
        let codes: Vec<_> = findings_of(&judge_one(c.clone()), "app");
        assert_eq!(
            codes[1..],
            [
                ("compose-no-memory-limit", Severity::Warning, false),
                ("compose-no-pids-limit", Severity::Warning, false),
            ]
        );
        c.pids_limit = Some(0);
        assert_eq!(findings_of(&judge_one(c), "app").len(), 3);
    }

    #[test]
    fn containers_vpai_did_not_deploy_here() {
        let facts = [
            deployed("shop", "watcher"),
            deployed("shop", "nocodb"),
            deployed("shop", "studio"),
            ContainerFacts {
                service: None,
                ..deployed("shop", "x")
            },
            deployed("blog", "ghost"),
            hardened("portainer"),
        ];
        let report = judge(&facts, &stack(), "vps");
        let owners: Vec<&Owner> = report.containers.iter().map(|c| &c.owner).collect();
        assert_eq!(
            owners,
            [
                &Owner::Stack {
                    service: "watcher".into()
                },
                &Owner::Orphan {
                    service: Some("nocodb".into())
                },
                &Owner::Orphan {
                    service: Some("studio".into())
                },
                &Owner::Orphan { service: None },
                &Owner::Foreign {
                    project: "blog".into()
                },
                &Owner::Unmanaged,
            ]
        );
        let found: Vec<(&str, &str, Severity, &str)> = report
            .findings
            .iter()
            .map(|f| (f.container.as_str(), f.code, f.severity, f.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "shop_nocodb",
                    "audit-orphan",
                    Severity::Warning,
                    "service `nocodb` is no longer in `shop` (prod): `vpai apply` removes it"
                ),
                (
                    "shop_studio",
                    "audit-orphan",
                    Severity::Warning,
                    "service `studio` of `shop` belongs to host `pi`, not `vps`: `vpai apply` here removes it"
                ),
                (
                    "shop_x",
                    "audit-orphan",
                    Severity::Warning,
                    "labelled for `shop` but with no `vpai.service`: not a container vpai deploys"
                ),
                (
                    "blog_ghost",
                    "audit-foreign-project",
                    Severity::Info,
                    "deployed by vpai for project `blog`, not `shop`: audit it with its own stack to see what that stack accepts"
                ),
                (
                    "portainer",
                    "audit-unmanaged",
                    Severity::Info,
                    "not deployed by vpai (no `vpai.project` label)"
                ),
            ]
        );
        assert!(report.ok, "none of them is an error by itself");
        assert_eq!((report.warnings, report.info), (3, 2));
        // On the studio's own host it is the stack's.
        let on_pi = judge(&[deployed("shop", "studio")], &stack(), "pi");
        assert!(on_pi.findings.is_empty(), "{:#?}", on_pi.findings);
    }

    #[test]
    fn audit_checks_are_documented_and_named_apart_from_the_rules() {
        for rule in crate::lint::rules::LINT_RULES {
            let name = rule.name();
            assert!(
                crate::rules::find(name).is_none(),
                "{name} is also a stack rule"
            );
        }
        for check in AUDIT_CHECKS {
            assert!(check.name.starts_with("audit-"), "{}", check.name);
            assert!(find(check.name).is_some());
            assert!(crate::rules::find(check.name).is_none());
            assert!(crate::lint::rules::find(check.name).is_none());
            for part in [
                "## What it does",
                "## Why is this bad?",
                "## Example",
                "## Fix",
            ] {
                assert!(
                    check.doc.contains(part),
                    "{}'s doc lacks {part}",
                    check.name
                );
            }
        }
    }
}
