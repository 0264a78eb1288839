//! The stack: raw file types, loading, resolution into the typed model, value templates.

pub mod backup;
pub mod catalog;
pub mod kinds;
pub mod load;
pub mod locate;
pub mod model;
pub mod names;
pub mod raw;
pub mod resolve;
pub mod template;

pub use load::Report;
pub use model::{Stack, host_root};
pub use resolve::load;
