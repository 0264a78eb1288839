//! What vpai knows about the software it deploys and the files it reads, each fact
//! written once: image references and moving tags, PostgreSQL's majors and data
//! paths, the tools each image ships for its health check, the CIS Docker
//! Benchmark's container questions. Stack rules, lint rules and host audit all ask
//! here, so a check and its twin cannot drift apart.
//!
//! Pure facts: no diagnostics, no I/O. It reads the model's kinds (a health test, a
//! probe), never the layers above.

pub mod cis;
pub mod health;
pub mod image;
pub mod postgres;
