//! The environment the real restic runs with: the repository and the secrets that
//! open it, by restic's own variable names. Here, beside the secret values, so that
//! rendering the host's backup env file and running restic read one mapping.

use std::collections::BTreeMap;

use crate::secrets::{SecretValues, SecretsError};
use crate::stack::backup::{
    PASSWORD_SECRET, Repository, RepositoryKind, S3_ACCESS_KEY_ID_SECRET,
    S3_SECRET_ACCESS_KEY_SECRET,
};

/// The environment restic runs with: the repository and its credentials.
/// `Debug` shows names only.
#[derive(Clone, PartialEq, Eq)]
pub struct ResticEnv {
    vars: BTreeMap<&'static str, String>,
}

impl std::fmt::Debug for ResticEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

/// Environment variable -> the secret it holds.
const SECRET_VARS: &[(&str, &str)] = &[
    ("RESTIC_PASSWORD", PASSWORD_SECRET),
    ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY_ID_SECRET),
    ("AWS_SECRET_ACCESS_KEY", S3_SECRET_ACCESS_KEY_SECRET),
];

impl ResticEnv {
    /// The variables for `repository`, from the stack's secrets. The error names
    /// the secret that has no value.
    pub fn new(repository: &Repository, secrets: &SecretValues) -> Result<ResticEnv, SecretsError> {
        let mut vars = BTreeMap::from([("RESTIC_REPOSITORY", repository.url.clone())]);
        let needed: &[(&'static str, &str)] = match repository.kind {
            RepositoryKind::S3 => SECRET_VARS,
            _ => &SECRET_VARS[..1],
        };
        for (var, secret) in needed {
            let value = secrets.get(secret).ok_or_else(|| SecretsError::NoValue {
                secret: secret.to_string(),
            })?;
            vars.insert(var, value.to_string());
        }
        Ok(ResticEnv { vars })
    }

    /// The variables as the host's timer passes them (`EnvironmentFile=` of the
    /// bundle's backup env file): `RESTIC_REPOSITORY` and the secrets it needs.
    pub fn from_process(repository: &Repository) -> Result<ResticEnv, SecretsError> {
        let mut vars = BTreeMap::from([("RESTIC_REPOSITORY", repository.url.clone())]);
        let needed: &[(&'static str, &str)] = match repository.kind {
            RepositoryKind::S3 => SECRET_VARS,
            _ => &SECRET_VARS[..1],
        };
        for (var, _) in needed {
            let value = std::env::var(var).map_err(|_| SecretsError::NotInEnvironment { var })?;
            vars.insert(var, value);
        }
        Ok(ResticEnv { vars })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.vars.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// `text` with every secret value replaced by `<secret:NAME>`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (var, secret) in SECRET_VARS {
            if let Some(value) = self.vars.get(var).filter(|v| !v.is_empty()) {
                out = out.replace(value.as_str(), &format!("<secret:{secret}>"));
            }
        }
        out
    }
}
