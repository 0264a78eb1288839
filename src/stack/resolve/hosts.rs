//! Hosts and networks: each host's address, memory and VPN name with its
//! environment overlay, and the networks with their subnets and isolation.

use super::*;

impl Resolver {
    pub(super) fn hosts(
        &mut self,
        base: &IndexMap<Spanned<String>, Spanned<RawHost>>,
        overlay: &IndexMap<Spanned<String>, Spanned<RawHost>>,
    ) -> IndexMap<String, Host> {
        let mut hosts = IndexMap::new();
        for (name, raw) in base {
            let mut merged = raw.get_ref().clone();
            if let Some(o) = overlay.get(name) {
                merged = merged.merge(o.get_ref().clone());
            }
            let memory = merged
                .memory
                .as_ref()
                .and_then(|m| match Mib::parse(m.get_ref()) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        let span = self.stack_span(m);
                        self.error(
                            Diagnostic::error("invalid-value", e.to_string())
                                .at(Some(&span), "host memory"),
                        );
                        None
                    }
                });
            let os_reserve = match merged.os_reserve.as_deref().map(Mib::parse) {
                None => Mib(512),
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    let span = self.stack_span(raw);
                    self.error(
                        Diagnostic::error(
                            "invalid-value",
                            format!("host `{}`: os_reserve: {e}", name.get_ref()),
                        )
                        .at(Some(&span), "in this host"),
                    );
                    Mib(512)
                }
            };
            let arch = merged.arch.clone().unwrap_or_else(|| "amd64".to_string());
            if arch != "amd64" && arch != "arm64" {
                let span = self.stack_span(raw);
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!("host `{}`: unknown architecture `{arch}`", name.get_ref()),
                    )
                    .at(Some(&span), "in this host")
                    .help("use `amd64` or `arm64`"),
                );
            }
            let ssh = merged.ssh.clone().unwrap_or_default();
            hosts.insert(
                name.get_ref().clone(),
                Host {
                    name: name.get_ref().clone(),
                    address: merged.address.clone(),
                    vpn_address: merged.vpn_address.clone(),
                    ssh_user: ssh.user.unwrap_or_else(|| "root".to_string()),
                    ssh_port: ssh.port.unwrap_or(22),
                    ssh_keys: ssh.keys.unwrap_or_default(),
                    memory,
                    os_reserve,
                    cpus: merged.cpus,
                    arch,
                    span: Some(self.stack_span(name)),
                    memory_span: merged.memory.as_ref().map(|m| self.stack_span(m)),
                },
            );
        }
        if hosts.is_empty() {
            hosts.insert(
                "local".to_string(),
                Host {
                    name: "local".to_string(),
                    address: None,
                    vpn_address: None,
                    ssh_user: "root".to_string(),
                    ssh_port: 22,
                    ssh_keys: Vec::new(),
                    memory: None,
                    os_reserve: Mib(512),
                    cpus: None,
                    arch: "amd64".to_string(),
                    span: None,
                    memory_span: None,
                },
            );
        }
        hosts
    }

    /// The stack's networks in the environment at `position` of `environments`.
    /// Standard subnets move by ten /24s per environment (prod 172.20.1-5.0/24,
    /// preprod 172.20.11-15.0/24, ...), so that two environments on one engine never
    /// claim the same range; a subnet the stack writes is taken as written.
    pub(super) fn networks(
        &mut self,
        extra: &IndexMap<Spanned<String>, Spanned<RawNetwork>>,
        position: usize,
    ) -> IndexMap<String, Network> {
        let mut networks: IndexMap<String, Network> = STANDARD_NETWORKS
            .iter()
            .map(|(name, subnet, internal)| {
                let standard: Ipv4Net = subnet.parse().expect("standard subnets are valid");
                let [a, b, c, d] = standard.addr().octets();
                let third = usize::from(c) + 10 * position;
                let subnet = u8::try_from(third)
                    .ok()
                    .and_then(|c| Ipv4Net::new([a, b, c, d].into(), standard.prefix_len()).ok())
                    .unwrap_or(standard);
                (
                    name.to_string(),
                    Network {
                        name: name.to_string(),
                        subnet,
                        internal: *internal,
                        span: None,
                    },
                )
            })
            .collect();
        for (name, raw) in extra {
            let builtin = networks.get(name.get_ref());
            let subnet = match (&raw.get_ref().subnet, builtin) {
                (Some(text), _) => match text.get_ref().parse::<Ipv4Net>() {
                    Ok(subnet) => subnet,
                    Err(_) => {
                        let span = self.stack_span(text);
                        self.error(
                            Diagnostic::error(
                                "invalid-value",
                                format!("`{}` is not an IPv4 subnet", text.get_ref()),
                            )
                            .at(Some(&span), "network subnet")
                            .help("write e.g. \"172.20.6.0/24\""),
                        );
                        continue;
                    }
                },
                (None, Some(builtin)) => builtin.subnet,
                (None, None) => {
                    let span = self.stack_span(name);
                    self.error(
                        Diagnostic::error(
                            "invalid-value",
                            format!("network `{}` has no subnet", name.get_ref()),
                        )
                        .at(Some(&span), "a new network")
                        .help("add `subnet = \"172.20.6.0/24\"` (a /24 no other network uses)"),
                    );
                    continue;
                }
            };
            // Overriding a built-in network's subnet must not quietly give the
            // backend a route to the internet: `internal` changes only when written.
            let internal = raw
                .get_ref()
                .internal
                .unwrap_or(builtin.is_some_and(|b| b.internal));
            networks.insert(
                name.get_ref().clone(),
                Network {
                    name: name.get_ref().clone(),
                    subnet,
                    internal,
                    span: Some(self.stack_span(name)),
                },
            );
        }
        networks
    }
}
