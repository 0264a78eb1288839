//! Host files through the engine API: a tar archive uploaded into a container that
//! has the project root bind-mounted. No SSH file copy, no agent on the host.

use std::path::Path;

use super::EngineError;
use super::desired::HostEntry;

/// A tar of `entries`, paths relative to the project root `root`, with owners
/// and modes. A path that would leave the root is refused before any byte is
/// sent, so apply builds the archive before it takes the lock.
pub fn tar(root: &Path, entries: &[HostEntry]) -> Result<Vec<u8>, EngineError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let refused = |path: &str, why: String| {
        EngineError::Refused(format!("host file `{path}` cannot be uploaded: {why}"))
    };
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries.iter().filter(|e| !e.path.is_empty()) {
        crate::paths::within(root, &e.path).map_err(|x| refused(&e.path, x.to_string()))?;
        let mut header = tar::Header::new_gnu();
        header.set_mode(e.mode);
        header.set_uid(e.uid);
        header.set_gid(e.gid);
        header.set_mtime(now);
        let appended = match &e.content {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, format!("{}/", e.path), std::io::empty())
            }
            Some(content) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(content.len() as u64);
                builder.append_data(&mut header, &e.path, content.as_bytes())
            }
        };
        appended.map_err(|x| refused(&e.path, x.to_string()))?;
    }
    builder
        .into_inner()
        .map_err(|x| EngineError::Refused(format!("cannot build the host files' archive: {x}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> HostEntry {
        HostEntry {
            path: path.to_string(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            content: Some("x".to_string()),
        }
    }

    #[test]
    fn paths_that_leave_the_root_are_refused_not_a_panic() {
        let root = Path::new("/opt/demo");
        assert!(tar(root, &[entry("configs/api/api.env")]).is_ok());
        for bad in ["configs/../../etc/passwd", "/etc/passwd", "../x"] {
            let e = tar(root, &[entry(bad)]).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
