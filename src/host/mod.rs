//! `vpai host`: the machines themselves rather than the containers on them.
//!
//! Deploy commands assume a host that already runs Docker, lets the deploy user in
//! and is hardened. This module produces what makes a new machine that host
//! (`bootstrap`), from the same stack file, so the SSH port, the deploy user, the VPN
//! address and Docker's daemon.json can never disagree with what deploys expect;
//! and it checks what a host runs against the stack (`audit`). `firewall` says which
//! connections from outside reach the host's containers.

pub mod audit;
pub mod bootstrap;
pub mod firewall;
