//! The mangled names of the V8 entry points heapdiff looks up, one table per platform, chosen at
//! build time. Each table spells out every name; `symbols.rs` only ever refers to them by the
//! const's name, so a new entry point is one line in each table here.
//!
//! - Linux (glibc and musl, x64 and arm64): the Itanium C++ ABI as GCC and Clang emit it there,
//!   `uint64_t` is `unsigned long` (`m`). Passed to `dlsym(RTLD_DEFAULT, …)`.
//! - macOS (x64 and arm64): Itanium too, but `uint64_t` is `unsigned long long` (`y`). `nm` shows
//!   each name with one more leading underscore (the Mach-O C prefix); `dlsym` adds that itself,
//!   so the names here have none.
//! - Windows (x64): MSVC decoration, looked up with `GetProcAddress` on the host `node.exe`,
//!   whatever compiler built this module (the names are node.exe's, built with MSVC).
//!
//! `scripts/check-platform-symbols.mjs` (run by `npm test`) reads these tables from this file and
//! checks every name against the export tables of the official Node 20, 22, 24 and 26 binaries of
//! each platform, and that every table names the same consts. Two conventions it understands:
//! - a const whose doc comment says "Optional" may be missing from some Node versions (one of two
//!   alternatives, say), but must be exported by at least one of them;
//! - an empty name (`c""`) is not looked up on that platform (the feature is off there, with a
//!   reason), e.g. where the call would need an ABI the lookup code does not speak: MSVC returns
//!   a class such as `v8::Local<T>` from a member function through a hidden pointer, and macOS
//!   mangles `std::vector` as libc++'s `NSt3__16vector…`.

#[cfg(not(any(target_os = "macos", windows)))]
pub use linux::*;
#[cfg(target_os = "macos")]
pub use macos::*;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(target_os = "macos", windows)))]
mod linux {
    use std::ffi::CStr;

    pub const GET_CURRENT: &CStr = c"_ZN2v87Isolate10GetCurrentEv";
    pub const GET_VERSION: &CStr = c"_ZN2v82V810GetVersionEv";
    pub const ADD_PROLOGUE: &CStr =
        c"_ZN2v87Isolate21AddGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_";
    pub const ADD_EPILOGUE: &CStr =
        c"_ZN2v87Isolate21AddGCEpilogueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_";
    pub const REMOVE_PROLOGUE: &CStr =
        c"_ZN2v87Isolate24RemoveGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_";
    pub const REMOVE_EPILOGUE: &CStr =
        c"_ZN2v87Isolate24RemoveGCEpilogueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_";
    pub const HEAP_STATS_CTOR: &CStr = c"_ZN2v814HeapStatisticsC1Ev";
    pub const GET_HEAP_STATS: &CStr = c"_ZN2v87Isolate17GetHeapStatisticsEPNS_14HeapStatisticsE";
    pub const LOW_MEMORY: &CStr = c"_ZN2v87Isolate21LowMemoryNotificationEv";
    pub const GET_HEAP_PROFILER: &CStr = c"_ZN2v87Isolate15GetHeapProfilerEv";
    /// The options-struct overload: its mangled name is stable from V8 11 to 14, unlike the
    /// four-argument one whose resolver type was renamed in V8 14 (Node 26).
    pub const TAKE_SNAPSHOT: &CStr =
        c"_ZN2v812HeapProfiler16TakeHeapSnapshotERKNS0_19HeapSnapshotOptionsE";
    pub const SERIALIZE: &CStr =
        c"_ZNK2v812HeapSnapshot9SerializeEPNS_12OutputStreamENS0_19SerializationFormatE";
    pub const DELETE_SNAPSHOT: &CStr = c"_ZN2v812HeapSnapshot6DeleteEv";
    /// `uint64_t` is `unsigned long` here: `m`.
    pub const START_SAMPLING: &CStr =
        c"_ZN2v812HeapProfiler25StartSamplingHeapProfilerEmiNS0_13SamplingFlagsE";
    pub const STOP_SAMPLING: &CStr = c"_ZN2v812HeapProfiler24StopSamplingHeapProfilerEv";
    pub const START_TRACKING: &CStr = c"_ZN2v812HeapProfiler24StartTrackingHeapObjectsEb";
    pub const STOP_TRACKING: &CStr = c"_ZN2v812HeapProfiler23StopTrackingHeapObjectsEv";
    /// census: `Local<Context> Isolate::GetCurrentContext()`.
    pub const GET_CURRENT_CONTEXT: &CStr = c"_ZN2v87Isolate17GetCurrentContextEv";
    /// libstdc++'s `std::vector` (Node 26 is built with clang, but against libstdc++).
    pub const QUERY_OBJECTS: &CStr = c"_ZN2v812HeapProfiler12QueryObjectsENS_5LocalINS_7ContextEEEPNS_20QueryObjectPredicateEPSt6vectorINS_6GlobalINS_6ObjectEEESaIS9_EE";
    pub const GET_CONSTRUCTOR_NAME: &CStr = c"_ZN2v86Object18GetConstructorNameEv";
    pub const IS_FUNCTION: &CStr = c"_ZNK2v85Value10IsFunctionEv";
    pub const IS_REGEXP: &CStr = c"_ZNK2v85Value8IsRegExpEv";
    /// Optional: V8 13 and earlier (Node 20–24); V8 14 removed it.
    pub const UTF8_LENGTH: &CStr = c"_ZNK2v86String10Utf8LengthEPNS_7IsolateE";
    /// Optional: as UTF8_LENGTH.
    pub const WRITE_UTF8: &CStr = c"_ZNK2v86String9WriteUtf8EPNS_7IsolateEPciPii";
    /// Optional: V8 13 and later (Node 24, 26).
    pub const UTF8_LENGTH_V2: &CStr = c"_ZNK2v86String12Utf8LengthV2EPNS_7IsolateE";
    /// Optional: as UTF8_LENGTH_V2.
    pub const WRITE_UTF8_V2: &CStr = c"_ZNK2v86String11WriteUtf8V2EPNS_7IsolateEPcmiPm";
}

#[cfg(target_os = "macos")]
mod macos {
    use std::ffi::CStr;

    pub const GET_CURRENT: &CStr = c"_ZN2v87Isolate10GetCurrentEv";
    pub const GET_VERSION: &CStr = c"_ZN2v82V810GetVersionEv";
    pub const ADD_PROLOGUE: &CStr =
        c"_ZN2v87Isolate21AddGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_";
    pub const ADD_EPILOGUE: &CStr =
        c"_ZN2v87Isolate21AddGCEpilogueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_S2_";
    pub const REMOVE_PROLOGUE: &CStr =
        c"_ZN2v87Isolate24RemoveGCPrologueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_";
    pub const REMOVE_EPILOGUE: &CStr =
        c"_ZN2v87Isolate24RemoveGCEpilogueCallbackEPFvPS0_NS_6GCTypeENS_15GCCallbackFlagsEPvES4_";
    pub const HEAP_STATS_CTOR: &CStr = c"_ZN2v814HeapStatisticsC1Ev";
    pub const GET_HEAP_STATS: &CStr = c"_ZN2v87Isolate17GetHeapStatisticsEPNS_14HeapStatisticsE";
    pub const LOW_MEMORY: &CStr = c"_ZN2v87Isolate21LowMemoryNotificationEv";
    pub const GET_HEAP_PROFILER: &CStr = c"_ZN2v87Isolate15GetHeapProfilerEv";
    pub const TAKE_SNAPSHOT: &CStr =
        c"_ZN2v812HeapProfiler16TakeHeapSnapshotERKNS0_19HeapSnapshotOptionsE";
    pub const SERIALIZE: &CStr =
        c"_ZNK2v812HeapSnapshot9SerializeEPNS_12OutputStreamENS0_19SerializationFormatE";
    pub const DELETE_SNAPSHOT: &CStr = c"_ZN2v812HeapSnapshot6DeleteEv";
    /// `uint64_t` is `unsigned long long` on macOS: `y`, not Linux's `m`.
    pub const START_SAMPLING: &CStr =
        c"_ZN2v812HeapProfiler25StartSamplingHeapProfilerEyiNS0_13SamplingFlagsE";
    pub const STOP_SAMPLING: &CStr = c"_ZN2v812HeapProfiler24StopSamplingHeapProfilerEv";
    pub const START_TRACKING: &CStr = c"_ZN2v812HeapProfiler24StartTrackingHeapObjectsEb";
    pub const STOP_TRACKING: &CStr = c"_ZN2v812HeapProfiler23StopTrackingHeapObjectsEv";
    /// census: `Local<Context> Isolate::GetCurrentContext()`.
    pub const GET_CURRENT_CONTEXT: &CStr = c"_ZN2v87Isolate17GetCurrentContextEv";
    /// libc++'s `std::vector` (`std::__1::vector`), not libstdc++'s as on Linux.
    pub const QUERY_OBJECTS: &CStr = c"_ZN2v812HeapProfiler12QueryObjectsENS_5LocalINS_7ContextEEEPNS_20QueryObjectPredicateEPNSt3__16vectorINS_6GlobalINS_6ObjectEEENS6_9allocatorISA_EEEE";
    pub const GET_CONSTRUCTOR_NAME: &CStr = c"_ZN2v86Object18GetConstructorNameEv";
    pub const IS_FUNCTION: &CStr = c"_ZNK2v85Value10IsFunctionEv";
    pub const IS_REGEXP: &CStr = c"_ZNK2v85Value8IsRegExpEv";
    /// Optional: V8 13 and earlier (Node 20–24); V8 14 removed it.
    pub const UTF8_LENGTH: &CStr = c"_ZNK2v86String10Utf8LengthEPNS_7IsolateE";
    /// Optional: as UTF8_LENGTH.
    pub const WRITE_UTF8: &CStr = c"_ZNK2v86String9WriteUtf8EPNS_7IsolateEPciPii";
    /// Optional: V8 13 and later (Node 24, 26).
    pub const UTF8_LENGTH_V2: &CStr = c"_ZNK2v86String12Utf8LengthV2EPNS_7IsolateE";
    /// Optional: as UTF8_LENGTH_V2.
    pub const WRITE_UTF8_V2: &CStr = c"_ZNK2v86String11WriteUtf8V2EPNS_7IsolateEPcmiPm";
}

#[cfg(windows)]
mod windows {
    use std::ffi::CStr;

    pub const GET_CURRENT: &CStr = c"?GetCurrent@Isolate@v8@@SAPEAV12@XZ";
    pub const GET_VERSION: &CStr = c"?GetVersion@V8@v8@@SAPEBDXZ";
    pub const ADD_PROLOGUE: &CStr = c"?AddGCPrologueCallback@Isolate@v8@@QEAAXP6AXPEAV12@W4GCType@2@W4GCCallbackFlags@2@PEAX@Z31@Z";
    pub const ADD_EPILOGUE: &CStr = c"?AddGCEpilogueCallback@Isolate@v8@@QEAAXP6AXPEAV12@W4GCType@2@W4GCCallbackFlags@2@PEAX@Z31@Z";
    pub const REMOVE_PROLOGUE: &CStr = c"?RemoveGCPrologueCallback@Isolate@v8@@QEAAXP6AXPEAV12@W4GCType@2@W4GCCallbackFlags@2@PEAX@Z3@Z";
    pub const REMOVE_EPILOGUE: &CStr = c"?RemoveGCEpilogueCallback@Isolate@v8@@QEAAXP6AXPEAV12@W4GCType@2@W4GCCallbackFlags@2@PEAX@Z3@Z";
    /// A constructor; MSVC's returns `this`, which the caller ignores.
    pub const HEAP_STATS_CTOR: &CStr = c"??0HeapStatistics@v8@@QEAA@XZ";
    pub const GET_HEAP_STATS: &CStr =
        c"?GetHeapStatistics@Isolate@v8@@QEAAXPEAVHeapStatistics@2@@Z";
    pub const LOW_MEMORY: &CStr = c"?LowMemoryNotification@Isolate@v8@@QEAAXXZ";
    pub const GET_HEAP_PROFILER: &CStr = c"?GetHeapProfiler@Isolate@v8@@QEAAPEAVHeapProfiler@2@XZ";
    pub const TAKE_SNAPSHOT: &CStr =
        c"?TakeHeapSnapshot@HeapProfiler@v8@@QEAAPEBVHeapSnapshot@2@AEBUHeapSnapshotOptions@12@@Z";
    pub const SERIALIZE: &CStr =
        c"?Serialize@HeapSnapshot@v8@@QEBAXPEAVOutputStream@2@W4SerializationFormat@12@@Z";
    pub const DELETE_SNAPSHOT: &CStr = c"?Delete@HeapSnapshot@v8@@QEAAXXZ";
    /// `uint64_t` is `unsigned __int64`: `_K`.
    pub const START_SAMPLING: &CStr =
        c"?StartSamplingHeapProfiler@HeapProfiler@v8@@QEAA_N_KHW4SamplingFlags@12@@Z";
    pub const STOP_SAMPLING: &CStr = c"?StopSamplingHeapProfiler@HeapProfiler@v8@@QEAAXXZ";
    pub const START_TRACKING: &CStr = c"?StartTrackingHeapObjects@HeapProfiler@v8@@QEAAX_N@Z";
    pub const STOP_TRACKING: &CStr = c"?StopTrackingHeapObjects@HeapProfiler@v8@@QEAAXXZ";
    // census: not looked up on Windows. GetCurrentContext and GetConstructorName return a
    // `Local<T>` by value, which MSVC returns from a member function through a hidden pointer
    // (census.rs calls them as plain functions returning a pointer), and QueryObjects fills an
    // MSVC `std::vector`. census() throws there, naming the reason, as where any is missing.
    pub const GET_CURRENT_CONTEXT: &CStr = c"";
    pub const QUERY_OBJECTS: &CStr = c"";
    pub const GET_CONSTRUCTOR_NAME: &CStr = c"";
    pub const IS_FUNCTION: &CStr = c"";
    pub const IS_REGEXP: &CStr = c"";
    pub const UTF8_LENGTH: &CStr = c"";
    pub const WRITE_UTF8: &CStr = c"";
    pub const UTF8_LENGTH_V2: &CStr = c"";
    pub const WRITE_UTF8_V2: &CStr = c"";
}
