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
    /// The standard networks and the stack's, for the environment at `position` in
    /// `[project] environments`. A subnet written in `[networks]` is the first
    /// environment's: each later one moves it, like the standard ones, by ten
    /// blocks of its size per position (172.20.6.0/24 is preprod's 172.20.16.0/24),
    /// so environments on one engine never claim the same addresses. A subnet
    /// written in `[env.ENV.networks]` is taken as written.
    pub(super) fn networks(
        &mut self,
        base: &IndexMap<Spanned<String>, Spanned<RawNetwork>>,
        overlay: &IndexMap<Spanned<String>, Spanned<RawNetwork>>,
        position: usize,
    ) -> IndexMap<String, Network> {
        let mut networks: IndexMap<String, Network> = STANDARD_NETWORKS
            .iter()
            .map(|(name, subnet, internal)| {
                let standard: Ipv4Net = subnet.parse().expect("standard subnets are valid");
                (
                    name.to_string(),
                    Network {
                        name: name.to_string(),
                        subnet: environment_subnet(standard, position)
                            .expect("MAX_ENVIRONMENTS keeps standard subnets in 172.20.0.0/16"),
                        internal: *internal,
                        span: None,
                    },
                )
            })
            .collect();
        let names: Vec<&Spanned<String>> = base
            .keys()
            .chain(overlay.keys().filter(|name| !base.contains_key(*name)))
            .collect();
        for name in names {
            let (written, over) = (base.get(name), overlay.get(name));
            let builtin = networks.get(name.get_ref());
            let subnet = match (
                over.and_then(|o| o.get_ref().subnet.as_ref()),
                written.and_then(|w| w.get_ref().subnet.as_ref()),
                builtin,
            ) {
                (Some(text), _, _) => self.subnet(text, 0),
                (None, Some(text), _) => self.subnet(text, position),
                (None, None, Some(builtin)) => Some(builtin.subnet),
                (None, None, None) => {
                    let span = self.stack_span(name);
                    self.error(
                        Diagnostic::error(
                            "invalid-value",
                            format!("network `{}` has no subnet", name.get_ref()),
                        )
                        .at(Some(&span), "a new network")
                        .help("add `subnet = \"172.20.6.0/24\"` (a /24 no other network uses)"),
                    );
                    None
                }
            };
            let Some(subnet) = subnet else { continue };
            // Overriding a built-in network's subnet must not quietly give the
            // backend a route to the internet: `internal` changes only when written.
            let internal = over
                .and_then(|o| o.get_ref().internal)
                .or(written.and_then(|w| w.get_ref().internal))
                .unwrap_or(builtin.is_some_and(|b| b.internal));
            let span = overlay.get_key_value(name).map_or(name, |(key, _)| key);
            networks.insert(
                name.get_ref().clone(),
                Network {
                    name: name.get_ref().clone(),
                    subnet,
                    internal,
                    span: Some(self.stack_span(span)),
                },
            );
        }
        networks
    }

    /// A written subnet, moved for the environment at `position`.
    fn subnet(&mut self, text: &Spanned<String>, position: usize) -> Option<Ipv4Net> {
        let span = self.stack_span(text);
        let Ok(subnet) = text.get_ref().parse::<Ipv4Net>() else {
            self.error(
                Diagnostic::error(
                    "invalid-value",
                    format!("`{}` is not an IPv4 subnet", text.get_ref()),
                )
                .at(Some(&span), "network subnet")
                .help("write e.g. \"172.20.6.0/24\""),
            );
            return None;
        };
        let moved = environment_subnet(subnet, position);
        if moved.is_none() {
            self.error(
                Diagnostic::error(
                    "invalid-value",
                    format!(
                        "environment `{}` would move `{subnet}` beyond 255.255.255.255",
                        self.env
                    ),
                )
                .at(Some(&span), "the first environment's subnet")
                .help(format!(
                    "write this environment's own in `[env.{}.networks]`",
                    self.env
                )),
            );
        }
        moved
    }
}

/// `subnet` moved by ten blocks of its own size per environment position.
fn environment_subnet(subnet: Ipv4Net, position: usize) -> Option<Ipv4Net> {
    let size = 1u64 << (32 - u32::from(subnet.prefix_len()));
    let start = u64::from(u32::from(subnet.network())) + size * 10 * position as u64;
    let start = u32::try_from(start).ok()?;
    Ipv4Net::new(start.into(), subnet.prefix_len()).ok()
}
