//! The arguments several commands share: the stack, the deploy target, the identity, formats.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::diagnostic::Diagnostic;

use super::output::Failure;

/// The stack a command reads. Every command takes it the same way: `vpai CMD
/// [DIR] [THING]`, the stack directory first (or `-C DIR`), then what the command
/// acts on (a service, a release, a secret, a job, a host).
#[derive(Args)]
pub(super) struct StackArgs {
    /// Stack directory (holding vpai.toml) or the stack file itself [default: .]
    #[arg(value_name = "DIR")]
    pub(super) path: Option<PathBuf>,
    /// The same, as an option (`-C DIR`).
    #[arg(long = "dir", short = 'C', value_name = "DIR")]
    pub(super) dir: Option<PathBuf>,
    /// Environment to resolve.
    #[arg(long, short, default_value = "prod")]
    pub(super) env: String,
}

/// A stack directory (one that holds vpai.toml) or a stack file.
fn is_stack(path: &Path) -> bool {
    path.join(crate::stack::load::STACK_FILE).is_file()
        || (path.is_file() && path.extension().is_some_and(|e| e == "toml"))
}

/// This very command line with the positionals `a` and `b` in each other's place.
fn swapped(a: &Path, b: &str) -> String {
    let a = a.as_os_str();
    let words: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|w| {
            if w == a {
                b.into()
            } else if w == b {
                a.to_os_string()
            } else {
                w
            }
        })
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let line =
        shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "));
    format!("vpai {line}")
}

impl StackArgs {
    pub(super) fn dir(&self) -> &Path {
        self.path
            .as_deref()
            .or(self.dir.as_deref())
            .unwrap_or(Path::new("."))
    }

    /// The stack given once: as DIR or as `-C DIR`, not both.
    pub(super) fn once(&self, command: &str) -> Result<(), Failure> {
        super::hints::remember_stack(self.dir(), &self.env);
        match (&self.path, &self.dir) {
            (Some(path), Some(dir)) => Err(Diagnostic::error(
                "usage",
                format!(
                    "the stack is given twice: `{}` and `-C {}`",
                    path.display(),
                    dir.display()
                ),
            )
            .help(format!("run `vpai {command} {}`", dir.display()))
            .into()),
            _ => Ok(()),
        }
    }

    /// Sort out `vpai CMD [DIR] [THING]`, where clap filled the positionals from the
    /// left: one positional that is not a stack is the THING (the stack is `.` or
    /// `-C DIR`); `THING DIR`, the other order, is refused with the command in the
    /// right one.
    pub(super) fn split_thing(
        &mut self,
        thing: Option<String>,
        what: &str,
        command: &str,
    ) -> Result<Option<String>, Failure> {
        let thing = match (self.path.take(), thing) {
            (Some(first), Some(second)) => {
                if self.dir.is_some() {
                    return Err(Diagnostic::error(
                        "usage",
                        format!("`vpai {command}` takes one {what}, and the stack once"),
                    )
                    .help(format!("run `vpai {command} [DIR] {what}`"))
                    .into());
                }
                let second_path = Path::new(&second);
                if !is_stack(&first) && is_stack(second_path) {
                    return Err(Diagnostic::error(
                        "usage",
                        format!("the stack directory comes first: `vpai {command} [DIR] {what}`"),
                    )
                    .help(format!("run `{}`", swapped(&first, &second)))
                    .into());
                }
                self.path = Some(first);
                Some(second)
            }
            (Some(first), None) if self.dir.is_some() || !is_stack(&first) => {
                Some(first.to_string_lossy().into_owned())
            }
            (first, None) => {
                self.path = first;
                None
            }
            (None, thing) => thing,
        };
        super::hints::remember_stack(self.dir(), &self.env);
        Ok(thing)
    }

    /// [`Self::split_thing`] for a command whose THING is required.
    pub(super) fn thing(
        &mut self,
        thing: Option<String>,
        what: &str,
        command: &str,
    ) -> Result<String, Failure> {
        self.split_thing(thing, what, command)?.ok_or_else(|| {
            Diagnostic::error("usage", format!("`vpai {command}` needs a {what}"))
                .help(format!(
                    "run `vpai {command} {} {what}`",
                    self.dir().display()
                ))
                .into()
        })
    }
}

#[derive(Args)]
pub(super) struct DeployArgs {
    #[command(flatten)]
    pub(super) stack: StackArgs,
    /// Host of the stack (default: the only one that runs services).
    #[arg(long)]
    pub(super) host: Option<String>,
    /// Docker engine to talk to: `local`, `unix:///path.sock` or `ssh://user@host:port`
    /// (default: the host's `address` over SSH, or the local engine).
    #[arg(long)]
    pub(super) target: Option<String>,
    #[command(flatten)]
    pub(super) identity: IdentityArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub(super) json: bool,
}

impl DeployArgs {
    /// Note the host and engine for the hints this command prints.
    pub(super) fn remember(&self) {
        super::hints::remember_target(self.host.as_deref(), self.target.as_deref());
    }
}

#[derive(Args)]
pub(super) struct SmokeArgs {
    /// Time limit of each check, e.g. `10s`.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub(super) timeout: std::time::Duration,
    /// Checks run at once.
    #[arg(long, default_value_t = 8)]
    pub(super) parallel: usize,
}

#[derive(Args)]
pub(super) struct IdentityArgs {
    /// age identity file (or SSH private key) to decrypt secrets.age. Default:
    /// $VPAI_IDENTITY, the stack's [age] identity, ~/.config/vpai/identity.txt, ~/.ssh/id_ed25519.
    #[arg(long, global = false)]
    pub(super) identity: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub(super) enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub(super) enum LintFormat {
    Human,
    Json,
    Sarif,
}
