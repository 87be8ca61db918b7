//! Starting and stopping V8's sampling heap profiler on this thread. Reading the profile goes
//! through `node:inspector` in the JS layer; only the start needs C++, because the inspector's
//! own `HeapProfiler.startSampling` sets `kSamplingForceGC`, which makes every read of the
//! profile run a full GC.

use std::sync::atomic::Ordering;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::env_state;
use crate::gc::state::EnvState;
use crate::v8::symbols::{HeapProfiler, SamplingApi};

#[napi(object)]
pub struct SamplingStart {
    /// V8's profiler now samples for us.
    pub started: bool,
    /// Someone else (DevTools, another profiler library) already runs it on this thread.
    pub busy: bool,
    /// Why the C++ entry points cannot be used, where they cannot.
    pub reason: Option<String>,
}

type Profiler = (&'static SamplingApi, *mut HeapProfiler);

fn profiler(env: &Env) -> std::result::Result<Profiler, String> {
    profiler_of(env_state(env).map_err(|e| e.reason.clone())?)
}

fn profiler_of(state: &EnvState) -> std::result::Result<Profiler, String> {
    let api = crate::v8::api().map_err(str::to_owned)?;
    let sampling = api.sampling.as_ref().map_err(Clone::clone)?;
    if state.isolate.is_null() {
        return Err("no V8 isolate on this thread".into());
    }
    // SAFETY: the live isolate of the calling JS thread.
    let profiler = unsafe { (sampling.get_heap_profiler)(state.isolate) };
    if profiler.is_null() {
        return Err("V8 has no heap profiler on this thread".into());
    }
    Ok((sampling, profiler))
}

/// Starts sampling one allocation per `interval` bytes on average, keeping `depth` frames,
/// with no flags: only samples of live objects are kept and reading forces no GC.
#[napi(catch_unwind)]
pub fn sampling_start(env: Env, interval: f64, depth: u32) -> Result<SamplingStart> {
    let (api, profiler) = match profiler(&env) {
        Ok(p) => p,
        Err(reason) => {
            return Ok(SamplingStart {
                started: false,
                busy: false,
                reason: Some(reason),
            })
        }
    };
    let depth = depth.min(i32::MAX as u32) as i32;
    // SAFETY: on the isolate's JS thread, outside GC callbacks; flags 0 is kSamplingNoFlags.
    let started = unsafe { (api.start)(profiler, interval.max(1.0) as u64, depth, 0) };
    if started {
        env_state(&env)?.sampling.store(true, Ordering::Release);
    }
    Ok(SamplingStart {
        started,
        busy: !started,
        reason: None,
    })
}

/// Stops V8's sampling heap profiler on this thread and discards its profile.
#[napi(catch_unwind)]
pub fn sampling_stop(env: Env) -> Result<bool> {
    Ok(stop(env_state(&env)?))
}

fn stop(state: &EnvState) -> bool {
    state.sampling.store(false, Ordering::Release);
    match profiler_of(state) {
        Ok((api, profiler)) => {
            // SAFETY: on the isolate's thread, which is alive; stopping a stopped profiler is
            // a no-op in V8.
            unsafe { (api.stop)(profiler) };
            true
        }
        Err(_) => false,
    }
}

/// From the environment's cleanup hook, while the isolate is still alive.
pub(super) fn teardown(state: &EnvState) {
    if state.sampling.load(Ordering::Acquire) {
        stop(state);
    }
}

/// Hides GCs from `stats` while on (nested): the inspector-started profiler forces a full GC on
/// every read, which must not count as the application's.
#[napi(catch_unwind)]
pub fn gc_hide(env: Env, hide: bool) -> Result<()> {
    let state = env_state(&env)?;
    if hide {
        state.snapshot_depth.fetch_add(1, Ordering::AcqRel);
    } else {
        state.snapshot_depth.fetch_sub(1, Ordering::AcqRel);
    }
    Ok(())
}
