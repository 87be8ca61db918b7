//! Handing the GC callbacks' samples to JS: the thread-safe function that wakes the JS thread.
//!
//! Contract of everything here, stated once: the function is created on its environment's JS
//! thread (a Node-API call), its JS side runs there, and it is released exactly once, from the
//! environment's cleanup hook, after which `EnvState::torn_down` keeps anyone from calling it.
//! Its context pointer is the environment's `EnvState`, which the instance-data finalizer frees
//! only after the cleanup hook has run. `EnvState::ping` wakes it from the GC callbacks.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::Ordering;

use napi::bindgen_prelude::*;
use napi::sys;

use super::state::EnvState;

/// What the JS dispatcher receives: the binding turns drained samples into JS events.
pub trait Delivery {
    type Batch: ToNapiValue;

    /// Drains `state`'s samples into one batch; `None` when there is nothing to deliver.
    fn drain(state: &EnvState) -> Option<Self::Batch>;
}

/// The thread-safe function's JS-thread side: drain and hand the events to the JS dispatcher.
unsafe extern "C" fn call_js<D: Delivery>(
    env: sys::napi_env,
    js_cb: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    // A null env means the function is being torn down with the environment: the state may
    // already be gone, so touch nothing.
    if env.is_null() || js_cb.is_null() || context.is_null() {
        return;
    }
    // SAFETY: context is the EnvState owned by this env's instance data, alive while the env is.
    let state = unsafe { &*(context as *const EnvState) };
    state.ping_done();
    if state.torn_down.load(Ordering::Acquire) {
        return;
    }
    let Some(events) = D::drain(state) else {
        return;
    };
    // SAFETY: env is valid inside call_js; conversion failures just skip this batch.
    unsafe {
        let Ok(arg) = D::Batch::to_napi_value(env, events) else {
            return;
        };
        let mut undefined = ptr::null_mut();
        sys::napi_get_undefined(env, &mut undefined);
        let mut result = ptr::null_mut();
        // The JS dispatcher catches listener exceptions itself and rethrows them on a later
        // tick, so nothing is left pending here.
        sys::napi_call_function(env, undefined, js_cb, 1, &arg, &mut result);
    }
}

/// Routes `state`'s batches to `dispatch` through a new, unreferenced thread-safe function.
/// Does nothing when one already exists: idempotent per environment.
pub fn start<D: Delivery, Args: JsValuesTupleIntoVec>(
    env: &Env,
    state: &'static EnvState,
    dispatch: &Function<'_, Args, ()>,
) -> Result<()> {
    if !state.tsfn.load(Ordering::Acquire).is_null() {
        return Ok(());
    }
    let mut name = ptr::null_mut();
    let label = "heapdiff:gc";
    let mut tsfn = ptr::null_mut();
    // SAFETY: plain Node-API calls on the JS thread with valid arguments.
    unsafe {
        check(sys::napi_create_string_utf8(
            env.raw(),
            label.as_ptr().cast(),
            label.len() as isize,
            &mut name,
        ))?;
        check(sys::napi_create_threadsafe_function(
            env.raw(),
            dispatch.raw(),
            ptr::null_mut(),
            name,
            0,
            1,
            ptr::null_mut(),
            None,
            state as *const EnvState as *mut c_void,
            Some(call_js::<D>),
            &mut tsfn,
        ))?;
        // Watching must never keep a process alive.
        check(sys::napi_unref_threadsafe_function(env.raw(), tsfn))?;
    }
    state.env.store(env.raw(), Ordering::Release);
    state.tsfn.store(tsfn, Ordering::Release);
    Ok(())
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::from_reason(format!(
            "Node-API call failed with status {status}"
        )))
    }
}

/// Releases the thread-safe function, if any; from the environment's cleanup hook.
pub(super) fn release(state: &EnvState) {
    let tsfn = state.tsfn.swap(ptr::null_mut(), Ordering::AcqRel);
    if !tsfn.is_null() {
        // SAFETY: releasing our only reference; Node finalizes it with the environment.
        unsafe {
            sys::napi_release_threadsafe_function(tsfn, sys::ThreadsafeFunctionReleaseMode::abort)
        };
    }
}
