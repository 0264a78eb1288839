//! `vpai host bootstrap`: cloud-init user-data that turns a new Debian 13 machine into
//! a host of the stack: Docker with the stack's daemon.json, the deploy user and its
//! keys, SSH hardening, UFW and the containers' firewall (`vpai-firewall`, see
//! [`super::firewall`]), fail2ban, CrowdSec and the Headscale VPN join.
//!
//! cloud-init only creates the user and writes files; one bash script, `vpai-bootstrap`,
//! does the rest. cloud-init's own `apt`/`packages` modules would update apt before
//! anything could check the image's sources (002 §13), cannot pin a repository key's
//! fingerprint, and run in cloud-init's order rather than the one that keeps the machine
//! reachable (sshd's configuration validated before the firewall comes up). The script
//! can also be run again by hand after a failure.
//!
//! SSH does not move behind the VPN at boot: a `ListenAddress` on an address the machine
//! does not have yet locks everyone out. `vpai-vpn-lockdown` does it later, when the
//! operator runs it, under a dead-man switch (002 §39).
//!
//! Pure and deterministic, like `render`. The one secret, the Headscale pre-auth key,
//! goes into one file (`AUTHKEY_PATH`, 0600) that the join deletes once used.

use std::fmt::Write;
use std::net::Ipv4Addr;

use ipnet::IpNet;

use super::firewall;
use crate::diagnostic::Diagnostic;
use crate::secrets::SecretValues;
use crate::stack::Stack;
use crate::stack::model::Host;
use crate::stack::resolve::HEADSCALE_AUTHKEY;

/// Where the pre-auth key waits on the new machine until the join uses it.
pub const AUTHKEY_PATH: &str = "/etc/vpai/headscale-authkey";
pub const BOOTSTRAP_SCRIPT: &str = "/usr/local/sbin/vpai-bootstrap";
pub const JOIN_SCRIPT: &str = "/usr/local/sbin/vpai-vpn-join";
pub const LOCKDOWN_SCRIPT: &str = "/usr/local/sbin/vpai-vpn-lockdown";
pub const FIREWALL_SCRIPT: &str = "/usr/local/sbin/vpai-firewall";
pub const FIREWALL_UNIT: &str = "/etc/systemd/system/vpai-firewall.service";
pub const SSHD_DROPIN: &str = "/etc/ssh/sshd_config.d/00-vpai-hardening.conf";
pub const FAIL2BAN_JAIL: &str = "/etc/fail2ban/jail.local";
pub const FAIL2BAN_SSHD_FILTER: &str = "/etc/fail2ban/filter.d/sshd.local";

/// How long a lockdown waits for `--confirm` before it reverts itself.
const REVERT_AFTER_MINUTES: u32 = 10;

const BOOTSTRAP_BODY: &str = include_str!("scripts/vpai-bootstrap.sh");
const JOIN_BODY: &str = include_str!("scripts/vpai-vpn-join.sh");
const LOCKDOWN_BODY: &str = include_str!("scripts/vpai-vpn-lockdown.sh");
const FIREWALL_BODY: &str = include_str!("scripts/vpai-firewall.sh");

/// Before dockerd, and required by it: no container is published before the
/// rules hold, and Docker does not start if they cannot be written.
const FIREWALL_SERVICE: &str = "\
[Unit]
Description=vpai: who may reach the containers from outside (DOCKER-USER)
Documentation=man:iptables(8)
Before=docker.service
After=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/vpai-firewall

[Install]
RequiredBy=docker.service
";

/// OpenSSH public key types an `authorized_keys` line may start with.
const SSH_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// The rendered user-data and what the operator needs to know about it.
pub struct UserData {
    /// The `#cloud-config` document.
    pub text: String,
    /// `text` holds the Headscale pre-auth key.
    pub holds_secret: bool,
    /// What does not stop the bootstrap but leaves the host less protected.
    pub warnings: Vec<Diagnostic>,
    /// Commands to run once the machine is up, in order.
    pub next_steps: Vec<String>,
}

/// Whether the user-data needs the decrypted secrets: only the VPN join does.
pub fn needs_secrets(stack: &Stack) -> bool {
    login_server(stack).is_some()
}

fn login_server(stack: &Stack) -> Option<&str> {
    stack.vpn.as_ref()?.headscale_url.as_deref()
}

/// When the host joins the VPN.
#[derive(Clone, Copy, PartialEq)]
enum Join {
    /// At first boot, from `vpai-bootstrap`.
    AtBoot,
    /// The host runs Headscale itself, which cannot answer while the machine is new.
    AfterHeadscale,
}

impl Join {
    fn script_value(self) -> &'static str {
        match self {
            Join::AtBoot => "boot",
            Join::AfterHeadscale => "later",
        }
    }
}

/// The VPN side of a bootstrap, checked.
struct Vpn<'a> {
    login_server: &'a str,
    cidr: IpNet,
    /// The host's address on the VPN; without it there is no lockdown to check against.
    address: Option<Ipv4Addr>,
    join: Join,
    authkey: &'a str,
}

/// Render the user-data of `host` (a name of `stack.hosts`). Every problem is reported
/// at once; nothing is rendered while one remains.
pub fn user_data(
    stack: &Stack,
    host: &str,
    secrets: &SecretValues,
) -> Result<UserData, Vec<Diagnostic>> {
    let host = &stack.hosts[host];
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    check_deploy_user(host, &mut errors);
    check_keys(host, &mut errors);
    let vpn = check_vpn(stack, host, secrets, &mut errors, &mut warnings);
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut files = vec![
        WriteFile {
            why: "001 §2.1; in place before Docker is installed, so dockerd starts with it",
            path: "/etc/docker/daemon.json",
            permissions: "0644",
            content: crate::render::generators::daemon_json(),
        },
        WriteFile {
            why: "Docker's published ports bypass UFW: DOCKER-USER holds the public ports only",
            path: FIREWALL_SCRIPT,
            permissions: "0755",
            content: firewall_script(stack, host),
        },
        WriteFile {
            why: "vpai-firewall before every start of dockerd",
            path: FIREWALL_UNIT,
            permissions: "0644",
            content: FIREWALL_SERVICE.to_string(),
        },
        WriteFile {
            why: "001 §3.1; in place before sshd first starts",
            path: SSHD_DROPIN,
            permissions: "0644",
            content: sshd_dropin(host),
        },
        WriteFile {
            why: "001 §3.3",
            path: FAIL2BAN_JAIL,
            permissions: "0644",
            content: fail2ban_jail(host, vpn.as_ref()),
        },
        WriteFile {
            why: "OpenSSH 9.8+ logs failed logins from sshd-session",
            path: FAIL2BAN_SSHD_FILTER,
            permissions: "0644",
            content: FAIL2BAN_FILTER.to_string(),
        },
        WriteFile {
            why: "the rest of the bootstrap, run once by runcmd below",
            path: BOOTSTRAP_SCRIPT,
            permissions: "0755",
            content: bootstrap_script(stack, host, vpn.as_ref()),
        },
    ];
    if let Some(vpn) = &vpn {
        files.push(WriteFile {
            why: "joins Headscale (002 §0.6, §0.7); run again by hand after a failure",
            path: JOIN_SCRIPT,
            permissions: "0755",
            content: join_script(stack, host, vpn),
        });
        files.push(WriteFile {
            why: "the pre-auth key: single use, deleted by the join once used",
            path: AUTHKEY_PATH,
            permissions: "0600",
            content: format!("{}\n", vpn.authkey),
        });
        if let Some(address) = vpn.address {
            files.push(WriteFile {
                why: "SSH behind the VPN, when you run it, with a dead-man switch (002 §39)",
                path: LOCKDOWN_SCRIPT,
                permissions: "0755",
                content: lockdown_script(stack, host, vpn, address),
            });
        }
    }

    let next_steps = next_steps(host, vpn.as_ref());
    let text = cloud_config(stack, host, vpn.as_ref(), &files, &next_steps);
    Ok(UserData {
        text,
        holds_secret: vpn.is_some(),
        warnings,
        next_steps,
    })
}

fn check_deploy_user(host: &Host, errors: &mut Vec<Diagnostic>) {
    let user = &host.ssh_user;
    if user == "root" {
        errors.push(
            Diagnostic::error(
                "bootstrap-root-user",
                format!(
                    "host `{}` logs in as root, which the bootstrap forbids (001 §3.1: PermitRootLogin no)",
                    host.name
                ),
            )
            .at(host.span.as_ref(), "this host")
            .help("name the deploy user vpai creates: `ssh = { user = \"deploy\", ... }`"),
        );
        return;
    }
    let valid = user.len() <= 32
        && user.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && user
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        errors.push(
            Diagnostic::error(
                "invalid-value",
                format!("host `{}`: `{user}` is not a Linux user name", host.name),
            )
            .at(host.span.as_ref(), "this host")
            .help(
                "use lower-case letters, digits, `_` and `-`, starting with a letter (at most 32)",
            ),
        );
    }
}

fn check_keys(host: &Host, errors: &mut Vec<Diagnostic>) {
    if host.ssh_keys.is_empty() {
        errors.push(
            Diagnostic::error(
                "bootstrap-no-ssh-key",
                format!(
                    "host `{}` has no SSH key: the new machine would accept no login (passwords are off)",
                    host.name
                ),
            )
            .at(host.span.as_ref(), "this host")
            .help(format!(
                "add your public key: `ssh = {{ user = \"{}\", port = {}, keys = [\"ssh-ed25519 AAAA... you@laptop\"] }}` (`cat ~/.ssh/id_ed25519.pub`)",
                host.ssh_user, host.ssh_port
            )),
        );
    }
    for key in &host.ssh_keys {
        if let Some(problem) = public_key_problem(key) {
            errors.push(
                Diagnostic::error(
                    "invalid-value",
                    format!("host `{}`: an SSH key {problem}", host.name),
                )
                .at(host.span.as_ref(), "this host")
                .help("paste the one line of a public key (`.pub` file): `TYPE BASE64 [COMMENT]`"),
            );
        }
    }
}

/// Why `key` is not one `authorized_keys` line, if it is not. Never quotes the key:
/// a private key pasted by mistake must not reach the terminal.
fn public_key_problem(key: &str) -> Option<&'static str> {
    if key.contains("PRIVATE KEY") {
        return Some("is a private key");
    }
    if key.contains(['\n', '\r']) {
        return Some("spans several lines");
    }
    let words: Vec<&str> = key.split_whitespace().collect();
    let Some(at) = words.iter().position(|w| SSH_KEY_TYPES.contains(w)) else {
        return Some("has no known key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...)");
    };
    let base64 = |w: &&str| {
        w.len() >= 16
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
    };
    if !words.get(at + 1).is_some_and(base64) {
        return Some("has no base64 key after its type");
    }
    None
}

fn check_vpn<'a>(
    stack: &'a Stack,
    host: &'a Host,
    secrets: &'a SecretValues,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Option<Vpn<'a>> {
    let (Some(vpn), Some(login_server)) = (stack.vpn.as_ref(), login_server(stack)) else {
        warnings.push(
            Diagnostic::warning(
                "bootstrap-no-vpn",
                format!(
                    "host `{}` joins no VPN ([vpn] headscale_url is not set): SSH stays reachable from the internet (keys only, fail2ban, CrowdSec)",
                    host.name
                ),
            )
            .at(host.span.as_ref(), "this host"),
        );
        return None;
    };
    let errors_before = errors.len();
    if !(login_server.starts_with("https://") || login_server.starts_with("http://"))
        || login_server.contains(char::is_whitespace)
    {
        errors.push(
            Diagnostic::error(
                "invalid-value",
                format!("[vpn] headscale_url `{login_server}` is not an http(s) URL"),
            )
            .help("write the URL Headscale serves, e.g. \"https://headscale.example.com\""),
        );
    }
    if !is_dns_label(&host.name) {
        errors.push(
            Diagnostic::error(
                "invalid-value",
                format!(
                    "host `{}`: its name is its VPN node name, which must be a DNS label",
                    host.name
                ),
            )
            .at(host.span.as_ref(), "this host")
            .help("use lower-case letters, digits and `-` (at most 63)"),
        );
    }
    let address = match host.vpn_address.as_deref().map(str::parse::<Ipv4Addr>) {
        None => {
            warnings.push(
                Diagnostic::warning(
                    "bootstrap-no-vpn-address",
                    format!(
                        "host `{}` has no vpn_address: SSH stays reachable from the internet, and there is no vpai-vpn-lockdown to move it behind the VPN",
                        host.name
                    ),
                )
                .at(host.span.as_ref(), "this host")
                .help("set `vpn_address` to the address Headscale gives the host"),
            );
            None
        }
        Some(Ok(address)) if vpn.cidr.contains(&std::net::IpAddr::V4(address)) => Some(address),
        Some(Ok(address)) => {
            errors.push(
                Diagnostic::error(
                    "invalid-value",
                    format!(
                        "host `{}`: vpn_address {address} is outside [vpn] cidr {}",
                        host.name, vpn.cidr
                    ),
                )
                .at(host.span.as_ref(), "this host")
                .help("SSH would be restricted to a range its own address is not in"),
            );
            None
        }
        Some(Err(_)) => {
            errors.push(
                Diagnostic::error(
                    "invalid-value",
                    format!(
                        "host `{}`: vpn_address `{}` is not an IPv4 address",
                        host.name,
                        host.vpn_address.as_deref().unwrap_or_default()
                    ),
                )
                .at(host.span.as_ref(), "this host")
                .help(
                    "write the address `tailscale ip -4` shows on the host, e.g. \"100.64.0.14\"",
                ),
            );
            None
        }
    };
    let authkey = match secrets.get(HEADSCALE_AUTHKEY) {
        Some(key)
            if !key.is_empty() && !key.contains(|c: char| c.is_whitespace() || c.is_control()) =>
        {
            key
        }
        Some(_) => {
            errors.push(Diagnostic::error(
                "invalid-secret",
                format!("secret `{HEADSCALE_AUTHKEY}` is not one word (it holds spaces or line breaks)"),
            )
            .help(format!("set it again with `vpai secrets set {HEADSCALE_AUTHKEY}`")));
            ""
        }
        None => {
            errors.push(
                Diagnostic::error(
                    "missing-secret",
                    format!("secret `{HEADSCALE_AUTHKEY}` has no value: the new host could not join the VPN"),
                )
                .note("the key is single use and expires (002 §0.7): create it just before bootstrapping")
                .help(format!(
                    "on the Headscale server: `headscale preauthkeys create --user USER --expiration 24h`, then `vpai secrets set {HEADSCALE_AUTHKEY}`"
                )),
            );
            ""
        }
    };
    let join = if vpn.server.as_deref() == Some(host.name.as_str()) {
        warnings.push(
            Diagnostic::warning(
                "bootstrap-vpn-later",
                format!(
                    "host `{}` runs Headscale, which cannot answer while the machine is new: it joins the VPN when you run `sudo vpai-vpn-join` there, once Headscale runs",
                    host.name
                ),
            )
            .at(host.span.as_ref(), "this host"),
        );
        Join::AfterHeadscale
    } else {
        Join::AtBoot
    };
    (errors.len() == errors_before).then_some(Vpn {
        login_server,
        cidr: vpn.cidr,
        address,
        join,
        authkey,
    })
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn sshd_dropin(host: &Host) -> String {
    format!(
        "# Generated by vpai: SSH hardening of host `{name}` (001 §3.1). sshd reads this\n\
         # directory in name order and keeps the first value of each keyword, so 00- wins\n\
         # over the image's files and cloud-init's 50-cloud-init.conf. ListenAddress on the\n\
         # VPN address is not here: vpai-vpn-lockdown adds it once the VPN is up.\n\
         Port {port}\n\
         PermitRootLogin no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         AuthorizedKeysFile .ssh/authorized_keys\n\
         AllowUsers {user}\n\
         MaxAuthTries 3\n\
         LoginGraceTime 30\n\
         ClientAliveInterval 300\n\
         ClientAliveCountMax 2\n\
         X11Forwarding no\n\
         AllowTcpForwarding no\n\
         AllowAgentForwarding no\n\
         PermitTunnel no\n\
         # vpai deploys through the Docker socket forwarded by `ssh -L` (a Unix socket).\n\
         AllowStreamLocalForwarding local\n",
        name = host.name,
        port = host.ssh_port,
        user = host.ssh_user,
    )
}

fn fail2ban_jail(host: &Host, vpn: Option<&Vpn>) -> String {
    let mut out = format!(
        "# Generated by vpai: fail2ban of host `{}` (001 §3.3).\n\
         [DEFAULT]\n\
         bantime = 3600\n\
         findtime = 600\n\
         maxretry = 3\n\
         banaction = ufw\n",
        host.name
    );
    if let Some(vpn) = vpn {
        let _ = write!(
            out,
            "# Only the operators' machines hold VPN addresses: a fumbled key there must not\n\
             # ban the way in.\n\
             ignoreip = 127.0.0.1/8 ::1 {}\n",
            vpn.cidr
        );
    }
    let _ = write!(
        out,
        "\n[sshd]\n\
         enabled = true\n\
         port = {}\n\
         # Debian 13 logs to the journal only: there is no /var/log/auth.log to read.\n\
         backend = systemd\n\
         maxretry = 3\n\
         bantime = 3600\n",
        host.ssh_port
    );
    out
}

const FAIL2BAN_FILTER: &str = "\
# Generated by vpai. OpenSSH 9.8+ (Debian 13 ships 10.0) logs failed logins from
# `sshd-session`, and Debian names the unit ssh.service: the stock sshd filter of
# fail2ban 1.0 (Debian 12) watches neither.
[DEFAULT]
_daemon = sshd(?:-session)?

[Definition]
journalmatch = _SYSTEMD_UNIT=ssh.service + _COMM=sshd + _COMM=sshd-session
";

/// A bash script: shebang, strict mode, the host's values, then the static body.
fn script(path: &str, stack: &Stack, host: &Host, values: &[(&str, String)], body: &str) -> String {
    let mut out = format!(
        "#!/bin/bash\n# {path}: generated by vpai for host `{}` of `{}` ({}).\nset -euo pipefail\n\n",
        host.name, stack.project.name, stack.env
    );
    for (name, value) in values {
        let _ = writeln!(out, "readonly {name}={}", shell_quote(value));
    }
    out.push('\n');
    out.push_str(body);
    out
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `/usr/local/sbin/vpai-firewall` of `host`: DOCKER-USER as [`firewall::for_host`] says.
pub fn firewall_script(stack: &Stack, host: &Host) -> String {
    let rules = firewall::for_host(stack, host);
    script(
        FIREWALL_SCRIPT,
        stack,
        host,
        &[
            ("PUBLIC_TCP", firewall::words(&rules.public_tcp)),
            ("PUBLIC_UDP", firewall::words(&rules.public_udp)),
            (
                "VPN_CIDR",
                rules.vpn.map(|v| v.to_string()).unwrap_or_default(),
            ),
            ("INTERNAL_SUBNETS", firewall::words(&rules.internal)),
        ],
        FIREWALL_BODY,
    )
}

fn bootstrap_script(stack: &Stack, host: &Host, vpn: Option<&Vpn>) -> String {
    let join = vpn.map_or("none", |v| v.join.script_value());
    let rules = firewall::for_host(stack, host);
    script(
        BOOTSTRAP_SCRIPT,
        stack,
        host,
        &[
            ("HOST_NAME", host.name.clone()),
            ("HOST_ARCH", host.arch.clone()),
            ("DEPLOY_USER", host.ssh_user.clone()),
            ("SSH_PORT", host.ssh_port.to_string()),
            ("VPN_JOIN", join.to_string()),
            ("PUBLIC_TCP", firewall::words(&rules.public_tcp)),
            ("PUBLIC_UDP", firewall::words(&rules.public_udp)),
        ],
        BOOTSTRAP_BODY,
    )
}

fn join_script(stack: &Stack, host: &Host, vpn: &Vpn) -> String {
    script(
        JOIN_SCRIPT,
        stack,
        host,
        &[
            (
                "LOGIN_SERVER",
                vpn.login_server.trim_end_matches('/').to_string(),
            ),
            ("NODE_NAME", host.name.clone()),
            ("AUTHKEY_FILE", AUTHKEY_PATH.to_string()),
            (
                "EXPECTED_VPN_ADDRESS",
                vpn.address.map(|a| a.to_string()).unwrap_or_default(),
            ),
        ],
        JOIN_BODY,
    )
}

fn lockdown_script(stack: &Stack, host: &Host, vpn: &Vpn, address: Ipv4Addr) -> String {
    script(
        LOCKDOWN_SCRIPT,
        stack,
        host,
        &[
            ("VPN_ADDRESS", address.to_string()),
            ("VPN_CIDR", vpn.cidr.to_string()),
            ("SSH_PORT", host.ssh_port.to_string()),
            ("DEPLOY_USER", host.ssh_user.clone()),
            ("REVERT_AFTER_MINUTES", REVERT_AFTER_MINUTES.to_string()),
        ],
        LOCKDOWN_BODY,
    )
}

fn next_steps(host: &Host, vpn: Option<&Vpn>) -> Vec<String> {
    let address = host.address.as_deref().unwrap_or("ADDRESS");
    let ssh = format!("ssh -p {} {}@{address}", host.ssh_port, host.ssh_user);
    let mut steps = vec![format!("{ssh} sudo cloud-init status --wait --long")];
    if let Some(vpn) = vpn {
        if vpn.join == Join::AfterHeadscale {
            steps.push(format!("{ssh} sudo vpai-vpn-join   # once Headscale runs"));
        }
        if let Some(vpn_address) = vpn.address {
            steps.push(format!("{ssh} sudo vpai-vpn-lockdown"));
            steps.push(format!(
                "ssh -p {} {}@{vpn_address} sudo vpai-vpn-lockdown --confirm   # a NEW connection, through the VPN, within {REVERT_AFTER_MINUTES} minutes",
                host.ssh_port, host.ssh_user
            ));
        }
    }
    steps
}

/// One entry of `write_files`.
struct WriteFile {
    /// Comment above the entry.
    why: &'static str,
    path: &'static str,
    permissions: &'static str,
    content: String,
}

/// The document, written as text rather than serialized so that it can carry its
/// comments; every string scalar is a JSON string (valid YAML that YAML 1.1 parsers
/// such as cloud-init's never read as a boolean or a number) or a literal block.
fn cloud_config(
    stack: &Stack,
    host: &Host,
    vpn: Option<&Vpn>,
    files: &[WriteFile],
    next_steps: &[String],
) -> String {
    let mut out = String::from("#cloud-config\n");
    let _ = writeln!(
        out,
        "# {}\n# Host `{}` of `{}` ({}): a new Debian 13 machine, {}.",
        crate::render::HEADER,
        host.name,
        stack.project.name,
        stack.env,
        host.arch
    );
    if vpn.is_some() {
        let _ = writeln!(
            out,
            "# HOLDS A SECRET: the Headscale pre-auth key ({AUTHKEY_PATH}). Keep this file private."
        );
    }
    out.push_str("#\n# Once the machine is up:\n");
    for step in next_steps {
        let _ = writeln!(out, "#   {step}");
    }
    out.push_str(
        "\n# 002 §13: vpai-bootstrap checks the image's apt sources before the first update.\n\
         apt:\n  preserve_sources_list: true\n\
         # 001 §3.1: keys only, no root login.\n\
         ssh_pwauth: false\n\
         disable_root: true\n\n\
         users:\n\
         \x20 # No password at all: logins need one of the keys, and sudo could not ask for one.\n",
    );
    let _ = write!(
        out,
        "  - name: {}\n    gecos: {}\n    shell: {}\n    lock_passwd: true\n    sudo: {}\n    ssh_authorized_keys:\n",
        yaml_string(&host.ssh_user),
        yaml_string("vpai deploy user"),
        yaml_string("/bin/bash"),
        yaml_string("ALL=(ALL) NOPASSWD:ALL"),
    );
    for key in &host.ssh_keys {
        let _ = writeln!(out, "      - {}", yaml_string(key));
    }
    out.push_str("\nwrite_files:\n");
    for file in files {
        let _ = write!(
            out,
            "  # {}\n  - path: {}\n    owner: {}\n    permissions: {}\n    content: ",
            file.why,
            yaml_string(file.path),
            yaml_string("root:root"),
            yaml_string(file.permissions),
        );
        literal_block(&mut out, &file.content, 6);
    }
    let _ = write!(
        out,
        "\n# bash by its shebang: runcmd's own shell is dash (002 §13).\nruncmd:\n  - [{}]\n",
        yaml_string(BOOTSTRAP_SCRIPT)
    );
    out
}

/// A double-quoted YAML scalar: JSON string syntax, which YAML reads the same way.
fn yaml_string(value: &str) -> String {
    serde_json::to_string(value).expect("a string serializes")
}

/// `|` followed by `content` indented by `indent` spaces. The content ends with exactly
/// one line break and no line starts with a space, so plain `|` keeps it byte for byte.
fn literal_block(out: &mut String, content: &str, indent: usize) {
    debug_assert!(content.ends_with('\n') && !content.ends_with("\n\n"));
    debug_assert!(!content.starts_with([' ', '\t']) && !content.contains('\r'));
    out.push_str("|\n");
    for line in content.lines() {
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_are_one_authorized_keys_line() {
        let good =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmokzHNYjmeKlSN728G6UP68g75R+Kn7vna7raxhEFL me@x";
        assert_eq!(public_key_problem(good), None);
        assert_eq!(
            public_key_problem(&format!("from=\"10.0.0.1\" {good}")),
            None
        );
        assert!(public_key_problem("-----BEGIN OPENSSH PRIVATE KEY-----").is_some());
        assert!(public_key_problem(&format!("{good}\n{good}")).is_some());
        assert!(public_key_problem("ssh-ed25519").is_some());
        assert!(
            public_key_problem("AAAAC3NzaC1lZDI1NTE5AAAAIOmokzHNYjmeKlSN728G6UP68g75R").is_some()
        );
    }

    #[test]
    fn values_are_quoted_for_bash_and_yaml() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(yaml_string("yes"), "\"yes\"");
        let mut out = String::new();
        literal_block(&mut out, "a\n\n  b\n", 4);
        assert_eq!(out, "|\n    a\n\n      b\n");
    }
}
