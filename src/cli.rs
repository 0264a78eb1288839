//! Command-line interface: argument parsing and the commands' output.
//!
//! Every command returns `Result<ExitCode, Failure>`; `run` prints failures the
//! same way for all of them. Diagnostics go to stdout for `check` (they are its
//! output) and to stderr everywhere else.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::diagnostic::{self, Diagnostic};
use crate::graph::GraphFormat;
use crate::secrets::{self, SecretValues};
use crate::source::Sources;
use crate::stack::{self, Report, Stack};
use crate::{deploy, init, render, rules};

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
    after_help = "Examples:\n  vpai init mystack --defaults --name acme --domain acme.example\n  vpai check examples/javisi --env preprod\n  vpai render examples/javisi --out /tmp/bundle\n  vpai graph examples/javisi --out docs/javisi.svg\n  vpai secrets show -C examples/javisi\n  vpai explain memory-budget"
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
        service: String,
        #[command(flatten)]
        deploy: DeployArgs,
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
        /// Also delete /opt/<project>/data and configs on the host.
        #[arg(long)]
        volumes: bool,
    },
    /// Return a host to a recorded release (containers, images, env, configs; not data).
    ///
    /// Without RELEASE: the latest successful release that differs from what runs now.
    Rollback {
        /// Release id, as `--list` shows it.
        release: Option<String>,
        #[command(flatten)]
        deploy: DeployArgs,
        /// List the recorded releases and exit.
        #[arg(long)]
        list: bool,
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
    Unlock {
        #[command(flatten)]
        deploy: DeployArgs,
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
        after_help = "Examples:\n  vpai backup run examples/local --target local\n  vpai backup list examples/local --target local\n  vpai backup restore postgresql examples/local --target local --yes\n  vpai backup drill postgresql examples/local --target local"
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

#[derive(Subcommand)]
enum BackupCommand {
    /// Run the host's backup jobs now (all, or those named with --job). Exit 1 if one fails.
    Run {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Only these jobs (a service name, or `configs`).
        #[arg(long)]
        job: Vec<String>,
        /// On the host, from its timer: read the plan and secrets of the bundle
        /// at this path (`/opt/<project>`) instead of a stack directory.
        #[arg(long, value_name = "ROOT")]
        bundle: Option<PathBuf>,
        /// Where jobs stage their files (default: ~/.cache/vpai/backup/...).
        #[arg(long)]
        staging: Option<PathBuf>,
    },
    /// List the snapshots of the host's jobs.
    List {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Only this job.
        #[arg(long)]
        job: Option<String>,
    },
    /// Bring one service's data back from a snapshot, in production. Asks first.
    ///
    /// PostgreSQL: every database of the job is dropped and recreated from its dump.
    /// Redis: the server is stopped, its RDB replaced, and started again. Data
    /// directories (`files` hook): copied back, owners kept, with the service
    /// stopped meanwhile. Qdrant and n8n snapshots are listed and kept, but put
    /// back by hand for now (`restic restore`).
    Restore {
        /// The job: the service whose data to restore.
        job: String,
        #[command(flatten)]
        deploy: DeployArgs,
        /// Snapshot id (default: the job's latest).
        #[arg(long)]
        snapshot: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Restore a snapshot into a scratch container and check it, leaving production alone.
    ///
    /// The scratch container is a copy of the service's (image, command, user,
    /// healthcheck) with no network, no port and fresh volumes; it is removed after.
    /// PostgreSQL: each database restored, its tables' rows counted. Redis: the RDB
    /// loaded, its keys counted.
    Drill {
        /// The job: the service whose snapshot to drill.
        job: String,
        #[command(flatten)]
        deploy: DeployArgs,
        /// Snapshot id (default: the job's latest).
        #[arg(long)]
        snapshot: Option<String>,
    },
}

#[derive(Subcommand)]
enum HostCommand {
    /// Render cloud-init user-data that makes a new Debian 13 machine a host of the stack.
    ///
    /// Give it to your provider when creating the machine (e.g. `hcloud server create
    /// --user-data-from-file FILE`). At first boot it creates the deploy user (ssh.user,
    /// with ssh.keys, in group docker, no password), writes /etc/docker/daemon.json and
    /// the SSH hardening of seed 001 §3.1 (port ssh.port, no root, no passwords,
    /// AllowUsers), then runs /usr/local/sbin/vpai-bootstrap: Debian's apt sources
    /// checked, Docker Engine from Docker's repository (pinned key, signed-by=), UFW
    /// (deny incoming; 80, 443, SSH, 41641/udp), fail2ban, CrowdSec, and the Headscale
    /// join with the pre-auth key (`vpai secrets set headscale_authkey`; single use,
    /// expiring, deleted from the machine once used). cloud-init keeps its own copy of the
    /// user-data (root only) and most providers serve it to the machine's processes from
    /// their metadata service: once the join has used the key, neither copy lets anyone in.
    ///
    /// SSH listens on every address at first: binding it to the VPN address before the
    /// VPN is up would lock you out. Once the host is on the VPN, run `sudo
    /// vpai-vpn-lockdown` there: it schedules its own revert, moves SSH to the VPN
    /// address and range, and keeps the change only if you confirm from a NEW
    /// connection through the VPN within 10 minutes. The steps are printed, and listed
    /// at the top of the user-data.
    ///
    /// A host without ssh.keys, logging in as root, or a VPN host whose pre-auth key is
    /// not set is refused, and nothing is written.
    #[command(
        after_help = "Examples:\n  vpai host bootstrap vps examples/javisi --out vps.yaml\n  vpai host bootstrap workstation -C examples/javisi --env preprod --out pi.yaml"
    )]
    Bootstrap {
        /// Host of the stack to bootstrap (a name under [hosts]).
        host: String,
        #[command(flatten)]
        stack: StackArgs,
        /// Write the user-data to FILE (mode 0600: it may hold the pre-auth key)
        /// instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// Audit what a host runs: the CIS Docker Benchmark v1.6.0 §5 checks on every container.
    ///
    /// Reads every container of the host's engine, vpai's or not, running or not,
    /// and reports: published ports and the interfaces they listen on (every
    /// interface is a finding, except the proxy's 80 and 443 and ports the stack
    /// declares `public = true`), privileged containers, the host's namespaces, the
    /// Docker socket and sensitive host directories mounted, capabilities added
    /// without `cap_drop: [ALL]`, no `no-new-privileges`, seccomp/AppArmor/SELinux
    /// switched off, privileged host ports, no memory or process limit; and containers
    /// vpai did not deploy, of another project, or of a service the stack no longer
    /// has on this host.
    ///
    /// A finding's code is the lint rule that flags the same setting in a compose file
    /// (`compose-privileged`, ...) or an `audit-` check; `vpai explain CODE` documents
    /// both. A mount the stack accepts (a catalog mount's `lint_ignore`) is reported as
    /// accepted, with its reason. Needs no secrets. Exit 1 when an error is not accepted.
    #[command(
        after_help = "Examples:\n  vpai host audit examples/javisi --host vps\n  vpai host audit examples/local --target local --json"
    )]
    Audit {
        #[command(flatten)]
        deploy: DeployArgs,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
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

#[derive(Args)]
struct StackArgs {
    /// Stack directory (holding vpai.toml) or the stack file itself [default: .]
    #[arg(value_name = "DIR")]
    path: Option<PathBuf>,
    /// The same, as an option (`-C DIR`).
    #[arg(long = "dir", short = 'C', value_name = "DIR", conflicts_with = "path")]
    dir: Option<PathBuf>,
    /// Environment to resolve.
    #[arg(long, short, default_value = "prod")]
    env: String,
}

/// Secrets commands take a secret NAME as their positional argument, so the stack
/// directory is only an option there.
#[derive(Args)]
struct SecretsStackArgs {
    /// Stack directory (holding vpai.toml) or the stack file itself.
    #[arg(long = "dir", short = 'C', value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Environment whose services decide which secrets are needed.
    #[arg(long, short, default_value = "prod")]
    env: String,
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
    fn dir(&self) -> &Path {
        self.path
            .as_deref()
            .or(self.dir.as_deref())
            .unwrap_or(Path::new("."))
    }
}

#[derive(Args)]
struct DeployArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Host of the stack (default: the only one that runs services).
    #[arg(long)]
    host: Option<String>,
    /// Docker engine to talk to: `local`, `unix:///path.sock` or `ssh://user@host:port`
    /// (default: the host's `address` over SSH, or the local engine).
    #[arg(long)]
    target: Option<String>,
    #[command(flatten)]
    identity: IdentityArgs,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SmokeArgs {
    /// Time limit of each check, e.g. `10s`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: std::time::Duration,
    /// Checks run at once.
    #[arg(long, default_value_t = 8)]
    parallel: usize,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| e.to_string())
}

#[derive(Args)]
struct IdentityArgs {
    /// age identity file (or SSH private key) to decrypt secrets.age. Default:
    /// $VPAI_IDENTITY, the stack's [age] identity, ~/.config/vpai/identity.txt, ~/.ssh/id_ed25519.
    #[arg(long, global = false)]
    identity: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum LintFormat {
    Human,
    Json,
    Sarif,
}

/// A command failed: diagnostics to print (with the texts they point into).
pub struct Failure {
    diagnostics: Vec<Diagnostic>,
    sources: Sources,
}

impl From<Report> for Failure {
    fn from(r: Report) -> Self {
        Failure {
            diagnostics: r.diagnostics,
            sources: r.sources,
        }
    }
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Self {
        Failure {
            diagnostics: vec![d],
            sources: Sources::default(),
        }
    }
}

impl From<secrets::SecretsError> for Failure {
    fn from(e: secrets::SecretsError) -> Self {
        Diagnostic::error("secrets", e.to_string()).into()
    }
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
            eprint!(
                "{}",
                diagnostic::render_human(&failure.diagnostics, &failure.sources, color)
            );
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command, color: bool) -> Result<ExitCode, Failure> {
    match command {
        Command::Check { stack, format } => check(&stack, format, color),
        Command::Render {
            stack,
            out,
            identity,
        } => render_cmd(&stack, &out, &identity),
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
        Command::Explain { rule } => explain(rule.as_deref()),
        Command::Schema => {
            let schema = schemars::schema_for!(crate::stack::raw::RawStack);
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("schema serializes")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Init(args) => init::run(args).map_err(Failure::from),
        Command::Graph { stack, format, out } => graph_cmd(&stack, format, out.as_deref()),
        Command::Plan { deploy, out } => plan_cmd(&deploy, out.as_ref()),
        Command::Apply {
            deploy,
            plan,
            yes,
            smoke,
            smoke_args,
        } => apply_cmd(
            &deploy,
            plan.as_ref(),
            yes,
            None,
            smoke.then_some(&smoke_args),
        ),
        Command::Smoke { deploy, smoke } => smoke_cmd(&deploy, &smoke),
        Command::Up {
            stack,
            host,
            identity,
            json,
        } => {
            let deploy = DeployArgs {
                stack,
                host,
                target: Some("local".into()),
                identity,
                json,
            };
            apply_cmd(&deploy, None, true, Some("up"), None)
        }
        Command::Status { deploy } => status_cmd(&deploy),
        Command::Logs {
            service,
            deploy,
            follow,
            tail,
        } => logs_cmd(&deploy, &service, follow, &tail),
        Command::Down { deploy, volumes } => down_cmd(&deploy, volumes),
        Command::Unlock { deploy } => unlock_cmd(&deploy),
        Command::Rollback {
            release,
            deploy,
            list,
        } => rollback_cmd(&deploy, release.as_deref(), list),
        Command::Secrets { command } => secrets_cmd(command),
        Command::Backup { command } => backup_cmd(command),
        Command::Host {
            command:
                HostCommand::Bootstrap {
                    host,
                    stack,
                    out,
                    identity,
                },
        } => bootstrap_cmd(&host, &stack, out.as_deref(), &identity, color),
        Command::Host {
            command: HostCommand::Audit { deploy },
        } => audit_cmd(&deploy),
    }
}

fn load(args: &StackArgs) -> Result<Stack, Failure> {
    Ok(stack::load(args.dir(), &args.env)?)
}

fn check(args: &StackArgs, format: Format, color: bool) -> Result<ExitCode, Failure> {
    let (diagnostics, sources, services) = match stack::load(args.dir(), &args.env) {
        Ok(stack) => {
            let d = rules::check(&stack);
            (d, stack.sources, stack.services.len())
        }
        Err(report) => (report.diagnostics, report.sources, 0),
    };
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    let mut stdout = std::io::stdout().lock();
    if format == Format::Json {
        let doc = serde_json::json!({
            "env": args.env,
            "ok": !failed,
            "diagnostics": diagnostic::render_json(&diagnostics, &sources),
        });
        writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&doc).expect("serializes")
        )
        .ok();
    } else {
        let color = color && std::io::stdout().is_terminal();
        write!(
            stdout,
            "{}",
            diagnostic::render_human(&diagnostics, &sources, color)
        )
        .ok();
        if diagnostics.is_empty() {
            writeln!(
                stdout,
                "ok: {services} services checked for `{}`, no problems found",
                args.env
            )
            .ok();
        } else {
            writeln!(
                stdout,
                "{} in `{}`",
                diagnostic::summary(&diagnostics),
                args.env
            )
            .ok();
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn stack_dir(args: &StackArgs) -> PathBuf {
    let path = stack::load::stack_path(args.dir());
    path.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn secrets_file(args: &StackArgs) -> PathBuf {
    stack_dir(args).join(secrets::SECRETS_FILE)
}

fn decrypt(
    args: &StackArgs,
    stack: &Stack,
    identity: &IdentityArgs,
) -> Result<SecretValues, Failure> {
    let file = secrets_file(args);
    if !file.exists() {
        return Err(
            Diagnostic::error("secrets", format!("{} does not exist", file.display()))
                .help("run `vpai secrets sync` to create it")
                .into(),
        );
    }
    let candidates = secrets::identity_candidates(
        identity.identity.as_deref(),
        &stack_dir(args),
        stack.identity.as_deref(),
    );
    Ok(secrets::decrypt(&file, &candidates)?)
}

/// Load a stack and refuse it, with every diagnostic, when `check` finds an error.
fn load_checked(args: &StackArgs, code: &'static str, refusal: &str) -> Result<Stack, Failure> {
    let stack = load(args)?;
    let problems = rules::check(&stack);
    if problems.iter().any(Diagnostic::is_error) {
        let mut failure = Failure {
            diagnostics: problems,
            sources: stack.sources,
        };
        failure.diagnostics.push(
            Diagnostic::error(code, refusal.to_string())
                .help("run `vpai check` and fix them first"),
        );
        return Err(failure);
    }
    Ok(stack)
}

fn render_cmd(args: &StackArgs, out: &Path, identity: &IdentityArgs) -> Result<ExitCode, Failure> {
    let stack = load_checked(
        args,
        "render-refused",
        "nothing rendered: the stack has errors",
    )?;
    let values = decrypt(args, &stack, identity)?;
    let bundle = render::render(&stack, &values).map_err(|diagnostics| Failure {
        diagnostics,
        sources: stack.sources.clone(),
    })?;
    render::write(&bundle, out)
        .map_err(|e| Diagnostic::error("io", format!("cannot write {}: {e}", out.display())))?;
    let hosts: Vec<&str> = stack
        .hosts
        .keys()
        .map(String::as_str)
        .filter(|h| out.join(h).exists())
        .collect();
    eprintln!(
        "rendered {} files for `{}` into {} (hosts: {})",
        bundle.files.len(),
        stack.env,
        out.display(),
        hosts.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// Bootstrap reads the hosts and [vpn] only: errors `vpai check` finds in services do
/// not stop a machine from being created, so only the resolution must succeed.
fn bootstrap_cmd(
    host: &str,
    args: &StackArgs,
    out: Option<&Path>,
    identity: &IdentityArgs,
    color: bool,
) -> Result<ExitCode, Failure> {
    use crate::host::bootstrap;
    let stack = load(args)?;
    let host = deploy::pick_host(&stack, Some(host))?;
    let values = if bootstrap::needs_secrets(&stack) {
        decrypt(args, &stack, identity)?
    } else {
        SecretValues::default()
    };
    let user_data =
        bootstrap::user_data(&stack, &host, &values).map_err(|diagnostics| Failure {
            diagnostics,
            sources: stack.sources.clone(),
        })?;
    eprint!(
        "{}",
        diagnostic::render_human(&user_data.warnings, &stack.sources, color)
    );
    match out {
        Some(path) => {
            write_private_atomically(path, &user_data.text).map_err(|e| {
                Diagnostic::error("io", format!("cannot write {}: {e}", path.display()))
            })?;
            eprintln!(
                "wrote {} (mode 0600): cloud-init user-data for host `{host}` of `{}` ({})",
                path.display(),
                stack.project.name,
                stack.env
            );
        }
        None => print!("{}", user_data.text),
    }
    if user_data.holds_secret {
        eprintln!(
            "warning: the user-data holds the Headscale pre-auth key: keep it private and delete it once the host has joined; the key is single use and expires"
        );
    }
    eprintln!("once the machine is up:");
    for step in &user_data.next_steps {
        eprintln!("  {step}");
    }
    Ok(ExitCode::SUCCESS)
}

fn graph_cmd(
    args: &StackArgs,
    format: Option<GraphFormat>,
    out: Option<&Path>,
) -> Result<ExitCode, Failure> {
    let format = format
        .or_else(|| out.and_then(format_of_extension))
        .unwrap_or(GraphFormat::Svg);
    let stack = load_checked(args, "graph-refused", "nothing drawn: the stack has errors")?;
    let drawing = crate::graph::render(&stack, format);
    match out {
        Some(path) => {
            std::fs::write(path, &drawing).map_err(|e| {
                Diagnostic::error("io", format!("cannot write {}: {e}", path.display()))
            })?;
            let count =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            eprintln!(
                "drew `{}` ({}: {} on {}) into {}",
                stack.project.name,
                stack.env,
                count(stack.services.len(), "service"),
                count(stack.hosts.len(), "host"),
                path.display()
            );
        }
        None => print!("{drawing}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Write `text` to `path` with mode 0600 from the first byte, through a temporary file
/// in the same directory, so that neither a reader nor a crash sees half of it.
fn write_private_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let staging = dir.join(format!(".{}.vpai-staging", name.to_string_lossy()));
    let _ = std::fs::remove_file(&staging);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staging)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&staging, path)
}

/// The format a file name asks for: `stack.dot` is Graphviz source, not a picture.
fn format_of_extension(path: &Path) -> Option<GraphFormat> {
    match path.extension()?.to_str()? {
        "svg" => Some(GraphFormat::Svg),
        "dot" | "gv" => Some(GraphFormat::Dot),
        "mmd" | "mermaid" => Some(GraphFormat::Mermaid),
        _ => None,
    }
}

fn lint_cmd(
    paths: &[PathBuf],
    format: LintFormat,
    options: &crate::lint::suppress::Options,
    color: bool,
) -> Result<ExitCode, Failure> {
    let report = crate::lint::lint(paths, options).map_err(|d| Failure {
        diagnostics: vec![d],
        sources: Sources::default(),
    })?;
    let failed = report.diagnostics.iter().any(Diagnostic::is_error);
    let mut stdout = std::io::stdout().lock();
    match format {
        LintFormat::Json => {
            let doc = serde_json::json!({
                "ok": !failed,
                "files": report.files,
                "diagnostics": diagnostic::render_json(&report.diagnostics, &report.sources),
            });
            writeln!(
                stdout,
                "{}",
                serde_json::to_string_pretty(&doc).expect("serializes")
            )
            .ok();
        }
        LintFormat::Sarif => {
            let doc = crate::lint::sarif::render(&report.diagnostics, &report.sources);
            writeln!(
                stdout,
                "{}",
                serde_json::to_string_pretty(&doc).expect("serializes")
            )
            .ok();
        }
        LintFormat::Human => {
            let color = color && std::io::stdout().is_terminal();
            write!(
                stdout,
                "{}",
                diagnostic::render_human(&report.diagnostics, &report.sources, color)
            )
            .ok();
            let files = format!(
                "{} file{}",
                report.files,
                if report.files == 1 { "" } else { "s" }
            );
            if report.diagnostics.is_empty() {
                writeln!(stdout, "ok: {files} linted, no problems found").ok();
            } else {
                writeln!(
                    stdout,
                    "{} in {files}",
                    diagnostic::summary(&report.diagnostics)
                )
                .ok();
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn explain(rule: Option<&str>) -> Result<ExitCode, Failure> {
    let summary = |doc: &str| {
        doc.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("")
            .to_string()
    };
    let names = || {
        rules::RULES
            .iter()
            .map(|r| r.name())
            .chain(crate::lint::rules::LINT_RULES.iter().map(|r| r.name()))
            .chain(crate::host::audit::AUDIT_CHECKS.iter().map(|c| c.name))
    };
    match rule {
        None => {
            println!("Stack rules (vpai check):");
            for r in rules::RULES {
                println!("  {:<38} {}", r.name(), summary(r.meta().doc));
            }
            println!("\nLint rules (vpai lint):");
            for r in crate::lint::rules::LINT_RULES {
                println!("  {:<38} {}", r.name(), summary(r.meta().doc));
            }
            println!("\nHost audit checks (vpai host audit; it also reports the compose- rules):");
            for c in crate::host::audit::AUDIT_CHECKS {
                println!("  {:<38} {}", c.name, summary(c.doc));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(name) => {
            let page = match (
                rules::find(name),
                crate::lint::rules::find(name),
                crate::host::audit::find(name),
            ) {
                (Some(r), _, _) => r.meta().explain(),
                (None, Some(r), _) => r.meta().explain(),
                (None, None, Some(c)) => c.explain(),
                (None, None, None) => {
                    return Err(Diagnostic::error(
                        "unknown-rule",
                        format!("no rule named `{name}`"),
                    )
                    .maybe_help(crate::suggest::hint(name, names()))
                    .note("`vpai explain` lists every rule")
                    .into());
                }
            };
            print!("{page}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A backup session: from the stack directory, or from the host's bundle.
fn backup_session(
    args: &DeployArgs,
    bundle: Option<&Path>,
    staging: Option<PathBuf>,
    rt: &tokio::runtime::Runtime,
) -> Result<crate::backup::command::Session, Failure> {
    use crate::backup::command::Session;
    if let Some(bundle) = bundle {
        let engine = connect(
            rt,
            &crate::engine::target::Target::parse(args.target.as_deref())
                .map_err(|e| Diagnostic::error("target", e))?,
        )?;
        return Ok(Session::from_bundle(bundle, engine, staging)?);
    }
    let ctx = deploy_context(args)?;
    let engine = connect(rt, &ctx.target)?;
    Session::from_stack(&ctx, engine, staging).map_err(|d| Failure {
        diagnostics: vec![d],
        sources: ctx.stack.sources.clone(),
    })
}

fn backup_cmd(command: BackupCommand) -> Result<ExitCode, Failure> {
    let rt = deploy::runtime();
    match command {
        BackupCommand::Run {
            deploy,
            job,
            bundle,
            staging,
        } => {
            let session = backup_session(&deploy, bundle.as_deref(), staging, &rt)?;
            let json = deploy.json;
            let progress = |r: &crate::backup::run::JobReport| {
                if !json {
                    match &r.error {
                        None => eprintln!(
                            "{}: snapshot {} ({} file(s), {} bytes; kept {}, removed {}) in {:.1}s",
                            r.job,
                            r.snapshot.as_deref().unwrap_or("?"),
                            r.files.len(),
                            r.files.iter().map(|(_, n)| n).sum::<u64>(),
                            r.kept,
                            r.removed,
                            r.seconds
                        ),
                        Some(e) => eprintln!("{}: FAILED: {e}", r.job),
                    }
                }
            };
            let (reports, warning) = rt.block_on(session.run(&job, &progress))?;
            if let Some(w) = &warning {
                eprintln!("warning: {w}");
            }
            let ok = reports.iter().all(|r| r.ok);
            if json {
                print_json(&serde_json::json!({
                    "project": session.project, "host": session.host, "ok": ok,
                    "jobs": reports, "heartbeat_warning": warning,
                }));
            } else {
                eprintln!(
                    "backup of `{}` on `{}`: {} of {} job(s) succeeded",
                    session.project,
                    session.host,
                    reports.iter().filter(|r| r.ok).count(),
                    reports.len()
                );
            }
            Ok(exit(ok))
        }
        BackupCommand::List { deploy, job } => {
            let session = backup_session(&deploy, None, None, &rt)?;
            let jobs: Vec<&crate::stack::backup::BackupJob> = match &job {
                Some(name) => vec![session.job(name)?],
                None => session.jobs.iter().collect(),
            };
            let mut listed = Vec::new();
            for job in jobs {
                let labels = job.labels(&session.project, &session.env);
                let snapshots = session.restic.snapshots(Some(&labels)).map_err(|e| {
                    Diagnostic::error("restic", e.to_string()).maybe_help(e.hint.clone())
                })?;
                listed.push((job.name.clone(), snapshots));
            }
            if deploy.json {
                print_json(
                    &listed
                        .iter()
                        .map(|(job, snapshots)| {
                            serde_json::json!({ "job": job, "snapshots": snapshots.iter().map(|s| serde_json::json!({"id": s.short_id, "time": s.time, "paths": s.paths})).collect::<Vec<_>>() })
                        })
                        .collect::<Vec<_>>(),
                );
            } else {
                for (job, snapshots) in &listed {
                    println!("{job}: {} snapshot(s)", snapshots.len());
                    for s in snapshots {
                        println!("  {}  {}", s.short_id, s.time);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Restore {
            job,
            deploy,
            snapshot,
            yes,
        } => {
            let session = backup_session(&deploy, None, None, &rt)?;
            let (runner, job, chosen) = rt.block_on(session.prepare(&job, snapshot.as_deref()))?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Diagnostic::error("refused", "no terminal to confirm on")
                        .help("pass --yes to restore without asking")
                        .into());
                }
                eprint!(
                    "replace `{}`'s data on `{}` with snapshot {} ({})? [y/N] ",
                    job.name, session.host, chosen.short_id, chosen.time
                );
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer).ok();
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    eprintln!("nothing changed");
                    return Ok(ExitCode::FAILURE);
                }
            }
            let done = rt
                .block_on(runner.restore(job, &chosen))
                .map_err(|e| Diagnostic::error("restore", e))?;
            if deploy.json {
                print_json(
                    &serde_json::json!({ "job": job.name, "snapshot": chosen.short_id, "done": done }),
                );
            } else {
                for line in &done {
                    eprintln!("{line}");
                }
                eprintln!("restored `{}` from snapshot {}", job.name, chosen.short_id);
            }
            Ok(ExitCode::SUCCESS)
        }
        BackupCommand::Drill {
            job,
            deploy,
            snapshot,
        } => {
            let session = backup_session(&deploy, None, None, &rt)?;
            let (runner, job, chosen) = rt.block_on(session.prepare(&job, snapshot.as_deref()))?;
            let report = rt
                .block_on(runner.drill(job, &chosen))
                .map_err(|e| Diagnostic::error("drill", e))?;
            if deploy.json {
                print_json(&report);
            } else {
                println!(
                    "drill of `{}` from snapshot {}: restored in a scratch container in {:.1}s",
                    report.job, report.snapshot, report.seconds
                );
                for (db, tables) in &report.found {
                    println!("  database {db}: {} table(s)", tables.len());
                    for (table, rows) in tables {
                        println!("    {table}: {rows} row(s)");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn secrets_cmd(command: SecretsCommand) -> Result<ExitCode, Failure> {
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

/// Load, check and decrypt: nothing reaches an engine before the stack is clean.
fn deploy_context(args: &DeployArgs) -> Result<deploy::Context, Failure> {
    let stack = load_checked(
        &args.stack,
        "refused",
        "nothing deployed: the stack has errors",
    )?;
    let host = deploy::pick_host(&stack, args.host.as_deref())?;
    let target = deploy::pick_target(&stack, &host, args.target.as_deref())?;
    let secrets = deploy::load_secrets(
        &stack_dir(&args.stack),
        &stack,
        args.identity.identity.as_deref(),
    )?;
    Ok(deploy::Context {
        stack: std::sync::Arc::new(stack),
        secrets: std::sync::Arc::new(secrets),
        host,
        target,
    })
}

fn connect(
    rt: &tokio::runtime::Runtime,
    target: &crate::engine::target::Target,
) -> Result<crate::engine::Engine, Failure> {
    rt.block_on(crate::engine::Engine::connect(target))
        .map_err(|e| deploy::error(e).into())
}

/// Success or failure, as the exit code.
fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("serializes")
    );
}

/// Check, connect and plan: what `plan` shows and `apply` executes.
struct Planned {
    ctx: deploy::Context,
    rt: tokio::runtime::Runtime,
    engine: crate::engine::Engine,
    desired: crate::engine::desired::Desired,
    plan: crate::engine::plan::Plan,
}

fn planned(args: &DeployArgs) -> Result<Planned, Failure> {
    let ctx = deploy_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &ctx.target)?;
    let (desired, plan) = rt
        .block_on(deploy::make_plan(&engine, &ctx))
        .map_err(|diagnostics| Failure {
            diagnostics,
            sources: ctx.stack.sources.clone(),
        })?;
    Ok(Planned {
        ctx,
        rt,
        engine,
        desired,
        plan,
    })
}

fn plan_cmd(args: &DeployArgs, out: Option<&PathBuf>) -> Result<ExitCode, Failure> {
    let Planned { plan, .. } = planned(args)?;
    if let Some(path) = out {
        deploy::plan_file_write(path, &plan)?;
    }
    if args.json {
        print_json(&plan);
    } else {
        print!("{}", crate::engine::plan::render_text(&plan));
        if let Some(path) = out {
            println!(
                "saved to {}; apply it with `vpai apply --plan {}`",
                path.display(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn apply_cmd(
    args: &DeployArgs,
    saved: Option<&PathBuf>,
    yes: bool,
    verb: Option<&str>,
    smoke: Option<&SmokeArgs>,
) -> Result<ExitCode, Failure> {
    let Planned {
        ctx,
        rt,
        engine,
        desired,
        plan,
    } = planned(args)?;
    if let Some(path) = saved {
        deploy::check_saved(&deploy::plan_file_read(path)?, &plan)?;
    }
    if !args.json {
        eprint!("{}", crate::engine::plan::render_text(&plan));
    }
    if plan.is_empty() {
        if args.json && smoke.is_none() {
            print_json(&serde_json::json!({ "ok": true, "changed": false, "plan": plan }));
        }
        return match smoke {
            Some(s) => run_smoke(&rt, engine, &ctx, s, args.json),
            None => Ok(ExitCode::SUCCESS),
        };
    }
    if !yes && saved.is_none() {
        if !std::io::stdin().is_terminal() {
            return Err(Diagnostic::error("refused", "no terminal to confirm on")
                .help("pass --yes, or save a plan with `vpai plan --out FILE` and `vpai apply --plan FILE`")
                .into());
        }
        eprint!("apply these changes to `{}`? [y/N] ", ctx.host);
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).ok();
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing changed");
            return Ok(ExitCode::FAILURE);
        }
    }
    let report = rt.block_on(deploy::apply(engine, &ctx, desired, &plan, args.json))?;
    if args.json {
        print_json(&report);
    } else {
        for s in report.services.iter().filter(|s| s.error.is_some()) {
            eprintln!(
                "\nservice `{}` failed: {}",
                s.service,
                s.error.as_deref().unwrap_or_default()
            );
            if let Some(logs) = &s.logs {
                eprintln!("last log lines of `{}`:\n{}", s.service, logs.trim_end());
            }
        }
        for p in &report.provisioned {
            eprintln!("provisioned: {p}");
        }
        for o in &report.removed_orphans {
            eprintln!("removed orphan: {o}");
        }
        eprintln!(
            "{} `{}` on `{}`: {} in {:.1}s (release {})",
            verb.unwrap_or("apply"),
            ctx.stack.project.name,
            ctx.host,
            if report.ok { "converged" } else { "FAILED" },
            report.seconds,
            report.release
        );
    }
    match smoke {
        Some(s) if report.ok => {
            let engine = connect(&rt, &ctx.target)?;
            run_smoke(&rt, engine, &ctx, s, args.json)
        }
        _ => Ok(exit(report.ok)),
    }
}

fn smoke_cmd(args: &DeployArgs, smoke: &SmokeArgs) -> Result<ExitCode, Failure> {
    let ctx = deploy_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &ctx.target)?;
    run_smoke(&rt, engine, &ctx, smoke, args.json)
}

fn run_smoke(
    rt: &tokio::runtime::Runtime,
    engine: crate::engine::Engine,
    ctx: &deploy::Context,
    args: &SmokeArgs,
    json: bool,
) -> Result<ExitCode, Failure> {
    let report = rt
        .block_on(deploy::smoke(engine, ctx, args.timeout, args.parallel))
        .map_err(|diagnostics| Failure {
            diagnostics,
            sources: ctx.stack.sources.clone(),
        })?;
    if json {
        print_json(&report);
    } else {
        print!("{}", smoke_table(&report));
    }
    Ok(exit(report.ok()))
}

/// One line per check: result, kind, name, what was found, time.
fn smoke_table(report: &crate::smoke::Report) -> String {
    let width = |f: &dyn Fn(&crate::smoke::Outcome) -> usize| {
        report.checks.iter().map(f).max().unwrap_or(0)
    };
    let name_width = width(&|o| o.check.name.chars().count()).max(5);
    let mut out = format!(
        "smoke `{}` on `{}`\n{:<4}  {:<8}  {:<name_width$}  {:>6}  DETAIL\n",
        report.project, report.host, "", "KIND", "CHECK", "TIME"
    );
    for o in &report.checks {
        out.push_str(&format!(
            "{:<4}  {:<8}  {:<name_width$}  {:>4}ms  {}\n",
            if o.passed { "ok" } else { "FAIL" },
            o.check.kind.label(),
            o.check.name,
            o.millis,
            if o.passed {
                o.detail.clone()
            } else {
                format!("{} — {}", o.detail, o.check.target)
            },
        ));
    }
    out.push_str(&format!(
        "{} passed, {} failed\n",
        report.passed, report.failed
    ));
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

/// Status, logs, down and unlock need the project name and a target, not the secrets.
fn light_context(
    args: &DeployArgs,
) -> Result<(Stack, String, crate::engine::target::Target), Failure> {
    let stack = load(&args.stack)?;
    let host = deploy::pick_host(&stack, args.host.as_deref())?;
    let target = deploy::pick_target(&stack, &host, args.target.as_deref())?;
    Ok((stack, host, target))
}

fn status_cmd(args: &DeployArgs) -> Result<ExitCode, Failure> {
    let (stack, _, target) = light_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    let lines = rt
        .block_on(crate::engine::ops::status(&engine, &stack.project.name))
        .map_err(deploy::error)?;
    if args.json {
        print_json(&lines);
    } else {
        println!(
            "{:<20} {:<9} {:<10} {:>14}  image",
            "service", "state", "health", "memory"
        );
        for l in &lines {
            let memory = match (l.memory_mb, l.limit_mb) {
                (Some(m), Some(limit)) => format!("{m}/{limit} MB"),
                _ => "-".into(),
            };
            println!(
                "{:<20} {:<9} {:<10} {:>14}  {}",
                l.service,
                l.state,
                l.health.as_deref().unwrap_or("-"),
                memory,
                l.image
            );
        }
        if lines.is_empty() {
            println!("no container of `{}` on this engine", stack.project.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_cmd(args: &DeployArgs) -> Result<ExitCode, Failure> {
    let (stack, host, target) = light_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    let facts = rt
        .block_on(crate::engine::audit::read(&engine))
        .map_err(deploy::error)?;
    let report = crate::host::audit::judge(&facts, &stack, &host);
    if args.json {
        print_json(&report);
    } else {
        print!("{}", audit_table(&report));
    }
    Ok(exit(report.ok))
}

/// The published ports, then each container with its findings, then the counts.
fn audit_table(report: &crate::host::audit::Report) -> String {
    use crate::host::audit::Owner;
    let mut out = format!(
        "audit of `{}` host `{}` ({}): {} containers\n",
        report.project,
        report.host,
        report.env,
        report.containers.len()
    );
    if !report.ports.is_empty() {
        let container_width = report
            .ports
            .iter()
            .map(|p| p.container.chars().count())
            .max()
            .unwrap_or(0)
            .max(9);
        let address_width = report
            .ports
            .iter()
            .map(|p| p.address().chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        out.push_str(&format!(
            "\n{:<container_width$}  {:<address_width$}     CONTAINER PORT\n",
            "CONTAINER", "HOST"
        ));
        for p in &report.ports {
            out.push_str(&format!(
                "{:<container_width$}  {:<address_width$}  -> {}{}\n",
                p.container,
                p.address(),
                p.container_port,
                if p.every_interface {
                    "  (every interface)"
                } else {
                    ""
                }
            ));
        }
    }
    let code_width = report
        .findings
        .iter()
        .map(|f| f.code.len())
        .max()
        .unwrap_or(0);
    for c in &report.containers {
        let owner = match &c.owner {
            Owner::Stack { service } => format!("{}/{service}", report.project),
            Owner::Orphan {
                service: Some(service),
            } => format!("{}/{service}, orphan", report.project),
            Owner::Orphan { service: None } => format!("{}, no service", report.project),
            Owner::Foreign { project } => format!("project {project}"),
            Owner::Unmanaged => "not vpai's".to_string(),
        };
        out.push_str(&format!(
            "\n{}  {}  ({owner}, {})\n",
            c.name,
            c.image,
            if c.running { "running" } else { "stopped" }
        ));
        let findings: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.container == c.name)
            .collect();
        if findings.is_empty() {
            out.push_str("  ok\n");
        }
        for f in findings {
            let severity = if f.accepted.is_some() {
                "accepted"
            } else {
                f.severity.label()
            };
            out.push_str(&format!(
                "  {severity:<8}  {:<code_width$}  {}\n",
                f.code, f.message
            ));
            if let Some(reason) = &f.accepted {
                out.push_str(&format!(
                    "  {:<8}  {:<code_width$}  reason: {reason}\n",
                    "", ""
                ));
            }
        }
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!(
        "\n{}, {}, {} info, {} accepted in {}\n",
        plural(report.errors, "error"),
        plural(report.warnings, "warning"),
        report.info,
        report.accepted,
        plural(report.containers.len(), "container")
    ));
    out
}

fn logs_cmd(
    args: &DeployArgs,
    service: &str,
    follow: bool,
    tail: &str,
) -> Result<ExitCode, Failure> {
    let (stack, _, target) = light_context(args)?;
    let Some(s) = stack.services.get(service) else {
        return Err(Diagnostic::error(
            "unknown-service",
            format!("no service `{service}` in this stack"),
        )
        .maybe_help(crate::suggest::hint(
            service,
            stack.services.keys().map(String::as_str),
        ))
        .into());
    };
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    rt.block_on(crate::engine::ops::logs(
        &engine,
        &s.container_name(&stack.project.name),
        follow,
        tail,
    ))
    .map_err(deploy::error)?;
    Ok(ExitCode::SUCCESS)
}

fn down_cmd(args: &DeployArgs, volumes: bool) -> Result<ExitCode, Failure> {
    let (stack, _, target) = light_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    let report = rt
        .block_on(crate::engine::ops::down(
            &engine,
            &stack.project.name,
            volumes,
        ))
        .map_err(deploy::error)?;
    if args.json {
        print_json(&report);
    } else {
        eprintln!(
            "removed {} containers and {} networks of `{}`; data {}",
            report.removed_containers.len(),
            report.removed_networks.len(),
            stack.project.name,
            if report.removed_data {
                "deleted"
            } else {
                "kept"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn unlock_cmd(args: &DeployArgs) -> Result<ExitCode, Failure> {
    let (stack, _, target) = light_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    let holder = rt
        .block_on(crate::engine::lock::force_release(
            &engine,
            &stack.project.name,
        ))
        .map_err(deploy::error)?;
    if args.json {
        print_json(&serde_json::json!({
            "project": stack.project.name,
            "broken": holder.as_ref().map(|h| h.to_string()),
        }));
        return Ok(ExitCode::SUCCESS);
    }
    match holder {
        Some(holder) => eprintln!(
            "broke the deploy lock of `{}` held by {holder}",
            stack.project.name
        ),
        None => eprintln!("`{}` was not locked", stack.project.name),
    }
    Ok(ExitCode::SUCCESS)
}

fn rollback_cmd(args: &DeployArgs, release: Option<&str>, list: bool) -> Result<ExitCode, Failure> {
    let (stack, _, target) = light_context(args)?;
    let rt = deploy::runtime();
    let engine = connect(&rt, &target)?;
    let outcome = rt.block_on(deploy::rollback(
        engine,
        &stack.project.name,
        &stack.env,
        release,
        list,
        args.json,
    ))?;
    match outcome {
        deploy::RollbackOutcome::List(releases) => {
            if args.json {
                print_json(&releases);
            } else {
                for r in &releases {
                    println!(
                        "{}  {}  {:<8} {}  {}",
                        r.id,
                        r.at,
                        r.env,
                        if r.ok { "ok    " } else { "FAILED" },
                        r.by
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        deploy::RollbackOutcome::Applied { to, report } => {
            if args.json {
                print_json(&serde_json::json!({ "rolled_back_to": to, "report": report }));
            } else {
                eprintln!(
                    "rollback of `{}` to {to}: {} in {:.1}s (release {})",
                    stack.project.name,
                    if report.ok { "converged" } else { "FAILED" },
                    report.seconds,
                    report.release
                );
            }
            Ok(exit(report.ok))
        }
    }
}
