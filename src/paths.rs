//! Paths made of names a stack file gives (services, hosts, files, backup jobs) must
//! stay under the directory they are written to. Every writer joins them here, so
//! a `..` or an absolute path is refused in one place, whatever validated the name
//! before.

use std::path::{Component, Path, PathBuf};

/// A relative path that would leave its root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` leaves {}: {why}", root.display())]
pub struct Escape {
    pub root: PathBuf,
    pub path: String,
    pub why: &'static str,
}

/// `root/relative`, refused when `relative` is empty, absolute, or has a `..`.
pub fn within(root: &Path, relative: impl AsRef<Path>) -> Result<PathBuf, Escape> {
    let relative = relative.as_ref();
    let escape = |why| Escape {
        root: root.to_path_buf(),
        path: relative.display().to_string(),
        why,
    };
    let mut parts = 0;
    for component in relative.components() {
        match component {
            Component::Normal(_) => parts += 1,
            Component::CurDir => {}
            Component::ParentDir => return Err(escape("it climbs with `..`")),
            Component::RootDir | Component::Prefix(_) => return Err(escape("it is absolute")),
        }
    }
    if parts == 0 {
        return Err(escape("it names nothing"));
    }
    Ok(root.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_below_the_root_are_joined() {
        let root = Path::new("/out");
        assert_eq!(
            within(root, "vps/configs/caddy/Caddyfile"),
            Ok(PathBuf::from("/out/vps/configs/caddy/Caddyfile"))
        );
        assert_eq!(within(root, "./a"), Ok(PathBuf::from("/out/./a")));
        for bad in ["../x", "a/../../x", "/tmp/x", "", ".", "a/.."] {
            assert!(within(root, bad).is_err(), "{bad} was joined");
        }
    }
}
