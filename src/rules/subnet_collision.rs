use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags Docker networks whose subnets overlap each other or the VPN range.
    ///
    /// ## Why is this bad?
    /// Overlapping subnets make Docker refuse to create the second network, and a
    /// subnet inside the VPN range makes VPN peers unreachable from the host (their
    /// replies are routed into the bridge).
    ///
    /// ## Example
    /// ```toml
    /// [networks.creative]
    /// subnet = "172.20.0.0/16"   # contains frontend, backend, ...
    /// ```
    ///
    /// ## Fix
    /// Give each network its own /24 in `172.20.0.0/16` (the daemon's address pool,
    /// 001 §2.1), outside the VPN CIDR.
    pub struct SubnetCollision => "subnet-collision", Error;
}

impl SubnetCollision {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        let networks: Vec<_> = stack.networks.values().collect();
        for (i, a) in networks.iter().enumerate() {
            for b in &networks[i + 1..] {
                if a.subnet.contains(&b.subnet.network()) || b.subnet.contains(&a.subnet.network())
                {
                    out.push(
                        Self::diagnostic(format!(
                            "networks `{}` ({}) and `{}` ({}) overlap",
                            a.name, a.subnet, b.name, b.subnet
                        ))
                        .at(b.span.as_ref().or(a.span.as_ref()), "overlapping subnet")
                        .help("give each network a distinct /24"),
                    );
                }
            }
            if let Some(vpn) = &stack.vpn {
                let overlaps = match vpn.cidr {
                    ipnet::IpNet::V4(v) => {
                        v.contains(&a.subnet.network()) || a.subnet.contains(&v.network())
                    }
                    ipnet::IpNet::V6(_) => false,
                };
                if overlaps {
                    out.push(
                        Self::diagnostic(format!(
                            "network `{}` ({}) overlaps the VPN range {}",
                            a.name, a.subnet, vpn.cidr
                        ))
                        .at(a.span.as_ref(), "inside the VPN range")
                        .help("pick a subnet outside the VPN CIDR"),
                    );
                }
            }
        }
    }
}
