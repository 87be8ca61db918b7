//! The narrow, version-checked bridge to V8's C++ API (see `symbols` for why it exists).
//!
//! The calls made from JS go through safe functions that take a [`isolate::JsIsolate`], whose
//! docs state their contract (thread, isolate, lifetime) once.

pub mod census;
pub mod heap_stats;
pub mod isolate;
pub mod names;
pub mod profiler;
pub mod snapshot;
pub mod symbols;

pub use symbols::api;
