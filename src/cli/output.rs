//! What every command prints through: failures, JSON, exit codes, private files.

use crate::console::{stderr, stderrln, stdoutln};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::diagnostic::Diagnostic;
use crate::secrets::{self};
use crate::source::Sources;
use crate::stack::Report;

/// A command failed: diagnostics to print (with the texts they point into).
pub struct Failure {
    pub(super) diagnostics: Vec<Diagnostic>,
    pub(super) sources: Sources,
}

impl From<Report> for Failure {
    fn from(r: Report) -> Self {
        Failure {
            diagnostics: r.diagnostics,
            sources: r.sources,
        }
    }
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Self {
        Failure {
            diagnostics: vec![d],
            sources: Sources::default(),
        }
    }
}

/// The layers' typed errors become one diagnostic at this boundary.
macro_rules! failure_from_layer_error {
    ($($error:ty),*) => {$(
        impl From<$error> for Failure {
            fn from(e: $error) -> Self {
                Diagnostic::from(e).into()
            }
        }
    )*};
}

failure_from_layer_error!(
    secrets::SecretsError,
    crate::engine::EngineError,
    crate::backup::error::BackupError,
    crate::render::WriteError
);

/// Success or failure, as the exit code.
pub(super) fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub(super) fn print_json(value: &impl serde::Serialize) {
    stdoutln!(
        "{}",
        serde_json::to_string_pretty(value).expect("serializes")
    );
}

/// Write `text` to `path` with mode 0600 from the first byte, through a temporary file
/// in the same directory, so that neither a reader nor a crash sees half of it.
pub(super) fn write_private_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let staging = dir.join(format!(".{}.vpai-staging", name.to_string_lossy()));
    let _ = std::fs::remove_file(&staging);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staging)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&staging, path)
}

/// Refuse now, before anything is read from a host, when `confirm` would have no
/// terminal to ask `question` on.
pub(super) fn can_ask(question: &str, hint: &str) -> Result<(), Failure> {
    if std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(Diagnostic::error(
        "refused",
        format!("no terminal to ask on: {question} Nothing changed."),
    )
    .help(hint.to_string())
    .into())
}

/// Ask `question` with `[y/N]` on the terminal. Without one there is nobody to ask:
/// refused, with `hint` (how to say yes in a script), before anything changed.
/// `Ok(false)` when the answer is not yes.
pub(super) fn confirm(question: &str, hint: &str) -> Result<bool, Failure> {
    can_ask(question, hint)?;
    stderr!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).ok();
    let yes = matches!(answer.trim(), "y" | "Y" | "yes");
    if !yes {
        stderrln!("nothing changed");
    }
    Ok(yes)
}
