//! `vpai host bootstrap`: real tools judge the user-data of every host of the javisi
//! example (cloud-init's schema, `sshd -t`, fail2ban's own parser and regex tester,
//! shellcheck), the snapshot holds no secret, refusals write nothing, and the CLI
//! writes a private file.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{root, run, vpai};
use vpai::host::bootstrap::{
    self, AUTHKEY_PATH, BOOTSTRAP_SCRIPT, FAIL2BAN_JAIL, FAIL2BAN_SSHD_FILTER, SSHD_DROPIN,
};
use vpai::secrets::{self, SecretValues};
use vpai::stack::resolve::HEADSCALE_AUTHKEY;

const ENVS: &[&str] = &["prod", "preprod"];
const HOSTS: &[&str] = &["vps", "workstation", "vpn"];

fn javisi() -> PathBuf {
    root().join("examples/javisi")
}

fn load(env: &str) -> (vpai::stack::Stack, SecretValues) {
    common::stack_and_secrets(&javisi(), env)
}

fn user_data(env: &str, host: &str) -> bootstrap::UserData {
    let (stack, values) = load(env);
    bootstrap::user_data(&stack, host, &values).unwrap_or_else(|d| panic!("{host}/{env}: {d:#?}"))
}

/// Every (env, host, user-data text) of the example.
fn all_user_data() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for env in ENVS {
        for host in HOSTS {
            out.push((env.to_string(), host.to_string(), user_data(env, host).text));
        }
    }
    out
}

/// The document as cloud-init's YAML parser would see it.
fn parse(text: &str) -> serde_json::Value {
    yaml_serde::from_str(text).expect("user-data is YAML")
}

/// `write_files`, path -> (permissions, content).
fn files(text: &str) -> BTreeMap<String, (String, String)> {
    parse(text)["write_files"]
        .as_array()
        .expect("write_files is a list")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                (
                    f["permissions"].as_str().unwrap().to_string(),
                    f["content"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

fn tool(name: &str) -> Command {
    let path = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} is not installed: bash .ci/run installs it"));
    Command::new(path)
}

fn succeeds(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// The judge must be able to say no before its yes means anything.
fn refuses(cmd: &mut Command, what: &str) {
    let out = cmd.output().expect("tool runs");
    assert!(
        !out.status.success(),
        "{cmd:?} accepted {what}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cloud_init_accepts_the_user_data_of_every_host() {
    let schema_file =
        "/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json";
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_file).expect("cloud-init installed"))
            .unwrap();
    // cloud-init 22.4 ignores unknown top-level keys: each of ours must be one a module reads.
    let known: Vec<&str> = schema["$defs"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|d| d["properties"].as_object())
        .flat_map(|p| p.keys().map(String::as_str))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("known-bad.yaml");
    std::fs::write(&bad, "#cloud-config\nruncmd: 5\n").unwrap();
    refuses(
        tool("cloud-init")
            .arg("schema")
            .arg("--config-file")
            .arg(&bad),
        "a runcmd that is no list",
    );
    for (env, host, text) in all_user_data() {
        assert!(text.starts_with("#cloud-config\n"), "{host}/{env}");
        let path = tmp.path().join(format!("{host}-{env}.yaml"));
        std::fs::write(&path, &text).unwrap();
        let out = succeeds(
            tool("cloud-init")
                .arg("schema")
                .arg("--config-file")
                .arg(&path),
        );
        assert!(out.contains("Valid cloud-config"), "{host}/{env}: {out}");
        for key in parse(&text).as_object().unwrap().keys() {
            assert!(
                known.contains(&key.as_str()),
                "{host}/{env}: `{key}` is no cloud-init key"
            );
        }
    }
}

#[test]
fn the_user_data_says_what_the_stack_says() {
    let (stack, values) = load("prod");
    let text = user_data("prod", "vps").text;
    let doc = parse(&text);
    let user = &doc["users"][0];
    assert_eq!(user["name"], "deploy");
    assert_eq!(user["lock_passwd"], true);
    assert_eq!(
        user["ssh_authorized_keys"],
        serde_json::json!(stack.hosts["vps"].ssh_keys)
    );
    assert_eq!(doc["ssh_pwauth"], false);
    assert_eq!(doc["runcmd"], serde_json::json!([[BOOTSTRAP_SCRIPT]]));
    let vps = files(&text);
    // daemon.json is the bundle's, from the same generator.
    let bundle = vpai::render::render(&stack, &values).unwrap();
    assert_eq!(
        vps["/etc/docker/daemon.json"].1,
        bundle
            .get("vps/host/etc/docker/daemon.json")
            .unwrap()
            .content
    );
    let key_file = &vps[AUTHKEY_PATH];
    assert_eq!(key_file.0, "0600");
    assert_eq!(
        key_file.1.trim_end(),
        values.get(HEADSCALE_AUTHKEY).unwrap()
    );
    let bootstrap_script = &vps[BOOTSTRAP_SCRIPT].1;
    for line in [
        "readonly SSH_PORT='804'",
        "readonly DEPLOY_USER='deploy'",
        "readonly HOST_ARCH='amd64'",
        "readonly VPN_JOIN='boot'",
    ] {
        assert!(bootstrap_script.contains(line), "{line}");
    }
    // No ListenAddress at boot: the VPN address does not exist yet.
    assert!(!vps[SSHD_DROPIN].1.contains("\nListenAddress"));

    // The Pi is arm64; the Headscale server joins by hand once Headscale runs.
    let pi = files(&user_data("prod", "workstation").text);
    assert!(
        pi[BOOTSTRAP_SCRIPT]
            .1
            .contains("readonly HOST_ARCH='arm64'")
    );
    let server = user_data("prod", "vpn");
    assert!(
        files(&server.text)[BOOTSTRAP_SCRIPT]
            .1
            .contains("readonly VPN_JOIN='later'")
    );
    assert!(
        server
            .warnings
            .iter()
            .any(|w| w.code == "bootstrap-vpn-later")
    );
}

#[test]
fn sshd_accepts_the_hardening_drop_in() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    succeeds(
        tool("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join("host_key")),
    );
    std::fs::create_dir_all("/run/sshd").unwrap();
    for (env, host, text) in all_user_data() {
        let dropin = d.join(format!("{host}-{env}.conf"));
        std::fs::write(&dropin, &files(&text)[SSHD_DROPIN].1).unwrap();
        // Debian's sshd_config includes the drop-ins first, as here.
        let main = d.join(format!("{host}-{env}-sshd_config"));
        std::fs::write(
            &main,
            format!(
                "Include {}\nHostKey {}\nKbdInteractiveAuthentication no\nUsePAM yes\n",
                dropin.display(),
                d.join("host_key").display()
            ),
        )
        .unwrap();
        succeeds(tool("sshd").arg("-t").arg("-f").arg(&main));
        let effective = succeeds(tool("sshd").arg("-T").arg("-f").arg(&main));
        let (stack, _) = load(&env);
        let h = &stack.hosts[&host];
        for line in [
            format!("port {}", h.ssh_port),
            "permitrootlogin no".to_string(),
            "passwordauthentication no".to_string(),
            format!("allowusers {}", h.ssh_user),
            "maxauthtries 3".to_string(),
            "allowtcpforwarding no".to_string(),
            "allowstreamlocalforwarding local".to_string(),
            format!("listenaddress 0.0.0.0:{}", h.ssh_port),
        ] {
            assert!(
                effective.lines().any(|l| l == line),
                "{host}/{env}: sshd -T lacks `{line}`:\n{effective}"
            );
        }
    }
}

#[test]
fn fail2ban_reads_the_jail_and_catches_sshd_session() {
    let tmp = tempfile::tempdir().unwrap();
    let text = user_data("prod", "vps").text;
    let files = files(&text);
    let stock = tmp.path().join("stock");
    let ours = tmp.path().join("ours");
    for dir in [&stock, &ours] {
        succeeds(tool("cp").arg("-r").arg("/etc/fail2ban").arg(dir));
    }
    for path in [FAIL2BAN_JAIL, FAIL2BAN_SSHD_FILTER] {
        let relative = path.strip_prefix("/etc/fail2ban/").unwrap();
        std::fs::write(ours.join(relative), &files[path].1).unwrap();
    }
    succeeds(tool("fail2ban-client").arg("-c").arg(&ours).arg("-t"));
    let dump = succeeds(tool("fail2ban-client").arg("-c").arg(&ours).arg("-d"));
    for expected in [
        "['add', 'sshd', 'systemd']",
        "['set', 'sshd', 'addjournalmatch', '_SYSTEMD_UNIT=ssh.service', '+', '_COMM=sshd', '+', '_COMM=sshd-session']",
        "['set', 'sshd', 'addignoreip', '127.0.0.1/8', '::1', '100.64.0.0/10']",
        "['port', '804']",
        "'actname', 'ufw'",
    ] {
        assert!(
            dump.contains(expected),
            "fail2ban -d lacks {expected}:\n{dump}"
        );
    }
    // OpenSSH 9.8+ logs failures from sshd-session: the stock filter of this fail2ban
    // misses the line, the user-data's override catches it.
    let line =
        "Nov 23 10:00:00 vps sshd-session[1800]: Invalid user admin from 192.0.2.123 port 7900";
    let matched = |config: &Path| {
        succeeds(
            tool("fail2ban-regex")
                .arg("-c")
                .arg(config)
                .args([line, "sshd"]),
        )
        .contains("1 matched")
    };
    assert!(
        !matched(&stock),
        "the stock filter now reads sshd-session: drop the override"
    );
    assert!(matched(&ours));
}

#[test]
fn every_script_and_runcmd_passes_shellcheck() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("known-bad.sh");
    std::fs::write(&bad, "#!/bin/sh\nrm -rf $1/*\n").unwrap();
    refuses(tool("shellcheck").arg(&bad), "an unquoted `rm -rf $1/*`");
    let mut checked = 0;
    for (env, host, text) in all_user_data() {
        for (path, (_, content)) in files(&text) {
            if !content.starts_with("#!") {
                continue;
            }
            assert!(
                content.starts_with("#!/bin/bash\n"),
                "{path}: bash, not sh (002 §13)"
            );
            assert!(content.contains("\nset -euo pipefail\n"), "{path}");
            let file = tmp
                .path()
                .join(format!("{host}-{env}-{}", path.replace('/', "_")));
            std::fs::write(&file, &content).unwrap();
            succeeds(tool("shellcheck").arg(&file));
            checked += 1;
        }
        // runcmd runs as one /bin/sh script (dash on Debian): each entry, as cloud-init
        // writes it, must be valid sh.
        let runcmd: Vec<String> = parse(&text)["runcmd"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                let words: Vec<String> = entry
                    .as_array()
                    .expect("runcmd entries are argument lists")
                    .iter()
                    .map(|w| format!("'{}'", w.as_str().unwrap().replace('\'', r"'\''")))
                    .collect();
                words.join(" ")
            })
            .collect();
        let file = tmp.path().join(format!("{host}-{env}-runcmd"));
        std::fs::write(&file, format!("#!/bin/sh\n{}\n", runcmd.join("\n"))).unwrap();
        succeeds(tool("shellcheck").arg(&file));
    }
    // bootstrap, firewall and join everywhere; lockdown on every host with a vpn_address.
    assert_eq!(checked, ENVS.len() * HOSTS.len() * 4);
}

/// Secret values never appear in snapshots: the pre-auth key is replaced by its name.
fn redact(text: &str, values: &SecretValues) -> String {
    let mut out = text.to_string();
    for (name, value) in values.iter().filter(|(_, v)| v.len() >= 8) {
        out = out.replace(value, &format!("<secret:{name}>"));
    }
    out
}

#[test]
fn vps_user_data_snapshot_holds_no_secret() {
    let (_, values) = load("prod");
    let text = user_data("prod", "vps").text;
    let key = values.get(HEADSCALE_AUTHKEY).unwrap();
    assert_eq!(text.matches(key).count(), 1, "the key is in its file only");
    let redacted = redact(&text, &values);
    for (name, value) in values.iter() {
        assert!(!redacted.contains(value), "snapshot holds `{name}`");
    }
    insta::assert_snapshot!("bootstrap-javisi-prod-vps", redacted);
}

#[test]
fn rendering_is_deterministic_and_needs_only_the_bootstrap_secret() {
    assert_eq!(user_data("prod", "vps").text, user_data("prod", "vps").text);
    let (stack, values) = load("prod");
    // A stack without VPN needs no secrets at all; one with Headscale needs the key only.
    assert!(bootstrap::needs_secrets(&stack));
    let mut only_key = SecretValues::default();
    only_key.set(
        HEADSCALE_AUTHKEY,
        values.get(HEADSCALE_AUTHKEY).unwrap().to_string(),
    );
    assert_eq!(
        bootstrap::user_data(&stack, "vps", &only_key).unwrap().text,
        user_data("prod", "vps").text
    );
}

/// A copy of javisi whose secrets lack the pre-auth key.
fn javisi_without_authkey(tmp: &Path) -> PathBuf {
    let dir = tmp.join("javisi");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["vpai.toml", "example-identity.txt"] {
        std::fs::copy(javisi().join(f), dir.join(f)).unwrap();
    }
    let (stack, values) = load("prod");
    let mut kept = SecretValues::default();
    for (name, value) in values.iter().filter(|(n, _)| *n != HEADSCALE_AUTHKEY) {
        kept.set(name, value.to_string());
    }
    secrets::encrypt_to_file(&kept, &stack.recipients, &dir.join(secrets::SECRETS_FILE)).unwrap();
    dir
}

fn bootstrap_cli(args: &[&str], dir: &Path, out: &Path) -> common::Outcome {
    run(vpai()
        .args(["host", "bootstrap"])
        .args(args)
        .arg("-C")
        .arg(dir)
        .arg("--out")
        .arg(out))
}

#[test]
fn a_missing_pre_auth_key_refuses_the_vpn_host_but_not_render() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = javisi_without_authkey(tmp.path());
    let out = tmp.path().join("vps.yaml");
    let refused = bootstrap_cli(&["vps"], &dir, &out);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("missing-secret"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("headscale preauthkeys create"),
        "{}",
        refused.stderr
    );
    assert!(!out.exists(), "nothing written");
    let render = run(vpai()
        .args(["render", "-C"])
        .arg(&dir)
        .arg("--out")
        .arg(tmp.path().join("bundle")));
    assert_eq!(render.code, 0, "{}", render.stderr);
}

#[test]
fn hosts_that_would_lock_the_operator_out_are_refused_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stack");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("vpai.toml"),
        "[project]\nname = \"acme\"\n\n\
         [hosts.nokey]\naddress = \"192.0.2.1\"\nssh = { user = \"deploy\", port = 2222 }\n\n\
         [hosts.rooted]\naddress = \"192.0.2.2\"\n\
         ssh = { keys = [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmokzHNYjmeKlSN728G6UP68g75R+Kn7vna7raxhEFL a@b\"] }\n",
    )
    .unwrap();
    let out = tmp.path().join("user-data.yaml");
    let no_key = bootstrap_cli(&["nokey"], &dir, &out);
    assert_eq!(no_key.code, 1);
    assert!(
        no_key.stderr.contains("bootstrap-no-ssh-key"),
        "{}",
        no_key.stderr
    );
    assert!(no_key.stderr.contains("vpai.toml:4:"), "{}", no_key.stderr);
    assert!(
        no_key.stderr.contains("keys = ["),
        "the hint shows the fix: {}",
        no_key.stderr
    );
    let root_login = bootstrap_cli(&["rooted"], &dir, &out);
    assert_eq!(root_login.code, 1);
    assert!(
        root_login.stderr.contains("bootstrap-root-user"),
        "{}",
        root_login.stderr
    );
    assert!(
        root_login.stderr.contains("vpai.toml:8:"),
        "{}",
        root_login.stderr
    );
    let unknown = bootstrap_cli(&["nokye"], &dir, &out);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("did you mean `nokey`?"),
        "{}",
        unknown.stderr
    );
    assert!(!out.exists(), "nothing written");
}

#[test]
fn the_cli_writes_a_private_file_and_never_prints_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("user-data/vps.yaml");
    let first = bootstrap_cli(&["vps"], &javisi(), &out);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.is_empty(), "{}", first.stdout);
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        first.stderr.contains("holds the Headscale pre-auth key"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("sudo vpai-vpn-lockdown --confirm"),
        "{}",
        first.stderr
    );
    let (_, values) = load("prod");
    for (name, value) in values.iter() {
        assert!(!first.stderr.contains(value), "stderr leaks `{name}`");
    }
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written, user_data("prod", "vps").text);
    // Rendered again in another process: the same bytes.
    let second = bootstrap_cli(&["vps"], &javisi(), &out);
    assert_eq!(second.code, 0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), written);

    // Without --out: the document on stdout, the rest on stderr.
    let stdout = run(vpai()
        .args(["host", "bootstrap"])
        .arg(javisi())
        .arg("workstation")
        .args(["--env", "preprod"]));
    assert_eq!(stdout.code, 0, "{}", stdout.stderr);
    assert_eq!(stdout.stdout, user_data("preprod", "workstation").text);

    let help = run(vpai().args(["host", "bootstrap", "--help"]));
    assert!(help.stdout.contains("vpai-vpn-lockdown"), "{}", help.stdout);
}

/// vpai-vpn-lockdown for real, in namespaces of its own (tests/host/lockdown-in-netns.sh
/// says what is real there and what stands in for tailscale and systemd).
#[test]
fn lockdown_moves_ssh_behind_the_vpn_and_its_switch_reverts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let files = files(&user_data("prod", "vps").text);
    let lockdown = tmp.path().join("vpai-vpn-lockdown");
    let dropin = tmp.path().join("00-vpai-hardening.conf");
    std::fs::write(&lockdown, &files[bootstrap::LOCKDOWN_SCRIPT].1).unwrap();
    std::fs::set_permissions(&lockdown, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&dropin, &files[SSHD_DROPIN].1).unwrap();
    let harness = root().join("tests/host/lockdown-in-netns.sh");
    succeeds(tool("shellcheck").arg(&harness));
    let out = tool("unshare")
        .args(["--mount", "--net", "--fork", "bash"])
        .arg(&harness)
        .arg(&lockdown)
        .arg(&dropin)
        .args(["804", "100.64.0.14", "deploy"])
        .output()
        .expect("unshare runs (the tests run as root)");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("ok: reverted: login on 192.0.2.10 again"),
        "{log}"
    );
}

/// What the scripts must say for 002 §0.6-§0.11 and §13.1, read in the rendered text:
/// no Headscale or Debian 13 machine runs here, so only the order of the lines is shown.
#[test]
fn the_scripts_follow_seed_002_for_the_vpn_and_debian_13() {
    let files = files(&user_data("prod", "vps").text);
    let join = &files[bootstrap::JOIN_SCRIPT].1;
    let at = |text: &str, what: &str| {
        text.find(what)
            .unwrap_or_else(|| panic!("`{what}` missing from:\n{text}"))
    };
    // §0.6: Headscale is asked first, with bounded waits, and `tailscale up` is bounded too.
    assert!(at(join, "curl -fsS --max-time 10") < at(join, "timeout 150 tailscale up"));
    assert!(join.contains("timeout 150 tailscale up") && join.contains("--timeout=120s"));
    // §0.7: the key goes through its file, never the command line, and is deleted once used.
    assert!(join.contains("--auth-key=\"file:$AUTHKEY_FILE\""));
    assert!(at(join, "timeout 150 tailscale up") < at(join, "rm -f \"$AUTHKEY_FILE\""));
    let bootstrap_script = &files[BOOTSTRAP_SCRIPT].1;
    // §0.8: the repository path follows the distribution.
    assert!(
        bootstrap_script.contains("https://pkgs.tailscale.com/stable/$ID $VERSION_CODENAME main")
    );
    // §0.11: tailscaled starts at boot, and the lockdown refuses while it would not.
    assert!(bootstrap_script.contains("systemctl enable --now tailscaled"));
    assert!(
        files[bootstrap::LOCKDOWN_SCRIPT]
            .1
            .contains("systemctl is-enabled --quiet tailscaled")
    );
    // §13.1: keyrings by signed-by=, no apt-key, no apt-transport-https, and the image's
    // sources checked before the first update.
    assert!(bootstrap_script.contains("gpg --batch --yes --dearmor"));
    assert!(bootstrap_script.contains("signed-by=/etc/apt/keyrings/docker.gpg"));
    let code: Vec<&str> = bootstrap_script
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    for absent in ["apt-key", "apt-transport-https"] {
        assert!(!code.iter().any(|l| l.contains(absent)), "{absent}");
    }
    assert!(
        at(bootstrap_script, "debian_suite_listed \"$suite\"")
            < at(bootstrap_script, "apt_get update")
    );
}

#[test]
fn systemd_accepts_the_firewall_unit_ordered_before_docker() {
    let tmp = tempfile::tempdir().unwrap();
    let files = files(&user_data("prod", "vps").text);
    let (_, unit) = &files[bootstrap::FIREWALL_UNIT];
    let (mode, script) = &files[bootstrap::FIREWALL_SCRIPT];
    assert_eq!(mode, "0755");
    // verify wants ExecStart to exist: the rendered script stands in at a temp path.
    let exec = tmp.path().join("vpai-firewall");
    std::fs::write(&exec, script).unwrap();
    std::fs::set_permissions(&exec, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = tmp.path().join("vpai-firewall.service");
    std::fs::write(
        &path,
        unit.replace(bootstrap::FIREWALL_SCRIPT, exec.to_str().unwrap()),
    )
    .unwrap();
    let out = tool("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // docker.service is not installed here; anything else is a fault of the unit.
    let faults: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("docker.service"))
        .collect();
    assert!(faults.is_empty(), "{stderr}");
    assert!(
        unit.contains("\nBefore=docker.service\n")
            && unit.contains("\nRequiredBy=docker.service\n")
    );
    assert!(
        script.contains("readonly PUBLIC_TCP='80 443'\nreadonly PUBLIC_UDP='443'\n"),
        "{script}"
    );
}
