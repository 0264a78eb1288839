//! `vpai graph`: the javisi drawing in the three formats as snapshots; real tools
//! judge the output (Graphviz lays out the DOT, xmllint parses the SVG); the
//! committed docs/javisi.svg is what the command prints; the Mermaid flowchart has
//! every service and route; the command end to end, refusals included; the same
//! stack always gives the same bytes. `.ci/run` installs Graphviz and xmllint; a
//! missing tool fails the test with the command to install it, it never skips.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{root, run, vpai};
use vpai::graph::{GraphFormat, render};
use vpai::stack::Stack;

const FORMATS: [(GraphFormat, &str); 3] = [
    (GraphFormat::Svg, "svg"),
    (GraphFormat::Dot, "dot"),
    (GraphFormat::Mermaid, "mermaid"),
];

/// Every example in every environment, and the stack that crowds the layout.
const STACKS: &[(&str, &[&str])] = &[
    ("examples/javisi", &["prod", "preprod"]),
    ("examples/accoreboot", &["test", "preprod", "prod"]),
    ("examples/local", &["prod", "preprod"]),
    ("tests/graph/crowded", &["prod"]),
];

fn load(dir: &str, env: &str) -> Stack {
    vpai::stack::load(&root().join(dir), env)
        .unwrap_or_else(|r| panic!("{dir}/{env}: {:?}", r.diagnostics))
}

fn every_stack() -> impl Iterator<Item = (String, Stack)> {
    STACKS.iter().flat_map(|(dir, envs)| {
        envs.iter()
            .map(move |env| (format!("{dir} ({env})"), load(dir, env)))
    })
}

fn tool(name: &str, install: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!("`{name}` is not on PATH; install it with `{install}` (or run `bash .ci/run`)")
        })
}

/// Runs `program` with `input` on stdin: (success, stdout + stderr).
fn feed(program: &mut Command, input: &str) -> (bool, String) {
    let mut child = program
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tool starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("tool reads its input");
    let out = child.wait_with_output().expect("tool ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn javisi_in_every_format() {
    let stack = load("examples/javisi", "prod");
    for (format, name) in FORMATS {
        insta::assert_snapshot!(format!("javisi-prod-{name}"), render(&stack, format));
    }
}

#[test]
fn graphviz_lays_out_the_dot_without_a_warning() {
    let dot = tool("dot", "apt-get install graphviz");
    let (ok, _) = feed(Command::new(&dot).arg("-Tsvg"), "digraph { a -> }\n");
    assert!(!ok, "dot accepted an edge without a head: it cannot judge");
    for (name, stack) in every_stack() {
        let (ok, output) = feed(
            Command::new(&dot).arg("-Tsvg"),
            &render(&stack, GraphFormat::Dot),
        );
        assert!(ok, "{name}: dot -Tsvg failed:\n{output}");
        assert!(
            !output.contains("Warning") && !output.contains("Error"),
            "{name}: dot -Tsvg complained:\n{output}"
        );
    }
}

#[test]
fn the_svg_is_well_formed_and_names_every_service_and_host() {
    let xmllint = tool("xmllint", "apt-get install libxml2-utils");
    let (ok, _) = feed(
        Command::new(&xmllint).args(["--noout", "-"]),
        "<svg><g></svg>",
    );
    assert!(!ok, "xmllint accepted mismatched tags: it cannot judge");
    for (name, stack) in every_stack() {
        let svg = render(&stack, GraphFormat::Svg);
        let (ok, output) = feed(Command::new(&xmllint).args(["--noout", "-"]), &svg);
        assert!(ok, "{name}: xmllint rejects the SVG:\n{output}");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        for label in stack.services.keys().chain(stack.hosts.keys()) {
            assert!(
                svg.contains(&format!(">{label}</text>")),
                "{name}: `{label}` is not drawn"
            );
        }
        for service in stack.services.values() {
            for route in &service.routes {
                let site = route.site(stack.project.domain.as_deref());
                assert!(
                    svg.contains(&format!(">{site}{}", route.path.as_deref().unwrap_or(""))),
                    "{name}: the route {site} of `{}` has no label",
                    service.name
                );
            }
        }
    }
}

#[test]
fn docs_javisi_svg_is_what_vpai_graph_prints() {
    let out = run(vpai()
        .args(["graph", "examples/javisi", "--format", "svg"])
        .current_dir(root()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let committed = std::fs::read_to_string(root().join("docs/javisi.svg")).unwrap_or_default();
    assert!(
        committed == out.stdout,
        "docs/javisi.svg is out of date; regenerate it with \
         `cargo run -- graph examples/javisi --out docs/javisi.svg` and commit it"
    );
}

/// The identifier the Mermaid output gives a service (names here need no suffix).
fn mermaid_id(service: &str) -> String {
    format!("s_{}", service.replace('-', "_"))
}

#[test]
fn mermaid_has_every_host_service_route_and_dependency() {
    for (name, stack) in every_stack() {
        let mermaid = render(&stack, GraphFormat::Mermaid);
        let lines: Vec<&str> = mermaid.lines().map(str::trim).collect();
        assert_eq!(lines[0], "flowchart TB", "{name}");
        for host in stack.hosts.keys() {
            let subgraph = format!("subgraph host_{}[\"<b>{host}</b>", host.replace('-', "_"));
            assert!(
                lines.iter().any(|l| l.starts_with(&subgraph)),
                "{name}: no subgraph for host `{host}`"
            );
        }
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("subgraph ")).count(),
            lines.iter().filter(|l| **l == "end").count(),
            "{name}: every subgraph ends"
        );
        for service in stack.services.values() {
            let id = mermaid_id(&service.name);
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(&format!("{id}[\"<b>{}</b>", service.name))),
                "{name}: no node for `{}`",
                service.name
            );
            for route in &service.routes {
                let entry = match route.access {
                    vpai::stack::kinds::Access::Public => "internet",
                    vpai::stack::kinds::Access::Vpn => "vpn_clients",
                };
                let site = route.site(stack.project.domain.as_deref());
                let edge = format!(
                    "{entry} -->|\"{site}{}",
                    route.path.as_deref().unwrap_or("")
                );
                assert!(
                    lines
                        .iter()
                        .any(|l| l.starts_with(&edge) && l.ends_with(&format!("| {id}"))),
                    "{name}: no edge `{edge}` to `{}`",
                    service.name
                );
            }
            for (dependency, d) in &service.depends_on {
                let arrow = if d.implicit { "-.->" } else { "-->" };
                let edge = format!("{id} {arrow} {}", mermaid_id(dependency));
                assert!(lines.contains(&edge.as_str()), "{name}: no `{edge}`");
            }
        }
        let edges = lines
            .iter()
            .filter(|l| !l.starts_with("%%") && (l.contains("-->") || l.contains("-.->")))
            .count();
        let styled = lines.iter().filter(|l| l.starts_with("linkStyle ")).count();
        assert_eq!(edges, styled, "{name}: every edge has its style");
    }
}

#[test]
fn drawing_is_byte_for_byte_deterministic() {
    for (name, stack) in every_stack() {
        let again = load_again(&name);
        for (format, _) in FORMATS {
            assert_eq!(
                render(&stack, format),
                render(&again, format),
                "{name}: {format:?}"
            );
        }
    }
    // And across processes, through the CLI.
    let twice: Vec<String> = (0..2)
        .map(|_| {
            let out = run(vpai()
                .args(["graph", "examples/javisi"])
                .current_dir(root()));
            assert_eq!(out.code, 0, "{}", out.stderr);
            out.stdout
        })
        .collect();
    assert_eq!(twice[0], twice[1]);
}

/// The stack `every_stack` named `name`, loaded a second time.
fn load_again(name: &str) -> Stack {
    let (dir, env) = name
        .trim_end_matches(')')
        .split_once(" (")
        .expect("name is `dir (env)`");
    load(dir, env)
}

#[test]
fn cli_prints_svg_by_default_and_follows_the_extension_of_out() {
    let svg = run(vpai()
        .args(["graph", "-C", "examples/javisi"])
        .current_dir(root()));
    assert_eq!(svg.code, 0, "{}", svg.stderr);
    assert!(svg.stdout.starts_with("<svg "), "{}", svg.stdout);
    assert!(svg.stderr.is_empty(), "{}", svg.stderr);

    let tmp = tempfile::tempdir().unwrap();
    for (file, format, first_line) in [
        ("stack.dot", None, "// javisi-preprod (preprod)"),
        ("stack.mmd", None, "flowchart TB"),
        ("picture.txt", Some("mermaid"), "flowchart TB"),
        ("stack.svg", None, "<svg "),
    ] {
        let path = tmp.path().join(file);
        let mut cmd = vpai();
        cmd.args(["graph", "examples/javisi", "--env", "preprod", "--out"])
            .arg(&path)
            .current_dir(root());
        if let Some(format) = format {
            cmd.args(["--format", format]);
        }
        let out = run(&mut cmd);
        assert_eq!(out.code, 0, "{file}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{file}: {}", out.stdout);
        assert!(
            out.stderr
                .contains("drew `javisi-preprod` (preprod: 17 services on 3 hosts)"),
            "{file}: {}",
            out.stderr
        );
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.starts_with(first_line), "{file}: {written}");
        assert!(written.contains("preprod.example.cloud"), "{file}");
    }
}

#[test]
fn cli_refuses_an_unknown_format_with_the_possible_values() {
    let out = run(vpai()
        .args(["graph", "examples/javisi", "--format", "png"])
        .current_dir(root()));
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("invalid value 'png' for '--format <FORMAT>'")
            && out.stderr.contains("[possible values: svg, dot, mermaid]"),
        "{}",
        out.stderr
    );
}

fn stack_dir_with(fixture: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(fixture, tmp.path().join("vpai.toml")).unwrap();
    tmp
}

#[test]
fn cli_explains_a_broken_stack_and_draws_nothing() {
    // A stack file that does not parse: the diagnostic points at the line.
    let tmp = stack_dir_with(&root().join("tests/broken/01-unknown-key.toml"));
    let out = run(vpai().arg("graph").arg(tmp.path()));
    assert_eq!(out.code, 1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("error[invalid-stack-file]: unknown key `subdomian`")
            && out.stderr.contains("vpai.toml:10:1")
            && out.stderr.contains("did you mean `subdomain`?"),
        "{}",
        out.stderr
    );

    // A stack that parses but does not check: refused like `render`, with every error.
    let tmp = stack_dir_with(&root().join("tests/broken/32-memory-budget-prod.toml"));
    let out_file = tmp.path().join("stack.svg");
    let out = run(vpai()
        .arg("graph")
        .arg(tmp.path())
        .arg("--out")
        .arg(&out_file));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("error[memory-budget]")
            && out
                .stderr
                .contains("error[graph-refused]: nothing drawn: the stack has errors")
            && out
                .stderr
                .contains(&format!("run `vpai check {}`", tmp.path().display())),
        "{}",
        out.stderr
    );
    assert!(!out_file.exists(), "nothing is written for a refused stack");

    // No stack at all.
    let empty = tempfile::tempdir().unwrap();
    let out = run(vpai().arg("graph").arg(empty.path()));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot read") && out.stderr.contains("vpai init DIR"),
        "{}",
        out.stderr
    );
}
