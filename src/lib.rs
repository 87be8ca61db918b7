//! heapdiff's native module: V8 GC hooks and heap snapshots behind a thin Node-API layer.
//!
//! The algorithms live in the `memstats` (statistics, leak rule, formatting) and `heapsnap`
//! (streaming snapshot parser, tables, diff) crates, which build and test without Node.
#![deny(clippy::all)]

mod binding;
mod gc;
mod v8;
