use crate::diagnostic::Diagnostic;
use crate::rules::declare_rule;
use crate::stack::Stack;

declare_rule! {
    /// ## What it does
    /// Flags `[vpn] also_admit` ranges that hold a Docker network of the stack.
    ///
    /// ## Why is this bad?
    /// `access = "vpn"` routes admit the VPN and the ranges listed in `also_admit`.
    /// A range holding a container subnet admits every container on it; one holding
    /// the frontend subnet admits the proxy's bridge gateway, which is where the
    /// host itself (and, with Docker's userland proxy, any client the proxy carries)
    /// appears. 002 §6.2 listed the frontend subnet to let HTTP/3 through: the
    /// rendered daemon.json turns the userland proxy off instead, so VPN clients
    /// keep their own address.
    ///
    /// ## Example
    /// ```toml
    /// [vpn]
    /// cidr = "100.64.0.0/10"
    /// also_admit = ["172.20.1.0/24"]   # the frontend network
    /// ```
    ///
    /// ## Fix
    /// Remove the container range; list only the networks people reach the host from
    /// (an office LAN, one operator's address as a /32).
    pub struct VpnAdmitsContainers => "vpn-admits-containers", Error;
}

impl VpnAdmitsContainers {
    fn run(&self, stack: &Stack, out: &mut Vec<Diagnostic>) {
        let Some(vpn) = &stack.vpn else { return };
        for admitted in &vpn.also_admit {
            let ipnet::IpNet::V4(range) = admitted.range else {
                continue;
            };
            for network in stack.networks.values() {
                if range.contains(&network.subnet.network())
                    || network.subnet.contains(&range.network())
                {
                    out.push(
                        Self::diagnostic(format!(
                            "`also_admit` range {range} holds network `{}` ({}): its containers would pass `access = \"vpn\"`",
                            network.name, network.subnet
                        ))
                        .at(admitted.span.as_ref(), "admits containers")
                        .help("list only ranges people connect from; VPN clients keep their address since the rendered daemon.json turns Docker's userland proxy off"),
                    );
                }
            }
        }
    }
}
