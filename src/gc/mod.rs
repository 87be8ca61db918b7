//! Watching V8's garbage collector: callbacks inside the GC, per-environment state.
//!
//! What is recorded and how samples become events is `memstats`' job (`Recorder`, `Watcher`);
//! here is only what needs V8: registering the callbacks, reading the clock and the heap.

pub mod deliver;
pub mod env;
pub mod hook;
pub mod metrics;
pub mod registry;
pub mod rss;
pub mod state;
