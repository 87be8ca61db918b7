//! [`JsIsolate`]: the proof that the safe V8 calls below `crate::v8` rely on.
//!
//! Every V8 entry point heapdiff calls outside the GC callbacks (taking a snapshot, starting and
//! stopping the profilers, forcing a GC) has one contract, stated here once:
//!
//! - **thread**: the call runs on the isolate's own JS thread, from a Node-API call or the
//!   environment's cleanup hook, never from inside a GC callback;
//! - **isolate**: the isolate is that thread's own (`Isolate::GetCurrent` there), not null;
//! - **lifetime**: the isolate stays alive for as long as the `JsIsolate` is borrowed.
//!
//! A `JsIsolate` stands for exactly that, so the functions taking one (`low_memory_notification`,
//! `snapshot::take_and_stream`, `profiler::*`) are safe. The contract is checked where one is
//! made, by [`JsIsolate::new`]'s callers in `gc::state`. It is neither `Send` nor `Sync`, so it
//! cannot leave the thread it was made on.

use std::marker::PhantomData;
use std::ptr::NonNull;

use super::symbols::Isolate;

/// The calling JS thread's live isolate, for the duration of one call (see the module docs).
#[derive(Clone, Copy)]
pub struct JsIsolate<'a> {
    raw: NonNull<Isolate>,
    /// Borrowed for the call it was made for; the raw pointer keeps it `!Send` and `!Sync`.
    _call: PhantomData<&'a *mut Isolate>,
}

impl<'a> JsIsolate<'a> {
    /// Wraps `raw`; `None` when it is null (V8 could not be reached on this thread).
    ///
    /// # Safety
    /// For all of `'a`, the module's contract holds: the caller is on the JS thread whose
    /// isolate `raw` is (a Node-API call or the cleanup hook, not a GC callback), and that
    /// isolate is alive.
    pub unsafe fn new(raw: *mut Isolate) -> Option<Self> {
        NonNull::new(raw).map(|raw| JsIsolate {
            raw,
            _call: PhantomData,
        })
    }

    pub fn as_ptr(self) -> *mut Isolate {
        self.raw.as_ptr()
    }

    /// `Isolate::LowMemoryNotification`: a forced, compacting full GC (V8 runs two
    /// mark-compacts for it). Returns false, doing nothing, where the entry point is missing.
    pub fn low_memory_notification(self) -> bool {
        let Ok(api) = super::api() else {
            return false;
        };
        let Ok(low_memory) = api.low_memory_notification.as_ref() else {
            return false;
        };
        // SAFETY: the JS thread of this isolate, outside any GC callback (`JsIsolate`'s
        // contract); the signature matches (symbols.rs).
        unsafe { low_memory(self.as_ptr()) };
        true
    }
}
