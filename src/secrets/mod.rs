//! Secrets: generated or provided values, stored encrypted in `secrets.age`
//! (and `secrets.ENV.age` for each environment beyond the first).
//!
//! The plaintext is a TOML table of `name = "value"`, encrypted with the `age`
//! crate to X25519 (`age1...`) or SSH recipients. Values live in memory only as
//! long as a command needs them; nothing here prints them. The only ways a value
//! reaches the outside are the rendered env files (mode 0600) and
//! `vpai secrets show --reveal`.

pub mod restic_env;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::RngExt;

use crate::diagnostic::Diagnostic;
use crate::stack::Stack;
use crate::stack::kinds::Charset;
use crate::stack::model::SecretSpec;

pub const SECRETS_FILE: &str = "secrets.age";

/// Decrypted secret values. `Debug` never shows them.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct SecretValues(BTreeMap<String, String>);

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl SecretValues {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn set(&mut self, name: &str, value: String) {
        self.0.insert(name.to_string(), value);
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Fill every declared, generated secret that has no value yet. Returns the
    /// names generated; never touches an existing value.
    pub fn generate_missing(&mut self, specs: &[&SecretSpec]) -> Vec<String> {
        let mut generated = Vec::new();
        for spec in specs {
            if spec.provided || self.0.contains_key(&spec.name) {
                continue;
            }
            self.0
                .insert(spec.name.clone(), generate(spec.length, spec.charset));
            generated.push(spec.name.clone());
        }
        generated
    }

    fn to_toml(&self) -> String {
        let mut out =
            String::from("# vpai secrets — plaintext only in memory; stored encrypted.\n");
        for (k, v) in &self.0 {
            out.push_str(&format!("{k} = {}\n", toml::Value::String(v.clone())));
        }
        out
    }

    fn from_toml(text: &str) -> Result<Self, SecretsError> {
        let table: toml::Table = text.parse().map_err(|_| SecretsError::Corrupt)?;
        let mut values = BTreeMap::new();
        for (k, v) in table {
            match v {
                toml::Value::String(s) => {
                    values.insert(k, s);
                }
                _ => return Err(SecretsError::Corrupt),
            }
        }
        Ok(Self(values))
    }
}

/// A random value from the OS generator.
pub fn generate(length: usize, charset: Charset) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const HEX: &[u8] = b"0123456789abcdef";
    let alphabet = match charset {
        Charset::Alnum => ALNUM,
        Charset::Hex => HEX,
    };
    let mut rng = rand::rng();
    (0..length)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{file} does not exist")]
    Missing { file: String },
    #[error("no identity to decrypt {file}; looked in: {looked}")]
    NoIdentity { file: String, looked: String },
    #[error("cannot read identity file {path}: {reason}")]
    BadIdentity { path: String, reason: String },
    #[error(
        "none of the identities in {looked} can decrypt {file} (it was encrypted to other recipients)"
    )]
    WrongIdentity { file: String, looked: String },
    #[error("{0} is not a valid age file")]
    NotAge(String),
    #[error("the decrypted secrets are not a TOML table of strings")]
    Corrupt,
    #[error("no recipients: add `[age] recipients = [\"age1...\"]` to vpai.toml")]
    NoRecipients,
    #[error("invalid recipient `{0}`: expected an age (age1...) or SSH public key")]
    BadRecipient(String),
    #[error("secret `{secret}` has no value")]
    NoValue { secret: String },
    /// On the host, the timers pass the restic secrets in the environment.
    #[error("`{var}` is not set")]
    NotInEnvironment { var: &'static str },
    #[error("{0}")]
    Io(String),
}

impl From<SecretsError> for Diagnostic {
    fn from(e: SecretsError) -> Self {
        let (code, hint) = match &e {
            SecretsError::Missing { .. } => {
                ("secrets", Some("run `vpai secrets sync` to create it"))
            }
            SecretsError::NoValue { .. } => ("missing-secret", Some("run `vpai secrets sync`")),
            SecretsError::NotInEnvironment { .. } => (
                "missing-secret",
                Some("run through the bundle's backup env file, as its timers do"),
            ),
            _ => ("secrets", None),
        };
        Diagnostic::error(code, e.to_string()).maybe_help(hint.map(str::to_string))
    }
}

/// Where one environment's values are kept. The first environment's are in
/// `secrets.age`; another's in `secrets.ENV.age`, except the `shared` secrets,
/// which every environment reads from `secrets.age`. So prod and preprod never
/// share a database password unless the stack says so, and a key set once can
/// serve all.
pub struct SecretFiles {
    /// This environment's own file.
    pub own: PathBuf,
    /// `secrets.age`, when this environment is not the first and reads shared
    /// secrets from it.
    pub shared: Option<PathBuf>,
}

/// The file that holds `stack`'s environment's own values.
pub fn file_name(stack: &Stack) -> String {
    if stack.project.primary {
        SECRETS_FILE.to_string()
    } else {
        format!("secrets.{}.age", stack.env)
    }
}

impl SecretFiles {
    pub fn of(stack_dir: &Path, stack: &Stack) -> Self {
        let own = stack_dir.join(file_name(stack));
        let shared = (!stack.project.primary && stack.secrets.values().any(|s| s.shared))
            .then(|| stack_dir.join(SECRETS_FILE));
        Self { own, shared }
    }

    /// The file a secret's value lives in.
    pub fn file_of(&self, spec: Option<&SecretSpec>) -> &Path {
        match (&self.shared, spec) {
            (Some(shared), Some(spec)) if spec.shared => shared,
            _ => &self.own,
        }
    }

    /// The files that `specs`' values live in and that do not exist yet.
    pub fn absent<'s>(&self, specs: impl IntoIterator<Item = &'s SecretSpec>) -> BTreeSet<&Path> {
        let needed: BTreeSet<&Path> = specs.into_iter().map(|s| self.file_of(Some(s))).collect();
        needed.into_iter().filter(|file| !file.exists()).collect()
    }
}

/// One environment's values, read from its files and written back to them.
pub struct SecretStore {
    pub files: SecretFiles,
    shared_names: Vec<String>,
    own: SecretValues,
    shared: SecretValues,
}

impl SecretStore {
    /// [`Self::open`], refused when a file the stack's secrets live in does not exist.
    pub fn open_existing(
        stack_dir: &Path,
        stack: &Stack,
        identity: Option<&Path>,
    ) -> Result<Self, SecretsError> {
        let files = SecretFiles::of(stack_dir, stack);
        if let Some(file) = files.absent(stack.secrets.values()).first() {
            return Err(SecretsError::Missing {
                file: file.display().to_string(),
            });
        }
        Self::open(stack_dir, stack, identity)
    }

    /// Read both files; one that does not exist yet reads as empty.
    pub fn open(
        stack_dir: &Path,
        stack: &Stack,
        identity: Option<&Path>,
    ) -> Result<Self, SecretsError> {
        let files = SecretFiles::of(stack_dir, stack);
        let candidates = identity_candidates(identity, stack_dir, stack.identity.as_deref());
        let read = |file: &Path| {
            if file.exists() {
                decrypt(file, &candidates)
            } else {
                Ok(SecretValues::default())
            }
        };
        let own = read(&files.own)?;
        let shared = match &files.shared {
            Some(file) => read(file)?,
            None => SecretValues::default(),
        };
        let shared_names = if files.shared.is_some() {
            stack
                .secrets
                .values()
                .filter(|s| s.shared)
                .map(|s| s.name.clone())
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            files,
            shared_names,
            own,
            shared,
        })
    }

    /// Every value this environment sees: its own, and the shared ones from
    /// `secrets.age`.
    pub fn values(&self) -> SecretValues {
        let mut values = self.own.clone();
        for name in &self.shared_names {
            values.0.remove(name);
            if let Some(value) = self.shared.get(name) {
                values.set(name, value.to_string());
            }
        }
        values
    }

    /// Store `values` (as [`Self::values`] gave them, changed): shared secrets into
    /// `secrets.age`, the others into this environment's file. Only a file whose
    /// content changes is rewritten; returns the files written.
    pub fn save(
        &mut self,
        values: &SecretValues,
        recipients: &[String],
    ) -> Result<Vec<PathBuf>, SecretsError> {
        let mut own = values.clone();
        let mut shared = self.shared.clone();
        for name in &self.shared_names {
            match own.0.remove(name) {
                Some(value) => shared.set(name, value),
                None => {
                    shared.0.remove(name);
                }
            }
        }
        let mut written = Vec::new();
        if let Some(file) = &self.files.shared
            && shared != self.shared
        {
            encrypt_to_file(&shared, recipients, file)?;
            written.push(file.clone());
            self.shared = shared;
        }
        if own != self.own || !self.files.own.exists() {
            encrypt_to_file(&own, recipients, &self.files.own)?;
            written.push(self.files.own.clone());
            self.own = own;
        }
        Ok(written)
    }
}

/// The secrets of the stack in `stack_dir` for its environment ([`SecretStore`]),
/// decrypted with the first identity that can (see [`identity_candidates`]). A
/// stack that needs no secret needs no file.
pub fn load(
    stack_dir: &Path,
    stack: &Stack,
    identity: Option<&Path>,
) -> Result<SecretValues, SecretsError> {
    Ok(SecretStore::open_existing(stack_dir, stack, identity)?.values())
}

/// What `check` says of the secrets' values: the ones `render` would refuse to go
/// without, each with the command that gives it a value. Nothing when the
/// values cannot be read here (no identity: a CI runner checks without them),
/// nor for a stack file checked on its own (`check -C other.toml`): only a
/// directory's `vpai.toml` has secrets files.
pub fn unset_values(stack_file: &Path, stack: &Stack) -> Vec<Diagnostic> {
    if stack_file.file_name() != Some(std::ffi::OsStr::new(crate::stack::load::STACK_FILE)) {
        return Vec::new();
    }
    let stack_dir = match stack_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let needed: Vec<&SecretSpec> = stack
        .secrets
        .values()
        .filter(|spec| !spec.bootstrap_only)
        .collect();
    if needed.is_empty() {
        return Vec::new();
    }
    let files = SecretFiles::of(stack_dir, stack);
    let absent = files.absent(needed.iter().copied());
    if let Some(file) = absent.first() {
        let without = needed
            .iter()
            .filter(|spec| absent.contains(&files.file_of(Some(spec))))
            .count();
        return vec![
            Diagnostic::warning(
                "missing-secret",
                format!(
                    "{} does not exist: {without} secrets have no value, and render will refuse",
                    file.display(),
                ),
            )
            .help("run `vpai secrets sync`"),
        ];
    }
    let values = match SecretStore::open(stack_dir, stack, None) {
        Ok(store) => store.values(),
        Err(SecretsError::NoIdentity { .. }) => return Vec::new(),
        Err(e) => {
            return vec![Diagnostic::warning(
                "missing-secret",
                format!("cannot read the secrets' values: {e}"),
            )];
        }
    };
    let unset: Vec<&SecretSpec> = needed
        .into_iter()
        .filter(|spec| values.get(&spec.name).is_none())
        .collect();
    let (provided, generated): (Vec<&SecretSpec>, Vec<&SecretSpec>) =
        unset.into_iter().partition(|spec| spec.provided);
    let mut out = Vec::new();
    let mut by_file: BTreeMap<&Path, Vec<&str>> = BTreeMap::new();
    for spec in &generated {
        by_file
            .entry(files.file_of(Some(spec)))
            .or_default()
            .push(&spec.name);
    }
    for (file, names) in by_file {
        out.push(
            Diagnostic::warning(
                "missing-secret",
                format!(
                    "secrets without a value in {}: {}",
                    file.display(),
                    names.join(", ")
                ),
            )
            .help("run `vpai secrets sync` to generate them"),
        );
    }
    for spec in provided {
        out.push(
            Diagnostic::warning(
                "missing-secret",
                format!("secret `{}` has no value ({})", spec.name, spec.description),
            )
            .help(format!("set it: `vpai secrets set {}`", spec.name)),
        );
    }
    out
}

/// Where to look for the identity, in order: `--identity`, `VPAI_IDENTITY`, the
/// stack's `[age] identity`, `~/.config/vpai/identity.txt`, `~/.ssh/id_ed25519`.
pub fn identity_candidates(
    explicit: Option<&Path>,
    stack_dir: &Path,
    stack_identity: Option<&str>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_path_buf());
        return out;
    }
    if let Some(p) = std::env::var_os("VPAI_IDENTITY") {
        out.push(PathBuf::from(p));
        return out;
    }
    if let Some(p) = stack_identity {
        out.push(stack_dir.join(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        out.push(home.join(".config/vpai/identity.txt"));
        out.push(home.join(".ssh/id_ed25519"));
    }
    out
}

type Identity = Box<dyn age::Identity + Send + Sync>;

fn load_identities(path: &Path) -> Result<Vec<Identity>, SecretsError> {
    let text = std::fs::read_to_string(path).map_err(|e| SecretsError::BadIdentity {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    if text.contains("PRIVATE KEY") {
        let identity =
            age::ssh::Identity::from_buffer(text.as_bytes(), Some(path.display().to_string()))
                .map_err(|e| SecretsError::BadIdentity {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
        return Ok(vec![Box::new(identity)]);
    }
    let file =
        age::IdentityFile::from_buffer(text.as_bytes()).map_err(|e| SecretsError::BadIdentity {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    file.into_identities()
        .map_err(|e| SecretsError::BadIdentity {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

/// Decrypt `file` with the first candidate identity that exists.
pub fn decrypt(file: &Path, candidates: &[PathBuf]) -> Result<SecretValues, SecretsError> {
    let ciphertext = std::fs::read(file)
        .map_err(|e| SecretsError::Io(format!("cannot read {}: {e}", file.display())))?;
    let plaintext = open(&ciphertext, candidates, &file.display().to_string())?;
    let text = String::from_utf8(plaintext).map_err(|_| SecretsError::Corrupt)?;
    SecretValues::from_toml(&text)
}

/// The plaintext of an age file (`what` names it in errors), with the first of
/// `candidates` that can open it.
pub fn open(
    ciphertext: &[u8],
    candidates: &[PathBuf],
    what: &str,
) -> Result<Vec<u8>, SecretsError> {
    let existing: Vec<&PathBuf> = candidates.iter().filter(|p| p.exists()).collect();
    let looked = candidates
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if existing.is_empty() {
        return Err(SecretsError::NoIdentity {
            file: what.to_string(),
            looked: if looked.is_empty() {
                "(nowhere: set VPAI_IDENTITY)".to_string()
            } else {
                looked
            },
        });
    }
    let mut identities = Vec::new();
    for path in &existing {
        identities.extend(load_identities(path)?);
    }
    let reader = age::armor::ArmoredReader::new(ciphertext);
    let decryptor =
        age::Decryptor::new(reader).map_err(|_| SecretsError::NotAge(what.to_string()))?;
    let mut plaintext = Vec::new();
    decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|_| SecretsError::WrongIdentity {
            file: what.to_string(),
            looked: existing
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })?
        .read_to_end(&mut plaintext)
        .map_err(|_| SecretsError::Corrupt)?;
    Ok(plaintext)
}

/// `plaintext` encrypted to every recipient, ASCII-armored.
pub fn seal(plaintext: &[u8], recipients: &[String]) -> Result<Vec<u8>, SecretsError> {
    if recipients.is_empty() {
        return Err(SecretsError::NoRecipients);
    }
    let parsed = recipients
        .iter()
        .map(|r| parse_recipient(r))
        .collect::<Result<Vec<_>, _>>()?;
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| SecretsError::Io(e.to_string()))?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| SecretsError::Io(e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armor)
        .map_err(|e| SecretsError::Io(e.to_string()))?;
    writer
        .write_all(plaintext)
        .map_err(|e| SecretsError::Io(e.to_string()))?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| SecretsError::Io(e.to_string()))?;
    Ok(out)
}

fn parse_recipient(text: &str) -> Result<Box<dyn age::Recipient + Send>, SecretsError> {
    let t = text.trim();
    if let Ok(r) = age::x25519::Recipient::from_str(t) {
        return Ok(Box::new(r));
    }
    if let Ok(r) = age::ssh::Recipient::from_str(t) {
        return Ok(Box::new(r));
    }
    Err(SecretsError::BadRecipient(t.to_string()))
}

/// Encrypt to every recipient and replace `file` atomically (temp file + rename).
pub fn encrypt_to_file(
    values: &SecretValues,
    recipients: &[String],
    file: &Path,
) -> Result<(), SecretsError> {
    let out = seal(values.to_toml().as_bytes(), recipients)?;
    let tmp = file.with_extension("age.tmp");
    std::fs::write(&tmp, &out)
        .map_err(|e| SecretsError::Io(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, file)
        .map_err(|e| SecretsError::Io(format!("cannot replace {}: {e}", file.display())))?;
    Ok(())
}

/// A new X25519 identity: (identity file text, public recipient).
pub fn new_identity() -> (String, String) {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = format!(
        "# created by vpai\n# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    (text, recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_identity() {
        let dir = tempfile::tempdir().unwrap();
        let (id_text, recipient) = new_identity();
        let id_path = dir.path().join("id.txt");
        std::fs::write(&id_path, id_text).unwrap();
        let mut values = SecretValues::default();
        values.set("a", "x$y\"z".to_string());
        let file = dir.path().join("secrets.age");
        encrypt_to_file(&values, &[recipient], &file).unwrap();
        assert!(!std::fs::read_to_string(&file).unwrap().contains("x$y"));
        assert_eq!(decrypt(&file, &[id_path]).unwrap(), values);

        let (other, _) = new_identity();
        let other_path = dir.path().join("other.txt");
        std::fs::write(&other_path, other).unwrap();
        let err = decrypt(&file, &[other_path]).unwrap_err().to_string();
        assert!(err.contains("other.txt"), "{err}");
        let missing = decrypt(&file, &[dir.path().join("nope")])
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("looked in") && missing.contains("nope"),
            "{missing}"
        );
    }

    #[test]
    fn debug_never_shows_values() {
        let mut values = SecretValues::default();
        values.set("token", "hunter2".to_string());
        assert!(!format!("{values:?}").contains("hunter2"));
    }

    #[test]
    fn generation_respects_length_and_charset() {
        let v = generate(40, Charset::Hex);
        assert_eq!(v.len(), 40);
        assert!(v.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
