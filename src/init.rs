//! `vpai init`: write a new stack file and generate its secrets.
//!
//! Interactive when stdin is a terminal; fully driven by flags with `--defaults`
//! (CI). Never overwrites an existing stack without `--force`.

use crate::console::{stderr, stderrln, stdoutln};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::diagnostic::Diagnostic;
use crate::secrets::{self, SecretValues};
use crate::stack::Report;
use crate::stack::load::STACK_FILE;
use crate::stack::names::{self, Invalid};

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
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Diagnostic::error("io", format!("cannot read the answer: {e}")))?;
        if read == 0 {
            return Err(
                Diagnostic::error("init", "no answer: the input ended").help(
                    "pass --defaults (with --name, --domain, ... as needed) to run without prompts",
                ),
            );
        }
        let answer = line.trim();
        Ok(if answer.is_empty() {
            default.to_string()
        } else {
            answer.to_string()
        })
    }

    /// The flag's value when given (refused if invalid), else an answer asked
    /// again until `valid` accepts it.
    fn value(
        &self,
        flag: Option<String>,
        question: &Question,
        valid: impl Fn(&str) -> Result<String, Invalid>,
    ) -> Result<String, Diagnostic> {
        if let Some(value) = flag {
            return valid(&value).map_err(|e| {
                Diagnostic::error(
                    "init",
                    format!(
                        "--{} `{}` is not valid: {}",
                        question.flag,
                        value.escape_debug(),
                        e.reason
                    ),
                )
                .help(e.help)
            });
        }
        loop {
            let answer = self.ask(question.text, question.default)?;
            match valid(&answer) {
                Ok(value) => return Ok(value),
                Err(e) if self.interactive => {
                    stderrln!(
                        "  `{}` is not valid: {}; {}",
                        answer.escape_debug(),
                        e.reason,
                        e.help
                    );
                }
                Err(e) => {
                    return Err(Diagnostic::error(
                        "init",
                        format!(
                            "the default {} `{}` is not valid: {}",
                            question.flag, answer, e.reason
                        ),
                    )
                    .help(format!("pass --{}", question.flag)));
                }
            }
        }
    }
}

struct Question<'a> {
    flag: &'static str,
    text: &'a str,
    default: &'a str,
}

/// A project name from the directory's name: lower case, other characters
/// as `-`, or `stack` when nothing usable is left.
fn name_from_dir(dir: &Path) -> String {
    let base = std::path::absolute(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()))
        .unwrap_or_default();
    let dashed: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = dashed.trim_matches(|c: char| c == '-' || c.is_ascii_digit() || c == '_');
    let short: String = trimmed.chars().take(40).collect();
    let name = short.trim_end_matches(['-', '_']);
    if names::project_name(name).is_ok() {
        name.to_string()
    } else {
        "stack".to_string()
    }
}

/// The catalog's names, for a question or an error about an unknown one.
fn catalog_list() -> String {
    crate::stack::catalog::names()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Comma-separated catalog service names, each known, with the services they
/// cannot run without added.
fn service_list(answer: &str) -> Result<String, Invalid> {
    let mut chosen: Vec<String> = Vec::new();
    for name in answer.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if crate::stack::catalog::get(name).is_none() {
            let hint = crate::suggest::hint(name, crate::stack::catalog::names())
                .map(|h| format!("{h} "))
                .unwrap_or_default();
            return Err(Invalid {
                reason: format!("`{name}` is not in the catalog"),
                help: format!("{hint}the catalog has: {}", catalog_list()),
            });
        }
        for needed in crate::stack::catalog::with_needs(name) {
            if !chosen.iter().any(|c| c == needed) {
                chosen.push(needed.to_string());
            }
        }
    }
    if chosen.is_empty() {
        return Err(Invalid {
            reason: "no service given".to_string(),
            help: format!("name at least one of: {}", catalog_list()),
        });
    }
    Ok(chosen.join(","))
}

pub fn run(args: InitArgs) -> Result<ExitCode, Report> {
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
        return Err(Diagnostic::error("init", "no terminal to ask questions on")
            .help("pass --defaults (with --name, --domain, ... as needed) to run without prompts")
            .into());
    }
    let stack_file = args.dir.join(STACK_FILE);
    let secrets_file = args.dir.join(secrets::SECRETS_FILE);
    if !args.force && (stack_file.exists() || secrets_file.exists()) {
        return Err(Diagnostic::error(
            "init",
            format!("{} already holds a stack", args.dir.display()),
        )
        .help("use `vpai secrets sync` to add missing secrets, or --force to start over")
        .into());
    }
    let prompt = Prompter { interactive };
    let default_name = name_from_dir(&args.dir);
    let name = prompt.value(
        args.name,
        &Question {
            flag: "name",
            text: "project name",
            default: &default_name,
        },
        |n| names::project_name(n).map(|()| n.to_string()),
    )?;
    if interactive && args.services.is_none() {
        stderrln!("the catalog: {}", catalog_list());
    }
    let default_services = DEFAULT_SERVICES.join(",");
    let services = prompt.value(
        args.services.map(|s| s.join(",")),
        &Question {
            flag: "services",
            text: "services (comma-separated)",
            default: &default_services,
        },
        service_list,
    )?;
    let services: Vec<String> = services.split(',').map(str::to_string).collect();
    let routed: Vec<&str> = services
        .iter()
        .filter_map(|s| crate::stack::catalog::get(s))
        .filter(|e| crate::stack::catalog::is_routed(e))
        .map(|e| e.name)
        .collect();
    let domain = prompt.value(
        args.domain,
        &Question {
            flag: "domain",
            text: if routed.len() > 1 {
                "domain"
            } else {
                "domain (empty: serve :80 by IP)"
            },
            default: "",
        },
        |d| {
            if !d.is_empty() {
                names::domain(d).map(|()| d.to_string())
            } else if routed.len() > 1 {
                Err(Invalid {
                    reason: format!(
                        "{} are routed: without a domain one site is served, at :80",
                        routed.join(", ")
                    ),
                    help:
                        "give a domain, e.g. `example.com`: each service gets its subdomain of it"
                            .to_string(),
                })
            } else {
                Ok(String::new())
            }
        },
    )?;
    let domain = Some(domain).filter(|d| !d.is_empty());
    let email = prompt.value(
        args.email,
        &Question {
            flag: "email",
            text: "notification e-mail (empty: none)",
            default: "",
        },
        |e| {
            if e.is_empty() {
                Ok(String::new())
            } else {
                names::email(e).map(|()| e.to_string())
            }
        },
    )?;
    let email = Some(email).filter(|e| !e.is_empty());
    let timezone = prompt.value(
        args.timezone,
        &Question {
            flag: "timezone",
            text: "timezone",
            default: "UTC",
        },
        |t| names::timezone(t).map(|()| t.to_string()),
    )?;
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
            recipients.push(recipient);
            created_identity = Some((path, text));
        }
    }

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
    let raw = match crate::stack::load::parse(id, &sources) {
        Ok(raw) => raw,
        Err(diagnostics) => {
            return Err(Report {
                diagnostics,
                sources,
            });
        }
    };
    // Nothing is written before the stack resolves: a refusal leaves no
    // directory, identity or stack file behind.
    let stack = crate::stack::resolve::resolve(raw, id, sources, "prod")?;
    std::fs::create_dir_all(&args.dir).map_err(|e| {
        Diagnostic::error("io", format!("cannot create {}: {e}", args.dir.display()))
    })?;
    if let Some((path, text)) = &created_identity {
        write_private(path, text)?;
    }
    std::fs::write(&stack_file, &text).map_err(|e| {
        Diagnostic::error("io", format!("cannot write {}: {e}", stack_file.display()))
    })?;

    let mut values = SecretValues::default();
    let specs: Vec<_> = stack.secrets.values().collect();
    let generated = values.generate_missing(&specs);
    secrets::encrypt_to_file(&values, &recipients, &secrets_file)
        .map_err(|e| Diagnostic::error("secrets", e.to_string()))?;

    stdoutln!(
        "wrote {} (services: {})",
        stack_file.display(),
        services.join(", ")
    );
    stdoutln!(
        "wrote {} ({} generated secrets)",
        secrets_file.display(),
        generated.len()
    );
    if let Some((path, _)) = created_identity {
        stdoutln!(
            "created identity {} — back it up: without it secrets.age cannot be decrypted",
            path.display()
        );
    }
    let dir_word = shlex::try_quote(&args.dir.display().to_string())
        .map_or_else(|_| args.dir.display().to_string(), |q| q.into_owned());
    for spec in stack.secrets.values().filter(|s| s.provided) {
        stdoutln!(
            "to do: vpai secrets set {} {}   ({})",
            dir_word,
            spec.name,
            spec.description
        );
    }
    for env in &crate::stack::resolve::DEFAULT_ENVIRONMENTS[1..] {
        stdoutln!(
            "to do: vpai secrets sync {} --env {env}   ({env} has its own values, in secrets.{env}.age)",
            dir_word,
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
