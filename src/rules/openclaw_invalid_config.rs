use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::stack::kinds::Generator;
use crate::stack::model::Service;

declare_rule! {
    /// ## What it does
    /// Checks the `config` table of a service whose `openclaw.json` vpai generates
    /// (the `openclaw-json` generator deep-merges `config` into it) against what
    /// OpenClaw 2026.2.22 (the catalog's pin) accepts. OpenClaw validates its config
    /// with strict Zod schemas: an unknown key or a wrong type stops the gateway at
    /// start, in a crash loop (openclaw/openclaw `src/config/zod-schema.ts`,
    /// `OpenClawSchema ... .strict()`). Refused:
    ///
    /// - `heartbeat` at the root: not a root key; heartbeats live under
    ///   `agents.defaults.heartbeat` in the versions that have them (002 §11.3,
    ///   §11.19: crash loop on 2026.2.22);
    /// - `cron` that is not an object: the root `cron` is `{ enabled, store, ... }`;
    ///   an array fails with "expected object, received array" (002 §11.3);
    /// - `tools.web.fetch` keys outside `enabled`, `maxChars`, `maxCharsCap`,
    ///   `timeoutSeconds`, `cacheTtlMinutes`, `maxRedirects`, `userAgent`,
    ///   `readability`, `firecrawl`, and a `readability` that is not a boolean
    ///   (`ToolsWebFetchSchema`, strict; 002 §11.4). 002 §11.4 reports
    ///   `readability` itself as unrecognized; upstream's schema declares
    ///   `readability: z.boolean()` in versions before and after 2026.2.22, so vpai
    ///   refuses a value that is not a boolean rather than the key;
    /// - a sandbox `workspaceAccess` other than `"none"`, `"ro"`, `"rw"`, or a
    ///   sandbox `mode` other than `"off"`, `"non-main"`, `"all"` (`AgentSandboxSchema`;
    ///   `"write"`, `"read"`, `"readwrite"` give "Invalid input", 002 §11.16);
    /// - `channels.telegram.token`: the key is `botToken` (002 §11.3);
    /// - a `${VAR}` reference to a variable the container does not have: OpenClaw
    ///   substitutes `${UPPER_CASE}` at load and throws `MissingEnvVarError` when it
    ///   is unset or empty (`src/config/env-substitution.ts`; 002 §11.17);
    /// - a channel (`telegram`, `discord`, `whatsapp`, `slack`, `signal`) configured
    ///   without `plugins.entries.<channel>.enabled = true`: since 2026.2.22 channel
    ///   plugins are disabled by default and the bot stays silent (002 §11.10).
    ///
    /// ## Why is this bad?
    /// The gateway never starts (or, for a disabled plugin, starts and ignores every
    /// message), and the error is only in the container's first log lines.
    ///
    /// ## Example
    /// ```toml
    /// [services.openclaw.config]
    /// heartbeat = { every = "30m" }
    /// cron = [{ schedule = "0 6 * * *" }]
    /// agents.defaults.sandbox.workspaceAccess = "write"
    /// ```
    ///
    /// ## Fix
    /// Remove the key, or write it in the form the message gives. Schedules belong
    /// in n8n (002 §11.19).
    pub struct OpenclawInvalidConfig => "openclaw-invalid-config", Error;
}

const FETCH_KEYS: &[&str] = &[
    "enabled",
    "maxChars",
    "maxCharsCap",
    "timeoutSeconds",
    "cacheTtlMinutes",
    "maxRedirects",
    "userAgent",
    "readability",
    "firecrawl",
];
const CHANNEL_PLUGINS: &[&str] = &["telegram", "discord", "whatsapp", "slack", "signal"];
/// Variables the image itself defines (Node.js base image, Docker).
const IMAGE_ENV: &[&str] = &[
    "HOME",
    "PATH",
    "HOSTNAME",
    "NODE_VERSION",
    "YARN_VERSION",
    "PWD",
];

struct Finding {
    path: Vec<String>,
    message: String,
    help: String,
    note: &'static str,
}

const STRICT: &str = "openclaw.json is validated with strict schemas at start (openclaw/openclaw src/config/zod-schema.ts): the gateway crash-loops on it";

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

/// `${NAME}` references (not `$${...}` escapes), with the config path they are at.
fn env_refs(v: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match v {
        Value::String(s) => {
            let bytes = s.as_bytes();
            let mut i = 0;
            while let Some(off) = s[i..].find("${") {
                let at = i + off;
                let escaped = at > 0 && bytes[at - 1] == b'$';
                let Some(end) = s[at + 2..].find('}') else {
                    break;
                };
                let name = &s[at + 2..at + 2 + end];
                let valid = name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if valid && !escaped {
                    out.push((path.clone(), name.to_string()));
                }
                i = at + 2 + end;
            }
        }
        Value::Array(a) => {
            for (n, item) in a.iter().enumerate() {
                path.push(n.to_string());
                env_refs(item, path, out);
                path.pop();
            }
        }
        Value::Object(o) => {
            for (k, item) in o {
                path.push(k.clone());
                env_refs(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn findings(service: &Service, config: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    if config.get("heartbeat").is_some() {
        out.push(Finding {
            note: STRICT,
            path: p(&["heartbeat"]),
            message: "`heartbeat` is not a key of openclaw.json's root: the gateway refuses the file".into(),
            help: "remove it: on 2026.2.22 it crash-loops the gateway (002 §11.19); versions with heartbeats configure them per agent, under `agents.defaults.heartbeat`".into(),
        });
    }
    if let Some(cron) = config.get("cron")
        && !cron.is_object()
    {
        out.push(Finding {
            note: STRICT,
            path: p(&["cron"]),
            message: format!("`cron` must be an object, not {}: \"expected object, received {}\"", kind(cron), kind(cron)),
            help: "remove it and schedule jobs in n8n (002 §11.19); the root `cron` only takes settings such as `{ enabled = true }`".into(),
        });
    }
    if let Some(fetch) = at(config, &["tools", "web", "fetch"]).and_then(Value::as_object) {
        for (key, value) in fetch {
            if !FETCH_KEYS.contains(&key.as_str()) {
                out.push(Finding {
            note: STRICT,
                    path: p(&["tools", "web", "fetch", key]),
                    message: format!("`tools.web.fetch.{key}` is not a key OpenClaw accepts: the gateway refuses the file"),
                    help: format!("valid keys: {}", FETCH_KEYS.join(", ")),
                });
            } else if key == "readability" && !value.is_boolean() {
                out.push(Finding {
                    note: STRICT,
                    path: p(&["tools", "web", "fetch", key]),
                    message: format!(
                        "`tools.web.fetch.readability` must be a boolean, not {}",
                        kind(value)
                    ),
                    help: "write `readability = true` or `false`, or leave it out (002 §11.4)"
                        .into(),
                });
            }
        }
    }
    let mut sandboxes: Vec<(Vec<String>, &Value)> = Vec::new();
    if let Some(s) = at(config, &["agents", "defaults", "sandbox"]) {
        sandboxes.push((p(&["agents", "defaults", "sandbox"]), s));
    }
    if let Some(list) = at(config, &["agents", "list"]).and_then(Value::as_array) {
        for (n, agent) in list.iter().enumerate() {
            if let Some(s) = agent.get("sandbox") {
                sandboxes.push((
                    vec![
                        "agents".into(),
                        "list".into(),
                        n.to_string(),
                        "sandbox".into(),
                    ],
                    s,
                ));
            }
        }
    }
    for (path, sandbox) in sandboxes {
        for (key, valid) in [
            ("workspaceAccess", &["none", "ro", "rw"][..]),
            ("mode", &["off", "non-main", "all"][..]),
        ] {
            if let Some(v) = sandbox.get(key)
                && !v.as_str().is_some_and(|s| valid.contains(&s))
            {
                let mut path = path.clone();
                path.push(key.into());
                out.push(Finding {
                    note: STRICT,
                    message: format!("`{}` = {v} is not valid: \"Invalid input\"", path.join(".")),
                    path,
                    help: format!(
                        "use one of {}",
                        valid
                            .iter()
                            .map(|s| format!("\"{s}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
    }
    if at(config, &["channels", "telegram", "token"]).is_some() {
        out.push(Finding {
            note: STRICT,
            path: p(&["channels", "telegram", "token"]),
            message: "`channels.telegram.token` is not a key: the Telegram bot token is `botToken`".into(),
            help: "rename it to `botToken` (vpai already sets `botToken = \"${TELEGRAM_BOT_TOKEN}\"` when the service has TELEGRAM_BOT_TOKEN)".into(),
        });
    }
    let mut refs = Vec::new();
    env_refs(config, &mut Vec::new(), &mut refs);
    for (path, name) in refs {
        let set = service.env.get(&name).is_some_and(|t| !t.text.is_empty());
        if set || IMAGE_ENV.contains(&name.as_str()) {
            continue;
        }
        out.push(Finding {
            note: "OpenClaw substitutes ${VAR} at load and throws MissingEnvVarError when it is unset or empty (src/config/env-substitution.ts)",
            message: format!("`{}` references `${{{name}}}`, which the container's environment does not set: MissingEnvVarError at start", path.join(".")),
            path,
            help: format!("add `{name}` to the service's `env` (e.g. `{name} = \"{{{{ secret.{} }}}}\"`)", name.to_ascii_lowercase()),
        });
    }
    let user_channels: Vec<String> = config
        .get("channels")
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let telegram_generated = service.env.contains_key("TELEGRAM_BOT_TOKEN");
    for channel in CHANNEL_PLUGINS {
        let configured = user_channels.iter().any(|c| c == channel)
            || (*channel == "telegram" && telegram_generated);
        if !configured {
            continue;
        }
        let enabled = at(config, &["plugins", "entries", channel, "enabled"])
            .map(|v| v.as_bool() == Some(true))
            .unwrap_or(*channel == "telegram" && telegram_generated);
        if !enabled {
            out.push(Finding {
                note: "since 2026.2.22 channel plugins (telegram, discord, whatsapp, slack...) are disabled by default (002 §11.10)",
                path: vec!["plugins".into(), "entries".into(), channel.to_string(), "enabled".into()],
                message: format!("channel `{channel}` is configured but its plugin is not enabled: the bot stays silent"),
                help: format!("set `plugins.entries.{channel}.enabled = true` (channel plugins are off by default since 2026.2.22, 002 §11.10)"),
            });
        }
    }
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl OpenclawInvalidConfig {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            if !service.generates(Generator::OpenclawJson) {
                continue;
            }
            let Some(config) = &service.config else {
                continue;
            };
            for f in findings(service, config) {
                let path: Vec<&str> = f.path.iter().map(String::as_str).collect();
                let span = support::locate_config(stack, service, &path);
                out.push(
                    Self::diagnostic(format!("`{}`: {}", service.name, f.message))
                        .at(span.as_ref(), format!("`config.{}`", f.path.join(".")))
                        .note(f.note)
                        .help(f.help),
                );
            }
        }
    }
}
