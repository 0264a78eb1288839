use crate::diagnostic::Diagnostic;
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};
use crate::rules::support::ImageRef;

declare_lint_rule! {
    /// ## What it does
    /// Flags a PostgreSQL 18+ official image (`postgres:18...`), or an image built
    /// from it (`pgvector/pgvector:pg18`, `postgis/postgis:18-3.6`), with a volume
    /// at `/var/lib/postgresql/data`, unless `PGDATA` is set to keep that layout.
    ///
    /// ## Why is this bad?
    /// From 18 the official image keeps its data under `/var/lib/postgresql/18/docker`
    /// and expects one volume at `/var/lib/postgresql` (docker-library/postgres#1259).
    /// With a mount at the old path the entrypoint refuses to start ("there appears
    /// to be PostgreSQL data in: /var/lib/postgresql/data (unused mount/volume)"),
    /// seed 002 §3.1.
    ///
    /// ## Example
    /// ```yaml
    /// services:
    ///   postgres:
    ///     image: postgres:18.1
    ///     volumes: ["pgdata:/var/lib/postgresql/data"]
    /// ```
    ///
    /// ## Fix
    /// `volumes: ["pgdata:/var/lib/postgresql"]`. Data written by PostgreSQL 17 or
    /// older needs `pg_upgrade` before an 18 image can use it.
    pub struct ComposePostgresDataPath => "compose-postgres-data-path", Error, [Compose];
}

const OLD: &str = "/var/lib/postgresql/data";

/// The PostgreSQL major version of the official image and of the images built
/// `FROM` it: `postgres:18.1`, `pgvector/pgvector:pg18` (or `0.8.1-pg18`),
/// `postgis/postgis:18-3.6`.
fn postgres_major(image: &ImageRef) -> Option<u64> {
    if image.is(&["postgres", "postgis/postgis"]) {
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

impl ComposePostgresDataPath {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            let Some((image, _)) = service.image() else {
                continue;
            };
            if postgres_major(&image).is_none_or(|major| major < 18) {
                continue;
            }
            // PGDATA set to the old path (or under it) keeps the pre-18 layout.
            let pgdata_in_old = service.environment().iter().any(|(name, value, _)| {
                name == "PGDATA"
                    && value
                        .as_deref()
                        .is_some_and(|v| v.trim_end_matches('/').starts_with(OLD))
            });
            if pgdata_in_old {
                continue;
            }
            for mount in service.mounts() {
                if mount.target.trim_end_matches('/') != OLD {
                    continue;
                }
                // A long-syntax mount is a block mapping whose span runs on to the
                // next key: point at its `target:` line.
                let span = match mount.node.entry("target") {
                    Some((key, value)) => key.span.start..value.span.end,
                    None => mount.node.span.clone(),
                };
                out.push(
                    Self::diagnostic(format!(
                        "`{}` runs PostgreSQL 18+ with its data mounted at {OLD}, the pre-18 path",
                        service.name
                    ))
                    .at(Some(&file.span(span)), "PostgreSQL 18+ refuses to start with this mount")
                    .note("from 18 the image stores data in /var/lib/postgresql/<major>/docker (docker-library/postgres#1259, 002 §3.1)")
                    .help("mount /var/lib/postgresql instead; data from 17 or older needs pg_upgrade first"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_major;
    use crate::rules::support::ImageRef;

    #[test]
    fn major_of_official_and_derived_images() {
        let major = |image: &str| postgres_major(&ImageRef::parse(image));
        assert_eq!(major("postgres:18.1-bookworm"), Some(18));
        assert_eq!(major("docker.io/library/postgres:17"), Some(17));
        assert_eq!(major("pgvector/pgvector:pg18"), Some(18));
        assert_eq!(major("pgvector/pgvector:0.8.1-pg18-trixie"), Some(18));
        assert_eq!(major("postgis/postgis:18-3.6-alpine"), Some(18));
        assert_eq!(major("postgres:latest"), None);
        assert_eq!(major("supabase/postgres:15.8.1.085"), None);
    }
}
