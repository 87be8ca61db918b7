//! Starting and stopping V8's sampling heap profiler on this thread. Reading the profile goes
//! through `node:inspector` in the JS layer; only the start needs C++, because the inspector's
//! own `HeapProfiler.startSampling` sets `kSamplingForceGC`, which makes every read of the
//! profile run a full GC.

use std::sync::atomic::Ordering;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::env_state;
use crate::gc::state::EnvState;
use crate::v8::isolate::JsIsolate;
use crate::v8::profiler::start_sampling;
use crate::v8::symbols::SamplingApi;

#[napi(object)]
pub struct SamplingStart {
    /// V8's profiler now samples for us.
    pub started: bool,
    /// Someone else (DevTools, another profiler library) already runs it on this thread.
    pub busy: bool,
    /// Why the C++ entry points cannot be used, where they cannot.
    pub reason: Option<String>,
}

type Profiler<'a> = (&'static SamplingApi, JsIsolate<'a>);

/// The sampling entry points and this thread's isolate, or why they cannot be used.
fn profiler<'a>(state: &'a EnvState, env: &'a Env) -> std::result::Result<Profiler<'a>, String> {
    let api = crate::v8::api().map_err(str::to_owned)?;
    let sampling = api.sampling.as_ref().map_err(Clone::clone)?;
    let isolate = state
        .js_isolate(env)
        .ok_or("no V8 isolate on this thread")?;
    Ok((sampling, isolate))
}

/// Starts sampling one allocation per `interval` bytes on average, keeping `depth` frames,
/// with no flags: only samples of live objects are kept and reading forces no GC.
#[napi(catch_unwind)]
pub fn sampling_start(env: Env, interval: f64, depth: u32) -> Result<SamplingStart> {
    let state = env_state(&env).map_err(|e| e.reason.clone());
    let started = state.and_then(|state| {
        let (api, isolate) = profiler(state, &env)?;
        let depth = depth.min(i32::MAX as u32) as i32;
        start_sampling(api, isolate, interval.max(1.0) as u64, depth)
    });
    let started = match started {
        Ok(started) => started,
        Err(reason) => {
            return Ok(SamplingStart {
                started: false,
                busy: false,
                reason: Some(reason),
            })
        }
    };
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
    let state = env_state(&env)?;
    Ok(state.stop_sampling(state.js_isolate(&env)))
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
