//! The arguments several commands share: the stack, the deploy target, the identity, formats.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

#[derive(Args)]
pub(super) struct StackArgs {
    /// Stack directory (holding vpai.toml) or the stack file itself [default: .]
    #[arg(value_name = "DIR")]
    pub(super) path: Option<PathBuf>,
    /// The same, as an option (`-C DIR`).
    #[arg(long = "dir", short = 'C', value_name = "DIR", conflicts_with = "path")]
    pub(super) dir: Option<PathBuf>,
    /// Environment to resolve.
    #[arg(long, short, default_value = "prod")]
    pub(super) env: String,
}

/// Secrets commands take a secret NAME as their positional argument, so the stack
/// directory is only an option there.
#[derive(Args)]
pub(super) struct SecretsStackArgs {
    /// Stack directory (holding vpai.toml) or the stack file itself.
    #[arg(long = "dir", short = 'C', value_name = "DIR")]
    pub(super) dir: Option<PathBuf>,
    /// Environment whose services decide which secrets are needed.
    #[arg(long, short, default_value = "prod")]
    pub(super) env: String,
}

impl From<SecretsStackArgs> for StackArgs {
    fn from(a: SecretsStackArgs) -> Self {
        StackArgs {
            path: None,
            dir: a.dir,
            env: a.env,
        }
    }
}

impl StackArgs {
    pub(super) fn dir(&self) -> &Path {
        self.path
            .as_deref()
            .or(self.dir.as_deref())
            .unwrap_or(Path::new("."))
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

#[derive(Args)]
pub(super) struct SmokeArgs {
    /// Time limit of each check, e.g. `10s`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(super) timeout: std::time::Duration,
    /// Checks run at once.
    #[arg(long, default_value_t = 8)]
    pub(super) parallel: usize,
}

pub(super) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| e.to_string())
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
