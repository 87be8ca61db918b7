//! memwatch's statistics and leak rules, and the strings it printed, in plain Rust.
//!
//! Nothing here knows about Node or V8: the native module feeds heap figures in and converts
//! the results, so every rule can be tested with synthetic heaps.

pub mod format;
pub mod leak;
pub mod stats;
