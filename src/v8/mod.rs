//! The narrow, version-checked bridge to V8's C++ API (see `symbols` for why it exists).

pub mod heap_stats;
pub mod snapshot;
pub mod symbols;

pub use symbols::api;
