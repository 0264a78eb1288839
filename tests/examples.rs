//! The bundled examples: resolved model and every rendered file as snapshots, for
//! every environment; rendering is deterministic; env files are private; the
//! examples pass their own checks.

mod common;

use std::path::Path;

use common::{root, run, vpai};
use vpai::secrets::SecretValues;

const EXAMPLES: &[(&str, &[&str])] = &[
    ("javisi", &["prod", "preprod"]),
    ("accoreboot", &["test", "preprod", "prod"]),
];

fn load(example: &str, env: &str) -> (vpai::stack::Stack, SecretValues) {
    common::stack_and_secrets(&root().join("examples").join(example), env)
}

/// Secret values never appear in snapshots: each is replaced by its name.
fn redact(text: &str, values: &SecretValues) -> String {
    let mut pairs: Vec<(&str, &str)> = values.iter().collect();
    pairs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    let mut out = text.to_string();
    for (name, value) in pairs {
        if value.len() >= 8 {
            out = out.replace(value, &format!("<secret:{name}>"));
        }
    }
    out
}

#[test]
fn examples_pass_their_own_checks() {
    for (example, envs) in EXAMPLES {
        for env in *envs {
            let (stack, _) = load(example, env);
            let problems = vpai::rules::check(&stack);
            assert!(problems.is_empty(), "{example}/{env}: {problems:#?}");
        }
    }
}

#[test]
fn resolved_models() {
    for (example, envs) in EXAMPLES {
        for env in *envs {
            let (stack, _) = load(example, env);
            let json = serde_json::to_string_pretty(&stack).unwrap();
            insta::assert_snapshot!(format!("model-{example}-{env}"), json);
        }
    }
}

#[test]
fn rendered_files() {
    for (example, envs) in EXAMPLES {
        for env in *envs {
            let (stack, values) = load(example, env);
            let bundle = vpai::render::render(&stack, &values).expect("example renders");
            for (path, file) in &bundle.files {
                assert!(!file.content.contains('\r'), "{}: CRLF", path.display());
                let name = format!("render-{example}-{env}-{}", path.display()).replace('/', "__");
                insta::assert_snapshot!(name, redact(&file.content, &values));
            }
        }
    }
}

#[test]
fn rendering_is_byte_for_byte_deterministic() {
    for (example, envs) in EXAMPLES {
        for env in *envs {
            let (stack, values) = load(example, env);
            let first = vpai::render::render(&stack, &values).unwrap();
            let (stack2, values2) = load(example, env);
            assert_eq!(
                first,
                vpai::render::render(&stack2, &values2).unwrap(),
                "{example}/{env}"
            );
        }
    }
    // And across processes, through the CLI, down to the bytes on disk.
    let tmp = tempfile::tempdir().unwrap();
    let dirs = [tmp.path().join("a"), tmp.path().join("b")];
    for out in &dirs {
        let o = run(vpai()
            .args(["render", "-C"])
            .arg(root().join("examples/javisi"))
            .arg("--out")
            .arg(out));
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    assert_eq!(tree(&dirs[0]), tree(&dirs[1]));
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                out.push((
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                    mode,
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn env_files_are_private_and_hold_the_only_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle");
    let o = run(vpai()
        .args(["render", "-C"])
        .arg(root().join("examples/javisi"))
        .arg("--out")
        .arg(&out));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (_, values) = load("javisi", "prod");
    for (path, content, mode) in tree(&out) {
        let text = String::from_utf8(content).unwrap();
        if path.ends_with(".env") {
            assert_eq!(mode, 0o600, "{path} must be 0600");
        } else {
            for (name, value) in values.iter() {
                assert!(
                    !text.contains(value),
                    "{path} contains the value of secret `{name}`"
                );
            }
        }
    }
    // Nothing the CLI printed carries a secret either.
    for (name, value) in values.iter() {
        assert!(
            !o.stderr.contains(value) && !o.stdout.contains(value),
            "output leaks `{name}`"
        );
    }
}

#[test]
fn nocodb_is_wired_into_openclaw_and_n8n_as_seed_000_asks() {
    let (stack, values) = load("javisi", "prod");
    let bundle = vpai::render::render(&stack, &values).unwrap();
    let token = values.get("nocodb_api_token").unwrap();
    let n8n = &bundle.get("vps/configs/n8n/n8n.env").unwrap().content;
    let openclaw = &bundle
        .get("vps/configs/openclaw/openclaw.env")
        .unwrap()
        .content;
    assert!(
        n8n.contains("NOCODB_BASE_URL=https://hq.example.cloud\n"),
        "{n8n}"
    );
    assert!(
        openclaw.contains("NOCODB_BASE_URL=http://nocodb:8080\n"),
        "{openclaw}"
    );
    assert!(n8n.contains(&format!("NOCODB_API_TOKEN={token}\n")));
    assert!(openclaw.contains(&format!("NOCODB_API_TOKEN={token}\n")));
    // One secret, one source: the role's password is what NocoDB connects with.
    let nocodb = &bundle.get("vps/configs/nocodb/nocodb.env").unwrap().content;
    let pg = &bundle
        .get("vps/configs/postgresql/postgresql.env")
        .unwrap()
        .content;
    let password = values.get("db_nocodb_password").unwrap();
    assert!(nocodb.contains(&format!("p={password}&")), "{nocodb}");
    assert!(pg.contains(&format!("VPAI_DB_NOCODB_PASSWORD={password}\n")));
}

#[test]
fn disabling_nocodb_removes_its_wiring() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["vpai.toml", "secrets.age", "example-identity.txt"] {
        std::fs::copy(root().join("examples/javisi").join(f), tmp.path().join(f)).unwrap();
    }
    let path = tmp.path().join("vpai.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "[services.nocodb]\nsubdomain = \"hq\"",
            "[services.nocodb]\nenabled = false",
        ),
    )
    .unwrap();
    let stack = vpai::stack::load(tmp.path(), "prod").unwrap();
    assert!(!stack.services.contains_key("nocodb"));
    assert!(!stack.services["n8n"].env.contains_key("NOCODB_BASE_URL"));
    assert!(
        !stack.services["openclaw"]
            .env
            .contains_key("NOCODB_API_TOKEN")
    );
    assert!(!stack.databases.iter().any(|d| d.name == "nocodb"));
}

/// The corrections of seed 002, asserted on the rendered javisi bundle (the
/// snapshots show everything; these name what must never regress).
#[test]
fn seed_002_corrections_hold_in_the_rendered_bundle() {
    let (stack, values) = load("javisi", "prod");
    let bundle = vpai::render::render(&stack, &values).unwrap();
    let text = |p: &str| {
        bundle
            .get(p)
            .unwrap_or_else(|| panic!("{p} not rendered"))
            .content
            .clone()
    };
    let compose: serde_json::Value = yaml_serde::from_str(&text("vps/docker-compose.yml")).unwrap();
    let services = compose["services"].as_object().unwrap();

    // 002 §2.1, §2.3: hardened, and no healthcheck through `localhost` (::1 on Alpine).
    for (name, s) in services {
        assert_eq!(s["cap_drop"], serde_json::json!(["ALL"]), "{name}");
        assert_eq!(
            s["security_opt"],
            serde_json::json!(["no-new-privileges:true"]),
            "{name}"
        );
        assert!(
            !s["healthcheck"].to_string().contains("localhost"),
            "{name} probes localhost"
        );
        assert!(
            s["deploy"]["resources"]["limits"]["memory"].is_string(),
            "{name} has no memory limit"
        );
        for port in s["ports"].as_array().into_iter().flatten() {
            let port = port.as_str().unwrap();
            assert!(
                name == "caddy" || port.starts_with("127.0.0.1:"),
                "{name} publishes {port}"
            );
        }
    }
    // 002 §3.1: the PG 18 volume path and the ICU locale.
    assert!(
        services["postgresql"]["volumes"]
            .to_string()
            .contains("./data/postgresql:/var/lib/postgresql\"")
    );
    assert!(text("vps/configs/postgresql/postgresql.env").contains("--locale-provider=icu"));
    // 002 §5.1, §7.1, §10: health probes that exist in each image.
    assert_eq!(
        services["loki"]["healthcheck"]["test"],
        serde_json::json!(["CMD", "loki", "-health"])
    );
    let qdrant = services["qdrant"]["healthcheck"]["test"].to_string();
    assert!(
        !qdrant.contains("wget") && !qdrant.contains("curl"),
        "{qdrant}"
    );
    assert!(
        services["litellm"]["healthcheck"]["test"]
            .to_string()
            .contains("python")
    );
    // 002 §11.1-11.2: OpenClaw reads only its own variables and needs an init.
    assert_eq!(services["openclaw"]["init"], true);
    let openclaw = text("vps/configs/openclaw/openclaw.env");
    for absent in [
        "DATABASE_URL=",
        "REDIS_URL=",
        "QDRANT_URL=",
        "\nHOST=",
        "\nPORT=",
        "\nAPI_KEY=",
    ] {
        assert!(!openclaw.contains(absent), "openclaw.env sets {absent}");
    }
    // 002 §4.1: Redis ACL users, protected mode, no rename-command.
    let redis = text("vps/configs/redis/redis.conf");
    assert!(
        redis.contains("protected-mode yes")
            && redis.contains("user litellm on #")
            && !redis.contains("rename-command")
    );
    // 002 §6.2, §11.2b, §6.1: the VPN ACL admits the VPN alone (not 002's Docker
    // frontend: the daemon keeps client addresses), WebSocket over HTTP/1.1, no rate_limit.
    let caddy = text("vps/configs/caddy/Caddyfile");
    assert!(
        caddy.contains("\t@blocked not client_ip 100.64.0.0/10\n")
            && caddy.contains("error @blocked 403")
    );
    assert!(text("vps/host/etc/docker/daemon.json").contains("\"userland-proxy\": false"));
    let openclaw_site = caddy
        .split("javisi.example.cloud {")
        .nth(1)
        .unwrap()
        .split("\n}\n")
        .next()
        .unwrap();
    assert!(openclaw_site.contains("versions 1.1"), "{openclaw_site}");
    assert!(!caddy.contains("rate_limit"));
    assert_eq!(
        caddy.matches("handle_errors").count(),
        1,
        "one handle_errors, in the imported snippet"
    );
    // 002 §10.1, §10.4: LiteLLM fallbacks as a list of dicts, secrets via os.environ/, health checks bounded.
    let litellm: serde_json::Value =
        yaml_serde::from_str(&text("vps/configs/litellm/config.yaml")).unwrap();
    assert_eq!(
        litellm["litellm_settings"]["fallbacks"][0],
        serde_json::json!({ "claude-sonnet": ["gpt-4o"] })
    );
    assert_eq!(
        litellm["general_settings"]["master_key"],
        "os.environ/LITELLM_MASTER_KEY"
    );
    assert!(litellm["general_settings"]["health_check_interval"].is_number());
    // 002 §8.5: Grafana's PostgreSQL datasource has `user` at the root, the password only in secureJsonData.
    let grafana: serde_json::Value =
        yaml_serde::from_str(&text("vps/configs/grafana/datasources.yaml")).unwrap();
    let pg = grafana["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "postgres")
        .unwrap();
    assert_eq!(pg["user"], "n8n");
    assert!(pg["jsonData"].get("user").is_none() && pg["secureJsonData"]["password"].is_string());
    // 002 §10.6: n8n trusts one proxy hop.
    assert!(text("vps/configs/n8n/n8n.env").contains("N8N_PROXY_HOPS=1\n"));
    // 002 §8.1: data directories belong to each image's UID.
    for (service, owner) in [
        ("loki", "10001"),
        ("victoriametrics", "1000"),
        ("grafana", "472"),
    ] {
        let data = &stack.services[service].data[0];
        assert!(
            data.owner.as_deref().unwrap().starts_with(owner),
            "{service}: {:?}",
            data.owner
        );
    }
}

/// 002 §12.2, §12.6: the VPN server gets the records of every host's sites, the
/// Pi's included, each pointing at the VPN address of the host that serves it;
/// and the Uptime Kuma monitors of 001 §6.1.
#[test]
fn vpn_server_gets_the_records_of_every_host_and_the_monitors() {
    let (stack, values) = load("javisi", "prod");
    let bundle = vpai::render::render(&stack, &values).unwrap();
    let text = |p: &str| {
        bundle
            .get(p)
            .unwrap_or_else(|| panic!("{p} not rendered"))
            .content
            .clone()
    };
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&text("vpn/headscale/extra-records.json")).unwrap();
    let record = |name: &str| {
        records
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no record for {name}"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Every site of every host, at the address of the host whose Caddy serves it.
    for service in stack.services.values() {
        for route in &service.routes {
            let site = route.site(stack.project.domain.as_deref());
            let host = &stack.hosts[&service.host];
            assert_eq!(
                Some(record(&site)),
                host.vpn_address,
                "{site} (on {})",
                host.name
            );
        }
    }
    assert_eq!(record("studio.example.cloud"), "100.64.0.1");
    assert_eq!(record("cut.example.cloud"), "100.64.0.1");
    assert_eq!(record("example.cloud"), "100.64.0.14");
    assert!(records.iter().all(|r| r["type"] == "A"));

    let dns: serde_json::Value = yaml_serde::from_str(&text("vpn/headscale/dns.yaml")).unwrap();
    assert_eq!(dns["dns"]["override_local_dns"], true);
    assert_eq!(
        dns["dns"]["extra_records_path"],
        "/etc/headscale/extra-records.json"
    );

    let monitors: Vec<serde_json::Value> =
        serde_json::from_str(&text("vpn/uptime-kuma/monitors.json")).unwrap();
    let urls: Vec<&str> = monitors.iter().filter_map(|m| m["url"].as_str()).collect();
    for url in [
        "https://example.cloud/health",
        "https://mayi.example.cloud/healthz",
        "https://tala.example.cloud/api/health",
        "https://studio.example.cloud/system_stats",
        "https://example.cloud",
    ] {
        assert!(urls.contains(&url), "no monitor for {url}: {urls:?}");
    }
    let heartbeat = monitors.iter().find(|m| m["type"] == "push").unwrap();
    assert_eq!(heartbeat["interval"], 86400);
    let tls = monitors
        .iter()
        .find(|m| m["url"] == "https://example.cloud")
        .unwrap();
    assert_eq!(tls["expiryNotification"], true);
    assert_eq!(tls["interval"], 86400);

    // Cross-host wiring (001 §11.6): n8n on the VPS reaches the Pi by its sites.
    let n8n = text("vps/configs/n8n/n8n.env");
    assert!(
        n8n.contains("COMFYUI_URL=https://studio.example.cloud\n"),
        "{n8n}"
    );
    assert!(
        n8n.contains("REMOTION_URL=https://cut.example.cloud\n"),
        "{n8n}"
    );
}
