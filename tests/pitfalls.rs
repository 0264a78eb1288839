//! Seed 002's pitfalls. `docs/pitfalls.md` says, for every sub-section of the seed,
//! how vpai handles it (by construction, by a rule, or out of scope, with why); the
//! first tests hold that table to the seed and to the code: every section has a
//! row, every rule, file and test a row names exists. The others prove what the
//! table claims and no other test shows: the "construction" rows on the rendered
//! javisi bundle, and the branches of the rules that their fixture does not show.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::root;
use vpai::secrets::SecretValues;

const SEED: &str = "../shared/seeds/002_79a6cd845536195a.txt";
const TABLE: &str = "docs/pitfalls.md";
const SECTIONS: &str = "docs/seed-002-sections.txt";
const HOWS: &[&str] = &["construction", "rule", "out of scope"];

// ---------------------------------------------------------------------------
// The table against the seed and the code.

/// `### N.M` sub-sections of the seed, plus `## N.` sections that have none (39),
/// outside fenced code blocks.
fn seed_sections() -> Vec<String> {
    match std::fs::read_to_string(root().join(SEED)) {
        Ok(text) => sections_of(&text),
        Err(_) => committed_sections(),
    }
}

/// The seed's section list as committed in `docs/seed-002-sections.txt`, for clones
/// without `../shared/` beside them; kept equal to the seed by the test below.
fn committed_sections() -> Vec<String> {
    std::fs::read_to_string(root().join(SECTIONS))
        .expect("docs/seed-002-sections.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_committed_section_list_matches_the_seed() {
    let committed = committed_sections();
    assert!(committed.len() > 90, "{} sections", committed.len());
    if let Ok(text) = std::fs::read_to_string(root().join(SEED)) {
        assert_eq!(
            committed,
            sections_of(&text),
            "regenerate docs/seed-002-sections.txt from the seed"
        );
    }
}

fn sections_of(text: &str) -> Vec<String> {
    let mut subs = Vec::new();
    let mut tops = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let id = |rest: &str| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        };
        if let Some(rest) = line.strip_prefix("### ") {
            let id = id(rest);
            if id.starts_with(|c: char| c.is_ascii_digit()) && id.contains('.') {
                subs.push(id.trim_end_matches('.').to_string());
            }
        } else if let Some(rest) = line.strip_prefix("## ") {
            let id = id(rest);
            if let Some(n) = id.strip_suffix('.')
                && n.chars().all(|c| c.is_ascii_digit())
                && !n.is_empty()
            {
                tops.push(n.to_string());
            }
        }
    }
    for top in tops {
        if !subs.iter().any(|s| s.starts_with(&format!("{top}."))) {
            subs.push(top);
        }
    }
    subs
}

#[derive(Debug)]
struct Row {
    line: usize,
    section: String,
    how: String,
    place: String,
    test: String,
    why: String,
}

fn table() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join(TABLE)).expect("docs/pitfalls.md exists");
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(inner) = line.trim().strip_prefix('|') else {
            continue;
        };
        let cells: Vec<String> = inner
            .trim_end_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        let section = cells[0].clone();
        let is_id = section.starts_with(|c: char| c.is_ascii_digit())
            && section
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.');
        if !is_id {
            continue;
        }
        assert_eq!(
            cells.len(),
            6,
            "{TABLE}:{}: a row has 6 cells (section | pitfall | how | where | test | why)",
            n + 1
        );
        rows.push(Row {
            line: n + 1,
            section,
            how: cells[2].clone(),
            place: cells[3].clone(),
            test: cells[4].clone(),
            why: cells[5].clone(),
        });
    }
    rows
}

/// The text between backticks in a cell.
fn ticks(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, t)| t.to_string())
        .collect()
}

fn is_rule_name(t: &str) -> bool {
    !t.is_empty()
        && t.split('-')
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
}

fn is_path(t: &str) -> bool {
    ["catalog/", "src/", "tests/", "examples/", "docs/"]
        .iter()
        .any(|p| t.starts_with(p))
}

/// A `path` or `path::function` reference: the file exists and defines the function.
fn check_reference(row: &Row, reference: &str) -> Result<(), String> {
    let (path, function) = match reference.split_once("::") {
        Some((p, f)) => (p, Some(f)),
        None => (reference, None),
    };
    let file = root().join(path);
    if !file.exists() {
        return Err(format!(
            "{TABLE}:{} ({}): `{path}` does not exist",
            row.line, row.section
        ));
    }
    if let Some(function) = function {
        let text = std::fs::read_to_string(&file).unwrap();
        if !text.contains(&format!("fn {function}(")) {
            return Err(format!(
                "{TABLE}:{} ({}): `{path}` has no `fn {function}`",
                row.line, row.section
            ));
        }
    }
    Ok(())
}

#[test]
fn every_section_of_seed_002_has_exactly_one_row() {
    let sections = seed_sections();
    assert!(
        sections.len() > 90,
        "found only {} sections in the seed",
        sections.len()
    );
    let rows = table();
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for row in &rows {
        if let Some(first) = seen.insert(row.section.clone(), row.line) {
            problems.push(format!(
                "{TABLE}:{}: section {} already has a row at line {first}",
                row.line, row.section
            ));
        }
        if !sections.contains(&row.section) {
            problems.push(format!(
                "{TABLE}:{}: there is no section {} in seed 002",
                row.line, row.section
            ));
        }
    }
    for s in &sections {
        if !seen.contains_key(s) {
            problems.push(format!("seed 002 section {s} has no row in {TABLE}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn rows_name_rules_files_and_tests_that_exist() {
    let mut problems = Vec::new();
    for row in table() {
        let at = format!("{TABLE}:{} ({})", row.line, row.section);
        if !HOWS.contains(&row.how.as_str()) {
            problems.push(format!("{at}: `how` is `{}`, not one of {HOWS:?}", row.how));
            continue;
        }
        let mut rules = Vec::new();
        let mut lint_rules = Vec::new();
        let mut files = 0;
        for t in ticks(&row.place) {
            if is_path(&t) {
                match check_reference(&row, &t) {
                    Ok(()) => files += 1,
                    Err(e) => problems.push(e),
                }
            } else if is_rule_name(&t) {
                if vpai::lint::rules::find(&t).is_some() {
                    lint_rules.push(t);
                    continue;
                }
                if vpai::rules::find(&t).is_none() {
                    problems.push(format!("{at}: there is no rule `{t}`"));
                }
                rules.push(t);
            }
        }
        let tests: Vec<String> = ticks(&row.test)
            .into_iter()
            .filter(|t| is_path(t))
            .collect();
        for t in &tests {
            if let Err(e) = check_reference(&row, t) {
                problems.push(e);
            }
        }
        for rule in &lint_rules {
            let fixture = format!("tests/lint/{rule}");
            if !tests.contains(&fixture) {
                problems.push(format!(
                    "{at}: lint rule `{rule}` is proven by its fixture: add `{fixture}` to `test`"
                ));
            }
        }
        match row.how.as_str() {
            "rule" => {
                if rules.is_empty() {
                    problems.push(format!("{at}: a `rule` row names its rule in `where`"));
                }
                for rule in &rules {
                    let fixture = format!("tests/rules/{rule}.toml");
                    if !tests.contains(&fixture) {
                        problems.push(format!(
                            "{at}: rule `{rule}` is proven by its fixture: add `{fixture}` to `test`"
                        ));
                    }
                }
            }
            "construction" => {
                if files == 0 {
                    problems.push(format!(
                        "{at}: a `construction` row names the file that makes the pitfall impossible"
                    ));
                }
                if tests.is_empty() {
                    problems.push(format!(
                        "{at}: a `construction` row names the test that proves it"
                    ));
                }
            }
            _ => {
                if row.why.is_empty() {
                    problems.push(format!("{at}: an `{}` row says why", row.how));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_rule_that_cites_seed_002_is_in_the_table() {
    let text = std::fs::read_to_string(root().join(TABLE)).unwrap();
    let names_and_docs = vpai::rules::RULES
        .iter()
        .map(|r| (r.name(), r.meta().doc))
        .chain(
            vpai::lint::rules::LINT_RULES
                .iter()
                .map(|r| (r.name(), r.meta().doc)),
        );
    for (name, doc) in names_and_docs {
        if doc.contains("002 §") {
            assert!(
                text.contains(&format!("`{name}`")),
                "rule `{name}` cites seed 002 but {TABLE} does not name it"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Construction: what the rendered javisi bundle holds.

fn javisi() -> (vpai::stack::Stack, vpai::render::Bundle) {
    let (stack, values) = common::stack_and_secrets(&root().join("examples/javisi"), "prod");
    let bundle = vpai::render::render(&stack, &values).expect("javisi renders");
    (stack, bundle)
}

fn text(bundle: &vpai::render::Bundle, path: &str) -> String {
    bundle
        .get(path)
        .unwrap_or_else(|| panic!("{path} not rendered"))
        .content
        .clone()
}

fn yaml(bundle: &vpai::render::Bundle, path: &str) -> serde_json::Value {
    yaml_serde::from_str(&text(bundle, path)).unwrap()
}

fn compose_service(bundle: &vpai::render::Bundle, name: &str) -> serde_json::Value {
    yaml(bundle, "vps/docker-compose.yml")["services"][name].clone()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// 002 §7.1, §7.2.
#[test]
fn loki_checks_itself_on_an_in_memory_ring() {
    let (_, bundle) = javisi();
    let loki = compose_service(&bundle, "loki");
    assert_eq!(
        strings(&loki["healthcheck"]["test"]),
        ["CMD", "loki", "-health"]
    );
    assert!(strings(&loki["command"]).contains(&"-target=all".to_string()));
    let config = yaml(&bundle, "vps/configs/loki/loki.yaml");
    assert_eq!(config["common"]["replication_factor"], 1);
    assert_eq!(config["common"]["ring"]["kvstore"]["store"], "inmemory");
    assert_eq!(
        config["ingester"]["lifecycler"]["ring"]["kvstore"]["store"],
        "inmemory"
    );
    assert_eq!(config["memberlist"]["join_members"], serde_json::json!([]));
}

/// 002 §3.1 (the volume path and the ICU locale are in
/// tests/examples.rs::seed_002_corrections_hold_in_the_rendered_bundle).
#[test]
fn postgresql_18_gets_its_capabilities_and_no_logging_collector() {
    let (_, bundle) = javisi();
    let pg = compose_service(&bundle, "postgresql");
    let caps = strings(&pg["cap_add"]);
    for cap in ["CHOWN", "SETGID", "SETUID", "DAC_OVERRIDE", "FOWNER"] {
        assert!(caps.contains(&cap.to_string()), "{caps:?}");
    }
    assert!(strings(&pg["command"]).contains(&"logging_collector=off".to_string()));
    assert!(pg["image"].as_str().unwrap().starts_with("postgres:18"));
}

/// 002 §5.1.
#[test]
fn qdrant_reads_production_yaml_and_its_key_from_the_environment() {
    let (_, bundle) = javisi();
    let qdrant = compose_service(&bundle, "qdrant");
    let volumes = strings(&qdrant["volumes"]);
    assert!(
        volumes
            .iter()
            .any(|v| v.ends_with(":/qdrant/config/production.yaml:ro")),
        "{volumes:?}"
    );
    assert_eq!(
        strings(&qdrant["healthcheck"]["test"]),
        ["CMD", "bash", "-c", ":> /dev/tcp/127.0.0.1/6333"]
    );
    let caps = strings(&qdrant["cap_add"]);
    assert!(caps.contains(&"DAC_OVERRIDE".to_string()) && caps.contains(&"FOWNER".to_string()));
    assert!(text(&bundle, "vps/configs/qdrant/qdrant.env").contains("QDRANT__SERVICE__API_KEY="));
    assert!(!text(&bundle, "vps/configs/qdrant/production.yaml").contains("api_key: "));
}

/// 002 §6.1, §2.2.
#[test]
fn caddy_is_checked_with_caddy_version_and_waits_for_nobody() {
    let (_, bundle) = javisi();
    let caddy = compose_service(&bundle, "caddy");
    assert_eq!(
        strings(&caddy["healthcheck"]["test"]),
        ["CMD", "caddy", "version"]
    );
    assert_eq!(
        strings(&caddy["cap_add"]),
        ["NET_BIND_SERVICE", "DAC_OVERRIDE"]
    );
    assert!(
        strings(&caddy["volumes"])
            .iter()
            .any(|v| v.ends_with(":/var/log/caddy"))
    );
    assert!(
        caddy.get("depends_on").is_none(),
        "Caddy recovers by itself when backends come up (002 §2.2)"
    );
}

/// 002 §8.2, §8.4.
#[test]
fn monitoring_data_flows_as_002_draws_it() {
    let (_, bundle) = javisi();
    let alloy = text(&bundle, "vps/configs/alloy/config.alloy");
    for needle in [
        "http://victoriametrics:8428/api/v1/write",
        "prometheus.scrape \"cadvisor\"",
        "loki.source.docker",
    ] {
        assert!(alloy.contains(needle), "config.alloy lacks {needle}");
    }
    let datasources = yaml(&bundle, "vps/configs/grafana/datasources.yaml");
    let kinds: Vec<&str> = datasources["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["prometheus", "loki", "postgres"]);
    assert_eq!(datasources["datasources"][0]["isDefault"], true);
    let grafana = strings(&compose_service(&bundle, "grafana")["networks"]);
    assert_eq!(grafana, ["frontend", "backend", "monitoring"]);
}

/// What Grafana reads and where OpenClaw's models live follow the catalog entries
/// (`datasource`, the `litellm` generator), not the services' names: renamed, they
/// are still found.
#[test]
fn renamed_services_keep_their_datasources_and_gateway() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("vpai.toml"),
        "[project]\nname = \"renamed\"\ndomain = \"renamed.example\"\n\
         [services.caddy]\n[services.postgresql]\n[services.redis]\n[services.grafana]\n\
         [services.n8n]\n\
         [services.openclaw.env]\nLITELLM_API_KEY = \"{{ services.gateway.api_key }}\"\n\
         [services.metrics]\nfrom = \"victoriametrics\"\n[services.logs]\nfrom = \"loki\"\n\
         [services.gateway]\nfrom = \"litellm\"\n",
    )
    .unwrap();
    let stack =
        vpai::stack::load(tmp.path(), "prod").unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    let mut values = SecretValues::default();
    for spec in stack.secrets.values().filter(|s| s.provided) {
        values.set(&spec.name, "provided".to_string());
    }
    values.generate_missing(&stack.secrets.values().collect::<Vec<_>>());
    let bundle = vpai::render::render(&stack, &values).unwrap_or_else(|d| panic!("{d:#?}"));
    let host = stack.hosts.keys().next().unwrap().clone();
    let datasources = yaml(&bundle, &format!("{host}/configs/grafana/datasources.yaml"));
    let urls: Vec<(&str, &str)> = datasources["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["uid"].as_str().unwrap(), d["url"].as_str().unwrap()))
        .collect();
    assert_eq!(
        urls,
        [
            ("metrics", "http://metrics:8428"),
            ("logs", "http://logs:3100"),
            ("postgresql-n8n", "postgresql:5432"),
        ]
    );
    let openclaw: serde_json::Value = serde_json::from_str(&text(
        &bundle,
        &format!("{host}/configs/openclaw/openclaw.json"),
    ))
    .unwrap();
    assert_eq!(
        openclaw["models"]["providers"]["custom-litellm"]["baseUrl"],
        "http://gateway:4000/v1"
    );
}

/// 002 §8.3.
#[test]
fn cadvisor_comes_from_ghcr_without_v_and_sees_only_monitoring() {
    let (_, bundle) = javisi();
    let cadvisor = compose_service(&bundle, "cadvisor");
    assert_eq!(cadvisor["image"], "ghcr.io/google/cadvisor:0.55.1");
    assert_eq!(strings(&cadvisor["networks"]), ["monitoring"]);
    let command = strings(&cadvisor["command"]);
    assert!(command.contains(&"--docker_only=true".to_string()));
    assert!(
        command
            .iter()
            .any(|c| c.starts_with("--disable_metrics=advtcp"))
    );
    assert!(
        strings(&cadvisor["volumes"])
            .iter()
            .all(|v| v.ends_with(":ro")),
        "every host path read-only"
    );
}

/// 002 §10.4, §10.5.
#[test]
fn litellm_caps_openrouter_reservations_and_runs_no_background_checks() {
    let (_, bundle) = javisi();
    let config = yaml(&bundle, "vps/configs/litellm/config.yaml");
    let models = config["model_list"].as_array().unwrap();
    let free = models
        .iter()
        .find(|m| m["model_name"] == "deepseek-v3-free")
        .unwrap();
    assert_eq!(
        free["litellm_params"]["max_tokens"], 4096,
        "javisi declares no max_tokens for it: the generator's default"
    );
    assert_eq!(
        config["general_settings"]["background_health_checks"],
        false
    );
}

/// 002 §11.3, §11.8, §11.10, §11.16, §11.19.
#[test]
fn openclaw_json_has_the_shapes_002_requires() {
    let (_, bundle) = javisi();
    let json: serde_json::Value =
        serde_json::from_str(&text(&bundle, "vps/configs/openclaw/openclaw.json")).unwrap();
    assert!(json["agents"]["defaults"]["model"]["primary"].is_string());
    assert_eq!(
        json["channels"]["telegram"]["botToken"],
        "${TELEGRAM_BOT_TOKEN}"
    );
    assert_eq!(json["plugins"]["entries"]["telegram"]["enabled"], true);
    assert_eq!(json["gateway"]["controlUi"]["basePath"], "/");
    assert!(!strings(&json["gateway"]["trustedProxies"]).is_empty());
    assert_eq!(
        json["agents"]["defaults"]["sandbox"]["workspaceAccess"],
        "rw"
    );
    assert_eq!(json["tools"]["elevated"]["enabled"], false);
    assert_eq!(json["tools"]["fs"]["workspaceOnly"], true);
    assert!(json.get("heartbeat").is_none() && json.get("cron").is_none());
}

/// 002 §11.23.
#[test]
fn openclaw_state_is_identity_mounted() {
    let (_, bundle) = javisi();
    let openclaw = compose_service(&bundle, "openclaw");
    assert!(
        strings(&openclaw["volumes"])
            .contains(&"/opt/javisi/data/openclaw:/opt/javisi/data/openclaw".to_string())
    );
    assert!(
        text(&bundle, "vps/configs/openclaw/openclaw.env")
            .contains("OPENCLAW_STATE_DIR=/opt/javisi/data/openclaw\n")
    );
}

/// 002 §12.1.
#[test]
fn networks_are_the_five_of_002() {
    let (_, bundle) = javisi();
    let compose = yaml(&bundle, "vps/docker-compose.yml");
    let expected = [
        ("frontend", "172.20.1.0/24", false),
        ("backend", "172.20.2.0/24", true),
        ("monitoring", "172.20.3.0/24", true),
        ("egress", "172.20.4.0/24", false),
        ("sandbox", "172.20.5.0/24", true),
    ];
    for (name, subnet, internal) in expected {
        let n = &compose["networks"][name];
        assert_eq!(n["ipam"]["config"][0]["subnet"], subnet, "{name}");
        assert_eq!(n["internal"], internal, "{name}");
    }
}

/// 002 §41.4: the token is created in NocoDB's UI; vpai asks for it, never invents it.
#[test]
fn the_nocodb_api_token_is_provided_not_generated() {
    let (stack, _) = javisi();
    assert!(stack.secrets["nocodb_api_token"].provided);
}

/// 002 §0.12: the workstation's Caddy is the catalog's, with its own paths.
#[test]
fn the_workstation_caddy_is_a_second_catalog_caddy() {
    let (stack, bundle) = javisi();
    let caddy = &stack.services["caddy-workstation"];
    assert_eq!(caddy.catalog.as_deref(), Some("caddy"));
    assert_eq!(caddy.host, "workstation");
    assert!(
        bundle
            .get("workstation/configs/caddy-workstation/Caddyfile")
            .is_some()
    );
}

// ---------------------------------------------------------------------------
// Rule branches their fixture does not show.

/// `vpai::rules::check` on a stack written to a temporary directory: (code, message).
fn check(toml: &str) -> Vec<(String, String)> {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("vpai.toml"), toml).unwrap();
    let stack = vpai::stack::load(Path::new(tmp.path()), "prod")
        .unwrap_or_else(|r| panic!("{:#?}", r.diagnostics));
    vpai::rules::check(&stack)
        .into_iter()
        .map(|d| (d.code.to_string(), d.message))
        .collect()
}

fn codes(found: &[(String, String)]) -> Vec<&str> {
    found.iter().map(|(c, _)| c.as_str()).collect()
}

const AGENTS: &str = "[project]\nname = \"agents\"\ndomain = \"agents.example\"\n\
    [services.caddy]\n[services.postgresql]\n[services.redis]\n[services.litellm]\n";

#[test]
fn openclaw_config_that_stops_or_silences_the_gateway_is_refused() {
    let found = check(&format!(
        "{AGENTS}[services.openclaw.config]\n\
         tools.web.fetch = {{ readability = \"yes\", extractor = \"mozilla\" }}\n\
         channels.telegram.token = \"${{TELEGRAM_BOT_TOKEN}}\"\n\
         channels.discord.token = \"${{DISCORD_BOT_TOKEN}}\"\n\
         models.providers.openai.apiKey = \"${{OPENAI_API_KEY}}\"\n\
         agents.list = [{{ id = \"writer\", sandbox = {{ mode = \"sometimes\" }} }}]\n"
    ));
    let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
    for needle in [
        "`tools.web.fetch.readability` must be a boolean",
        "`tools.web.fetch.extractor` is not a key",
        "`channels.telegram.token` is not a key",
        "references `${OPENAI_API_KEY}`",
        "references `${DISCORD_BOT_TOKEN}`",
        "channel `discord` is configured but its plugin is not enabled",
        "`agents.list.0.sandbox.mode`",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "no diagnostic contains {needle:?}: {messages:#?}"
        );
    }
    assert!(
        codes(&found)
            .iter()
            .all(|c| *c == "openclaw-invalid-config"),
        "{found:#?}"
    );

    // The same intents, written as OpenClaw accepts them.
    let ok = check(&format!(
        "{AGENTS}[services.openclaw.env]\nOPENAI_API_KEY = \"{{{{ secret.openai_api_key }}}}\"\n\
         [secrets.openai_api_key]\nprovided = true\n\
         [services.openclaw.config]\n\
         tools.web.fetch = {{ readability = true, maxChars = 20000 }}\n\
         models.providers.openai.apiKey = \"${{OPENAI_API_KEY}}\"\n\
         agents.defaults.sandbox = {{ mode = \"all\", workspaceAccess = \"ro\" }}\n\
         agents.defaults.identity.note = \"literal $${{NOT_A_VARIABLE}}\"\n\
         cron = {{ enabled = true }}\n"
    ));
    assert!(ok.is_empty(), "{ok:#?}");
}

#[test]
fn litellm_model_list_overrides_keep_openrouter_max_tokens() {
    let found = check(&format!(
        "{AGENTS}[[services.litellm.config.model_list]]\nmodel_name = \"kimi\"\n\
         litellm_params = {{ model = \"openrouter/moonshotai/kimi-k2\", api_key = \"os.environ/OPENROUTER_API_KEY\" }}\n\
         [services.litellm.config.litellm_settings]\nfallbacks = [{{ kimi = [\"claude\"] }}]\n"
    ));
    assert_eq!(codes(&found), ["litellm-invalid-config"], "{found:#?}");
    assert!(
        found[0]
            .1
            .contains("OpenRouter model `kimi` has no `max_tokens`")
    );
}

#[test]
fn health_checks_are_held_to_what_each_image_contains() {
    let found = check(
        "[project]\nname = \"probes\"\ndomain = \"probes.example\"\n\
         [services.caddy]\n[services.postgresql]\n[services.redis]\n\
         [services.qdrant]\nhealth = { http = \"/healthz\", probe = \"curl\" }\n\
         [services.litellm]\nhealth = { http = \"/health/liveliness\", probe = \"wget\" }\n\
         [services.n8n]\nhealth = { shell = \"curl -fsS http://127.0.0.1:5678/healthz\" }\n\
         [services.loki]\nimage = \"grafana/loki:3.5.8\"\n",
    );
    let mut messages: Vec<String> = found
        .iter()
        .filter(|(c, _)| c == "healthcheck-missing-tool")
        .map(|(_, m)| m.clone())
        .collect();
    messages.sort();
    assert_eq!(messages.len(), 4, "{found:#?}");
    assert!(messages[0].contains("`litellm`'s health check runs `wget`"));
    assert!(
        messages[1]
            .contains("`loki` runs `loki -health`, which `grafana/loki:3.5.8` does not have")
    );
    assert!(messages[2].contains("`n8n`'s health check runs `curl`"));
    assert!(messages[3].contains("`qdrant`'s health check runs `curl`"));
}

#[test]
fn grafana_under_a_path_needs_the_prefix_handled_exactly_once() {
    let base = "[project]\nname = \"dash\"\ndomain = \"dash.example\"\n[services.caddy]\n[services.grafana]\n";
    let kept_without_sub_path = check(&format!(
        "{base}routes = [{{ path = \"/grafana/*\", access = \"vpn\" }}]\n"
    ));
    assert_eq!(codes(&kept_without_sub_path), ["grafana-subpath"]);
    for ok in [
        "routes = [{ path = \"/grafana/*\", access = \"vpn\" }]\nenv = { GF_SERVER_SERVE_FROM_SUB_PATH = \"true\" }\n",
        "routes = [{ path = \"/grafana/*\", strip_prefix = true, access = \"vpn\" }]\n",
    ] {
        let found = check(&format!("{base}{ok}"));
        assert!(found.is_empty(), "{ok}: {found:#?}");
    }
}

#[test]
fn image_references_registries_never_published_are_refused() {
    let found = check(&format!(
        "{AGENTS}[services.openclaw]\nimage = \"ghcr.io/openclaw/openclaw:v2026.2.22\"\n\
         [services.cadvisor]\nimage = \"gcr.io/cadvisor/cadvisor:v0.55.1\"\n"
    ));
    assert_eq!(codes(&found), ["image-tag-format", "image-tag-format"]);
}

#[test]
fn data_directories_follow_the_uid_the_image_runs_as() {
    // A Loki declared from its image keeps running as 10001: a directory without
    // owner is root's.
    let found = check(
        "[project]\nname = \"logs\"\ndomain = \"logs.example\"\n\
         [services.logs]\nimage = \"grafana/loki:3.6.11\"\nport = 3100\n\
         health = { cmd = [\"loki\", \"-health\"] }\ndata.\"/loki\" = {}\n",
    );
    assert_eq!(codes(&found), ["data-owner-mismatch"], "{found:#?}");
    assert!(found[0].1.contains("owned by root"));
}

#[test]
fn postgresql_17_keeps_its_own_data_path() {
    let found = check(
        "[project]\nname = \"pg\"\ndomain = \"pg.example\"\n\
         [services.postgresql]\nimage = \"postgres:17.6-bookworm\"\n\
         data.\"/var/lib/postgresql/data\" = { owner = \"999:999\" }\n",
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn references_and_plain_settings_are_not_secrets() {
    let found = check(
        "[project]\nname = \"refs\"\ndomain = \"refs.example\"\n\
         [secrets.jwt]\n\
         [services.api]\nimage = \"acme/api:1.4.2\"\nport = 3000\n\
         env = { JWT_SECRET = \"{{ secret.jwt }}\", JWT_PRIVATE_KEY_PATH = \"/keys/private.pem\", MQTT_URL = \"mqtt://emqx:1883\", TOKEN_TTL = \"3600\" }\n",
    );
    assert!(found.is_empty(), "{found:#?}");
}
