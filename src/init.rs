//! `vpai init`: write a new stack file and generate its secrets.
//!
//! Interactive when stdin is a terminal; fully driven by flags with `--defaults`
//! (CI). Never overwrites an existing stack without `--force`.

use crate::console::{stderr, stdoutln};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::diagnostic::Diagnostic;
use crate::secrets::{self, SecretValues};
use crate::stack::load::STACK_FILE;

#[derive(Args)]
pub struct InitArgs {
    /// Directory to create the stack in.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Project name (lower-case; prefixes containers and networks).
    #[arg(long)]
    name: Option<String>,
    /// Base domain; services get <subdomain>.<domain>. Omit to serve :80 by IP.
    #[arg(long)]
    domain: Option<String>,
    /// Notification and ACME e-mail.
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    timezone: Option<String>,
    /// Services to enable, comma-separated (see the catalog with `--list-services`).
    #[arg(long, value_delimiter = ',')]
    services: Option<Vec<String>>,
    /// age or SSH public key to encrypt to (repeatable). Without one, a new identity
    /// is created at --identity-out.
    #[arg(long = "recipient")]
    recipients: Vec<String>,
    /// Where to write a newly created identity.
    #[arg(long, default_value = "~/.config/vpai/identity.txt")]
    identity_out: String,
    /// Accept defaults for everything not given as a flag; never prompt.
    #[arg(long)]
    defaults: bool,
    /// Replace an existing vpai.toml and secrets.age.
    #[arg(long)]
    force: bool,
    /// Print the catalog's services and exit.
    #[arg(long)]
    list_services: bool,
}

const DEFAULT_SERVICES: &[&str] = &["caddy", "postgresql", "redis", "n8n"];

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

struct Prompter {
    interactive: bool,
}

impl Prompter {
    fn ask(&self, question: &str, default: &str) -> Result<String, Diagnostic> {
        if !self.interactive {
            return Ok(default.to_string());
        }
        stderr!("{question} [{default}]: ");
        std::io::stderr().flush().ok();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Diagnostic::error("io", format!("cannot read the answer: {e}")))?;
        let answer = line.trim();
        Ok(if answer.is_empty() {
            default.to_string()
        } else {
            answer.to_string()
        })
    }
}

pub fn run(args: InitArgs) -> Result<ExitCode, Diagnostic> {
    if args.list_services {
        for entry in crate::stack::catalog::entries() {
            stdoutln!(
                "{:<16} {}",
                entry.name,
                entry.service.description.as_deref().unwrap_or("")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let interactive = !args.defaults && std::io::stdin().is_terminal();
    if !args.defaults && !interactive {
        return Err(
            Diagnostic::error("init", "no terminal to ask questions on").help(
                "pass --defaults (with --name, --domain, ... as needed) to run without prompts",
            ),
        );
    }
    let stack_file = args.dir.join(STACK_FILE);
    let secrets_file = args.dir.join(secrets::SECRETS_FILE);
    if !args.force && (stack_file.exists() || secrets_file.exists()) {
        return Err(Diagnostic::error(
            "init",
            format!("{} already holds a stack", args.dir.display()),
        )
        .help("use `vpai secrets sync` to add missing secrets, or --force to start over"));
    }
    let prompt = Prompter { interactive };
    let default_name = std::path::absolute(&args.dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()))
        .filter(|n| {
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .unwrap_or_else(|| "stack".to_string());
    let name = match args.name {
        Some(n) => n,
        None => prompt.ask("project name", &default_name)?,
    };
    let domain = match args.domain {
        Some(d) => Some(d),
        None => Some(prompt.ask("domain (empty: serve :80 by IP)", "")?).filter(|d| !d.is_empty()),
    };
    let email = match args.email {
        Some(e) => Some(e),
        None => {
            Some(prompt.ask("notification e-mail (empty: none)", "")?).filter(|e| !e.is_empty())
        }
    };
    let timezone = match args.timezone {
        Some(t) => t,
        None => prompt.ask("timezone", "UTC")?,
    };
    let services = match args.services {
        Some(s) => s,
        None => prompt
            .ask("services (comma-separated)", &DEFAULT_SERVICES.join(","))?
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    for service in &services {
        if crate::stack::catalog::get(service).is_none() {
            return Err(
                Diagnostic::error("init", format!("`{service}` is not in the catalog"))
                    .maybe_help(crate::suggest::hint(
                        service,
                        crate::stack::catalog::names(),
                    ))
                    .note("`vpai init --list-services` lists the catalog"),
            );
        }
    }
    let mut recipients = args.recipients;
    let mut created_identity = None;
    if recipients.is_empty() {
        let path = expand_home(&args.identity_out);
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Diagnostic::error("init", format!("cannot read {}: {e}", path.display()))
            })?;
            let recipient = text
                .lines()
                .find_map(|l| l.strip_prefix("# public key: "))
                .ok_or_else(|| {
                    Diagnostic::error(
                        "init",
                        format!("{} has no `# public key:` line", path.display()),
                    )
                    .help("pass --recipient age1... explicitly")
                })?;
            recipients.push(recipient.trim().to_string());
        } else {
            let (text, recipient) = secrets::new_identity();
            write_private(&path, &text)?;
            recipients.push(recipient);
            created_identity = Some(path);
        }
    }

    std::fs::create_dir_all(&args.dir).map_err(|e| {
        Diagnostic::error("io", format!("cannot create {}: {e}", args.dir.display()))
    })?;
    let text = stack_file_text(
        &name,
        domain.as_deref(),
        email.as_deref(),
        &timezone,
        &services,
        &recipients,
    );
    // Validate what we are about to write with the same loader every command uses.
    let mut sources = crate::source::Sources::default();
    let id = sources.add(stack_file.display().to_string(), text.clone());
    let raw = crate::stack::load::parse(id, &sources).map_err(|mut d| d.remove(0))?;
    let stack = crate::stack::resolve::resolve(raw, id, sources, "prod")
        .map_err(|mut r| r.diagnostics.remove(0))?;
    std::fs::write(&stack_file, &text).map_err(|e| {
        Diagnostic::error("io", format!("cannot write {}: {e}", stack_file.display()))
    })?;

    let mut values = SecretValues::default();
    let specs: Vec<_> = stack.secrets.values().collect();
    let generated = values.generate_missing(&specs);
    secrets::encrypt_to_file(&values, &recipients, &secrets_file)
        .map_err(|e| Diagnostic::error("secrets", e.to_string()))?;

    stdoutln!("wrote {}", stack_file.display());
    stdoutln!(
        "wrote {} ({} generated secrets)",
        secrets_file.display(),
        generated.len()
    );
    if let Some(path) = created_identity {
        stdoutln!(
            "created identity {} — back it up: without it secrets.age cannot be decrypted",
            path.display()
        );
    }
    for spec in stack.secrets.values().filter(|s| s.provided) {
        stdoutln!(
            "to do: vpai secrets set {} {}   ({})",
            shlex::try_quote(&args.dir.display().to_string())
                .map_or_else(|_| args.dir.display().to_string(), |q| q.into_owned()),
            spec.name,
            spec.description
        );
    }
    let problems = crate::rules::check(&stack);
    if !problems.is_empty() {
        stdoutln!(
            "note: `vpai check -C {}` reports {}; fix them before rendering",
            args.dir.display(),
            crate::diagnostic::summary(&problems)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &Path, text: &str) -> Result<(), Diagnostic> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            Diagnostic::error("io", format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Diagnostic::error("io", format!("cannot create {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Diagnostic::error("io", format!("cannot write {}: {e}", path.display())))
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn stack_file_text(
    name: &str,
    domain: Option<&str>,
    email: Option<&str>,
    timezone: &str,
    services: &[String],
    recipients: &[String],
) -> String {
    let mut out = String::from(
        "# vpai stack file. `vpai check` validates it; `vpai explain RULE` documents each check.\n\n[project]\n",
    );
    out.push_str(&format!("name = {}\n", quoted(name)));
    if let Some(d) = domain {
        out.push_str(&format!("domain = {}\n", quoted(d)));
    }
    out.push_str(&format!("timezone = {}\n", quoted(timezone)));
    if let Some(e) = email {
        out.push_str(&format!("email = {}\n", quoted(e)));
    }
    out.push_str("\n[age]\nrecipients = [");
    out.push_str(
        &recipients
            .iter()
            .map(|r| quoted(r))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push_str("]\n\n[hosts.main]\n# address = \"203.0.113.10\"\nmemory = \"8G\"\n\n[env.preprod.hosts.main]\nmemory = \"8G\"\n");
    let mut sorted = services.to_vec();
    sorted.sort();
    for service in sorted {
        out.push_str(&format!("\n[services.{service}]\n"));
    }
    out
}

/// Open the decrypted secrets in `$EDITOR` (a private temporary file, removed
/// afterwards) and read them back.
pub fn edit_in_editor(values: &SecretValues) -> Result<SecretValues, Diagnostic> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .map_err(|_| {
            Diagnostic::error("secrets", "no editor: set $EDITOR")
                .help("or use `vpai secrets set NAME`")
        })?;
    let dir = tempfile::Builder::new()
        .prefix("vpai-secrets-")
        .tempdir()
        .map_err(|e| Diagnostic::error("io", format!("cannot create a private temp dir: {e}")))?;
    let path = dir.path().join("secrets.toml");
    let mut text = String::from("# Edit values, save and quit. Lines are `name = \"value\"`.\n");
    for (k, v) in values.iter() {
        text.push_str(&format!("{k} = {}\n", quoted(v)));
    }
    write_private(&path, &text)?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .map_err(|e| Diagnostic::error("secrets", format!("cannot run {editor}: {e}")))?;
    if !status.success() {
        return Err(Diagnostic::error(
            "secrets",
            format!("{editor} exited with {status}: nothing changed"),
        ));
    }
    let edited =
        std::fs::read_to_string(&path).map_err(|e| Diagnostic::error("io", e.to_string()))?;
    let table: toml::Table = edited.parse().map_err(|e: toml::de::Error| {
        Diagnostic::error(
            "secrets",
            format!(
                "the edited file is not valid TOML, nothing changed: {}",
                e.message()
            ),
        )
    })?;
    let mut out = SecretValues::default();
    for (k, v) in table {
        match v {
            toml::Value::String(s) => out.set(&k, s),
            _ => {
                return Err(Diagnostic::error(
                    "secrets",
                    format!("`{k}` must be a string; nothing changed"),
                ));
            }
        }
    }
    Ok(out)
}
