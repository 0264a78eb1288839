//! Command-line interface: argument parsing and the commands' output.
//!
//! Every command returns `Result<ExitCode, Failure>`; `run` prints failures the
//! same way for all of them. Diagnostics go to stdout for `check` (they are its
//! output) and to stderr everywhere else.

use crate::console::{stderr, stdoutln};

mod args;
mod backup;
mod deploy;
mod hints;
mod host;
mod output;
mod progress;
mod secrets;
mod stack;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{self};
use crate::graph::GraphFormat;
use crate::init;

use args::*;
use backup::*;
use deploy::*;
use host::*;
use output::*;
use secrets::*;
use stack::*;

#[derive(Parser)]
#[command(
    name = "vpai",
    version,
    about = "One stack file plus encrypted secrets to a hardened, monitored Docker stack.",
    long_about = "vpai reads a declarative stack file (vpai.toml) and an age-encrypted secrets file \
(secrets.age), checks the whole configuration against the pitfalls known to break a deploy, \
and renders everything a host runs: compose file, env files, Caddyfile, service configs.\n\n\
Start with `vpai init`, then `vpai check` and `vpai render`; deploy with `vpai plan` and \
`vpai apply` (or `vpai up` on this machine). Then `vpai smoke` checks the host end to end, \
`vpai backup` saves and restores its data, `vpai host audit` reviews what it runs, `vpai graph` \
draws it; `vpai host bootstrap` prepares a new machine. `vpai explain RULE` documents every check.",
    after_help = "Examples:\n  vpai init mystack --defaults --name acme --domain acme.example\n  vpai check examples/javisi --env preprod\n  vpai render examples/javisi --out /tmp/bundle\n  vpai graph examples/javisi --out docs/javisi.svg\n  vpai secrets show examples/javisi\n  vpai explain memory-budget"
)]
pub struct Cli {
    /// When to color output.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Check a stack: schema, references, budgets, networks, routes, ports. Exit 1 on errors.
    Check {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Render the full bundle (compose, env files, Caddyfile, configs) into OUT.
    ///
    /// The output is deterministic and mirrors /opt/<project>/ on each host:
    /// OUT/<host>/docker-compose.yml, OUT/<host>/configs/<service>/... Env files
    /// hold secrets and are written with mode 0600.
    Render {
        #[command(flatten)]
        stack: StackArgs,
        /// Directory to write; replaced as a whole, never left half-written.
        #[arg(long, short)]
        out: PathBuf,
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// Draw the stack: hosts, services, networks, routes and dependencies.
    ///
    /// The architecture drawing for your docs, made from the resolved stack so it
    /// cannot drift from what vpai deploys. Hosts are boxes (architecture, addresses)
    /// holding their services (image, port, one badge per network; internal networks
    /// dashed). "Internet" and "VPN clients" reach the services their routes and
    /// published ports open, each line labelled with its site; dependencies point
    /// from a service to what it needs, dashed when vpai added them (database
    /// server, Redis). The output is deterministic: commit it and regenerate it. A
    /// stack with errors is refused, as `render` refuses it: run `vpai check` first.
    ///
    /// Formats: `svg` (the default) is a picture laid out by vpai itself, no Graphviz
    /// needed; `dot` is Graphviz source for `dot -Tsvg`; `mermaid` is a flowchart
    /// for Markdown that renders Mermaid blocks (GitHub, GitLab, MkDocs). Without
    /// --format, the extension of --out decides (.svg, .dot/.gv, .mmd/.mermaid).
    #[command(
        after_help = "Examples:\n  vpai graph examples/javisi --out docs/javisi.svg\n  vpai graph examples/javisi --env preprod --format dot | dot -Tpng > stack.png\n  vpai graph --format mermaid --out docs/stack.mmd"
    )]
    Graph {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format [default: from --out's extension, else svg].
        #[arg(long, value_enum)]
        format: Option<GraphFormat>,
        /// File to write instead of stdout.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Compare the stack with a host's Docker engine and list what apply would change.
    Plan {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Save the plan to apply it later with `apply --plan FILE` (holds no secret).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Converge a host: create, recreate (health-gated, rolled back on failure), remove orphans.
    Apply {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Apply this saved plan; refused if the stack or the host changed since.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        /// Run `vpai smoke` once the host converged; its failure fails the apply.
        #[arg(long)]
        smoke: bool,
        #[command(flatten)]
        smoke_args: SmokeArgs,
    },
    /// Apply on the local Docker engine, without asking.
    Up {
        #[command(flatten)]
        stack: StackArgs,
        /// Host of the stack to bring up here.
        #[arg(long)]
        host: Option<String>,
        #[command(flatten)]
        identity: IdentityArgs,
        #[arg(long)]
        json: bool,
    },
    /// Services of a host: state, health, image, memory against the limit.
    Status {
        #[command(flatten)]
        deploy: DeployArgs,
    },
    /// Logs of one service.
    Logs {
        #[command(flatten)]
        deploy: DeployArgs,
        /// The service whose logs to show.
        #[arg(value_name = "SERVICE")]
        service: Option<String>,
        /// Keep following.
        #[arg(long, short)]
        follow: bool,
        /// Lines from the end.
        #[arg(long, default_value = "100")]
        tail: String,
    },
    /// Remove the project's containers and networks. Data is kept unless --volumes.
    Down {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Also delete /opt/<project>/data and configs on the host (asks first).
        #[arg(long)]
        volumes: bool,
        /// Do not ask before deleting data; needed without a terminal.
        #[arg(long, short)]
        yes: bool,
    },
    /// Return a host to a recorded release (containers, images, env, configs; not data).
    ///
    /// Without RELEASE: the latest successful release that differs from what runs now.
    Rollback {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Release id, as `--list` shows it.
        #[arg(value_name = "RELEASE")]
        release: Option<String>,
        /// List the recorded releases and exit.
        #[arg(long)]
        list: bool,
        /// Do not ask before rolling back; needed without a terminal.
        #[arg(long, short)]
        yes: bool,
    },
    /// End-to-end checks of a deployed host, derived from the stack. Exit 1 if one fails.
    ///
    /// Every route through the host's proxy: public routes at the host's address,
    /// VPN-only routes at its vpn_address with the site's name kept for TLS (SNI) and
    /// the Host header; a VPN-only site must answer 403 outside the VPN; LiteLLM's
    /// /health with its master key and /v1/models against the declared models; each
    /// database reached from inside its consumers' containers. Checks run in
    /// parallel, each with its own timeout.
    #[command(
        after_help = "Examples:\n  vpai smoke examples/local --target local\n  vpai smoke examples/javisi --host vps --json\n  vpai apply examples/javisi --host vps --smoke"
    )]
    Smoke {
        #[command(flatten)]
        deploy: DeployArgs,
        #[command(flatten)]
        smoke: SmokeArgs,
    },
    /// Break the deploy lock of a host (when the apply that held it is gone).
    ///
    /// Refused while the holder's process still runs on this machine; a holder on
    /// another machine cannot be checked from here, so make sure it is gone.
    Unlock {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Break it even from an apply that is still running here: that apply
        /// fails, or races the next one.
        #[arg(long)]
        force: bool,
    },
    /// Lint compose files, Caddyfiles and deploy scripts that vpai did not write.
    ///
    /// Applies the CIS Docker Benchmark checks a compose file can answer and the
    /// pitfalls of seed 002 recognised from image names (`vpai explain` lists the
    /// rules; lint rules start with compose-, caddy- or script-). Kinds come from
    /// file names: *.yml/*.yaml with a `services:` table are compose files (other
    /// YAML, e.g. Ansible tasks, is read as a deploy script), Caddyfile* and *.caddy
    /// are Caddyfiles, *.sh and Makefiles are deploy scripts. A directory is searched
    /// for compose files, Caddyfiles and scripts. Files of one run see each other:
    /// pass the compose file with its Caddyfile and deploy script.
    ///
    /// Silence one finding with a comment on its line or the line above:
    /// `# vpai: ignore[RULE] REASON` (a whole file: `# vpai: ignore-file[RULE] REASON`).
    /// The reason is required. Exit 1 when an error remains, 0 otherwise.
    Lint {
        /// Files or directories to lint.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format: human text, JSON, or SARIF 2.1.0 for code scanning.
        #[arg(long, value_enum, default_value_t = LintFormat::Human)]
        format: LintFormat,
        /// Run only these rules: names or prefixes (`caddy`, `compose-no`), comma-separated.
        #[arg(long, value_delimiter = ',', value_name = "RULE")]
        select: Vec<String>,
        /// Skip these rules (names or prefixes), comma-separated.
        #[arg(long, value_delimiter = ',', value_name = "RULE")]
        ignore: Vec<String>,
        /// Skip rules for the files a glob matches: `GLOB:RULE[,RULE...]`; repeatable.
        #[arg(long = "per-file-ignores", value_name = "GLOB:RULES")]
        per_file_ignores: Vec<String>,
    },
    /// Show the documentation of a rule (what it checks, why, example, fix).
    Explain {
        /// Rule name, e.g. `memory-budget` or `compose-privileged`. Without it, lists every rule.
        rule: Option<String>,
        /// Machine-readable output: name, command, severity, summary and page.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of vpai.toml (for editor completion and validation).
    Schema,
    /// Create a stack: write vpai.toml and generate every secret into secrets.age.
    Init(init::InitArgs),
    /// Manage the encrypted secrets of a stack.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Back up a host's data with restic, list, restore and drill its snapshots.
    ///
    /// The jobs come from the stack: `[backup]` names the repository (a path,
    /// sftp:user@host:/path or s3:endpoint/bucket; its password is `restic_password`
    /// in secrets.age) and each service's catalog entry its hook: pg_dump -Fc of every
    /// database, Redis BGSAVE and its RDB, Qdrant snapshots, n8n exports, each host's
    /// configs. Data is pulled through the engine (exec, tar copies), staged on the
    /// machine running vpai, then backed up with the job's GFS retention (seed 001
    /// §5.4). The host's timers (rendered under host/etc/systemd) run the same jobs
    /// with `vpai backup run --bundle /opt/<project>`.
    #[command(
        after_help = "Examples:\n  vpai backup run examples/local --target local\n  vpai backup list examples/local --target local\n  vpai backup restore examples/local postgresql --target local --yes\n  vpai backup drill examples/local postgresql --target local"
    )]
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// The machines themselves: make a new one what deploys expect, audit what one runs.
    Host {
        #[command(subcommand)]
        command: HostCommand,
    },
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    match dispatch(cli.command, color) {
        Ok(code) => code,
        Err(failure) => {
            let diagnostics: Vec<_> = failure
                .diagnostics
                .into_iter()
                .map(hints::runnable_diagnostic)
                .collect();
            stderr!(
                "{}",
                diagnostic::render_human(&diagnostics, &failure.sources, color)
            );
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command, color: bool) -> Result<ExitCode, Failure> {
    match command {
        Command::Check { stack, format } => {
            stack.once("check")?;
            check(&stack, format, color)
        }
        Command::Render {
            stack,
            out,
            identity,
        } => {
            stack.once("render")?;
            render_cmd(&stack, &out, &identity)
        }
        Command::Lint {
            paths,
            format,
            select,
            ignore,
            per_file_ignores,
        } => lint_cmd(
            &paths,
            format,
            &crate::lint::suppress::Options {
                select,
                ignore,
                per_file_ignores,
            },
            color,
        ),
        Command::Explain { rule, json } => explain(rule.as_deref(), json),
        Command::Schema => {
            let schema = schemars::schema_for!(crate::stack::raw::RawStack);
            stdoutln!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("schema serializes")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Init(args) => init::run(args).map_err(Failure::from),
        Command::Graph { stack, format, out } => {
            stack.once("graph")?;
            graph_cmd(&stack, format, out.as_deref())
        }
        Command::Plan { deploy, out } => {
            deploy.stack.once("plan")?;
            plan_cmd(&deploy, out.as_ref())
        }
        Command::Apply {
            deploy,
            plan,
            yes,
            smoke,
            smoke_args,
        } => {
            deploy.stack.once("apply")?;
            apply_cmd(
                &deploy,
                plan.as_ref(),
                yes,
                None,
                smoke.then_some(&smoke_args),
            )
        }
        Command::Smoke { deploy, smoke } => {
            deploy.stack.once("smoke")?;
            smoke_cmd(&deploy, &smoke)
        }
        Command::Up {
            stack,
            host,
            identity,
            json,
        } => {
            stack.once("up")?;
            let deploy = DeployArgs {
                stack,
                host,
                target: Some("local".into()),
                identity,
                json,
            };
            apply_cmd(&deploy, None, true, Some("up"), None)
        }
        Command::Status { deploy } => {
            deploy.stack.once("status")?;
            status_cmd(&deploy)
        }
        Command::Logs {
            mut deploy,
            service,
            follow,
            tail,
        } => {
            let service = deploy.stack.thing(service, "SERVICE", "logs")?;
            logs_cmd(&deploy, &service, follow, &tail)
        }
        Command::Down {
            deploy,
            volumes,
            yes,
        } => {
            deploy.stack.once("down")?;
            down_cmd(&deploy, volumes, yes)
        }
        Command::Unlock { deploy, force } => {
            deploy.stack.once("unlock")?;
            unlock_cmd(&deploy, force)
        }
        Command::Rollback {
            mut deploy,
            release,
            list,
            yes,
        } => {
            let release = deploy.stack.split_thing(release, "RELEASE", "rollback")?;
            rollback_cmd(&deploy, release.as_deref(), list, yes)
        }
        Command::Secrets { command } => secrets_cmd(command),
        Command::Backup { command } => backup_cmd(command),
        Command::Host {
            command:
                HostCommand::Bootstrap {
                    mut stack,
                    host,
                    out,
                    identity,
                },
        } => {
            let host = stack.thing(host, "HOST", "host bootstrap")?;
            bootstrap_cmd(&host, &stack, out.as_deref(), &identity, color)
        }
        Command::Host {
            command: HostCommand::Audit { deploy },
        } => {
            deploy.stack.once("host audit")?;
            audit_cmd(&deploy)
        }
    }
}
