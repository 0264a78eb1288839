use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Finds cycles in `depends_on`, including the dependencies vpai adds itself
    /// (a service with a database waits for its PostgreSQL server).
    ///
    /// ## Why is this bad?
    /// Services in a cycle wait for each other forever: none of them starts, and
    /// `docker compose up` refuses the file with a terse message.
    ///
    /// ## Example
    /// ```toml
    /// [services.n8n]
    /// depends_on = { litellm = "healthy" }
    /// [services.litellm]
    /// depends_on = { n8n = "healthy" }
    /// ```
    ///
    /// ## Fix
    /// Remove one edge of the cycle. Start order is for hard dependencies only;
    /// a service that merely calls another at run time should retry instead.
    pub struct DependencyCycle => "dependency-cycle", Error;
}

impl DependencyCycle {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        // Iterative DFS with colours; each back edge closes one cycle, reported once
        // by its smallest member so the output is deterministic.
        #[derive(Clone, Copy, PartialEq)]
        enum Colour {
            White,
            Grey,
            Black,
        }
        let names: Vec<&str> = stack.services.keys().map(String::as_str).collect();
        let index = |n: &str| names.iter().position(|x| *x == n);
        let mut colour = vec![Colour::White; names.len()];
        let mut reported = std::collections::BTreeSet::new();
        for start in 0..names.len() {
            if colour[start] != Colour::White {
                continue;
            }
            let mut path: Vec<usize> = Vec::new();
            let mut stack_frames: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = Colour::Grey;
            path.push(start);
            while let Some((node, next)) = stack_frames.last_mut() {
                let deps: Vec<usize> = stack.services[*node]
                    .depends_on
                    .keys()
                    .filter_map(|d| index(d))
                    .collect();
                if *next < deps.len() {
                    let dep = deps[*next];
                    *next += 1;
                    match colour[dep] {
                        Colour::White => {
                            colour[dep] = Colour::Grey;
                            path.push(dep);
                            stack_frames.push((dep, 0));
                        }
                        Colour::Grey => {
                            let at = path
                                .iter()
                                .position(|&p| p == dep)
                                .expect("grey nodes are on the path");
                            let mut cycle: Vec<usize> = path[at..].to_vec();
                            let min = cycle
                                .iter()
                                .enumerate()
                                .min_by_key(|(_, n)| names[**n])
                                .map(|(i, _)| i)
                                .unwrap_or(0);
                            cycle.rotate_left(min);
                            if reported.insert(cycle.clone()) {
                                let mut chain: Vec<&str> =
                                    cycle.iter().map(|&i| names[i]).collect();
                                chain.push(chain[0]);
                                let first = &stack.services[cycle[0]];
                                let second = names[cycle[1 % cycle.len()]];
                                let edge_span =
                                    first.depends_on.get(second).and_then(|d| d.span.clone());
                                out.push(
                                    Self::diagnostic(format!(
                                        "dependency cycle: {}",
                                        chain.join(" -> ")
                                    ))
                                    .at(
                                        edge_span.as_ref().or(first.span.as_ref()),
                                        format!("`{}` waits for `{second}`", names[cycle[0]]),
                                    )
                                    .note(format!("cycle: {}", chain.join(" -> ")))
                                    .help("remove one `depends_on` edge of the cycle"),
                                );
                            }
                        }
                        Colour::Black => {}
                    }
                } else {
                    colour[*node] = Colour::Black;
                    path.pop();
                    stack_frames.pop();
                }
            }
        }
    }
}
