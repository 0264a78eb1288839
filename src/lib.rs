//! vpai: one declarative stack file plus encrypted secrets to a hardened Docker stack.
//!
//! Data flows one way: `stack` (load + resolve) -> `rules` (check) -> `render`.
//! See ARCHITECTURE.md for the map and the invariants.

pub mod catalog;
pub mod cli;
pub mod diagnostic;
pub mod init;
pub mod render;
pub mod rules;
pub mod secrets;
pub mod source;
pub mod stack;
pub mod suggest;
pub mod units;
