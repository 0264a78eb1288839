//! Helpers shared by the integration tests: run the real binary, read fixture headers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

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

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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
