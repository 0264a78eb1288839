use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::rules::support;
use crate::stack::Stack;
use crate::stack::model::FileSource;

declare_rule! {
    /// ## What it does
    /// Checks PostgreSQL datasources provisioned to Grafana by the stack file: files
    /// written with `content` and mounted under `/etc/grafana/provisioning/datasources/`,
    /// and a `datasources` list in Grafana's `config` table. The user must be
    /// `user` at the datasource's root, the password `secureJsonData.password`; a
    /// `user` in `jsonData` or `secureJsonData`, or a password in `jsonData`, is
    /// refused.
    ///
    /// ## Why is this bad?
    /// Grafana 12's PostgreSQL plugin reads the user from the root only (Grafana
    /// docs, "Configure the PostgreSQL data source", *Provision the data source*:
    /// `user:` beside `url:`, `password` under `secureJsonData`). Elsewhere it is
    /// ignored: every panel fails with "pq: no PostgreSQL user name specified in
    /// startup packet" and the health check shows `config_user_length: 0` (seed 002
    /// §8.5). A password in `jsonData` is stored unencrypted and shown to every
    /// viewer of the datasource settings.
    ///
    /// ## Example
    /// ```toml
    /// [services.grafana.files."pg.yaml"]
    /// mount = "/etc/grafana/provisioning/datasources/pg.yaml"
    /// content = """
    /// datasources:
    ///   - name: app
    ///     type: postgres
    ///     jsonData: { database: app, user: app }
    /// """
    /// ```
    ///
    /// ## Fix
    /// Move `user` to the datasource's root and the password to
    /// `secureJsonData.password` (as `$VAR` from the environment). vpai's own
    /// `grafana-datasources` generator already writes the n8n datasource this way.
    pub struct GrafanaDatasourceUser => "grafana-datasource-user", Error;
}

const PROVISIONING: &str = "/etc/grafana/provisioning/datasources/";

/// What a problem is about, to find its line in `vpai.toml`.
#[derive(Clone, Copy, PartialEq)]
enum About {
    User,
    Password,
    Datasource,
}

/// Problems of each PostgreSQL datasource in a provisioning document.
fn problems(doc: &Value) -> Vec<(String, String, About)> {
    let mut out = Vec::new();
    for ds in doc
        .get("datasources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = ds.get("type").and_then(Value::as_str).unwrap_or_default();
        if kind != "postgres" && kind != "grafana-postgresql-datasource" {
            continue;
        }
        let name = ds
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        for section in ["jsonData", "secureJsonData"] {
            if ds.get(section).and_then(|s| s.get("user")).is_some() {
                out.push((
                    name.clone(),
                    format!("`user` is in `{section}`, where Grafana ignores it"),
                    About::User,
                ));
            }
        }
        if ds.get("jsonData").and_then(|s| s.get("password")).is_some() {
            out.push((
                name.clone(),
                "`password` is in `jsonData`, stored in clear and shown in the UI".to_string(),
                About::Password,
            ));
        }
        if ds.get("user").is_none() && !out.iter().any(|(n, _, _)| *n == name) {
            out.push((
                name.clone(),
                "no `user` at the datasource's root".to_string(),
                About::Datasource,
            ));
        }
    }
    out
}

impl GrafanaDatasourceUser {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let mut docs: Vec<(String, Value)> = Vec::new();
            for f in service.files.values() {
                if let FileSource::Content(c) = &f.source
                    && f.mount.starts_with(PROVISIONING)
                    && let Ok(doc) = yaml_serde::from_str::<Value>(c)
                {
                    docs.push((format!("file `{}`", f.name), doc));
                }
            }
            if support::image(service).is(&["grafana/grafana", "grafana/grafana-oss"])
                && let Some(config) = &service.config
                && config.get("datasources").is_some()
            {
                docs.push(("`config.datasources`".to_string(), config.clone()));
            }
            for (place, doc) in docs {
                for (name, problem, about) in problems(&doc) {
                    let key = match about {
                        About::User => "user",
                        About::Password => "password",
                        About::Datasource => "name",
                    };
                    let span = support::find(stack, service, |l| {
                        let t = l.trim_start().trim_start_matches("- ");
                        t.starts_with(&format!("{key}:")) || support::has_key(l, key)
                    })
                    .or_else(|| support::locate(stack, service, |l| l.contains("datasources")));
                    out.push(
                        Self::diagnostic(format!(
                            "`{}`: PostgreSQL datasource `{name}` in {place}: {problem}",
                            service.name
                        ))
                        .at(span.as_ref(), "\"pq: no PostgreSQL user name specified in startup packet\"")
                        .note("Grafana's PostgreSQL datasource takes `user` at the root and only `password` in `secureJsonData` (002 §8.5)")
                        .help("write `user: NAME` beside `url:`, and `secureJsonData: { password: $VAR }`"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn root_user_is_the_only_right_place() {
        let good = serde_json::json!({ "datasources": [{ "name": "a", "type": "postgres", "user": "u",
            "jsonData": { "database": "a" }, "secureJsonData": { "password": "$P" } }] });
        assert!(super::problems(&good).is_empty());
        let bad = serde_json::json!({ "datasources": [{ "name": "a", "type": "postgres",
            "jsonData": { "database": "a", "user": "u" } }] });
        assert_eq!(super::problems(&bad).len(), 1);
    }
}
