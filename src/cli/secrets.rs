//! `vpai secrets`: sync, show, set and edit the encrypted secrets of a stack.

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
        stack: SecretsStackArgs,
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// List secrets (name, owner, set or missing). Values only with --reveal.
    Show {
        /// Only this secret.
        name: Option<String>,
        #[command(flatten)]
        stack: SecretsStackArgs,
        /// Print the plaintext value(s).
        #[arg(long)]
        reveal: bool,
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// Set one secret's value, read from the terminal (hidden) or from stdin.
    Set {
        name: String,
        #[command(flatten)]
        stack: SecretsStackArgs,
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// Edit the decrypted secrets in $EDITOR, then re-encrypt.
    Edit {
        #[command(flatten)]
        stack: SecretsStackArgs,
        #[command(flatten)]
        identity: IdentityArgs,
    },
}

pub(super) fn secrets_cmd(command: SecretsCommand) -> Result<ExitCode, Failure> {
    match command {
        SecretsCommand::Sync {
            stack: args,
            identity,
        } => {
            let args = StackArgs::from(args);
            let stack = load(&args)?;
            let file = secrets_file(&args);
            let mut values = if file.exists() {
                decrypt(&args, &stack, &identity)?
            } else {
                SecretValues::default()
            };
            let specs: Vec<_> = stack.secrets.values().collect();
            let generated = values.generate_missing(&specs);
            if !generated.is_empty() {
                secrets::encrypt_to_file(&values, &stack.recipients, &file)?;
            }
            for name in &generated {
                println!("generated {name}");
            }
            let missing: Vec<&str> = stack
                .secrets
                .values()
                .filter(|s| s.provided && values.get(&s.name).is_none())
                .map(|s| s.name.as_str())
                .collect();
            for name in &missing {
                println!("missing   {name} (provided by you: `vpai secrets set {name}`)");
            }
            if generated.is_empty() && missing.is_empty() {
                println!("secrets.age has every secret `{}` needs", stack.env);
            }
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Show {
            name,
            stack: args,
            reveal,
            identity,
        } => {
            let args = StackArgs::from(args);
            let stack = load(&args)?;
            let values = decrypt(&args, &stack, &identity)?;
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
            for n in names
                .into_iter()
                .filter(|n| name.as_deref().is_none_or(|x| x == *n))
            {
                let spec = stack.secrets.get(n);
                let state = match (values.get(n), reveal) {
                    (Some(v), true) => v.to_string(),
                    (Some(_), false) => "set".to_string(),
                    (None, _) => "MISSING".to_string(),
                };
                let owner = spec.map(|s| s.owner.as_str()).unwrap_or("unused");
                let description = spec.map(|s| s.description.as_str()).unwrap_or("");
                if reveal && name.is_some() {
                    println!("{state}");
                } else {
                    println!("{n:<36} {owner:<16} {state:<10} {description}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Set {
            name,
            stack: args,
            identity,
        } => {
            let args = StackArgs::from(args);
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
                decrypt(&args, &stack, &identity)?
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
            println!("set {name}");
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Edit {
            stack: args,
            identity,
        } => {
            let args = StackArgs::from(args);
            let stack = load(&args)?;
            let values = decrypt(&args, &stack, &identity)?;
            let edited = init::edit_in_editor(&values)?;
            if edited == values {
                println!("no change");
            } else {
                secrets::encrypt_to_file(&edited, &stack.recipients, &secrets_file(&args))?;
                println!("secrets.age updated ({} secrets)", edited.len());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
