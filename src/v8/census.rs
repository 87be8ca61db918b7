//! A census of the live JS objects of one isolate by class, without a heap snapshot.
//!
//! `HeapProfiler::QueryObjects` runs a full GC (`CollectAllAvailableGarbage`), then walks every
//! live `JSObject` and hands each to a `v8::QueryObjectPredicate`, collecting into a
//! `std::vector<Global<Object>>` those its `Filter` accepts. Ours counts the object under its
//! class and accepts none, so the vector stays empty and no object is kept alive.
//!
//! `QueryObjectPredicate` is an abstract C++ class (`virtual ~QueryObjectPredicate()`, then
//! `virtual bool Filter(Local<Object>)`), so, as for `OutputStream` in `snapshot.rs`, the
//! predicate is a Rust struct whose first word points into a hand-made vtable. Itanium layout:
//! offset-to-top and RTTI come before the address the vptr holds (V8 never reads them); from
//! the vptr, slot 0 is the complete-object destructor, 1 the deleting destructor (the
//! destructor is declared first), 2 `Filter`. V8 only calls `Filter` (the predicate lives on our
//! stack and V8 never deletes it).
//!
//! Classes are named as DevTools' Summary names them: functions (`JSFunction`, bound
//! functions) as `Function` and regexps as `RegExp`, as DevTools does for the snapshot's
//! `closure` and `regexp` nodes; every other object by `Object::GetConstructorName`, the call
//! V8's snapshot generator makes for the names of its `object` nodes.
//!
//! Each `GetConstructorName` runs in a handle scope of its own (`napi_open_handle_scope`, since
//! V8 14 no longer exports `HandleScope`'s constructor), closed before `Filter` returns: the
//! handles V8 makes for it would otherwise pile up in the Node-API call's scope until the walk
//! ends (measured: 55 MB more peak RSS on a 100 MB heap of 1.9 million objects, Node 24). The
//! scope is opened and closed inside one `Filter` call, so it nests strictly inside whatever
//! scope V8 holds around the call.
//!
//! Nothing is read as text during the walk. V8's heap iterator forbids allocation and GC
//! while it runs, and reading a string as UTF-8 flattens it, which allocates when the string is
//! a cons string (a `Symbol.toStringTag` value built by concatenation): that crashed Node 20,
//! 24 and 26 in testing. So the walk counts per name *string*, keyed by the string's address
//! (stable for the whole walk: no object moves and no address is reused without a GC), and keeps
//! one handle per distinct string: for a string not seen before, `GetConstructorName` is called
//! again outside our scope, so that handle lives in the Node-API call's scope until the census
//! returns. Constructor names are internalized strings shared by every object of a class, so
//! that is one handle per class. Once `QueryObjects` has returned, each kept string is read as
//! UTF-8 and the counts of strings with the same text are added up.

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use memstats::Census;
use napi::{sys, Env};

use super::isolate::JsIsolate;
use super::symbols::{CensusApi, Isolate, LocalRaw, Utf8Api};

/// What a census found, with what it cost.
#[derive(Debug, Default)]
pub struct CensusTaken {
    /// Objects per class.
    pub census: Census,
    /// Time in `QueryObjects` (its GC and the walk), ms.
    pub ms: f64,
}

/// Why a census could not be taken.
#[derive(Debug)]
pub enum CensusError {
    /// The isolate has no heap profiler or no current context.
    NoProfiler,
    NoContext,
    /// The predicate panicked; the panic was contained and the census is incomplete.
    Panicked,
}

impl std::fmt::Display for CensusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CensusError::NoProfiler => "V8 has no heap profiler on this thread",
            CensusError::NoContext => "no V8 context is entered on this thread",
            CensusError::Panicked => "the census predicate failed; no census was taken",
        })
    }
}

/// The walk's state, reached from the predicate.
struct Walk<'a> {
    api: &'a CensusApi,
    /// The Node-API environment of the call the walk runs in, for handle scopes.
    env: sys::napi_env,
    /// Address of a name string → its index in `names`.
    by_string: HashMap<usize, usize>,
    /// One handle per distinct name string (null: no name), and the objects counted under it.
    names: Vec<(LocalRaw, u64)>,
    functions: u64,
    regexps: u64,
    panicked: bool,
}

impl Walk<'_> {
    /// Counts `object` (a `Local<Object>` V8 just made for it). Allocates nothing on V8's heap
    /// beyond what `GetConstructorName` does, which V8's snapshot generator also calls mid-walk.
    ///
    /// # Safety
    /// `object` is a live, non-empty `Local<Object>` of the isolate, during `QueryObjects`' walk
    /// on that isolate's thread, inside the Node-API call `self.env` is of.
    unsafe fn count(&mut self, object: LocalRaw) {
        if (self.api.is_function)(object) {
            self.functions += 1;
        } else if (self.api.is_regexp)(object) {
            self.regexps += 1;
        } else {
            let key = self.name_key(object);
            let k = match self.by_string.get(&key) {
                Some(&k) => k,
                None => {
                    // First sight of this string: a handle that outlives the walk, in the
                    // Node-API call's scope (no GC since the lookup, so it names the same
                    // string; were it a fresh one, its text still adds up below).
                    let name = (self.api.get_constructor_name)(object);
                    self.names.push((name, 0));
                    let k = self.names.len() - 1;
                    self.by_string.insert(key, k);
                    k
                }
            };
            self.names[k].1 += 1;
        }
    }

    /// The address of `object`'s constructor name string (0 for none), looked up in a handle
    /// scope of our own, closed before returning.
    ///
    /// # Safety
    /// As [`Walk::count`].
    unsafe fn name_key(&mut self, object: LocalRaw) -> usize {
        let mut scope: sys::napi_handle_scope = ptr::null_mut();
        let opened = sys::napi_open_handle_scope(self.env, &mut scope) == sys::Status::napi_ok;
        let name = (self.api.get_constructor_name)(object);
        // The handle slot holds the string's tagged address.
        let key = if name.is_null() {
            0
        } else {
            *(name as *const usize)
        };
        if opened {
            sys::napi_close_handle_scope(self.env, scope);
        }
        key
    }
}

/// The text of `string` (a `Local<String>`), invalid UTF-16 replaced. May flatten the string,
/// so only outside the heap walk.
///
/// # Safety
/// `string` is a live `Local<String>` of `isolate`, on its thread, outside GC callbacks and
/// outside any heap walk.
unsafe fn read_utf8(api: &CensusApi, isolate: *mut Isolate, string: LocalRaw) -> String {
    const V1_NO_NULL_TERMINATION: i32 = 2;
    const V1_REPLACE_INVALID_UTF8: i32 = 8;
    const V2_REPLACE_INVALID_UTF8: i32 = 2;
    let mut buf: Vec<u8>;
    let written = match api.utf8 {
        Utf8Api::V1 { length, write } => {
            let n = length(string, isolate).max(0) as usize;
            buf = vec![0; n];
            let w = write(
                string,
                isolate,
                buf.as_mut_ptr().cast(),
                n as i32,
                ptr::null_mut(),
                V1_NO_NULL_TERMINATION | V1_REPLACE_INVALID_UTF8,
            );
            w.max(0) as usize
        }
        Utf8Api::V2 { length, write } => {
            let n = length(string, isolate);
            buf = vec![0; n];
            write(
                string,
                isolate,
                buf.as_mut_ptr().cast(),
                n,
                V2_REPLACE_INVALID_UTF8,
                ptr::null_mut(),
            )
        }
    };
    buf.truncate(written);
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[repr(C)]
struct Predicate<'a, 'b> {
    /// Must be the first field: V8 reads the vptr at offset 0.
    vptr: *const unsafe extern "C" fn(),
    walk: &'a mut Walk<'b>,
}

unsafe extern "C" fn noop_dtor(_this: *mut c_void) {}

/// `bool Filter(Local<Object>)`: counts and rejects every object.
unsafe extern "C" fn filter(this: *mut c_void, object: LocalRaw) -> bool {
    // SAFETY: `this` is the Predicate passed to QueryObjects, which calls back on the same
    // thread while it runs, so the borrow is live and exclusive.
    let predicate = unsafe { &mut *(this as *mut Predicate) };
    let walk = &mut *predicate.walk;
    if walk.panicked || object.is_null() {
        return false;
    }
    // A panic must never unwind into V8's C++ frames.
    // SAFETY: V8 made `object` for a live JSObject of this isolate, during the walk.
    if catch_unwind(AssertUnwindSafe(|| unsafe { walk.count(object) })).is_err() {
        walk.panicked = true;
    }
    false
}

/// Static vtable; the vptr points at slot 0 (the two Itanium header words are never read).
struct VTable([unsafe extern "C" fn(); 3]);
// SAFETY: function pointers are immutable data.
unsafe impl Sync for VTable {}

static VTABLE: VTable = VTable(unsafe {
    [
        std::mem::transmute::<unsafe extern "C" fn(*mut c_void), unsafe extern "C" fn()>(noop_dtor),
        std::mem::transmute::<unsafe extern "C" fn(*mut c_void), unsafe extern "C" fn()>(noop_dtor),
        std::mem::transmute::<
            unsafe extern "C" fn(*mut c_void, LocalRaw) -> bool,
            unsafe extern "C" fn(),
        >(filter),
    ]
});

/// Counts the live JS objects of `isolate`'s heap by class (after the full GC V8 runs for it).
/// Under [`JsIsolate`]'s contract: on the isolate's own thread, from the Node-API call `env` is
/// (so inside a `HandleScope` and an entered context), outside any GC callback.
pub fn take_census(
    api: &CensusApi,
    isolate: JsIsolate<'_>,
    env: &Env,
) -> Result<CensusTaken, CensusError> {
    // SAFETY: on the isolate's own thread, from the Node-API call `env` belongs to, outside any
    // GC callback, with the isolate live (`JsIsolate`'s contract); the signatures match
    // (symbols.rs).
    unsafe { take_census_raw(api, isolate.as_ptr(), env.raw()) }
}

/// # Safety
/// As [`take_census`]: `isolate` is the calling thread's live isolate, `env` the Node-API call's
/// environment on that thread (inside a handle scope), outside GC callbacks.
unsafe fn take_census_raw(
    api: &CensusApi,
    isolate: *mut Isolate,
    env: sys::napi_env,
) -> Result<CensusTaken, CensusError> {
    let profiler = (api.get_heap_profiler)(isolate);
    if profiler.is_null() {
        return Err(CensusError::NoProfiler);
    }
    let context = (api.get_current_context)(isolate);
    if context.is_null() {
        return Err(CensusError::NoContext);
    }
    let mut walk = Walk {
        api,
        env,
        by_string: HashMap::new(),
        names: Vec::new(),
        functions: 0,
        regexps: 0,
        panicked: false,
    };
    let mut predicate = Predicate {
        vptr: VTABLE.0.as_ptr(),
        walk: &mut walk,
    };
    // An empty std::vector<Global<Object>>: begin, end, end-of-storage, all null (the layout of
    // libstdc++, which every supported Node links, and of libc++). Filter accepts nothing, so
    // V8 never grows it.
    let mut objects: [*mut c_void; 3] = [ptr::null_mut(); 3];
    let start = std::time::Instant::now();
    (api.query_objects)(
        profiler,
        context,
        (&mut predicate as *mut Predicate).cast(),
        objects.as_mut_ptr().cast(),
    );
    let ms = start.elapsed().as_secs_f64() * 1e3;
    debug_assert!(objects.iter().all(|p| p.is_null()));
    if walk.panicked {
        return Err(CensusError::Panicked);
    }
    // The walk is over: strings may be read (and flattened) now.
    let mut census = Census::new();
    let function = census.class_id("Function");
    census.add_n(function, walk.functions);
    let regexp = census.class_id("RegExp");
    census.add_n(regexp, walk.regexps);
    for &(name, n) in &walk.names {
        let text = if name.is_null() {
            "Object".to_owned()
        } else {
            read_utf8(api, isolate, name)
        };
        let id = census.class_id(&text);
        census.add_n(id, n);
    }
    Ok(CensusTaken { census, ms })
}
