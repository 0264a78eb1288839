use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;
use crate::units::Mib;

declare_rule! {
    /// ## What it does
    /// Adds up the memory limits of the services placed on each host, for the
    /// environment being checked, and compares the sum with the host's memory minus
    /// what the OS and Docker need (`os_reserve`, 512M by default).
    ///
    /// ## Why is this bad?
    /// Limits above physical memory mean the kernel OOM-killer picks a victim under
    /// load: usually the database. Seed 001 §2.5 itself budgets 4864 MB of limits
    /// for its 4 GB pre-production host.
    ///
    /// ## Example
    /// ```toml
    /// [hosts.vps]
    /// memory = "8G"
    /// [env.preprod.hosts.vps]
    /// memory = "4G"     # the preprod limits add up to more
    /// ```
    ///
    /// ## Fix
    /// Lower limits in the overlay (`[env.preprod.services.X] memory = "..."`),
    /// disable services in that environment (`enabled = false`), or use a bigger host.
    pub struct MemoryBudget => "memory-budget", Error;
}

impl MemoryBudget {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        for host in stack.hosts.values() {
            let Some(memory) = host.memory else { continue };
            let mut services: Vec<_> = stack
                .services
                .values()
                .filter(|s| s.host == host.name)
                .collect();
            if services.is_empty() {
                continue;
            }
            services.sort_by(|a, b| {
                b.resources
                    .memory
                    .cmp(&a.resources.memory)
                    .then(a.name.cmp(&b.name))
            });
            let total: u64 = services.iter().map(|s| s.resources.memory.0).sum();
            let available = memory.0.saturating_sub(host.os_reserve.0);
            if total <= available {
                continue;
            }
            let width = services
                .iter()
                .map(|s| s.name.len())
                .max()
                .unwrap_or(0)
                .max(7);
            let mut table = format!("{:<width$}  limit\n", "service");
            for s in &services {
                table.push_str(&format!(
                    "{:<width$}  {:>5} MB\n",
                    s.name, s.resources.memory.0
                ));
            }
            table.push_str(&format!("{:<width$}  {:>5} MB", "total", total));
            out.push(
                Self::diagnostic(format!(
                    "host `{}` ({}): memory limits add up to {} MB in `{}`, over the {} MB available ({} minus {} for the OS)",
                    host.name,
                    Mib(memory.0),
                    total,
                    stack.env,
                    available,
                    Mib(memory.0),
                    host.os_reserve
                ))
                .at(host.memory_span.as_ref().or(host.span.as_ref()), format!("{} of {} MB available is over-committed", total - available, available))
                .note(table)
                .help(format!(
                    "lower limits or disable services in `[env.{}.services.NAME]`, or give the host more memory",
                    stack.env
                )),
            );
        }
    }
}
