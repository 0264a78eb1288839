use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::stack::model::FileSource;

declare_rule! {
    /// ## What it does
    /// Flags `rename-command` given to Redis, on its command line
    /// (`--rename-command`) or in a `redis.conf` written as a file `content`.
    ///
    /// ## Why is this bad?
    /// Redis's own `redis.conf` marks "Command renaming (DEPRECATED)": "avoid using
    /// this option if possible. Instead use ACLs to remove commands from the default
    /// user" (redis/redis, redis.conf). With Redis 8.0, `rename-command FLUSHDB ""`
    /// crashed the server at start (seed 002 §4.1). vpai's generated `redis.conf`
    /// already gives every service its own ACL user without `@dangerous` commands.
    ///
    /// ## Example
    /// ```toml
    /// [services.redis]
    /// command = ["redis-server", "/usr/local/etc/redis/redis.conf", "--rename-command", "FLUSHDB", ""]
    /// ```
    ///
    /// ## Fix
    /// Drop `rename-command`; restrict commands with ACL rules instead
    /// (`redis_user = { user = "app", rules = "~* &* +@all -@dangerous" }` on the
    /// service that connects).
    pub struct RedisRenameCommand => "redis-rename-command", Error;
}

impl RedisRenameCommand {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            if !support::image(service).is(&[
                "redis",
                "redis/redis-stack-server",
                "redis/redis-stack",
            ]) {
                continue;
            }
            let in_args = service
                .command
                .iter()
                .chain(service.entrypoint.iter())
                .flatten()
                .any(|a| a.trim_start_matches('-') == "rename-command");
            let in_file = service.files.values().find(|f| {
                matches!(&f.source, FileSource::Content(c)
                    if c.lines().any(|l| l.trim_start().starts_with("rename-command")))
            });
            if !in_args && in_file.is_none() {
                continue;
            }
            let span = support::locate(stack, service, |l| l.contains("rename-command"));
            let place = match in_file {
                Some(f) if !in_args => format!("its file `{}`", f.name),
                _ => "its command line".to_string(),
            };
            out.push(
                Self::diagnostic(format!(
                    "`{}` passes `rename-command` to Redis in {place}",
                    service.name
                ))
                .at(span.as_ref(), "deprecated; crashed Redis 8.0 at start (002 §4.1)")
                .note("redis.conf: \"Command renaming (DEPRECATED) ... Instead use ACLs to remove commands from the default user\"")
                .help("remove it and restrict commands with ACL users (`redis_user = { user = \"...\", rules = \"~* &* +@all -@dangerous\" }`)"),
            );
        }
    }
}
