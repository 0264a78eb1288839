//! vpai: one declarative stack file plus encrypted secrets to a hardened Docker stack.
//!
//! Data flows one way: `stack` (load + resolve) -> `rules` (check) -> `render`.
//! See ARCHITECTURE.md for the map and the invariants.

// Errors are diagnostics with spans and hints; they travel on the cold path, so their
// size does not matter and boxing them would only add noise.
#![allow(clippy::result_large_err)]

pub mod backup;
pub mod cli;
pub mod console;
pub mod deploy;
pub mod diagnostic;
pub mod engine;
pub mod graph;
pub mod host;
pub mod init;
pub mod knowledge;
pub mod lint;
pub mod paths;
pub mod render;
pub mod rules;
pub mod secrets;
pub mod smoke;
pub mod source;
pub mod stack;
pub mod suggest;
pub mod units;
