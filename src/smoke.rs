//! `vpai smoke`: the end-to-end checks of a deployed host (001 §7.2, 002 §12.4),
//! derived from the stack instead of kept by hand in a script that drifts.
//!
//! What a route is, who may reach it and how it answers when healthy are already
//! in the resolved stack, so every route gets a check through the host's proxy:
//! public routes at the host's public address, VPN-only ones at its VPN address
//! (the name is pinned to that address, so TLS SNI and the Host header stay the
//! site's, as `curl --resolve` does, 002 §12.4), and a VPN-only site reached from
//! outside the VPN must answer 403. LiteLLM is asked `/health` with its master key
//! (002 §10.2) and `/v1/models` must list the models the stack declares. A database
//! must be reachable from each of its consumers, tested inside the consumer's own
//! container through the engine (no port opened for it).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::engine::Engine;
use crate::render::Bundle;
use crate::stack::Stack;
use crate::stack::kinds::{Access, Generator, Kind};
use crate::stack::model::{Route, Service};

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// A route answers through the proxy.
    Route,
    /// A VPN-only site refuses a client outside the VPN.
    VpnOnly,
    /// LiteLLM's authenticated `/health`.
    Litellm,
    /// LiteLLM lists the stack's models.
    Models,
    /// A consumer container reaches its database or Redis server.
    Database,
}

impl CheckKind {
    pub fn label(self) -> &'static str {
        match self {
            CheckKind::Route => "route",
            CheckKind::VpnOnly => "vpn-only",
            CheckKind::Litellm => "litellm",
            CheckKind::Models => "models",
            CheckKind::Database => "database",
        }
    }
}

/// One check, as derived from the stack.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    /// The services whose failure makes this check fail.
    pub services: Vec<String>,
    /// What is probed: a URL and the address it is sent to, or container → server.
    pub target: String,
    pub expect: String,
    #[serde(skip)]
    probe: Probe,
}

#[derive(Debug, Clone)]
enum Probe {
    Http(HttpProbe),
    Tcp {
        container: String,
        host: String,
        port: u16,
    },
}

#[derive(Debug, Clone)]
struct HttpProbe {
    url: String,
    site: String,
    connect: Connect,
    status: u16,
    /// Any status below 500 will do: the route has no health path of its own.
    any_below_500: bool,
    bearer: Option<Bearer>,
    /// `data` of the JSON answer must hold this many entries.
    count: Option<usize>,
    verify_tls: bool,
}

/// Where a site's name is sent.
#[derive(Debug, Clone)]
enum Connect {
    /// An address the stack gives (a host's public or VPN address), resolved if a name.
    At(String, u16),
    /// The check cannot be made: why.
    Impossible(String),
}

/// A bearer token read from a service's rendered env; never printed.
#[derive(Clone)]
struct Bearer(String);

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer(<redacted>)")
    }
}

/// What a check found.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    #[serde(flatten)]
    pub check: Check,
    pub passed: bool,
    pub detail: String,
    pub millis: u128,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub project: String,
    pub host: String,
    /// What the checks do not prove (certificates not verified, ...).
    pub notes: Vec<String>,
    pub passed: usize,
    pub failed: usize,
    pub checks: Vec<Outcome>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failed == 0
    }
}

/// What a passing run of the host's checks does not prove.
pub fn notes(stack: &Stack, host: &str) -> Vec<String> {
    stack
        .services
        .values()
        .filter(|s| s.host == host && s.kind == Kind::Proxy && s.local_certs())
        .map(|s| {
            format!(
                "`{}` uses local_certs: certificates come from Caddy's own CA and are not verified",
                s.name
            )
        })
        .collect()
}

/// The checks of one host, in a stable order.
pub fn derive(stack: &Stack, bundle: &Bundle, host: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    let Some(host_spec) = stack.hosts.get(host) else {
        return checks;
    };
    let on_host: Vec<&Service> = stack.services.values().filter(|s| s.host == host).collect();
    if let Some(proxy) = on_host.iter().find(|s| s.kind == Kind::Proxy) {
        route_checks(stack, bundle, host, proxy, &on_host, &mut checks);
    }
    let project = &stack.project.name;
    for consumer in &on_host {
        let mut servers: Vec<(String, String, u16)> = Vec::new();
        for db in stack
            .databases
            .iter()
            .filter(|d| consumer.databases.contains(&d.name))
        {
            let target = match stack.external_databases.get(&db.server) {
                Some(ext) => (db.server.clone(), ext.host.clone(), ext.port),
                None => {
                    let port = stack
                        .services
                        .get(&db.server)
                        .and_then(|s| s.port)
                        .unwrap_or(5432);
                    (db.server.clone(), db.server.clone(), port)
                }
            };
            if !servers.contains(&target) {
                servers.push(target);
            }
        }
        if consumer.redis_user.is_some()
            && let Some(redis) = stack
                .services
                .values()
                .find(|s| s.generates(Generator::RedisConf) && s.host == host_spec.name)
        {
            servers.push((
                redis.name.clone(),
                redis.name.clone(),
                redis.port.unwrap_or(6379),
            ));
        }
        for (server, address, port) in servers {
            let mut services = vec![consumer.name.clone()];
            if stack.services.contains_key(&server) {
                services.push(server.clone());
            }
            checks.push(Check {
                name: format!("{} → {server}", consumer.name),
                kind: CheckKind::Database,
                services,
                target: format!("{} → {address}:{port}", consumer.name),
                expect: "TCP connect".to_string(),
                probe: Probe::Tcp {
                    container: consumer.container_name(project),
                    host: address,
                    port,
                },
            });
        }
    }
    checks
}

fn route_checks(
    stack: &Stack,
    bundle: &Bundle,
    host: &str,
    proxy: &Service,
    on_host: &[&Service],
    checks: &mut Vec<Check>,
) {
    let host_spec = &stack.hosts[host];
    let domain = stack.project.domain.as_deref();
    let (scheme, default_port) = if domain.is_some() {
        ("https", 443)
    } else {
        ("http", 80)
    };
    let port = proxy
        .ports
        .iter()
        .find(|p| p.target == default_port)
        .map_or(default_port, |p| p.published);
    // A host without a public address is reached through the VPN, and one with no
    // address at all is this machine: its proxy publishes on loopback.
    let public = match (&host_spec.address, &host_spec.vpn_address) {
        (Some(a), _) | (None, Some(a)) => Connect::At(a.clone(), port),
        (None, None) => Connect::At("127.0.0.1".to_string(), port),
    };
    // This machine is outside any VPN: its VPN-only sites must refuse it, the host's
    // own published port being no way around the ACL. They are checked for that.
    let this_machine = host_spec.address.is_none() && host_spec.vpn_address.is_none();
    let vpn = match (&host_spec.vpn_address, &host_spec.address) {
        (Some(a), _) => Some(Connect::At(a.clone(), port)),
        (None, None) => None,
        (None, Some(_)) => Some(Connect::Impossible(format!(
            "host `{host}` has no vpn_address: VPN-only routes cannot be reached"
        ))),
    };
    let connect_for = |route: &Route| match route.access {
        Access::Vpn => vpn.as_ref(),
        Access::Public => Some(&public),
    };
    let verify_tls = !proxy.local_certs();
    let url = |site: &str, path: &str| {
        let authority = if port == default_port {
            site.to_string()
        } else {
            format!("{site}:{port}")
        };
        format!("{scheme}://{authority}{path}")
    };
    let http = |site: &str, path: &str, connect: &Connect, status: u16| HttpProbe {
        url: url(site, path),
        site: site.to_string(),
        connect: connect.clone(),
        status,
        any_below_500: false,
        bearer: None,
        count: None,
        verify_tls,
    };

    if let Some(domain) = domain {
        let probe = http(domain, "/health", &public, 200);
        checks.push(http_check(
            format!("{} {domain}/health", proxy.name),
            CheckKind::Route,
            vec![proxy.name.clone()],
            probe,
        ));
    }
    let mut denied_sites: Vec<String> = Vec::new();
    for service in on_host {
        for route in &service.routes {
            let Some(site_name) = route.subdomain.as_ref().map(|_| route.site(domain)) else {
                if route.path.is_none() {
                    continue;
                }
                // A path on the base site.
                if let Some(connect) = connect_for(route) {
                    let site = route.site(domain);
                    route_check(service, &site, route, proxy, connect, &http, checks);
                }
                continue;
            };
            if let Some(connect) = connect_for(route) {
                route_check(service, &site_name, route, proxy, connect, &http, checks);
            }
            let outside_reaches_proxy = this_machine
                || (host_spec.address.is_some() && host_spec.address != host_spec.vpn_address);
            if route.access == Access::Vpn
                && outside_reaches_proxy
                && !denied_sites.contains(&site_name)
            {
                denied_sites.push(site_name.clone());
                let probe = http(&site_name, "/", &public, 403);
                checks.push(http_check(
                    format!("{site_name} from outside the VPN"),
                    CheckKind::VpnOnly,
                    vec![proxy.name.clone()],
                    probe,
                ));
            }
            if service.generates(Generator::Litellm)
                && let Some(connect) = connect_for(route)
            {
                let bearer = rendered_env(bundle, host, service, "LITELLM_MASTER_KEY").map(Bearer);
                let mut health = http(&site_name, "/health", connect, 200);
                health.bearer = bearer.clone();
                checks.push(http_check(
                    format!("{} /health (master key)", service.name),
                    CheckKind::Litellm,
                    vec![service.name.clone(), proxy.name.clone()],
                    health,
                ));
                if !service.models.is_empty() {
                    let mut models = http(&site_name, "/v1/models", connect, 200);
                    models.bearer = bearer;
                    models.count = Some(service.models.len());
                    checks.push(http_check(
                        format!("{} /v1/models", service.name),
                        CheckKind::Models,
                        vec![service.name.clone(), proxy.name.clone()],
                        models,
                    ));
                }
            }
        }
    }
}

fn route_check(
    service: &Service,
    site: &str,
    route: &Route,
    proxy: &Service,
    connect: &Connect,
    http: &impl Fn(&str, &str, &Connect, u16) -> HttpProbe,
    checks: &mut Vec<Check>,
) {
    let (path, has_health) = crate::render::route_health_path(service, route);
    let mut probe = http(site, &path, connect, 200);
    probe.any_below_500 = !has_health;
    let access = if route.access == Access::Vpn {
        "vpn"
    } else {
        "public"
    };
    checks.push(http_check(
        format!("{} {site}{path} ({access})", service.name),
        CheckKind::Route,
        vec![service.name.clone(), proxy.name.clone()],
        probe,
    ));
}

fn http_check(name: String, kind: CheckKind, services: Vec<String>, probe: HttpProbe) -> Check {
    let via = match &probe.connect {
        Connect::At(address, port) => format!(" via {address}:{port}"),
        Connect::Impossible(_) => String::new(),
    };
    let expect = match (probe.any_below_500, probe.count) {
        (true, _) => "any status below 500".to_string(),
        (false, Some(n)) => format!("{} with {n} models", probe.status),
        (false, None) => probe.status.to_string(),
    };
    Check {
        name,
        kind,
        services,
        target: format!("{}{via}", probe.url),
        expect,
        probe: Probe::Http(probe),
    }
}

/// A variable of a service's rendered env file (the only place secrets are).
fn rendered_env(bundle: &Bundle, host: &str, service: &Service, key: &str) -> Option<String> {
    let path = format!("{host}/{}", crate::render::env_file::path(service));
    let file = bundle.get(&path)?;
    crate::render::env_file::parse(&file.content)
        .into_iter()
        .find_map(|(k, v)| (k == key).then_some(v))
}

/// Run the checks, `parallel` at a time, each bounded by `timeout`.
pub async fn run(
    checks: Vec<Check>,
    engine: Option<Arc<Engine>>,
    timeout: Duration,
    parallel: usize,
) -> Vec<Outcome> {
    // reqwest is built without a default crypto provider; ring is ours. A second
    // install (a second smoke in one process) is refused and harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = JoinSet::new();
    for (index, check) in checks.into_iter().enumerate() {
        let gate = gate.clone();
        let engine = engine.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("semaphore stays open");
            let started = Instant::now();
            let deadline = started + timeout;
            let result =
                tokio::time::timeout(timeout, probe(&check.probe, engine.as_deref(), deadline))
                    .await;
            let (passed, detail) = match result {
                Ok(Ok(detail)) => (true, detail),
                Ok(Err(failure)) => (false, failure.to_string()),
                Err(_) => (false, format!("no answer within {}s", timeout.as_secs())),
            };
            (
                index,
                Outcome {
                    check,
                    passed,
                    detail,
                    millis: started.elapsed().as_millis(),
                },
            )
        });
    }
    let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        outcomes.push(done.expect("a smoke check does not panic"));
    }
    outcomes.sort_by_key(|(index, _)| *index);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

/// Why a check failed: what the operator reads beside its name.
#[derive(Debug, thiserror::Error)]
enum ProbeFailure {
    /// The check cannot be made from here (the reason was known when it was built).
    #[error("{0}")]
    Impossible(String),
    #[error("no engine to run the check in")]
    NoEngine,
    #[error("cannot resolve {address}: {reason}")]
    Resolve { address: String, reason: String },
    #[error("HTTP client: {0}")]
    Client(String),
    /// No answer: refused, reset, TLS, with reqwest's causes.
    #[error("{0}")]
    Request(String),
    #[error("HTTP {got}, expected {expected}")]
    Status { got: u16, expected: u16 },
    #[error("HTTP {status} but the body is not JSON: {reason}")]
    NotJson { status: u16, reason: String },
    #[error("{found} models listed, the stack declares {expected}")]
    Models { found: usize, expected: usize },
    #[error("cannot connect to {host}:{port} ({tool} exit {code}{}{output})", if output.is_empty() { "" } else { ": " })]
    Refused {
        host: String,
        port: String,
        tool: &'static str,
        code: i64,
        output: String,
    },
    #[error("no tool to test a connection in `{container}` ({} missing)", missing.join(", "))]
    NoTool {
        container: String,
        missing: Vec<&'static str>,
    },
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

async fn probe(
    probe: &Probe,
    engine: Option<&Engine>,
    deadline: Instant,
) -> Result<String, ProbeFailure> {
    match probe {
        Probe::Http(http) => http_probe_until_certified(http, deadline).await,
        Probe::Tcp {
            container,
            host,
            port,
        } => match engine {
            Some(engine) => tcp_probe(engine, container, host, *port).await,
            None => Err(ProbeFailure::NoEngine),
        },
    }
}

/// Caddy obtains its certificates in the background after it starts; until a
/// site's is ready it ends that site's handshakes with an `internal_error`
/// alert. A smoke run right after `up` asks again until the check's deadline
/// instead of reporting a site that is only a few seconds from serving.
async fn http_probe_until_certified(
    p: &HttpProbe,
    deadline: Instant,
) -> Result<String, ProbeFailure> {
    const PAUSE: Duration = Duration::from_millis(250);
    loop {
        match http_probe(p).await {
            Err(ProbeFailure::Request(cause))
                if cause.contains(CERTIFICATE_PENDING) && Instant::now() + PAUSE < deadline =>
            {
                tokio::time::sleep(PAUSE).await;
            }
            other => return other,
        }
    }
}

/// How rustls reports the alert a TLS server sends when it has no certificate
/// for the name asked.
const CERTIFICATE_PENDING: &str = "received fatal alert: InternalError";

async fn http_probe(p: &HttpProbe) -> Result<String, ProbeFailure> {
    let (address, port) = match &p.connect {
        Connect::At(address, port) => (address, *port),
        Connect::Impossible(why) => return Err(ProbeFailure::Impossible(why.clone())),
    };
    let ip = match address.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => tokio::net::lookup_host((address.as_str(), port))
            .await
            .map_err(|e| ProbeFailure::Resolve {
                address: address.clone(),
                reason: e.to_string(),
            })?
            .next()
            .ok_or_else(|| ProbeFailure::Resolve {
                address: address.clone(),
                reason: "no address".to_string(),
            })?
            .ip(),
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_danger_accept_invalid_certs(!p.verify_tls)
        .resolve(&p.site, SocketAddr::new(ip, port))
        .build()
        .map_err(|e| ProbeFailure::Client(e.to_string()))?;
    let mut request = client.get(&p.url);
    if let Some(Bearer(token)) = &p.bearer {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| ProbeFailure::Request(describe(&e)))?;
    let status = response.status().as_u16();
    let status_ok = if p.any_below_500 {
        status < 500
    } else {
        status == p.status
    };
    if !status_ok {
        return Err(ProbeFailure::Status {
            got: status,
            expected: p.status,
        });
    }
    match p.count {
        None => Ok(format!("HTTP {status}")),
        Some(expected) => {
            let body: serde_json::Value =
                response.json().await.map_err(|e| ProbeFailure::NotJson {
                    status,
                    reason: e.to_string(),
                })?;
            let found = body
                .get("data")
                .and_then(|d| d.as_array())
                .map_or(0, Vec::len);
            if found == expected {
                Ok(format!("HTTP {status}, {found} models"))
            } else {
                Err(ProbeFailure::Models { found, expected })
            }
        }
    }
}

/// reqwest's error with its causes, which hold the useful part (refused, TLS, ...).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A TCP connect from inside the consumer's container, with whichever tool its
/// image has: bash's `/dev/tcp`, `nc`, or Python.
async fn tcp_probe(
    engine: &Engine,
    container: &str,
    host: &str,
    port: u16,
) -> Result<String, ProbeFailure> {
    let port = port.to_string();
    let attempts: [(&str, Vec<&str>); 3] = [
        (
            "bash",
            vec!["bash", "-c", "exec 3<>\"/dev/tcp/$0/$1\"", host, &port],
        ),
        ("nc", vec!["nc", "-z", "-w", "3", host, &port]),
        (
            "python3",
            vec![
                "python3",
                "-c",
                "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)",
                host,
                &port,
            ],
        ),
    ];
    let mut missing = Vec::new();
    for (tool, cmd) in attempts {
        match crate::engine::provision::exec(engine, container, &cmd, None).await {
            Ok((0, _)) => return Ok(format!("connected ({tool})")),
            // 126/127: the tool is not in this image; try the next one.
            Ok((126 | 127, _)) => missing.push(tool),
            Ok((code, out)) => {
                return Err(ProbeFailure::Refused {
                    host: host.to_string(),
                    port: port.clone(),
                    tool,
                    code,
                    output: out.trim().to_string(),
                });
            }
            Err(e) if e.to_string().contains("executable file not found") => missing.push(tool),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ProbeFailure::NoTool {
        container: container.to_string(),
        missing,
    })
}
