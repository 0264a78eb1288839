//! The secrets the enabled services need, declared by the catalog and the stack,
//! with the databases and Redis users that make them.

use super::*;

impl Resolver {
    pub(super) fn secrets(&mut self, raw: &RawStack, stack: &mut Stack) {
        let mut secrets: IndexMap<String, SecretSpec> = IndexMap::new();
        let spec = |name: &str, s: &RawSecret, owner: &str| SecretSpec {
            name: name.to_string(),
            description: s.description.clone().unwrap_or_default(),
            provided: s.provided,
            length: s.length.unwrap_or(32),
            charset: s.charset.unwrap_or(Charset::Alnum),
            owner: owner.to_string(),
            bootstrap_only: false,
            shared: false,
        };
        for service in stack.services.values() {
            let entry = service.catalog.as_deref().and_then(catalog::get);
            for (name, s) in entry
                .and_then(|e| e.service.secrets.as_ref())
                .into_iter()
                .flatten()
            {
                secrets.insert(name.clone(), spec(name, s, &service.name));
            }
        }
        // A stack table for a secret the catalog declares refines it (`shared`, a
        // length) without losing what the catalog says of it.
        for (name, s) in &raw.secrets {
            let declared = spec(name.get_ref(), s, "stack");
            let merged = match secrets.get(name.get_ref()) {
                Some(catalog) => SecretSpec {
                    description: s
                        .description
                        .clone()
                        .unwrap_or_else(|| catalog.description.clone()),
                    provided: s.provided || catalog.provided,
                    length: s.length.unwrap_or(catalog.length),
                    charset: s.charset.unwrap_or(catalog.charset),
                    owner: catalog.owner.clone(),
                    ..declared
                },
                None => declared,
            };
            secrets.insert(name.get_ref().clone(), merged);
        }
        for (_, s) in raw
            .services
            .iter()
            .chain(raw.env.values().flat_map(|o| o.get_ref().services.iter()))
        {
            for (name, sec) in s.get_ref().secrets.iter().flatten() {
                secrets.insert(name.clone(), spec(name, sec, "stack"));
            }
        }
        for db in &stack.databases {
            secrets.insert(
                db.password_secret.clone(),
                SecretSpec {
                    name: db.password_secret.clone(),
                    description: format!(
                        "password of PostgreSQL role `{}` (database `{}`)",
                        db.user, db.name
                    ),
                    provided: stack
                        .external_databases
                        .get(&db.server)
                        .is_some_and(|e| !e.provision),
                    length: 32,
                    charset: Charset::Alnum,
                    owner: "database".to_string(),
                    bootstrap_only: false,
                    shared: false,
                },
            );
        }
        if let Some(backup) = &stack.backup {
            for name in backup.secret_names() {
                // `[backup] repository` is one for every environment (snapshots are
                // tagged with theirs), so whatever opens it is shared; the heartbeat
                // is each environment's own monitor.
                let shared = name != HEARTBEAT_SECRET;
                let (description, provided, length) = match name {
                    PASSWORD_SECRET => (
                        "restic repository password: without it no backup can be read, so keep a copy outside this stack",
                        false,
                        48,
                    ),
                    HEARTBEAT_SECRET => (
                        "Uptime Kuma push URL for the backup heartbeat (it holds the monitor's token)",
                        true,
                        32,
                    ),
                    S3_ACCESS_KEY_ID_SECRET => {
                        ("S3 access key id of the backup repository", true, 32)
                    }
                    _ => ("S3 secret access key of the backup repository", true, 32),
                };
                secrets.insert(
                    name.to_string(),
                    SecretSpec {
                        name: name.to_string(),
                        description: description.to_string(),
                        provided,
                        length,
                        charset: Charset::Alnum,
                        owner: "backup".to_string(),
                        bootstrap_only: false,
                        shared,
                    },
                );
            }
        }
        for service in stack.services.values() {
            if let Some(r) = &service.redis_user {
                secrets.insert(
                    r.password_secret.clone(),
                    SecretSpec {
                        name: r.password_secret.clone(),
                        description: format!("password of Redis ACL user `{}`", r.user),
                        provided: false,
                        length: 32,
                        charset: Charset::Alnum,
                        owner: "redis".to_string(),
                        bootstrap_only: false,
                        shared: false,
                    },
                );
            }
        }
        if stack
            .vpn
            .as_ref()
            .is_some_and(|v| v.headscale_url.is_some())
        {
            secrets.insert(
                HEADSCALE_AUTHKEY.to_string(),
                SecretSpec {
                    name: HEADSCALE_AUTHKEY.to_string(),
                    description: "Headscale pre-auth key a new host joins the VPN with \
                        (`vpai host bootstrap`); single use and expiring (002 §0.7): \
                        `headscale preauthkeys create --user USER --expiration 24h`"
                        .to_string(),
                    provided: true,
                    length: 32,
                    charset: Charset::Alnum,
                    owner: "vpn".to_string(),
                    bootstrap_only: true,
                    shared: false,
                },
            );
        }
        // `shared` holds whoever makes the secret: a database password is shared
        // only when the stack says so of that password's name.
        let shared = raw
            .secrets
            .iter()
            .map(|(name, s)| (name.get_ref(), s))
            .chain(
                raw.services
                    .iter()
                    .chain(raw.env.values().flat_map(|o| o.get_ref().services.iter()))
                    .flat_map(|(_, s)| s.get_ref().secrets.iter().flatten()),
            )
            .filter(|(_, s)| s.shared)
            .map(|(name, _)| name.clone());
        for name in shared.collect::<Vec<_>>() {
            if let Some(spec) = secrets.get_mut(&name) {
                spec.shared = true;
            }
        }
        secrets.sort_keys();
        stack.secrets = secrets;
    }
}
