//! `vpai host`: bootstrap user-data for a new machine, audit of what one runs.

use crate::console::{stderr, stderrln, stdout};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::deploy;
use crate::diagnostic::{self, Diagnostic};
use crate::secrets::SecretValues;

use super::args::*;
use super::deploy::*;
use super::output::*;
use super::stack::*;

#[derive(Subcommand)]
pub(super) enum HostCommand {
    /// Render cloud-init user-data that makes a new Debian 13 machine a host of the stack.
    ///
    /// Give it to your provider when creating the machine (e.g. `hcloud server create
    /// --user-data-from-file FILE`). At first boot it creates the deploy user (ssh.user,
    /// with ssh.keys, in group docker, no password), writes /etc/docker/daemon.json and
    /// the SSH hardening of seed 001 §3.1 (port ssh.port, no root, no passwords,
    /// AllowUsers), then runs /usr/local/sbin/vpai-bootstrap: Debian's apt sources
    /// checked, Docker Engine from Docker's repository (pinned key, signed-by=), UFW
    /// (deny incoming; 80, 443, SSH, 41641/udp), fail2ban, CrowdSec, and the Headscale
    /// join with the pre-auth key (`vpai secrets set headscale_authkey`; single use,
    /// expiring, deleted from the machine once used). cloud-init keeps its own copy of the
    /// user-data (root only) and most providers serve it to the machine's processes from
    /// their metadata service: once the join has used the key, neither copy lets anyone in.
    ///
    /// SSH listens on every address at first: binding it to the VPN address before the
    /// VPN is up would lock you out. Once the host is on the VPN, run `sudo
    /// vpai-vpn-lockdown` there: it schedules its own revert, moves SSH to the VPN
    /// address and range, and keeps the change only if you confirm from a NEW
    /// connection through the VPN within 10 minutes. The steps are printed, and listed
    /// at the top of the user-data.
    ///
    /// A host without ssh.keys, logging in as root, or a VPN host whose pre-auth key is
    /// not set is refused, and nothing is written.
    #[command(
        after_help = "Examples:\n  vpai host bootstrap examples/javisi vps --out vps.yaml\n  vpai host bootstrap examples/javisi workstation --env preprod --out pi.yaml"
    )]
    Bootstrap {
        #[command(flatten)]
        stack: StackArgs,
        /// Host of the stack to bootstrap (a name under [hosts]).
        #[arg(value_name = "HOST")]
        host: Option<String>,
        /// Write the user-data to FILE (mode 0600: it may hold the pre-auth key)
        /// instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// Audit what a host runs: the CIS Docker Benchmark v1.6.0 §5 checks on every container.
    ///
    /// Reads every container of the host's engine, vpai's or not, running or not,
    /// and reports: published ports and the interfaces they listen on (every
    /// interface is a finding, except the proxy's 80 and 443 and ports the stack
    /// declares `public = true`), privileged containers, the host's namespaces, the
    /// Docker socket and sensitive host directories mounted, capabilities added
    /// without `cap_drop: [ALL]`, no `no-new-privileges`, seccomp/AppArmor/SELinux
    /// switched off, privileged host ports, no memory or process limit; and containers
    /// vpai did not deploy, of another project, or of a service the stack no longer
    /// has on this host.
    ///
    /// A finding's code is the lint rule that flags the same setting in a compose file
    /// (`compose-privileged`, ...) or an `audit-` check; `vpai explain CODE` documents
    /// both. A mount the stack accepts (a catalog mount's `lint_ignore`) is reported as
    /// accepted, with its reason. Needs no secrets. Exit 1 when an error is not accepted.
    #[command(
        after_help = "Examples:\n  vpai host audit examples/javisi --host vps\n  vpai host audit examples/local --target local --json"
    )]
    Audit {
        #[command(flatten)]
        deploy: DeployArgs,
    },
}

/// Bootstrap reads the hosts and [vpn] only: errors `vpai check` finds in services do
/// not stop a machine from being created, so only the resolution must succeed.
pub(super) fn bootstrap_cmd(
    host: &str,
    args: &StackArgs,
    out: Option<&Path>,
    identity: &IdentityArgs,
    color: bool,
) -> Result<ExitCode, Failure> {
    use crate::host::bootstrap;
    let stack = load(args)?;
    let host = deploy::pick_host(&stack, Some(host))?;
    let values = if bootstrap::needs_secrets(&stack) {
        secrets(args, &stack, identity)?
    } else {
        SecretValues::default()
    };
    let user_data =
        bootstrap::user_data(&stack, &host, &values).map_err(|diagnostics| Failure {
            diagnostics,
            sources: stack.sources.clone(),
        })?;
    stderr!(
        "{}",
        diagnostic::render_human(&user_data.warnings, &stack.sources, color)
    );
    match out {
        Some(path) => {
            write_private_atomically(path, &user_data.text).map_err(|e| {
                Diagnostic::error("io", format!("cannot write {}: {e}", path.display()))
            })?;
            stderrln!(
                "wrote {} (mode 0600): cloud-init user-data for host `{host}` of `{}` ({})",
                path.display(),
                stack.project.name,
                stack.env
            );
        }
        None => stdout!("{}", user_data.text),
    }
    if user_data.holds_secret {
        stderrln!(
            "warning: the user-data holds the Headscale pre-auth key: keep it private and delete it once the host has joined; the key is single use and expires"
        );
    }
    stderrln!("once the machine is up:");
    for step in &user_data.next_steps {
        stderrln!("  {step}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn audit_cmd(args: &DeployArgs) -> Result<ExitCode, Failure> {
    let reach = light_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &reach.target)?;
    let facts = rt.block_on(crate::engine::audit::read(&engine))?;
    let report = crate::host::audit::judge(&facts, &reach.stack, &reach.host);
    if args.json {
        print_json(&report);
    } else {
        stdout!("{}", audit_table(&report));
    }
    Ok(exit(report.ok))
}

/// The published ports, then each container with its findings, then the counts.
pub(super) fn audit_table(report: &crate::host::audit::Report) -> String {
    use crate::host::audit::Owner;
    let mut out = format!(
        "audit of `{}` host `{}` ({}): {} containers\n",
        report.project,
        report.host,
        report.env,
        report.containers.len()
    );
    if !report.ports.is_empty() {
        let container_width = report
            .ports
            .iter()
            .map(|p| p.container.chars().count())
            .max()
            .unwrap_or(0)
            .max(9);
        let address_width = report
            .ports
            .iter()
            .map(|p| p.address().chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        out.push_str(&format!(
            "\n{:<container_width$}  {:<address_width$}     CONTAINER PORT\n",
            "CONTAINER", "HOST"
        ));
        for p in &report.ports {
            out.push_str(&format!(
                "{:<container_width$}  {:<address_width$}  -> {}{}\n",
                p.container,
                p.address(),
                p.container_port,
                if p.every_interface {
                    "  (every interface)"
                } else {
                    ""
                }
            ));
        }
    }
    let code_width = report
        .findings
        .iter()
        .map(|f| f.code.len())
        .max()
        .unwrap_or(0);
    for c in &report.containers {
        let owner = match &c.owner {
            Owner::Stack { service } => format!("{}/{service}", report.project),
            Owner::Orphan {
                service: Some(service),
            } => format!("{}/{service}, orphan", report.project),
            Owner::Orphan { service: None } => format!("{}, no service", report.project),
            Owner::Foreign { project } => format!("project {project}"),
            Owner::Unmanaged => "not vpai's".to_string(),
        };
        out.push_str(&format!(
            "\n{}  {}  ({owner}, {})\n",
            c.name,
            c.image,
            if c.running { "running" } else { "stopped" }
        ));
        let findings: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.container == c.name)
            .collect();
        if findings.is_empty() {
            out.push_str("  ok\n");
        }
        for f in findings {
            let severity = if f.accepted.is_some() {
                "accepted"
            } else {
                f.severity.label()
            };
            out.push_str(&format!(
                "  {severity:<8}  {:<code_width$}  {}\n",
                f.code, f.message
            ));
            if let Some(reason) = &f.accepted {
                out.push_str(&format!(
                    "  {:<8}  {:<code_width$}  reason: {reason}\n",
                    "", ""
                ));
            }
        }
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!(
        "\n{}, {}, {} info, {} accepted in {}\n",
        plural(report.errors, "error"),
        plural(report.warnings, "warning"),
        report.info,
        report.accepted,
        plural(report.containers.len(), "container")
    ));
    out
}
