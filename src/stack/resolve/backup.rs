//! The backup plan: the repository, each service's job (hook, paths, time,
//! retention) and the times they are parsed from.

use super::*;

impl Resolver {
    /// A service's backup hook: each field from the last layer that sets it, the
    /// hook kind's defaults (001 §5.4) for the rest.
    pub(super) fn service_backup(
        &mut self,
        name: &str,
        layers: &Layers,
        data: &[DataDir],
        header: &Span,
    ) -> Option<ServiceBackup> {
        let hook = layers.value(|s| s.backup.as_ref()?.hook.as_ref()).copied();
        let at = layers.last(|s| s.backup.as_ref()?.at.as_ref());
        let retention = layers.last(|s| s.backup.as_ref()?.retention.as_ref());
        let paths = layers.value(|s| s.backup.as_ref()?.paths.as_ref());
        let Some(hook) = hook else {
            if at.is_some() || retention.is_some() || paths.is_some() {
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!("service `{name}` sets backup options but has no backup hook"),
                    )
                    .at(Some(header), "in this service")
                    .help("add `hook = \"files\"` (its data directories) or the hook that fits: pg_dump, redis_rdb, qdrant_snapshot, n8n_export"),
                );
            }
            return None;
        };
        let at = match at {
            None => BackupTime::default_for(hook),
            Some((src, text)) => self.backup_time(src, text)?,
        };
        let retention = match retention {
            None => Retention::default_for(hook),
            Some((src, raw)) => self.retention(src, raw)?,
        };
        let paths_given = paths.is_some();
        let paths = match (hook, paths) {
            (HookKind::Files, None) => data.iter().map(|d| format!("data/{}", d.dir)).collect(),
            (HookKind::Files, Some(paths)) => {
                let mut resolved = Vec::new();
                for path in paths {
                    match data.iter().find(|d| &d.container_path == path) {
                        Some(d) => resolved.push(format!("data/{}", d.dir)),
                        None => self.error(
                            Diagnostic::error(
                                "unknown-reference",
                                format!("service `{name}`: backup path `{path}` is not one of its data directories"),
                            )
                            .at(Some(header), "in this service")
                            .maybe_help(
                                suggest::hint(path, data.iter().map(|d| d.container_path.as_str()))
                                    .or_else(|| Some("a `files` hook backs up the service's `data` directories".to_string())),
                            ),
                        ),
                    }
                }
                resolved
            }
            (_, Some(_)) => {
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!(
                            "service `{name}`: backup `paths` applies to the `files` hook only"
                        ),
                    )
                    .at(Some(header), "in this service")
                    .help("remove `paths`: the hook decides what it stages"),
                );
                Vec::new()
            }
            (_, None) => Vec::new(),
        };
        if hook == HookKind::Files && data.is_empty() && !paths_given {
            self.error(
                Diagnostic::error(
                    "invalid-value",
                    format!("service `{name}`: a `files` backup hook needs data directories"),
                )
                .at(Some(header), "in this service")
                .help("give the service `data` directories, or remove its backup hook"),
            );
        }
        Some(ServiceBackup {
            hook,
            paths,
            at,
            retention,
        })
    }

    pub(super) fn backup_time(
        &mut self,
        src: SourceId,
        text: &Spanned<String>,
    ) -> Option<BackupTime> {
        BackupTime::parse(text.get_ref())
            .map_err(|e| {
                let span = self.span(src, text);
                self.error(
                    Diagnostic::error("invalid-value", e.to_string())
                        .at(Some(&span), "backup time"),
                );
            })
            .ok()
    }

    /// A retention table replaces the default whole; one that keeps nothing would
    /// have restic refuse to forget, so the repository would only ever grow.
    pub(super) fn retention(
        &mut self,
        src: SourceId,
        raw: &Spanned<RawRetention>,
    ) -> Option<Retention> {
        let r = raw.get_ref();
        let retention = Retention {
            daily: r.daily.unwrap_or(0),
            weekly: r.weekly.unwrap_or(0),
            monthly: r.monthly.unwrap_or(0),
            yearly: r.yearly.unwrap_or(0),
        };
        if retention.keeps_nothing() {
            let span = self.span(src, raw);
            self.error(
                Diagnostic::error("invalid-value", "a retention policy that keeps no snapshot")
                    .at(Some(&span), "every keep is zero")
                    .help("keep at least one period, e.g. `retention = { daily = 7, weekly = 4 }`; to stop a job, set `enabled = false` in `[backup.jobs.NAME]`"),
            );
            return None;
        }
        Some(retention)
    }

    /// `[backup]`: the repository, a job per service hook and per host's `configs`,
    /// then the operator's overrides by job name.
    pub(super) fn backup(&mut self, raw: &RawBackup, stack: &Stack) -> Option<Backup> {
        let repository = match Repository::parse(raw.repository.get_ref()) {
            Ok(r) => Some(r),
            Err((message, help)) => {
                let span = self.stack_span(&raw.repository);
                self.error(
                    Diagnostic::error("invalid-value", message)
                        .at(Some(&span), "restic would not accept this repository")
                        .help(help),
                );
                None
            }
        };
        let mut jobs: Vec<BackupJob> = Vec::new();
        for service in stack.services.values() {
            let Some(b) = &service.backup else { continue };
            let hook = match b.hook {
                HookKind::PgDump => {
                    let mut databases: Vec<String> = stack
                        .databases
                        .iter()
                        .filter(|d| d.server == service.name)
                        .map(|d| d.name.clone())
                        .collect();
                    databases.sort();
                    Hook::PgDump { databases }
                }
                HookKind::RedisRdb => Hook::RedisRdb,
                HookKind::QdrantSnapshot => Hook::QdrantSnapshot {
                    port: service.port.unwrap_or(6333),
                },
                HookKind::N8nExport => Hook::N8nExport,
                HookKind::Files => Hook::Files {
                    paths: b.paths.clone(),
                },
            };
            jobs.push(BackupJob {
                name: service.name.clone(),
                host: service.host.clone(),
                service: Some(service.name.clone()),
                hook,
                at: b.at,
                retention: b.retention,
            });
        }
        for host in stack.hosts.keys() {
            if stack.services.values().any(|s| &s.host == host) {
                jobs.push(BackupJob {
                    name: CONFIGS_JOB.to_string(),
                    host: host.clone(),
                    service: None,
                    hook: Hook::Files {
                        paths: vec!["configs".to_string()],
                    },
                    at: BackupTime::default_for(HookKind::Files),
                    retention: Retention::default_for(HookKind::Files),
                });
            }
        }
        for (name, over) in &raw.jobs {
            if !jobs.iter().any(|j| &j.name == name.get_ref()) {
                let span = self.stack_span(name);
                let hint = suggest::hint(name.get_ref(), jobs.iter().map(|j| j.name.as_str()));
                self.error(
                    Diagnostic::error(
                        "unknown-reference",
                        format!("`[backup.jobs.{}]`: no such backup job", name.get_ref()),
                    )
                    .at(Some(&span), "not a job of this stack")
                    .maybe_help(hint.or_else(|| {
                        Some("jobs are the services with a backup hook, and `configs`".to_string())
                    })),
                );
                continue;
            }
            let at = match &over.at {
                Some(text) => self.backup_time(self.stack_src, text),
                None => None,
            };
            let retention = match &over.retention {
                Some(r) => self.retention(self.stack_src, r),
                None => None,
            };
            for job in jobs.iter_mut().filter(|j| &j.name == name.get_ref()) {
                job.at = at.unwrap_or(job.at);
                job.retention = retention.unwrap_or(job.retention);
            }
            if over.enabled == Some(false) {
                jobs.retain(|j| &j.name != name.get_ref());
            }
        }
        jobs.sort_by(|a, b| {
            (&a.host, a.at.hour, a.at.minute, &a.name).cmp(&(
                &b.host,
                b.at.hour,
                b.at.minute,
                &b.name,
            ))
        });
        Some(Backup {
            repository: repository?,
            schedule: raw.schedule,
            heartbeat: raw.heartbeat,
            jobs,
        })
    }
}
