use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::stack::kinds::Generator;

declare_rule! {
    /// ## What it does
    /// Checks the `config` table of a service whose LiteLLM `config.yaml` vpai
    /// generates (the `litellm` generator deep-merges `config` into it):
    ///
    /// - `fallbacks`, `context_window_fallbacks` and `content_policy_fallbacks` (in
    ///   `litellm_settings` or `router_settings`) must be a list of one-key tables,
    ///   `[{ "model" = ["fallback", ...] }]`, the form LiteLLM documents
    ///   (docs.litellm.ai/docs/proxy/reliability, "fallbacks:
    ///   [{"gpt-3.5-turbo": ["gpt-4"]}]"); `- model: ... fallback: [...]` is not it
    ///   (seed 002 §10.1);
    /// - secrets (`master_key`, `salt_key`, `database_url`, `api_key`, `password`)
    ///   must be `os.environ/NAME` references, never values (002 §10.1): config.yaml
    ///   is a plain 0644 file, vpai writes secrets only to 0600 env files;
    /// - an `openrouter/` model in a `model_list` override needs
    ///   `litellm_params.max_tokens`: OpenRouter reserves credit for the model's full
    ///   default output (16000 tokens for some) and answers 402 "not enough
    ///   credits" (002 §10.5). Models declared with `models = [...]` get 4096 from
    ///   the generator.
    ///
    /// ## Why is this bad?
    /// Malformed fallbacks make the proxy fail at start or never fall back; a secret
    /// in config.yaml leaks through the bundle; a missing `max_tokens` turns a
    /// cheap call into a 402.
    ///
    /// ## Example
    /// ```toml
    /// [services.litellm.config.router_settings]
    /// fallbacks = [{ model = "claude-sonnet", fallback = ["gpt-4o"] }]
    /// ```
    ///
    /// ## Fix
    /// Prefer the service's own fields: `fallbacks = { claude-sonnet = ["gpt-4o"] }`
    /// and `models = [...]`, which vpai renders in the right form; reference secrets
    /// as `"os.environ/NAME"` with `NAME` set in `env`.
    pub struct LitellmInvalidConfig => "litellm-invalid-config", Error;
}

const FALLBACK_KEYS: &[&str] = &[
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
];
const SECRET_KEYS: &[&str] = &[
    "master_key",
    "salt_key",
    "database_url",
    "api_key",
    "password",
];

struct Finding {
    path: Vec<String>,
    message: String,
    help: String,
}

fn fallback_form_ok(v: &Value) -> bool {
    v.as_array().is_some_and(|list| {
        list.iter().all(|item| {
            item.as_object().is_some_and(|o| {
                o.len() == 1
                    && o.values().all(|targets| {
                        targets
                            .as_array()
                            .is_some_and(|t| t.iter().all(Value::is_string))
                    })
            })
        })
    })
}

fn secrets_in_clear(v: &Value, path: &mut Vec<String>, out: &mut Vec<Finding>) {
    match v {
        Value::Object(o) => {
            for (k, item) in o {
                path.push(k.clone());
                if SECRET_KEYS.contains(&k.as_str())
                    && let Value::String(s) = item
                    && !s.starts_with("os.environ/")
                    && !s.is_empty()
                {
                    let help = match k.as_str() {
                        "master_key" => "remove it: the generated config.yaml already reads `os.environ/LITELLM_MASTER_KEY`, from the secret `litellm_master_key`".to_string(),
                        "database_url" => "remove it: the generated config.yaml already reads `os.environ/DATABASE_URL`, built from the database's secret".to_string(),
                        _ => format!(
                            "write `\"os.environ/NAME\"` and set `NAME = \"{{{{ secret.name }}}}\"` in `env` (key `{k}`)"
                        ),
                    };
                    out.push(Finding {
                        path: path.clone(),
                        message: format!(
                            "`{}` holds a value in clear in config.yaml",
                            path.join(".")
                        ),
                        help,
                    });
                }
                secrets_in_clear(item, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (n, item) in a.iter().enumerate() {
                path.push(n.to_string());
                secrets_in_clear(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn findings(config: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for section in ["litellm_settings", "router_settings"] {
        for key in FALLBACK_KEYS {
            if let Some(v) = config.get(section).and_then(|s| s.get(key))
                && !fallback_form_ok(v)
            {
                out.push(Finding {
                    path: vec![section.into(), key.to_string()],
                    message: format!("`{section}.{key}` is not a list of one-key tables `[{{ model = [\"fallback\"] }}]`"),
                    help: "use the service's `fallbacks = { model = [\"fallback\", ...] }`, which vpai renders as LiteLLM expects".into(),
                });
            }
        }
    }
    secrets_in_clear(config, &mut Vec::new(), &mut out);
    if let Some(models) = config.get("model_list").and_then(Value::as_array) {
        for (n, m) in models.iter().enumerate() {
            let params = m.get("litellm_params");
            let is_openrouter = params
                .and_then(|p| p.get("model"))
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("openrouter/"));
            if is_openrouter && params.and_then(|p| p.get("max_tokens")).is_none() {
                out.push(Finding {
                    path: vec!["model_list".into(), n.to_string(), "litellm_params".into(), "max_tokens".into()],
                    message: format!(
                        "OpenRouter model `{}` has no `max_tokens`: OpenRouter reserves credit for the model's full default output",
                        m.get("model_name").and_then(Value::as_str).unwrap_or("?")
                    ),
                    help: "add `max_tokens = 4096` to its `litellm_params`, or declare it in the service's `models`, which defaults it (002 §10.5)".into(),
                });
            }
        }
    }
    out
}

impl LitellmInvalidConfig {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            if !service.generates(Generator::Litellm) {
                continue;
            }
            let Some(config) = &service.config else {
                continue;
            };
            for f in findings(config) {
                let path: Vec<&str> = f.path.iter().map(String::as_str).collect();
                let span = support::locate_config(stack, service, &path);
                out.push(
                    Self::diagnostic(format!("`{}`: {}", service.name, f.message))
                        .at(span.as_ref(), format!("`config.{}`", f.path.join(".")))
                        .note("vpai deep-merges `config` into the generated config.yaml (002 §10.1, §10.5)")
                        .help(f.help),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_forms() {
        assert!(fallback_form_ok(
            &serde_json::json!([{ "a": ["b"] }, { "b": ["a"] }])
        ));
        assert!(!fallback_form_ok(
            &serde_json::json!([{ "model": "a", "fallback": ["b"] }])
        ));
        assert!(!fallback_form_ok(&serde_json::json!({ "a": ["b"] })));
    }
}
