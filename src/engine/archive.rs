//! Host files through the engine API: a tar archive uploaded into a container that
//! has the project root bind-mounted. No SSH file copy, no agent on the host.

use super::desired::HostEntry;

/// A tar of `entries`, paths relative to the project root, with owners and modes.
pub fn tar(entries: &[HostEntry]) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries.iter().filter(|e| !e.path.is_empty()) {
        let mut header = tar::Header::new_gnu();
        header.set_mode(e.mode);
        header.set_uid(e.uid);
        header.set_gid(e.gid);
        header.set_mtime(now);
        match &e.content {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder
                    .append_data(&mut header, format!("{}/", e.path), std::io::empty())
                    .expect("writing to memory");
            }
            Some(content) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(content.len() as u64);
                builder
                    .append_data(&mut header, &e.path, content.as_bytes())
                    .expect("writing to memory");
            }
        }
    }
    builder.into_inner().expect("writing to memory")
}
