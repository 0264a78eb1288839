//! Why a backup, a restore or a drill stopped, and how that reads to the operator.

use std::path::{Path, PathBuf};

use crate::backup::restic::ResticError;
use crate::diagnostic::Diagnostic;
use crate::engine::EngineError;

/// Why a backup, a restore or a drill stopped.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Restic(#[from] ResticError),
    /// A job, file or snapshot path that would leave its staging directory.
    #[error(transparent)]
    Escape(#[from] crate::paths::Escape),
    /// A file or directory on the machine that runs vpai.
    #[error("cannot {action} {}: {source}", path.display())]
    Local {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A hook's command inside the service's container.
    #[error("`{command}` exited {code}{}{tail}", if tail.is_empty() { "" } else { ":\n" })]
    Exited {
        command: String,
        code: i64,
        /// The last lines of its output.
        tail: String,
    },
    #[error("`{trigger}` did not finish within {seconds}s")]
    Timeout { trigger: String, seconds: u64 },
    #[error("job `{job}` names no service")]
    NoService { job: String },
    #[error("no snapshot `{wanted}` of job `{job}`")]
    UnknownSnapshot { job: String, wanted: String },
    #[error("job `{job}` has no snapshot yet")]
    NoSnapshotYet { job: String },
    /// A snapshot without what its job writes.
    #[error("the snapshot {0}")]
    Incomplete(String),
    /// A job whose restore or drill vpai does not do; its files stay in the snapshot.
    #[error("{what} of a `{kind}` job is not built yet")]
    NotBuilt {
        what: &'static str,
        kind: String,
        snapshot: String,
    },
    #[error("`{job}` holds what vpai renders: re-apply the stack instead")]
    Rendered { job: String, snapshot: String },
    /// A container that did not do or answer what the step expects.
    #[error("{0}")]
    Unexpected(String),
}

impl From<BackupError> for Diagnostic {
    fn from(e: BackupError) -> Diagnostic {
        let message = e.to_string();
        match e {
            BackupError::Engine(e) => e.into(),
            BackupError::Restic(ResticError { hint, .. }) => {
                Diagnostic::error("restic", message).maybe_help(hint)
            }
            BackupError::UnknownSnapshot { job, .. } => {
                Diagnostic::error("unknown-snapshot", message)
                    .help(format!("`vpai backup list --job {job}` lists them"))
            }
            BackupError::NoSnapshotYet { job } => Diagnostic::error("no-snapshot", message)
                .help(format!("take one with `vpai backup run --job {job}`")),
            BackupError::NotBuilt { snapshot, .. } => {
                Diagnostic::error("not-built", message).help(format!(
                    "its files are in snapshot {snapshot}: `restic restore {snapshot} --target DIR`"
                ))
            }
            BackupError::Rendered { snapshot, .. } => Diagnostic::error("not-data", message).note(
                format!("snapshot {snapshot} keeps those files for reference"),
            ),
            _ => Diagnostic::error("backup", message),
        }
    }
}

impl BackupError {
    /// One line for a job's report, with restic's hint when it gave one.
    pub(super) fn report(&self) -> String {
        match self {
            BackupError::Restic(ResticError {
                hint: Some(hint), ..
            }) => format!("{self} ({hint})"),
            _ => self.to_string(),
        }
    }
}

pub(super) fn local(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_path_buf();
    move |source| BackupError::Local {
        action,
        path,
        source,
    }
}
