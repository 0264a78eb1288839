//! `vpai secrets`: sync, show, set and edit the encrypted secrets of a stack.

use crate::console::stdoutln;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Subcommand;

use crate::diagnostic::Diagnostic;
use crate::init;
use crate::secrets::{SecretFiles, SecretStore};
use std::path::Path;

use super::args::*;
use super::output::*;
use super::stack::*;

#[derive(Subcommand)]
pub(super) enum SecretsCommand {
    /// Generate the secrets that enabled services need and have no value yet.
    ///
    /// The first environment's values are in secrets.age; another environment's
    /// in secrets.ENV.age (`--env preprod`: secrets.preprod.age), except the
    /// secrets the stack marks `shared = true`, which every environment reads from
    /// secrets.age.
    Sync {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        identity: IdentityArgs,
        /// Machine-readable output: the generated and the missing names.
        #[arg(long)]
        json: bool,
    },
    /// List secrets (name, owner, set or missing, the file holding it). Values only with --reveal.
    Show {
        #[command(flatten)]
        stack: StackArgs,
        /// Only this secret.
        #[arg(value_name = "NAME")]
        name: Option<String>,
        /// Print the plaintext value(s).
        #[arg(long)]
        reveal: bool,
        #[command(flatten)]
        identity: IdentityArgs,
        /// Machine-readable output: name, owner, state, description (and the
        /// value only with --reveal).
        #[arg(long)]
        json: bool,
    },
    /// Set one secret's value, read from the terminal (hidden) or from stdin.
    ///
    /// It goes into the environment's file (`--env preprod`: secrets.preprod.age),
    /// or into secrets.age for a secret the stack marks `shared = true`.
    Set {
        #[command(flatten)]
        stack: StackArgs,
        /// The secret to set.
        #[arg(value_name = "NAME")]
        name: Option<String>,
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// Edit the decrypted secrets in $EDITOR, then re-encrypt.
    Edit {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        identity: IdentityArgs,
    },
}

pub(super) fn secrets_cmd(command: SecretsCommand) -> Result<ExitCode, Failure> {
    match command {
        SecretsCommand::Sync {
            stack: args,
            identity,
            json,
        } => {
            args.once("secrets sync")?;
            let stack = load(&args)?;
            let mut store = store(&args, &stack, &identity)?;
            let mut values = store.values();
            let specs: Vec<_> = stack.secrets.values().collect();
            let generated = values.generate_missing(&specs);
            if !generated.is_empty() {
                store.save(&values, &stack.recipients)?;
            }
            let missing: Vec<&str> = stack
                .secrets
                .values()
                .filter(|s| s.provided && values.get(&s.name).is_none())
                .map(|s| s.name.as_str())
                .collect();
            if json {
                print_json(&serde_json::json!({
                    "environment": stack.env,
                    "generated": generated,
                    "missing": missing,
                }));
                return Ok(ExitCode::SUCCESS);
            }
            for name in &generated {
                stdoutln!("generated {name}");
            }
            for name in &missing {
                stdoutln!(
                    "{}",
                    super::hints::runnable(&format!(
                        "missing   {name} (provided by you: `vpai secrets set {name}`)"
                    ))
                );
            }
            if generated.is_empty() && missing.is_empty() {
                let verb = if store.files.shared.is_some() {
                    "hold"
                } else {
                    "holds"
                };
                stdoutln!(
                    "{} {verb} every secret `{}` needs",
                    stored_in(&store.files),
                    stack.env
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Show {
            name,
            stack: mut args,
            reveal,
            identity,
            json,
        } => {
            let name = args.split_thing(name, "NAME", "secrets show")?;
            let stack = load(&args)?;
            let store = store(&args, &stack, &identity)?;
            let values = store.values();
            if let Some(n) = &name
                && !stack.secrets.contains_key(n)
                && values.get(n).is_none()
            {
                return Err(
                    Diagnostic::error("unknown-secret", format!("no secret named `{n}`"))
                        .maybe_help(crate::suggest::hint(
                            n,
                            stack.secrets.keys().map(String::as_str),
                        ))
                        .into(),
                );
            }
            let mut names: Vec<&str> = stack
                .secrets
                .keys()
                .map(String::as_str)
                .chain(values.names())
                .collect();
            names.sort();
            names.dedup();
            let mut rows = Vec::new();
            for n in names
                .into_iter()
                .filter(|n| name.as_deref().is_none_or(|x| x == *n))
            {
                let spec = stack.secrets.get(n);
                let value = values.get(n);
                let state = if value.is_some() { "set" } else { "MISSING" };
                let owner = spec.map(|s| s.owner.as_str()).unwrap_or("unused");
                let description = spec.map(|s| s.description.as_str()).unwrap_or("");
                let file = file_name(store.files.file_of(spec));
                if json {
                    let mut row = serde_json::json!({
                        "name": n,
                        "owner": owner,
                        "state": state.to_lowercase(),
                        "shared": spec.is_some_and(|s| s.shared),
                        "file": file,
                        "description": description,
                    });
                    if reveal && let Some(v) = value {
                        row["value"] = serde_json::Value::from(v);
                    }
                    rows.push(row);
                } else if reveal && name.is_some() {
                    stdoutln!("{}", value.unwrap_or("MISSING"));
                } else {
                    let shown = match (value, reveal) {
                        (Some(v), true) => v,
                        _ => state,
                    };
                    stdoutln!("{n:<36} {owner:<16} {shown:<10} {file:<20} {description}");
                }
            }
            if json {
                print_json(&rows);
            }
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Set {
            name,
            stack: mut args,
            identity,
        } => {
            let name = args.thing(name, "NAME", "secrets set")?;
            let stack = load(&args)?;
            if !stack.secrets.contains_key(&name) {
                return Err(Diagnostic::error(
                    "unknown-secret",
                    format!("`{name}` is not a secret this stack declares"),
                )
                .maybe_help(crate::suggest::hint(
                    &name,
                    stack.secrets.keys().map(String::as_str),
                ))
                .into());
            }
            let mut store = store(&args, &stack, &identity)?;
            let mut values = store.values();
            let value = if std::io::stdin().is_terminal() {
                rpassword::prompt_password(format!("value for {name} (hidden): "))
                    .map_err(|e| Diagnostic::error("io", format!("cannot read the value: {e}")))?
            } else {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| Diagnostic::error("io", format!("cannot read the value: {e}")))?;
                line.trim_end_matches(['\n', '\r']).to_string()
            };
            if value.is_empty() {
                return Err(Diagnostic::error("secrets", "empty value: nothing changed").into());
            }
            values.set(&name, value);
            store.save(&values, &stack.recipients)?;
            stdoutln!(
                "set {name} in {}",
                file_name(store.files.file_of(stack.secrets.get(&name)))
            );
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Edit {
            stack: args,
            identity,
        } => {
            args.once("secrets edit")?;
            let stack = load(&args)?;
            // Edit what exists: a missing file is `secrets sync`'s to create.
            let mut store = SecretStore::open_existing(
                &stack_dir(&args),
                &stack,
                identity.identity.as_deref(),
            )?;
            let values = store.values();
            let edited = init::edit_in_editor(&values)?;
            if edited == values {
                stdoutln!("no change");
            } else {
                let written = store.save(&edited, &stack.recipients)?;
                let names: Vec<&str> = written.iter().map(|f| file_name(f)).collect();
                stdoutln!("{} updated ({} secrets)", names.join(" and "), edited.len());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The environment's secrets files, open for reading and writing.
fn store(
    args: &StackArgs,
    stack: &crate::stack::Stack,
    identity: &IdentityArgs,
) -> Result<SecretStore, Failure> {
    Ok(SecretStore::open(
        &stack_dir(args),
        stack,
        identity.identity.as_deref(),
    )?)
}

fn file_name(file: &Path) -> &str {
    file.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// `secrets.preprod.age and secrets.age`: where an environment's values are.
fn stored_in(files: &SecretFiles) -> String {
    match &files.shared {
        Some(shared) => format!("{} and {}", file_name(&files.own), file_name(shared)),
        None => file_name(&files.own).to_string(),
    }
}
