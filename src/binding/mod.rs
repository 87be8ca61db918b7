//! The Node-API boundary: entry points, the napi types JS sees (their doc comments are the
//! typed description in `binding.d.ts`), conversions, and per-environment state; nothing more.
//!
//! `snapshot` (handles) is used by `diff` and `analysis`; `retention`, `options` and `task` are
//! leaves shared by them. `watch` is the GC side.

mod analysis;
mod diff;
mod metrics;
mod options;
mod profile;
mod retention;
mod sampling;
mod sites;
mod snapshot;
mod task;
mod watch;

use napi::{Env, Error, Result};

use crate::gc::state::EnvState;

/// This environment's watcher state, created (and the GC hook installed) on first use.
///
/// The state lives in Node-API instance data, so each main thread or worker has its own and it is
/// freed with that environment. The cleanup hook unregisters the V8 callbacks first: Node runs
/// cleanup hooks before instance-data finalizers, while the isolate is still alive, which is the
/// last safe moment (a worker's exit can unload this library right after).
pub(crate) fn env_state(env: &Env) -> Result<&'static EnvState> {
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
        watch::install_hook(state);
    }
    let addr = state as *const EnvState as usize;
    env.add_env_cleanup_hook(addr, |addr| {
        // SAFETY: the state is freed only by the instance-data finalizer, which runs after
        // cleanup hooks.
        watch::teardown(unsafe { &*(addr as *const EnvState) });
    })?;
    Ok(state)
}
