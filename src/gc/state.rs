//! Per-environment (per-isolate) watcher state.
//!
//! Each Node environment (the main thread, every worker) that loads the module gets its own
//! `EnvState`, owned by Node-API instance data and handed to V8 as the GC callbacks' data
//! pointer. Nothing is global, so workers never see each other's GCs, and a worker's exit tears
//! down exactly its own hook.
//!
//! `env::env_state` is the one place a state is made, on its environment's JS thread, with that
//! thread's isolate: so `EnvState::isolate` is always the isolate of the thread that owns the
//! state, alive until the environment's cleanup hook has run (`env::teardown`, the last moment V8 may
//! be called for it). `js_isolate` hands it to the safe V8 calls (see `v8::isolate`).

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use memstats::{PauseRing, Recorder, Watcher};
use napi::{sys, Env};

use super::metrics::ThreadMetrics;
use crate::v8::isolate::JsIsolate;
use crate::v8::symbols::Isolate;

pub struct EnvState {
    pub isolate: *mut Isolate,
    /// `Ok` when the V8 callbacks are registered; otherwise why not (the JS layer then feeds
    /// `perf_hooks` entries instead).
    pub hook: Result<(), String>,
    pub prologue_ns: AtomicU64,
    /// Time spent inside our own GC callbacks, and how many ran: the hook's direct cost to GC
    /// pauses, reported by `status()` and the overhead benchmark.
    pub callback_ns: AtomicU64,
    pub callbacks: AtomicU64,
    pub snapshot_depth: AtomicU32,
    /// True while heapdiff's own start of V8's sampling heap profiler is in force: it must be
    /// stopped before the isolate goes away (V8 frees the heap's spaces before the profiler
    /// that observes them, a use-after-free at exit otherwise; seen on Node 24).
    pub sampling: AtomicBool,
    /// The sampled allocation sites' tables and ring of summaries while sampling is on (see
    /// `heapprof::live`): native, so none of it is on the heap being watched. JS thread only.
    pub sites: Mutex<Option<heapprof::live::SiteRecorder>>,
    /// The censuses behind `leak` events' classes, while the `census` leak option is on. JS
    /// thread only.
    pub census_plan: Mutex<Option<memstats::CensusPlan>>,
    /// True while a `stats` or `leak` listener exists: only then are heap figures read.
    pub active: AtomicBool,
    /// What the GC callbacks touch. Kept small and behind `try_lock` there (see hook.rs).
    pub recorder: Mutex<Recorder>,
    /// What only the JS thread touches, while no GC callback can run into it.
    pub watcher: Mutex<Watcher>,
    pub tsfn: AtomicPtr<sys::napi_threadsafe_function__>,
    /// The environment the tsfn belongs to; only used on its own thread.
    pub env: AtomicPtr<sys::napi_env__>,
    ping_pending: AtomicBool,
    pub torn_down: AtomicBool,
    /// What metrics read of this thread, from any thread (see metrics.rs).
    pub metrics: Arc<ThreadMetrics>,
    /// The ring the epilogue pushes raw pauses to while OpenTelemetry listens (null otherwise),
    /// from `Arc::into_raw`; only this thread's JS side sets or clears it.
    pub ring: AtomicPtr<PauseRing>,
}

// SAFETY: the raw isolate pointer is only dereferenced by V8 on its own thread; the state is
// shared with V8 callbacks that run on that same thread.
unsafe impl Send for EnvState {}
unsafe impl Sync for EnvState {}

impl EnvState {
    /// Only `env::env_state` makes one, on the environment's JS thread (see the module docs).
    pub(super) fn new(isolate: *mut Isolate) -> Self {
        EnvState {
            isolate,
            hook: Err("not installed yet".into()),
            prologue_ns: AtomicU64::new(now_ns()),
            callback_ns: AtomicU64::new(0),
            callbacks: AtomicU64::new(0),
            snapshot_depth: AtomicU32::new(0),
            sampling: AtomicBool::new(false),
            sites: Mutex::new(None),
            census_plan: Mutex::new(None),
            active: AtomicBool::new(false),
            recorder: Mutex::new(Recorder::default()),
            watcher: Mutex::new(Watcher::default()),
            tsfn: AtomicPtr::new(ptr::null_mut()),
            env: AtomicPtr::new(ptr::null_mut()),
            ping_pending: AtomicBool::new(false),
            torn_down: AtomicBool::new(false),
            metrics: Arc::new(ThreadMetrics::default()),
            ring: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// This environment's isolate for a Node-API call on its JS thread (`env` is that call's);
    /// `None` where V8 could not be reached, or when called on another thread than the state's.
    pub fn js_isolate<'a>(&'a self, _env: &'a Env) -> Option<JsIsolate<'a>> {
        let api = crate::v8::api().ok()?;
        if self.isolate.is_null() || api.current_isolate() != self.isolate {
            return None;
        }
        // SAFETY: `self.isolate` is the calling thread's isolate (checked just above); a
        // Node-API call (`env`) runs on its JS stack, never inside a GC callback; and the
        // isolate outlives the call, as the state does (freed after the cleanup hook).
        unsafe { JsIsolate::new(self.isolate) }
    }

    /// Stops V8's sampling heap profiler for this thread, ending heapdiff's start of it.
    /// Returns false where the profiler cannot be reached.
    pub fn stop_sampling(&self, isolate: Option<JsIsolate<'_>>) -> bool {
        self.sampling.store(false, Ordering::Release);
        let (Ok(api), Some(isolate)) = (crate::v8::api(), isolate) else {
            return false;
        };
        match api.sampling.as_ref() {
            Ok(sampling) => crate::v8::profiler::stop_sampling(sampling, isolate),
            Err(_) => false,
        }
    }

    /// Blocking lock for the JS thread. Poisoning cannot leave these plain counters in a state
    /// worse than a lost sample, so it is ignored rather than turned into a crash.
    pub fn recorder(&self) -> MutexGuard<'_, Recorder> {
        self.recorder.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn watcher(&self) -> MutexGuard<'_, Watcher> {
        self.watcher.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn census_plan(&self) -> MutexGuard<'_, Option<memstats::CensusPlan>> {
        self.census_plan.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn sites(&self) -> MutexGuard<'_, Option<heapprof::live::SiteRecorder>> {
        self.sites.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One GC's pause, for metrics: every GC, whoever listens, before anything can skip it.
    pub fn record_pause(&self, kind: memstats::GcKind, pause_ns: u64) {
        let ty = memstats::GcType::from(kind);
        self.metrics.pauses.record(ty, pause_ns);
        let ring = self.ring.load(Ordering::Acquire);
        if !ring.is_null() {
            // SAFETY: set and cleared only by this thread's JS side, never while this thread is
            // inside a GC callback or the fallback's feed (where this runs).
            unsafe { &*ring }.push(ty, pause_ns);
        }
    }

    /// Adds the time since `entered` to the hook's own cost.
    pub fn account(&self, entered: u64) {
        self.callback_ns
            .fetch_add(now_ns().saturating_sub(entered), Ordering::Relaxed);
        self.callbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Asks the JS thread to drain the queue; at most one request is in flight.
    ///
    /// The tsfn is unreferenced while idle, so watching never keeps a process alive, but it is
    /// referenced while a delivery is pending: a script that calls `gc()` and waits for its
    /// `stats` event must not exit before the event arrives.
    pub fn ping(&self) {
        let tsfn = self.tsfn.load(Ordering::Acquire);
        if tsfn.is_null() || self.torn_down.load(Ordering::Acquire) {
            return;
        }
        if self.ping_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        // SAFETY: the tsfn is live until the cleanup hook releases it, after which `torn_down`
        // is set (checked above). Non-blocking: never waits inside a GC.
        let status = unsafe {
            sys::napi_call_threadsafe_function(
                tsfn,
                ptr::null_mut(),
                sys::ThreadsafeFunctionCallMode::nonblocking,
            )
        };
        if status != sys::Status::napi_ok {
            self.ping_pending.store(false, Ordering::Release);
            return;
        }
        // SAFETY: on the env's own thread (GC callbacks and JS calls both run there).
        unsafe { sys::napi_ref_threadsafe_function(self.env.load(Ordering::Acquire), tsfn) };
    }

    /// Called on delivery: the next GC may ping again, and the loop need not stay alive.
    pub fn ping_done(&self) {
        if self.ping_pending.swap(false, Ordering::AcqRel) {
            let tsfn = self.tsfn.load(Ordering::Acquire);
            if !tsfn.is_null() {
                // SAFETY: on the env's thread, inside the tsfn's own JS callback.
                unsafe {
                    sys::napi_unref_threadsafe_function(self.env.load(Ordering::Acquire), tsfn)
                };
            }
        }
    }
}

/// Monotonic nanoseconds since first use; only differences matter (GC pause times).
pub fn now_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}
