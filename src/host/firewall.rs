//! What a host's firewall lets in, derived from the stack, for `vpai-firewall`.
//!
//! Docker publishes a port by DNAT before the packet meets UFW: the packet then
//! crosses the FORWARD chain, where UFW's rules never see it, so a port published
//! on the host's public address is open whatever `ufw status` says. Docker reserves
//! one chain for its operators, DOCKER-USER, consulted first in FORWARD and kept
//! across daemon restarts: `vpai-firewall` fills it, before dockerd starts, with the
//! host's public ports and the VPN range, and drops every other connection from
//! outside to a container. The match is on conntrack's original destination port,
//! the published one: after DNAT the packet carries the container's port.
//!
//! Containers on an internal network have no route out, but the bridge's gateway
//! is an address of the host: without a rule in INPUT they reach every service the
//! host itself listens on. `vpai-firewall` drops those connections too.

use std::collections::BTreeSet;

use ipnet::{IpNet, Ipv4Net};

use crate::knowledge::cis::{on_every_interface, proxy_web_port};
use crate::stack::Stack;
use crate::stack::model::{Host, Port, Service};

/// The host's firewall, as `vpai-firewall` and UFW apply it.
#[derive(Debug, PartialEq)]
pub struct Firewall {
    /// Published TCP ports anyone may connect to.
    pub public_tcp: BTreeSet<u16>,
    /// Published UDP ports anyone may send to (HTTP/3 on 443).
    pub public_udp: BTreeSet<u16>,
    /// Peers on the VPN reach every published port, as cross-host URLs need.
    pub vpn: Option<IpNet>,
    /// Subnets of the stack's internal networks: no connection from them to the host.
    pub internal: Vec<Ipv4Net>,
}

/// Whether anyone on the internet is meant to reach `port` of `service`.
pub fn is_public(service: &Service, port: &Port) -> bool {
    port.public || (proxy_web_port(service.kind, port.published) && on_every_interface(&port.bind))
}

pub fn for_host(stack: &Stack, host: &Host) -> Firewall {
    let mut firewall = Firewall {
        public_tcp: BTreeSet::new(),
        public_udp: BTreeSet::new(),
        vpn: stack.vpn.as_ref().map(|v| v.cidr),
        internal: stack
            .networks
            .values()
            .filter(|n| n.internal)
            .map(|n| n.subnet)
            .collect(),
    };
    for service in stack.services.values().filter(|s| s.host == host.name) {
        for port in service.ports.iter().filter(|p| is_public(service, p)) {
            match port.protocol.as_str() {
                "udp" => firewall.public_udp.insert(port.published),
                _ => firewall.public_tcp.insert(port.published),
            };
        }
    }
    firewall
}

/// Space-separated, for a readonly bash variable the script splits.
pub fn words<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firewall(text: &str) -> Firewall {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("vpai.toml"), text).unwrap();
        let stack = crate::stack::load(tmp.path(), "prod")
            .unwrap_or_else(|r| panic!("{:?}", r.diagnostics));
        for_host(&stack, &stack.hosts["vps"])
    }

    #[test]
    fn only_the_proxy_web_ports_and_ports_marked_public_are_public() {
        let f = firewall(
            "[project]\nname = \"fw\"\ndomain = \"fw.example\"\n[vpn]\ncidr = \"100.64.0.0/10\"\n\
             [hosts.vps]\naddress = \"203.0.113.10\"\nvpn_address = \"100.64.0.1\"\n\
             [hosts.pi]\n\
             [services.caddy]\n\
             [services.mqtt]\nimage = \"eclipse-mosquitto:2.0.20\"\n\
             ports = [{ published = 1883, bind = \"0.0.0.0\", public = true }, { published = 9001, bind = \"100.64.0.1\" }]\n\
             [services.admin]\nimage = \"acme/admin:1.0.0\"\n\
             ports = [{ published = 9000, bind = \"203.0.113.10\" }, { published = 5353, protocol = \"udp\", bind = \"127.0.0.1\" }]\n\
             [services.sensor]\nimage = \"acme/sensor:1.0.0\"\nhost = \"pi\"\n\
             ports = [{ published = 7000, bind = \"0.0.0.0\", public = true }]\n",
        );
        assert_eq!(words(&f.public_tcp), "80 443 1883");
        assert_eq!(words(&f.public_udp), "443");
        assert_eq!(
            f.vpn.map(|v| v.to_string()).as_deref(),
            Some("100.64.0.0/10")
        );
        assert_eq!(
            words(&f.internal),
            "172.20.2.0/24 172.20.3.0/24 172.20.5.0/24"
        );
    }
}
