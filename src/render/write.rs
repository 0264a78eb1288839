//! Writing a bundle to disk. The bundle holds every secret of a host in its env
//! files, so the writer refuses any `--out` where that would destroy or expose
//! something: the stack directory itself, a directory holding it or inside it, a
//! directory vpai did not write, a symlink. It renders into a sibling staging
//! directory and swaps it in, and removes the staging directory on any failure, so
//! OUT is either the old bundle or the new one and nothing else is left behind.

use std::path::{Path, PathBuf};

use super::{BUNDLE_MARKER, Bundle, HEADER};
use crate::diagnostic::Diagnostic;
use crate::paths::{Escape, within};

/// Why a bundle was not written. Nothing was changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{} {relation} the stack directory {}", out.display(), stack.display())]
    StackDirectory {
        out: PathBuf,
        stack: PathBuf,
        relation: &'static str,
    },
    #[error("{} exists and is not a vpai bundle (no {BUNDLE_MARKER}); refusing to replace it", .0.display())]
    NotABundle(PathBuf),
    #[error("{} is a symbolic link; refusing to write a bundle through it", .0.display())]
    Symlink(PathBuf),
    #[error("a bundle path {0}")]
    Escape(#[from] Escape),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<WriteError> for Diagnostic {
    fn from(e: WriteError) -> Diagnostic {
        let help = match &e {
            WriteError::StackDirectory { .. } | WriteError::NotABundle(_) => {
                Some("pick a new directory outside the stack, e.g. `--out ../bundle`")
            }
            WriteError::Symlink(_) => Some("pass the directory the link points to"),
            _ => None,
        };
        Diagnostic::error("render-refused", e.to_string())
            .note("nothing was written")
            .maybe_help(help.map(str::to_string))
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError {
    let path = path.to_path_buf();
    move |source| WriteError::Io { path, source }
}

/// `path` made absolute with its symlinks resolved, for a path that may not exist
/// yet: its nearest existing ancestor is resolved and the rest appended.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut full = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    full.extend(rest.iter().rev());
    full
}

/// Write `bundle` to `out`, never over, around or inside `stack_dir`.
pub fn write(bundle: &Bundle, out: &Path, stack_dir: &Path) -> Result<(), WriteError> {
    if std::fs::symlink_metadata(out).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(WriteError::Symlink(out.to_path_buf()));
    }
    let (target, stack) = (resolved(out), resolved(stack_dir));
    let relation = if target == stack {
        Some("is")
    } else if stack.starts_with(&target) {
        Some("contains")
    } else if target.starts_with(&stack) {
        Some("lies inside")
    } else {
        None
    };
    if let Some(relation) = relation {
        return Err(WriteError::StackDirectory {
            out: out.to_path_buf(),
            stack: stack_dir.to_path_buf(),
            relation,
        });
    }
    let occupied = out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some();
    if occupied && !out.join(BUNDLE_MARKER).exists() {
        return Err(WriteError::NotABundle(out.to_path_buf()));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let staging = parent.join(format!(".{name}.vpai-staging"));
    // The outermost directory this call creates, removed again if it fails.
    let created = parent
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
        .last()
        .map(Path::to_path_buf);
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let result = stage(bundle, &staging).and_then(|()| swap(&staging, out, parent, &name));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
        if let Some(created) = created {
            let _ = std::fs::remove_dir_all(created);
        }
    }
    result
}

fn stage(bundle: &Bundle, staging: &Path) -> Result<(), WriteError> {
    use std::os::unix::fs::PermissionsExt;
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(io(staging))?;
    }
    std::fs::create_dir_all(staging).map_err(io(staging))?;
    for (path, file) in &bundle.files {
        let full = within(staging, path)?;
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(&full, &file.content).map_err(io(&full))?;
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(file.mode))
            .map_err(io(&full))?;
    }
    let marker = staging.join(BUNDLE_MARKER);
    std::fs::write(&marker, format!("{HEADER}\n")).map_err(io(&marker))
}

/// The staged bundle in place of `out`, the previous one removed once it is.
fn swap(staging: &Path, out: &Path, parent: &Path, name: &str) -> Result<(), WriteError> {
    let previous = parent.join(format!(".{name}.vpai-previous"));
    if previous.exists() {
        std::fs::remove_dir_all(&previous).map_err(io(&previous))?;
    }
    if out.exists() {
        std::fs::rename(out, &previous).map_err(io(out))?;
    }
    if let Err(e) = std::fs::rename(staging, out) {
        // Put the old bundle back: OUT stays what it was.
        if previous.exists() {
            let _ = std::fs::rename(&previous, out);
        }
        return Err(io(out)(e));
    }
    if previous.exists() {
        std::fs::remove_dir_all(&previous).map_err(io(&previous))?;
    }
    Ok(())
}
