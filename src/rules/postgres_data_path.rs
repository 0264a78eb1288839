use crate::diagnostic::Diagnostic;
use crate::knowledge::postgres::{self, PRE_18_DATA_PATH};
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags a PostgreSQL 18+ official image (`postgres:18...`, or a moving tag such
    /// as `postgres:latest`, which is 18 today), or an image built from it
    /// (`pgvector/pgvector:pg18`, `postgis/postgis:18-3.6`), whose data is mounted at
    /// `/var/lib/postgresql/data`, unless `PGDATA` is set to keep that layout.
    ///
    /// ## Why is this bad?
    /// From 18 the official image keeps its data in a major-version directory
    /// (`/var/lib/postgresql/18/docker`) under a single volume at
    /// `/var/lib/postgresql` (docker-library/postgres#1259). With a mount at the old
    /// path the entrypoint refuses to start: "in 18+, these Docker images are
    /// configured to store database data in a format which is compatible with
    /// pg_ctlcluster ... there appears to be PostgreSQL data in:
    /// /var/lib/postgresql/data (unused mount/volume)" (seed 002 §3.1).
    ///
    /// ## Example
    /// ```toml
    /// [services.postgresql]
    /// data."/var/lib/postgresql/data" = { owner = "999:999" }
    /// ```
    ///
    /// ## Fix
    /// Mount `/var/lib/postgresql` (the catalog entry does). Data written by
    /// PostgreSQL 17 or older needs `pg_upgrade` before an 18 image can use it.
    pub struct PostgresDataPath => "postgres-data-path", Error;
}

impl PostgresDataPath {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let image = support::image(service);
            let pgdata = service.env.get("PGDATA").map(|v| v.text.as_str());
            if !postgres::refuses_pre_18_path(&image, pgdata) {
                continue;
            }
            let targets = service
                .data
                .iter()
                .map(|d| d.container_path.as_str())
                .chain(service.mounts.iter().map(|m| m.target.as_str()));
            for target in targets {
                if !postgres::is_pre_18_data_path(target) {
                    continue;
                }
                let span = support::locate(stack, service, |l| l.contains(PRE_18_DATA_PATH));
                out.push(
                    Self::diagnostic(format!(
                        "`{}` runs `{}` with its data mounted at {PRE_18_DATA_PATH}, the pre-18 path",
                        service.name, service.image
                    ))
                    .at(span.as_ref(), "PostgreSQL 18+ refuses to start with this mount")
                    .note("from 18 the image stores data in /var/lib/postgresql/<major>/docker (docker-library/postgres#1259, 002 §3.1)")
                    .help("mount `/var/lib/postgresql` instead; data from PostgreSQL 17 or older needs `pg_upgrade` first"),
                );
            }
        }
    }
}
