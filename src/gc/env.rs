//! An environment's watcher state over its life: made on first use with the GC hook installed,
//! torn down by the environment's cleanup hook. Apart from `state` (what a state holds) so that
//! the parts it installs and removes (`hook`, `registry`, `deliver`) can take an `EnvState`
//! without the state depending back on them.

use std::sync::atomic::Ordering;

use napi::{Env, Error};

use super::state::EnvState;
use super::{deliver, hook, registry};
use crate::v8::isolate::JsIsolate;

/// This environment's watcher state, created (and the GC hook installed) on first use.
///
/// The state lives in Node-API instance data, so each main thread or worker has its own and it is
/// freed with that environment. The cleanup hook unregisters the V8 callbacks first: Node runs
/// cleanup hooks before instance-data finalizers, while the isolate is still alive, which is the
/// last safe moment (a worker's exit can unload this library right after).
pub fn env_state(env: &Env) -> napi::Result<&'static EnvState> {
    if let Some(state) = env.get_instance_data::<EnvState>()? {
        return Ok(state);
    }
    let isolate = match crate::v8::api() {
        Ok(api) => api.current_isolate(),
        Err(_) => std::ptr::null_mut(),
    };
    env.set_instance_data(EnvState::new(isolate), (), |_| {})?;
    let state = env
        .get_instance_data::<EnvState>()?
        .ok_or_else(|| Error::from_reason("instance data vanished right after being set"))?;
    if isolate.is_null() {
        state.hook = Err(crate::v8::api()
            .err()
            .unwrap_or("no V8 isolate on this thread")
            .to_owned());
    } else {
        state.hook = hook::install(state);
    }
    let addr = state as *const EnvState as usize;
    env.add_env_cleanup_hook(addr, |addr| {
        // SAFETY: the state is freed only by the instance-data finalizer, which runs after
        // cleanup hooks.
        teardown(unsafe { &*(addr as *const EnvState) });
    })?;
    Ok(state)
}

/// From the environment's cleanup hook, on its JS thread while the isolate is still alive.
fn teardown(state: &EnvState) {
    state.torn_down.store(true, Ordering::Release);
    if state.sampling.load(Ordering::Acquire) {
        // SAFETY: the cleanup hook runs on the environment's JS thread, outside GC callbacks,
        // before the isolate goes away; `state.isolate` is that thread's (see the module docs).
        state.stop_sampling(unsafe { JsIsolate::new(state.isolate) });
    }
    if state.hook.is_ok() {
        hook::uninstall(state);
    }
    registry::teardown(state);
    deliver::release(state);
}
