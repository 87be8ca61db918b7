//! The V8 GC prologue/epilogue callbacks.
//!
//! They run inside the collector, on the isolate's own thread, while the JS heap must not be
//! touched. So they only read a clock and (for full GCs, when someone listens) V8's heap
//! statistics into a fixed struct, push it onto a pre-allocated queue and nudge the JS thread.
//! Everything that builds JS values happens later, in `deliver`.
//!
//! Locks are only ever `try_lock`ed here: if the JS thread happened to hold one, we drop the
//! figure rather than risk a deadlock inside the GC.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use memstats::{GcKind, HeapFigures, Source};

use super::state::{now_ms, now_ns, EnvState};
use crate::v8::{self, heap_stats, symbols::Isolate};

/// `kGCTypeAll`.
const ALL_GC_TYPES: u32 = 31;

pub unsafe extern "C" fn on_prologue(
    _isolate: *mut Isolate,
    _gc_type: u32,
    _flags: u32,
    data: *mut c_void,
) {
    // SAFETY: `data` is the EnvState registered with this callback; it outlives the
    // registration (removed in the env cleanup hook before the state is freed).
    let state = unsafe { &*(data as *const EnvState) };
    let now = now_ns();
    state.prologue_ns.store(now, Ordering::Relaxed);
    state.account(now);
}

pub unsafe extern "C" fn on_epilogue(
    isolate: *mut Isolate,
    gc_type: u32,
    _flags: u32,
    data: *mut c_void,
) {
    // SAFETY: as in `on_prologue`.
    let state = unsafe { &*(data as *const EnvState) };
    let entered = now_ns();
    // Nothing below should panic, but a panic must never unwind into V8's frames.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        epilogue(state, isolate, gc_type, entered)
    }));
    state.account(entered);
}

fn epilogue(state: &EnvState, isolate: *mut Isolate, gc_type: u32, now: u64) {
    let Some(kind) = GcKind::from_bits(gc_type) else {
        return;
    };
    let pause = now.saturating_sub(state.prologue_ns.load(Ordering::Relaxed));
    // Metrics count every pause, the snapshots' GCs too: the process was paused all the same.
    state.record_pause(kind, pause);
    // GCs that V8 runs while taking a HeapDiff snapshot are not the application's.
    if state.snapshot_depth.load(Ordering::Relaxed) > 0 {
        return;
    }
    let Ok(mut recorder) = state.recorder.try_lock() else {
        return;
    };
    let active = state.active.load(Ordering::Relaxed);
    let queued = recorder.gc_ended(kind, pause, active, Source::V8Callback, || {
        read_heap(isolate).map(|heap| (now_ms(), heap))
    });
    drop(recorder);
    if queued {
        state.ping();
    }
}

/// Reads heap figures of `isolate`, and the process's resident set size beside them; `None`
/// where the statistics entry points are missing.
pub fn read_heap(isolate: *mut Isolate) -> Option<HeapFigures> {
    let api = v8::api().ok()?;
    let hs = api.heap_stats.as_ref().ok()?;
    // SAFETY: called on the isolate's thread (GC callback or JS call) with a live isolate.
    let mut heap = unsafe { heap_stats::read(hs, api.v8_major, isolate) };
    heap.rss = super::rss::resident();
    Some(heap)
}

/// Registers both callbacks for every GC type. Returns why not, where V8 cannot be reached.
pub fn install(state: &EnvState) -> Result<(), String> {
    let api = v8::api().map_err(str::to_owned)?;
    if api.v8_major < v8::symbols::MIN_V8_MAJOR {
        return Err(format!(
            "V8 {} is older than any measured layout",
            api.v8_version
        ));
    }
    let gc = api.gc.as_ref().map_err(Clone::clone)?;
    api.heap_stats.as_ref().map_err(Clone::clone)?;
    let data = state as *const EnvState as *mut c_void;
    // SAFETY: `state.isolate` is this thread's live isolate; the signatures match (symbols.rs).
    unsafe {
        (gc.add_prologue)(state.isolate, on_prologue, data, ALL_GC_TYPES);
        (gc.add_epilogue)(state.isolate, on_epilogue, data, ALL_GC_TYPES);
    }
    Ok(())
}

/// Removes the callbacks registered by `install`; must run on the isolate's thread while the
/// isolate is alive (the env cleanup hook is the last such moment).
pub fn uninstall(state: &EnvState) {
    let Ok(api) = v8::api() else { return };
    let Ok(gc) = api.gc.as_ref() else { return };
    let data = state as *const EnvState as *mut c_void;
    // SAFETY: as in `install`; removing a (callback, data) pair that is registered once.
    unsafe {
        (gc.remove_prologue)(state.isolate, on_prologue, data);
        (gc.remove_epilogue)(state.isolate, on_epilogue, data);
    }
}
