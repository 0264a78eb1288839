use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags a secret written as a literal value in `env` in `vpai.toml`: a
    /// variable named like a secret (`*_PASSWORD`, `*_SECRET`, `*_TOKEN`,
    /// `*_API_KEY`, `*_PRIVATE_KEY`, ...) with a plain value, or a URL with a
    /// password in it (`postgres://user:password@host/db`).
    ///
    /// ## Why is this bad?
    /// `vpai.toml` is meant to be committed; the secret ends up in git history and
    /// in every copy of the repository. It also becomes a second source for a value
    /// that should have one: seed 002 §41.1's NocoDB crash loop came from an app
    /// reading a different password variable than the one its database role was
    /// created with. A reference (`{{ secret.NAME }}`, `{{ db.password }}`) is
    /// encrypted in `secrets.age`, written only to 0600 env files, and shared by
    /// every consumer (002 §10.1: no secrets in clear).
    ///
    /// ## Example
    /// ```toml
    /// [services.api.env]
    /// JWT_SECRET = "s3cr3t-from-the-wiki"
    /// DATABASE_URL = "postgres://api:hunter2@postgresql:5432/api"
    /// ```
    ///
    /// ## Fix
    /// Declare the secret (`[secrets.jwt_secret]`, `vpai secrets set jwt_secret`)
    /// and write `JWT_SECRET = "{{ secret.jwt_secret }}"`; for a database, declare
    /// `databases = [{ name = "api" }]` and use `{{ db.url }}` or `{{ db.password }}`.
    pub struct SecretInEnv => "secret-in-env", Warning;
}

const SECRET_SUFFIXES: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "SECRET_KEY",
    "ACCESS_KEY",
    "ENCRYPTION_KEY",
    "MASTER_KEY",
    "SALT_KEY",
];

/// A URL whose user-info carries a password: `scheme://user:password@host`.
fn url_with_password(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .is_some_and(|(_, password)| !password.is_empty())
}

impl SecretInEnv {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for service in stack.services.values() {
            let Some(stack_file) = service.span.as_ref().map(|s| s.source) else {
                continue;
            };
            for (key, value) in &service.env {
                let in_stack_file = value.span.as_ref().is_some_and(|s| s.source == stack_file);
                if !in_stack_file || !value.is_literal() || value.text.trim().is_empty() {
                    continue;
                }
                let upper = key.to_ascii_uppercase();
                let by_name = SECRET_SUFFIXES.iter().any(|s| upper.ends_with(s));
                let by_url = url_with_password(&value.text);
                if !by_name && !by_url {
                    continue;
                }
                let what = if by_url {
                    "a URL with a password"
                } else {
                    "a secret"
                };
                out.push(
                    Self::diagnostic(format!(
                        "`{}`: `{key}` holds {what} in clear in vpai.toml",
                        service.name
                    ))
                    .at(value.span.as_ref(), "committed with the stack file")
                    .note("secrets belong in secrets.age and reach the container through its 0600 env file (002 §10.1, §41.1)")
                    .help(if by_url {
                        format!("declare the database and write `{key} = \"{{{{ db.url }}}}\"` (or build it from `{{{{ db.password }}}}`)")
                    } else {
                        format!(
                            "declare `[secrets.{name}]`, set it with `vpai secrets set {name}`, and write `{key} = \"{{{{ secret.{name} }}}}\"`",
                            name = key.to_ascii_lowercase()
                        )
                    }),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_with_a_password() {
        assert!(super::url_with_password(
            "postgres://api:hunter2@postgresql:5432/api"
        ));
        assert!(!super::url_with_password("mqtt://emqx:1883"));
        assert!(!super::url_with_password("https://user@example.com/"));
    }
}
