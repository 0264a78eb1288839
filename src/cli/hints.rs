//! Hints that run as printed. Every layer writes its hints as `vpai CMD ...` alone
//! (it does not know how vpai was invoked); before printing, the CLI adds what the
//! operator's own command said — the stack directory right after the command,
//! which every command takes there (`vpai CMD [DIR] [THING]`), then `--env`,
//! `--host` and `--target` where the hinted command takes them — so the hint can be
//! copied and run as it is.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::diagnostic::Diagnostic;

/// What the running command was given.
#[derive(Default, Clone)]
struct Invocation {
    dir: Option<PathBuf>,
    env: Option<String>,
    host: Option<String>,
    target: Option<String>,
}

thread_local! {
    static INVOCATION: RefCell<Invocation> = RefCell::new(Invocation::default());
}

/// Note the stack and environment the command runs on.
pub(super) fn remember_stack(dir: &Path, env: &str) {
    INVOCATION.with(|i| {
        let mut i = i.borrow_mut();
        i.dir = Some(dir.to_path_buf());
        i.env = Some(env.to_string());
    });
}

/// Note the host and engine a deploy command was pointed at.
pub(super) fn remember_target(host: Option<&str>, target: Option<&str>) {
    INVOCATION.with(|i| {
        let mut i = i.borrow_mut();
        i.host = host.map(str::to_string);
        i.target = target.map(str::to_string);
    });
}

/// The words of `hint` that name a subcommand path (`secrets sync`), and whether
/// that command takes each of the flags vpai adds.
fn command_path(words: &[&str]) -> Option<(usize, clap::Command)> {
    let mut command = super::Cli::command();
    let mut taken = 0;
    while let Some(sub) = words
        .get(taken)
        .and_then(|w| command.find_subcommand(w).cloned())
    {
        command = sub;
        taken += 1;
    }
    (taken > 0).then_some((taken, command))
}

/// `vpai CMD REST` with the invocation's stack, environment, host and target added.
fn complete(hint: &str, invocation: &Invocation) -> String {
    let Some(words) = shlex::split(hint) else {
        return hint.to_string();
    };
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    // `vpai logs [DIR] SERVICE` shows a usage, not a command to run.
    if words.iter().any(|w| w.starts_with('[')) {
        return hint.to_string();
    }
    let Some((taken, command)) = command_path(&words[1..]) else {
        return hint.to_string();
    };
    let takes = |id: &str| command.get_arguments().any(|a| a.get_id() == id);
    let given = |flag: &str| {
        words
            .iter()
            .any(|w| *w == flag || w.starts_with(&format!("{flag}=")))
    };
    let mut out: Vec<String> = words[..=taken].iter().map(|w| w.to_string()).collect();
    if let Some(dir) = &invocation.dir
        && dir != Path::new(".")
        && takes("path")
        && !given("-C")
        && !given("--dir")
    {
        out.push(dir.display().to_string());
    }
    out.extend(words[taken + 1..].iter().map(|w| w.to_string()));
    let flags = [
        (
            "env",
            "--env",
            invocation.env.as_deref().filter(|e| *e != "prod"),
        ),
        ("host", "--host", invocation.host.as_deref()),
        ("target", "--target", invocation.target.as_deref()),
    ];
    for (id, flag, value) in flags {
        if let Some(value) = value
            && takes(id)
            && !given(flag)
        {
            out.push(flag.to_string());
            out.push(value.to_string());
        }
    }
    if out.len() == words.len() {
        return hint.to_string();
    }
    shlex::try_join(out.iter().map(String::as_str)).unwrap_or_else(|_| hint.to_string())
}

/// `path` as one shell word, to put into a hint.
pub(super) fn quoted(path: &Path) -> String {
    let text = path.display().to_string();
    shlex::try_quote(&text).map_or(text.clone(), |q| q.into_owned())
}

/// `text` with every `` `vpai ...` `` in it completed from the invocation.
pub(super) fn runnable(text: &str) -> String {
    let invocation = INVOCATION.with(|i| i.borrow().clone());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("`vpai ") {
        let Some(len) = rest[start + 1..].find('`') else {
            break;
        };
        out.push_str(&rest[..=start]);
        out.push_str(&complete(&rest[start + 1..start + 1 + len], &invocation));
        rest = &rest[start + 1 + len..];
    }
    out.push_str(rest);
    out
}

/// A diagnostic whose message, labels, notes and help carry runnable hints.
pub(super) fn runnable_diagnostic(mut d: Diagnostic) -> Diagnostic {
    d.message = runnable(&d.message);
    d.help = d.help.as_deref().map(runnable);
    d.notes = d.notes.iter().map(|n| runnable(n)).collect();
    if let Some(label) = &mut d.primary {
        label.message = runnable(&label.message);
    }
    for label in &mut d.secondary {
        label.message = runnable(&label.message);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation() -> Invocation {
        Invocation {
            dir: Some(PathBuf::from("examples/javisi")),
            env: Some("preprod".into()),
            host: Some("vps".into()),
            target: Some("local".into()),
        }
    }

    #[test]
    fn the_stack_goes_after_the_command_and_flags_where_the_command_takes_them() {
        let i = invocation();
        assert_eq!(
            complete("vpai secrets sync", &i),
            "vpai secrets sync examples/javisi --env preprod"
        );
        assert_eq!(
            complete("vpai secrets set NAME", &i),
            "vpai secrets set examples/javisi NAME --env preprod"
        );
        assert_eq!(
            complete("vpai apply --plan plan.json", &i),
            "vpai apply examples/javisi --plan plan.json --env preprod --host vps --target local"
        );
        assert_eq!(
            complete("vpai backup run --job postgresql", &i),
            "vpai backup run examples/javisi --job postgresql --env preprod --host vps --target local"
        );
        // `explain` and `init` take no stack; `-C` given is kept as it is.
        assert_eq!(complete("vpai explain", &i), "vpai explain");
        assert_eq!(
            complete("vpai logs [DIR] SERVICE", &i),
            "vpai logs [DIR] SERVICE"
        );
        assert_eq!(
            complete("vpai check -C x", &i),
            "vpai check -C x --env preprod"
        );
    }

    #[test]
    fn hints_inside_text_are_completed_and_the_rest_is_kept() {
        INVOCATION.with(|i| *i.borrow_mut() = invocation());
        assert_eq!(
            runnable("run `vpai secrets sync` to create it; `rm -rf` is not vpai"),
            "run `vpai secrets sync examples/javisi --env preprod` to create it; `rm -rf` is not vpai"
        );
        assert_eq!(runnable("unclosed `vpai plan"), "unclosed `vpai plan");
        INVOCATION.with(|i| i.borrow_mut().dir = Some(PathBuf::from("my stacks/acme")));
        assert_eq!(
            runnable(&format!(
                "`vpai apply --plan {}`",
                quoted(Path::new("/tmp/a plan.json"))
            )),
            "`vpai apply 'my stacks/acme' --plan '/tmp/a plan.json' --env preprod --host vps --target local`"
        );
    }
}
