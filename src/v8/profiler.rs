//! Starting and stopping V8's sampling heap profiler and its allocation tracker.
//!
//! Both are plain member functions of the isolate's `HeapProfiler` (`this` first, a C bool).
//! They run under [`JsIsolate`]'s contract (its thread, live, outside GC callbacks); the
//! profile itself is read through the inspector in the JS layer.

use std::ptr::NonNull;

use super::isolate::JsIsolate;
use super::symbols::{GetHeapProfilerFn, HeapProfiler, SamplingApi, TrackingApi};

fn heap_profiler(get: GetHeapProfilerFn, isolate: JsIsolate<'_>) -> Option<NonNull<HeapProfiler>> {
    // SAFETY: the live isolate of the calling JS thread (`JsIsolate`'s contract).
    NonNull::new(unsafe { get(isolate.as_ptr()) })
}

/// Starts sampling one allocation per `interval` bytes on average, keeping `depth` frames, with
/// no flags. `Ok(false)` when someone else already runs the profiler on this thread; `Err` says
/// why it cannot be used.
pub fn start_sampling(
    api: &SamplingApi,
    isolate: JsIsolate<'_>,
    interval: u64,
    depth: i32,
) -> Result<bool, String> {
    let profiler = heap_profiler(api.get_heap_profiler, isolate)
        .ok_or("V8 has no heap profiler on this thread")?;
    // SAFETY: on the isolate's JS thread, outside GC callbacks; flags 0 is kSamplingNoFlags.
    Ok(unsafe { (api.start)(profiler.as_ptr(), interval, depth, 0) })
}

/// Stops the sampling profiler and discards its profile; false where there is no profiler.
pub fn stop_sampling(api: &SamplingApi, isolate: JsIsolate<'_>) -> bool {
    let Some(profiler) = heap_profiler(api.get_heap_profiler, isolate) else {
        return false;
    };
    // SAFETY: on the isolate's thread, which is alive; stopping a stopped profiler is a no-op
    // in V8.
    unsafe { (api.stop)(profiler.as_ptr()) };
    true
}

/// Turns V8's allocation tracking on or off; false where there is no profiler.
pub fn track_allocations(api: &TrackingApi, isolate: JsIsolate<'_>, on: bool) -> bool {
    let Some(profiler) = heap_profiler(api.get_heap_profiler, isolate) else {
        return false;
    };
    // SAFETY: on the isolate's own JS thread with a live isolate; both are plain member
    // functions of the isolate's HeapProfiler (`this` first, a C bool).
    unsafe {
        if on {
            (api.start)(profiler.as_ptr(), true);
        } else {
            (api.stop)(profiler.as_ptr());
        }
    }
    true
}
