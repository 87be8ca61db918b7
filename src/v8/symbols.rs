//! Run-time lookup of the few V8 C++ entry points heapdiff calls.
//!
//! Node-API has no GC hook and no snapshot stream, so these come from V8's C++ API, which every
//! official Node binary exports. They are resolved with `dlsym(RTLD_DEFAULT, …)` rather than
//! linked: a Rust cdylib is linked BIND_NOW, so a single import that one Node version lacks would
//! make `require()` fail on that version, and a lazily bound one would kill the process on first
//! call. Looking them up lets one binary load everywhere and degrade feature by feature.
//!
//! The names are per platform, chosen at build time (`names.rs`): Itanium-mangled for
//! `dlsym(RTLD_DEFAULT, …)` on Linux and macOS (which differ in how `uint64_t` mangles),
//! MSVC-decorated for `GetProcAddress` on the host `node.exe` on Windows. `npm test` checks every
//! table against the official Node 20, 22, 24 and 26 binaries of its platform
//! (`scripts/check-platform-symbols.mjs`, docs/platforms.md). Non-virtual member functions are
//! called as plain C functions with `this` first: the Itanium ABI on Linux and macOS, and on
//! Windows x64 the one calling convention, with `this` in the first register. None of the calls
//! returns a class by value, where MSVC would differ (a hidden return pointer).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// Opaque V8 objects; only ever handled by pointer.
pub type Isolate = c_void;
pub type HeapProfiler = c_void;
pub type HeapSnapshot = c_void;

/// `void (*)(Isolate*, GCType, GCCallbackFlags, void* data)`.
pub type GcCallback = unsafe extern "C" fn(*mut Isolate, u32, u32, *mut c_void);

type GetCurrentFn = unsafe extern "C" fn() -> *mut Isolate;
type AddGcCallbackFn = unsafe extern "C" fn(*mut Isolate, GcCallback, *mut c_void, u32);
type RemoveGcCallbackFn = unsafe extern "C" fn(*mut Isolate, GcCallback, *mut c_void);
type IsolateVoidFn = unsafe extern "C" fn(*mut Isolate);
type GetHeapStatisticsFn = unsafe extern "C" fn(*mut Isolate, *mut c_void);
type HeapStatisticsCtorFn = unsafe extern "C" fn(*mut c_void);
pub(super) type GetHeapProfilerFn = unsafe extern "C" fn(*mut Isolate) -> *mut HeapProfiler;
type TakeHeapSnapshotFn =
    unsafe extern "C" fn(*mut HeapProfiler, *const c_void) -> *const HeapSnapshot;
type SerializeFn = unsafe extern "C" fn(*const HeapSnapshot, *mut c_void, c_int);
type DeleteSnapshotFn = unsafe extern "C" fn(*mut HeapSnapshot);
type GetVersionFn = unsafe extern "C" fn() -> *const c_char;
/// `bool HeapProfiler::StartSamplingHeapProfiler(uint64_t interval, int depth, SamplingFlags)`.
type StartSamplingFn = unsafe extern "C" fn(*mut HeapProfiler, u64, c_int, c_int) -> bool;
type StopSamplingFn = unsafe extern "C" fn(*mut HeapProfiler);
type StartTrackingFn = unsafe extern "C" fn(*mut HeapProfiler, bool);
type StopTrackingFn = unsafe extern "C" fn(*mut HeapProfiler);
/// A `v8::Local<T>` as passed and returned by value: one pointer to a handle slot (direct
/// locals are off in every official build, so it is never the object itself).
pub type LocalRaw = *mut c_void;
/// `Local<Context> Isolate::GetCurrentContext()`.
pub(super) type GetCurrentContextFn = unsafe extern "C" fn(*mut Isolate) -> LocalRaw;
/// `void HeapProfiler::QueryObjects(Local<Context>, QueryObjectPredicate*,
/// std::vector<Global<Object>>*)`.
pub(super) type QueryObjectsFn =
    unsafe extern "C" fn(*mut HeapProfiler, LocalRaw, *mut c_void, *mut c_void);
/// `Local<String> Object::GetConstructorName()` (`this` is the object's Local).
pub(super) type GetConstructorNameFn = unsafe extern "C" fn(LocalRaw) -> LocalRaw;
/// `bool Value::IsFunction() const`, `bool Value::IsRegExp() const`.
pub(super) type ValueIsFn = unsafe extern "C" fn(LocalRaw) -> bool;
/// `int String::Utf8Length(Isolate*) const` (V8 ≤ 13).
type Utf8LengthFn = unsafe extern "C" fn(LocalRaw, *mut Isolate) -> c_int;
/// `int String::WriteUtf8(Isolate*, char*, int capacity, int* nchars, int options) const`.
type WriteUtf8Fn =
    unsafe extern "C" fn(LocalRaw, *mut Isolate, *mut c_char, c_int, *mut c_int, c_int) -> c_int;
/// `size_t String::Utf8LengthV2(Isolate*) const` (V8 ≥ 13).
type Utf8LengthV2Fn = unsafe extern "C" fn(LocalRaw, *mut Isolate) -> usize;
/// `size_t String::WriteUtf8V2(Isolate*, char*, size_t capacity, int flags, size_t*) const`.
type WriteUtf8V2Fn =
    unsafe extern "C" fn(LocalRaw, *mut Isolate, *mut c_char, usize, c_int, *mut usize) -> usize;

/// The resolved entry points, grouped by the feature that needs them so that a missing symbol
/// switches off one feature (with a reason) instead of the whole module.
pub struct V8Api {
    pub v8_version: String,
    pub v8_major: u32,
    pub get_current: GetCurrentFn,
    pub gc: Result<GcApi, String>,
    pub heap_stats: Result<HeapStatsApi, String>,
    pub low_memory_notification: Result<IsolateVoidFn, String>,
    pub snapshot: Result<SnapshotApi, String>,
    pub sampling: Result<SamplingApi, String>,
    pub tracking: Result<TrackingApi, String>,
    pub census: Result<CensusApi, String>,
}

/// What `census()` calls: `HeapProfiler::QueryObjects` with a predicate that names each object
/// by `Object::GetConstructorName` and reads the name as UTF-8. Fields stay in `crate::v8`, so
/// one can only come from [`api`].
pub struct CensusApi {
    pub(super) get_heap_profiler: GetHeapProfilerFn,
    pub(super) get_current_context: GetCurrentContextFn,
    pub(super) query_objects: QueryObjectsFn,
    pub(super) get_constructor_name: GetConstructorNameFn,
    pub(super) is_function: ValueIsFn,
    pub(super) is_regexp: ValueIsFn,
    pub(super) utf8: Utf8Api,
}

/// Reading a `v8::String` as UTF-8: V8 13 (Node 24) added the `V2` pair and V8 14 (Node 26)
/// removed the old one, so whichever is exported is used (V2 where both are).
pub(super) enum Utf8Api {
    V1 {
        length: Utf8LengthFn,
        write: WriteUtf8Fn,
    },
    V2 {
        length: Utf8LengthV2Fn,
        write: WriteUtf8V2Fn,
    },
}

/// `HeapProfiler::StartTrackingHeapObjects(bool track_allocations)` and
/// `StopTrackingHeapObjects()`: V8's allocation tracker, with nothing around it (the inspector's
/// route adds a 50 ms heap-statistics timer and a full snapshot on stop).
pub struct TrackingApi {
    pub(super) get_heap_profiler: GetHeapProfilerFn,
    pub(super) start: StartTrackingFn,
    pub(super) stop: StopTrackingFn,
}

pub struct GcApi {
    pub add_prologue: AddGcCallbackFn,
    pub add_epilogue: AddGcCallbackFn,
    pub remove_prologue: RemoveGcCallbackFn,
    pub remove_epilogue: RemoveGcCallbackFn,
}

pub struct HeapStatsApi {
    pub ctor: HeapStatisticsCtorFn,
    pub get: GetHeapStatisticsFn,
}

pub struct SnapshotApi {
    pub(super) get_heap_profiler: GetHeapProfilerFn,
    pub(super) take: TakeHeapSnapshotFn,
    pub(super) serialize: SerializeFn,
    pub(super) delete: DeleteSnapshotFn,
}

/// Starting and stopping V8's sampling heap profiler; the profile itself is read through the
/// inspector protocol (`node:inspector`), which serializes V8's `AllocationProfile` for us.
///
/// This and the other two profiler tables keep their fields to `crate::v8`, so a reference to one
/// can only come from [`api`]: the safe functions taking one call exactly the resolved symbols.
pub struct SamplingApi {
    pub(super) get_heap_profiler: GetHeapProfilerFn,
    pub(super) start: StartSamplingFn,
    pub(super) stop: StopSamplingFn,
}

use super::names::*;

/// Lets tests and users prove the fallback path: with this set, no V8 symbol is used at all.
pub const DISABLE_ENV: &str = "HEAPDIFF_DISABLE_V8_HOOKS";

/// An empty name in a table (names.rs) means the entry point is not looked up on this platform.
fn lookup(name: &CStr) -> Result<*mut c_void, String> {
    if name.is_empty() {
        return Err("this V8 entry point is not looked up on this platform (names.rs)".into());
    }
    lookup_exported(name)
}

#[cfg(windows)]
fn lookup_exported(name: &CStr) -> Result<*mut c_void, String> {
    // The host executable's export table (node.exe exports V8's API for addons); the names are
    // MSVC-decorated (names.rs).
    #[link(name = "kernel32")]
    extern "system" {
        fn GetModuleHandleW(name: *const u16) -> *mut c_void;
        fn GetProcAddress(module: *mut c_void, name: *const c_char) -> *mut c_void;
    }
    // SAFETY: a null name asks for the process's own executable module, which stays loaded for
    // the process's lifetime; GetProcAddress takes a NUL-terminated name.
    let p = unsafe { GetProcAddress(GetModuleHandleW(std::ptr::null()), name.as_ptr()) };
    exported(p, name)
}

/// `p`, the address the platform's lookup found for `name`, or why there is none.
fn exported(p: *mut c_void, name: &CStr) -> Result<*mut c_void, String> {
    if p.is_null() {
        Err(format!(
            "V8 symbol {} is not exported by this Node binary",
            name.to_string_lossy()
        ))
    } else {
        Ok(p)
    }
}

#[cfg(unix)]
fn lookup_exported(name: &CStr) -> Result<*mut c_void, String> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no preconditions.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    exported(p, name)
}

macro_rules! resolve {
    ($name:expr, $ty:ty) => {
        // SAFETY: the symbol's C++ signature matches `$ty` under the platform's C++ ABI on every
        // supported Node version (checked per version, see module docs).
        lookup($name).map(|p| unsafe { std::mem::transmute::<*mut c_void, $ty>(p) })
    };
}

fn resolve_all() -> Result<V8Api, String> {
    if std::env::var_os(DISABLE_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
        return Err(format!("disabled by {DISABLE_ENV}"));
    }
    let get_current = resolve!(GET_CURRENT, GetCurrentFn)?;
    let get_version = resolve!(GET_VERSION, GetVersionFn)?;
    // SAFETY: returns a pointer to a static NUL-terminated version string.
    let v8_version = unsafe { CStr::from_ptr(get_version()) }
        .to_string_lossy()
        .into_owned();
    let v8_major = v8_version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("unrecognised V8 version {v8_version:?}"))?;
    let gc = (|| {
        Ok(GcApi {
            add_prologue: resolve!(ADD_PROLOGUE, AddGcCallbackFn)?,
            add_epilogue: resolve!(ADD_EPILOGUE, AddGcCallbackFn)?,
            remove_prologue: resolve!(REMOVE_PROLOGUE, RemoveGcCallbackFn)?,
            remove_epilogue: resolve!(REMOVE_EPILOGUE, RemoveGcCallbackFn)?,
        })
    })();
    let heap_stats = (|| {
        Ok(HeapStatsApi {
            ctor: resolve!(HEAP_STATS_CTOR, HeapStatisticsCtorFn)?,
            get: resolve!(GET_HEAP_STATS, GetHeapStatisticsFn)?,
        })
    })();
    let snapshot = (|| {
        Ok(SnapshotApi {
            get_heap_profiler: resolve!(GET_HEAP_PROFILER, GetHeapProfilerFn)?,
            take: resolve!(TAKE_SNAPSHOT, TakeHeapSnapshotFn)?,
            serialize: resolve!(SERIALIZE, SerializeFn)?,
            delete: resolve!(DELETE_SNAPSHOT, DeleteSnapshotFn)?,
        })
    })();
    let sampling = (|| {
        Ok(SamplingApi {
            get_heap_profiler: resolve!(GET_HEAP_PROFILER, GetHeapProfilerFn)?,
            start: resolve!(START_SAMPLING, StartSamplingFn)?,
            stop: resolve!(STOP_SAMPLING, StopSamplingFn)?,
        })
    })();
    let tracking = (|| {
        Ok(TrackingApi {
            get_heap_profiler: resolve!(GET_HEAP_PROFILER, GetHeapProfilerFn)?,
            start: resolve!(START_TRACKING, StartTrackingFn)?,
            stop: resolve!(STOP_TRACKING, StopTrackingFn)?,
        })
    })();
    let census = (|| {
        let utf8 = match (
            resolve!(UTF8_LENGTH_V2, Utf8LengthV2Fn),
            resolve!(WRITE_UTF8_V2, WriteUtf8V2Fn),
        ) {
            (Ok(length), Ok(write)) => Utf8Api::V2 { length, write },
            _ => Utf8Api::V1 {
                length: resolve!(UTF8_LENGTH, Utf8LengthFn)?,
                write: resolve!(WRITE_UTF8, WriteUtf8Fn)?,
            },
        };
        Ok(CensusApi {
            get_heap_profiler: resolve!(GET_HEAP_PROFILER, GetHeapProfilerFn)?,
            get_current_context: resolve!(GET_CURRENT_CONTEXT, GetCurrentContextFn)?,
            query_objects: resolve!(QUERY_OBJECTS, QueryObjectsFn)?,
            get_constructor_name: resolve!(GET_CONSTRUCTOR_NAME, GetConstructorNameFn)?,
            is_function: resolve!(IS_FUNCTION, ValueIsFn)?,
            is_regexp: resolve!(IS_REGEXP, ValueIsFn)?,
            utf8,
        })
    })();
    Ok(V8Api {
        v8_version,
        v8_major,
        get_current,
        gc,
        heap_stats,
        low_memory_notification: resolve!(LOW_MEMORY, IsolateVoidFn),
        snapshot,
        sampling,
        tracking,
        census,
    })
}

static API: OnceLock<Result<V8Api, String>> = OnceLock::new();

/// The process-wide table; `Err` says why V8 cannot be reached (every feature then falls back).
pub fn api() -> Result<&'static V8Api, &'static str> {
    API.get_or_init(resolve_all)
        .as_ref()
        .map_err(|e| e.as_str())
}

/// Oldest V8 whose layouts were measured (Node 20). Older runtimes are refused rather than
/// guessed at.
pub const MIN_V8_MAJOR: u32 = 11;

impl V8Api {
    /// The isolate of the calling thread; null outside a V8 thread.
    pub fn current_isolate(&self) -> *mut Isolate {
        // SAFETY: Isolate::GetCurrent has no preconditions.
        unsafe { (self.get_current)() }
    }
}
