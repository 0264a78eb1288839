use crate::diagnostic::Diagnostic;
use crate::knowledge::postgres::{self, PRE_18_DATA_PATH};
use crate::lint::rules::{declare_lint_rule, services};
use crate::lint::{File, Run};

declare_lint_rule! {
    /// ## What it does
    /// Flags a PostgreSQL 18+ official image (`postgres:18...`, or a moving tag such
    /// as `postgres:latest` or no tag, which is 18 today), or an image built
    /// from it (`pgvector/pgvector:pg18`, `postgis/postgis:18-3.6`), with a volume
    /// at `/var/lib/postgresql/data`, unless `PGDATA` (in `environment` or an
    /// `env_file`) is set to keep that layout.
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

impl ComposePostgresDataPath {
    fn run(&self, file: &File, _run: &Run, out: &mut Vec<Diagnostic>) {
        for service in services(file) {
            let Some((image, _)) = service.image() else {
                continue;
            };
            let compose_dir = file.path.parent().unwrap_or(std::path::Path::new("."));
            let pgdata = service.variable("PGDATA", compose_dir);
            if !postgres::refuses_pre_18_path(&image, pgdata.as_deref()) {
                continue;
            }
            for mount in service.mounts() {
                if !postgres::is_pre_18_data_path(&mount.target) {
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
                        "`{}` runs PostgreSQL 18+ with its data mounted at {PRE_18_DATA_PATH}, the pre-18 path",
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
