//! `vpai secrets`: sync, show, set and edit the encrypted secrets of a stack.

use crate::console::stdoutln;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Subcommand;

use crate::diagnostic::Diagnostic;
use crate::init;
use crate::secrets::{self, SecretValues};

use super::args::*;
use super::output::*;
use super::stack::*;

#[derive(Subcommand)]
pub(super) enum SecretsCommand {
    /// Generate the secrets that enabled services need and secrets.age lacks.
    Sync {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        identity: IdentityArgs,
        /// Machine-readable output: the generated and the missing names.
        #[arg(long)]
        json: bool,
    },
    /// List secrets (name, owner, set or missing). Values only with --reveal.
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
            let file = secrets_file(&args);
            let mut values = if file.exists() {
                secrets(&args, &stack, &identity)?
            } else {
                SecretValues::default()
            };
            let specs: Vec<_> = stack.secrets.values().collect();
            let generated = values.generate_missing(&specs);
            if !generated.is_empty() {
                secrets::encrypt_to_file(&values, &stack.recipients, &file)?;
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
                stdoutln!("secrets.age has every secret `{}` needs", stack.env);
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
            let values = secrets(&args, &stack, &identity)?;
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
                if json {
                    let mut row = serde_json::json!({
                        "name": n,
                        "owner": owner,
                        "state": state.to_lowercase(),
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
                    stdoutln!("{n:<36} {owner:<16} {shown:<10} {description}");
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
            let file = secrets_file(&args);
            let mut values = if file.exists() {
                secrets(&args, &stack, &identity)?
            } else {
                SecretValues::default()
            };
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
            secrets::encrypt_to_file(&values, &stack.recipients, &file)?;
            stdoutln!("set {name}");
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Edit {
            stack: args,
            identity,
        } => {
            args.once("secrets edit")?;
            let stack = load(&args)?;
            let values = secrets(&args, &stack, &identity)?;
            let edited = init::edit_in_editor(&values)?;
            if edited == values {
                stdoutln!("no change");
            } else {
                secrets::encrypt_to_file(&edited, &stack.recipients, &secrets_file(&args))?;
                stdoutln!("secrets.age updated ({} secrets)", edited.len());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
