//! heapdiff's native module: V8 GC hooks and heap snapshots behind a thin Node-API layer.
//!
//! The algorithms and their options live in the `memstats` (statistics, leak rule, formatting)
//! and `heapsnap` (streaming snapshot parser, tables, diff, graph analyses, file loads) crates,
//! which build and test without Node; `binding` only converts.
#![deny(clippy::all)]
// napi-derive emits no module registration under cfg(test), so in the (Node-free) test build
// every exported item looks unused.
#![cfg_attr(test, allow(dead_code))]

mod alloc;
mod binding;
mod gc;
mod v8;
