//! PostgreSQL's images: which major an image runs and where it keeps its data.
//!
//! From 18 the official image stores its data in `/var/lib/postgresql/<major>/docker`
//! under one volume at `/var/lib/postgresql` (docker-library/postgres#1259), and
//! refuses to start with a mount at the pre-18 path (seed 002 §3.1). The images
//! built `FROM` it (pgvector, postgis) inherit that; `PGDATA` set to the old path
//! keeps the old layout.

use crate::knowledge::image::{ImageRef, moves};

/// Where PostgreSQL 17 and older keep their data in the official image.
pub const PRE_18_DATA_PATH: &str = "/var/lib/postgresql/data";

/// The major the official image's moving tags (`latest`, `alpine`, no tag) point to.
pub const LATEST_MAJOR: u64 = 18;

/// The PostgreSQL major version of the official image and of the images built
/// `FROM` it: `postgres:18.1`, `postgres:latest` (18 today), `pgvector/pgvector:pg18`
/// (or `0.8.1-pg18`), `postgis/postgis:18-3.6`. `None` for other images and for tags
/// that say nothing (`pgvector/pgvector:latest`).
pub fn major(image: &ImageRef) -> Option<u64> {
    if image.is(&["postgres"]) {
        return match image.tag.as_deref() {
            None => Some(LATEST_MAJOR),
            Some(tag) if moves(tag) => Some(LATEST_MAJOR),
            Some(_) => image.version()?.first().copied(),
        };
    }
    if image.is(&["postgis/postgis"]) {
        return image.version()?.first().copied();
    }
    if image.is(&["pgvector/pgvector"]) {
        return image
            .tag
            .as_deref()?
            .split('-')
            .find_map(|part| part.strip_prefix("pg")?.parse().ok());
    }
    None
}

/// The mount target is the pre-18 data directory.
pub fn is_pre_18_data_path(target: &str) -> bool {
    target.trim_end_matches('/') == PRE_18_DATA_PATH
}

/// `PGDATA` set to the old path (or under it) keeps the pre-18 layout.
pub fn pgdata_keeps_pre_18_layout(pgdata: &str) -> bool {
    pgdata.trim_end_matches('/').starts_with(PRE_18_DATA_PATH)
}

/// The image (an official PostgreSQL 18+ or one built from it) refuses a volume
/// at [`PRE_18_DATA_PATH`] unless `PGDATA` keeps the old layout.
pub fn refuses_pre_18_path(image: &ImageRef, pgdata: Option<&str>) -> bool {
    major(image).is_some_and(|major| major >= 18) && !pgdata.is_some_and(pgdata_keeps_pre_18_layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_of_official_and_derived_images() {
        let major = |image: &str| major(&ImageRef::parse(image));
        assert_eq!(major("postgres:18.1-bookworm"), Some(18));
        assert_eq!(major("docker.io/library/postgres:17"), Some(17));
        assert_eq!(major("pgvector/pgvector:pg18"), Some(18));
        assert_eq!(major("pgvector/pgvector:0.8.1-pg18-trixie"), Some(18));
        assert_eq!(major("postgis/postgis:18-3.6-alpine"), Some(18));
        assert_eq!(major("postgres:latest"), Some(18));
        assert_eq!(major("postgres"), Some(18));
        assert_eq!(major("postgres:alpine"), Some(18));
        assert_eq!(major("pgvector/pgvector:latest"), None);
        assert_eq!(major("supabase/postgres:15.8.1.085"), None);
    }

    #[test]
    fn pgdata_under_the_old_path_keeps_the_old_layout() {
        let pg18 = ImageRef::parse("postgres:18.1");
        assert!(refuses_pre_18_path(&pg18, None));
        assert!(refuses_pre_18_path(
            &pg18,
            Some("/var/lib/postgresql/18/docker")
        ));
        assert!(!refuses_pre_18_path(
            &pg18,
            Some("/var/lib/postgresql/data/pgdata")
        ));
        assert!(!refuses_pre_18_path(&ImageRef::parse("postgres:17"), None));
    }
}
