//! Watching V8's garbage collector: callbacks inside the GC, delivery outside it.

pub mod deliver;
pub mod hook;
pub mod sample;
pub mod state;
