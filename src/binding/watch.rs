//! Watching the GC from JS: the `stats`/`leak` payloads, the leak rule's options, and the entry
//! points that start watching, force a GC and feed the fallback. Conversion only: what is
//! recorded lives in `memstats::Recorder`, the events in `memstats::Watcher`.

use std::sync::atomic::Ordering;

use memstats::{Event, GcCounters, GcKind, HeapFigures, LeakOption, LeakRule, Source};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::env_state;
use super::options::{self, BadOption};
use crate::gc::deliver::{self, Delivery};
use crate::gc::hook;
use crate::gc::state::{now_ms, now_ns, EnvState};

#[napi(object)]
pub struct GcKindFigures {
    pub scavenge: f64,
    #[napi(js_name = "minor_mark_sweep")]
    pub minor_mark_sweep: f64,
    #[napi(js_name = "mark_sweep_compact")]
    pub mark_sweep_compact: f64,
    #[napi(js_name = "incremental_marking")]
    pub incremental_marking: f64,
    #[napi(js_name = "process_weak_callbacks")]
    pub process_weak_callbacks: f64,
}

/// The heap figures of `v8.getHeapStatistics()` that a `stats` event carries; also what the
/// `perf_hooks` fallback hands in.
#[napi(object, use_nullable = true)]
pub struct HeapStatistics {
    #[napi(js_name = "used_heap_size")]
    pub used_heap_size: f64,
    #[napi(js_name = "total_heap_size")]
    pub total_heap_size: f64,
    #[napi(js_name = "total_physical_size")]
    pub total_physical_size: f64,
    #[napi(js_name = "total_available_size")]
    pub total_available_size: f64,
    #[napi(js_name = "heap_size_limit")]
    pub heap_size_limit: f64,
    #[napi(js_name = "malloced_memory")]
    pub malloced_memory: f64,
    #[napi(js_name = "external_memory")]
    pub external_memory: f64,
    #[napi(js_name = "number_of_native_contexts")]
    pub number_of_native_contexts: f64,
    #[napi(js_name = "number_of_detached_contexts")]
    pub number_of_detached_contexts: f64,
    /// Only V8 14+ (Node 26) reports it; null elsewhere.
    #[napi(js_name = "total_allocated_bytes")]
    pub total_allocated_bytes: Option<f64>,
    /// Not V8's: the process's resident set size, read at the same moment; null where unread.
    pub rss: Option<f64>,
}

/// The `stats` event payload: the classic fields first, then what modern V8 adds.
#[napi(object, use_nullable = true)]
pub struct GcStats {
    #[napi(js_name = "num_full_gc")]
    pub num_full_gc: f64,
    #[napi(js_name = "num_inc_gc")]
    pub num_inc_gc: f64,
    #[napi(js_name = "heap_compactions")]
    pub heap_compactions: f64,
    #[napi(js_name = "estimated_base")]
    pub estimated_base: f64,
    #[napi(js_name = "current_base")]
    pub current_base: f64,
    pub min: f64,
    pub max: f64,
    #[napi(js_name = "usage_trend")]
    pub usage_trend: f64,
    /// `estimated_base` of external memory (`external_memory` is its `current_base`).
    #[napi(js_name = "external_estimated_base")]
    pub external_estimated_base: f64,
    /// `usage_trend` of external memory.
    #[napi(js_name = "external_usage_trend")]
    pub external_usage_trend: f64,
    /// Resident memory that is neither heap nor external (`rss` − `total_physical_size` −
    /// `external_memory`): an estimate without a leak rule (see docs/api.md); null where
    /// `rss` is unread.
    #[napi(js_name = "native_memory")]
    pub native_memory: Option<f64>,
    /// `'v8-gc-callback'` or `'perf_hooks'`.
    pub source: String,
    /// True for the event that follows `gc()`.
    pub forced: bool,
    /// Wall-clock time of the GC, ms since the epoch.
    #[napi(js_name = "gc_time")]
    pub gc_time: f64,
    /// Pause of this GC (for `gc()`, of all the GCs it ran), ms.
    #[napi(js_name = "pause_ms")]
    pub pause_ms: f64,
    /// V8's heap statistics right after this GC (flattened into the event by the JS layer).
    pub heap: HeapStatistics,
    /// GCs of each kind since the hook was installed.
    #[napi(js_name = "gc_counts")]
    pub gc_counts: GcKindFigures,
    /// Summed pause time of each kind, ms.
    #[napi(js_name = "gc_pause_ms")]
    pub gc_pause_ms: GcKindFigures,
    /// Samples dropped because the event loop did not drain them in time.
    pub dropped: f64,
}

/// The `leak` event payload as it crosses; the JS layer turns the times into `Date`s.
#[napi(object)]
pub struct LeakEvent {
    /// Which memory grew: V8's heap (memwatch's only one) or external memory (`Buffer`s,
    /// `ArrayBuffer`s, external strings).
    #[napi(ts_type = "'heap' | 'external'")]
    pub memory: String,
    pub start_ms: f64,
    pub end_ms: f64,
    pub growth: f64,
    pub gcs: u32,
    pub reason: String,
}

#[napi(object, js_name = "GcEventJs")]
pub struct GcEvent {
    /// `'stats'` or `'leak'`.
    pub kind: String,
    pub stats: Option<GcStats>,
    pub leak: Option<LeakEvent>,
}

#[napi(object)]
pub struct HookStatus {
    /// Whether the V8 GC callbacks are registered for this thread's isolate.
    pub installed: bool,
    /// Why not, where they are not.
    pub reason: Option<String>,
    /// Whether `gc()` can use `LowMemoryNotification`.
    pub native_gc: bool,
    /// Whether heap snapshots can be taken natively.
    pub native_snapshot: bool,
    /// Whether `census()` can count objects by class on this runtime.
    pub census: bool,
    pub v8_version: Option<String>,
    /// Whether a listener currently asks for heap figures.
    pub active: bool,
    pub counts: GcKindFigures,
    /// Prologue and epilogue invocations of our callbacks so far.
    pub callbacks: f64,
    /// Total time spent inside them, ms: the hook's direct cost to GC pauses.
    pub callback_ms: f64,
    /// Bytes heapdiff's native code holds right now, on all threads (snapshot tables being
    /// built or diffed, per-thread GC state): back to its baseline once work is done.
    pub native_bytes: f64,
    /// The most it ever held at once since the module loaded.
    pub native_peak_bytes: f64,
}

/// Knobs of the leak rule (`setLeakOptions`); each is optional and defaults as listed here,
/// which `leakOptionDefaults()` returns from the rule itself.
#[napi(object)]
pub struct LeakOptions {
    /// `'trend'` (least-squares growth over a window, fewer false alarms) or `'classic'`
    /// (memwatch's streak of growing full GCs).
    ///
    /// @default 'trend'
    #[napi(ts_type = "'trend' | 'classic'")]
    pub rule: Option<String>,
    /// Classic rule: growing full GCs in a row that make a report.
    ///
    /// @default 5
    pub consecutive_growth: Option<f64>,
    /// Trend rule: full GCs in the regression window (at least 3).
    ///
    /// @default 10
    pub window: Option<f64>,
    /// Trend rule: bytes the fitted line must rise over the window (256 KiB).
    ///
    /// @default 262144
    pub min_growth: Option<f64>,
    /// Trend rule: t-statistic the slope must reach.
    ///
    /// @default 3
    pub significance: Option<f64>,
    /// Fast path: growing full GCs in a row that can report a runaway heap (0 = off).
    ///
    /// @default 2
    pub fast_gcs: Option<f64>,
    /// Fast path: bytes of growth required (128 MiB).
    ///
    /// @default 134217728
    pub fast_min_growth: Option<f64>,
    /// Fast path: growth as a multiple of the starting heap (doubled).
    ///
    /// @default 1
    pub fast_min_ratio: Option<f64>,
    /// Whether external memory (`Buffer`s, `ArrayBuffer`s) is judged too, by the same rule
    /// and knobs in its own series; its events carry `memory: 'external'`.
    ///
    /// @default true
    pub external: Option<bool>,
}

impl From<memstats::LeakOptions> for LeakOptions {
    fn from(o: memstats::LeakOptions) -> Self {
        LeakOptions {
            rule: Some(rule_name(o.rule).to_owned()),
            consecutive_growth: Some(o.consecutive_growth.into()),
            window: Some(o.window.into()),
            min_growth: Some(o.min_growth as f64),
            significance: Some(o.significance),
            fast_gcs: Some(o.fast_gcs.into()),
            fast_min_growth: Some(o.fast_min_growth as f64),
            fast_min_ratio: Some(o.fast_min_ratio),
            external: Some(o.external),
        }
    }
}

fn rule_name(rule: LeakRule) -> &'static str {
    match rule {
        LeakRule::Trend => "trend",
        LeakRule::Classic => "classic",
    }
}

/// The JS spelling of each option, for error messages.
fn js_name(option: LeakOption) -> &'static str {
    match option {
        LeakOption::Rule => "rule",
        LeakOption::ConsecutiveGrowth => "consecutiveGrowth",
        LeakOption::Window => "window",
        LeakOption::MinGrowth => "minGrowth",
        LeakOption::Significance => "significance",
        LeakOption::FastGcs => "fastGcs",
        LeakOption::FastMinGrowth => "fastMinGrowth",
        LeakOption::FastMinRatio => "fastMinRatio",
    }
}

/// A leak option out of range, named as JS spells it.
fn out_of_range(option: LeakOption, requirement: &str, got: impl std::fmt::Display) -> BadOption {
    BadOption::range("leak", js_name(option), requirement, got)
}

/// JS numbers into the rule's counts: whole and in range, or a `RangeError` naming the option.
fn whole<T: TryFrom<u64>>(option: LeakOption, v: f64) -> std::result::Result<T, BadOption> {
    options::whole(v).ok_or_else(|| out_of_range(option, "a whole number >= 0", v))
}

impl TryFrom<LeakOptions> for memstats::LeakOptions {
    type Error = BadOption;

    fn try_from(js: LeakOptions) -> std::result::Result<Self, BadOption> {
        let mut o = memstats::LeakOptions::default();
        if let Some(rule) = js.rule.as_deref() {
            o.rule = match rule {
                "trend" => LeakRule::Trend,
                "classic" => LeakRule::Classic,
                other => {
                    return Err(BadOption::Type(format!(
                        "leak option \"rule\" must be 'trend' or 'classic', got {other:?}"
                    )))
                }
            };
        }
        if let Some(v) = js.consecutive_growth {
            o.consecutive_growth = whole(LeakOption::ConsecutiveGrowth, v)?;
        }
        if let Some(v) = js.window {
            o.window = whole(LeakOption::Window, v)?;
        }
        if let Some(v) = js.min_growth {
            o.min_growth = whole(LeakOption::MinGrowth, v)?;
        }
        if let Some(v) = js.significance {
            o.significance = v;
        }
        if let Some(v) = js.fast_gcs {
            o.fast_gcs = whole(LeakOption::FastGcs, v)?;
        }
        if let Some(v) = js.fast_min_growth {
            o.fast_min_growth = whole(LeakOption::FastMinGrowth, v)?;
        }
        if let Some(v) = js.fast_min_ratio {
            o.fast_min_ratio = v;
        }
        if let Some(v) = js.external {
            o.external = v;
        }
        Ok(o)
    }
}

impl From<GcCounters> for GcKindFigures {
    fn from(c: GcCounters) -> Self {
        kind_figures(&c.counts, 1.0)
    }
}

impl From<HeapFigures> for HeapStatistics {
    fn from(h: HeapFigures) -> Self {
        HeapStatistics {
            used_heap_size: h.used_heap_size as f64,
            total_heap_size: h.total_heap_size as f64,
            total_physical_size: h.total_physical_size as f64,
            total_available_size: h.total_available_size as f64,
            heap_size_limit: h.heap_size_limit as f64,
            malloced_memory: h.malloced_memory as f64,
            external_memory: h.external_memory as f64,
            number_of_native_contexts: h.number_of_native_contexts as f64,
            number_of_detached_contexts: h.number_of_detached_contexts as f64,
            total_allocated_bytes: h.total_allocated_bytes.map(|b| b as f64),
            rss: h.rss.map(|b| b as f64),
        }
    }
}

impl From<HeapStatistics> for HeapFigures {
    fn from(h: HeapStatistics) -> Self {
        let u = |v: f64| v.max(0.0) as u64;
        HeapFigures {
            used_heap_size: u(h.used_heap_size),
            total_heap_size: u(h.total_heap_size),
            total_physical_size: u(h.total_physical_size),
            total_available_size: u(h.total_available_size),
            heap_size_limit: u(h.heap_size_limit),
            malloced_memory: u(h.malloced_memory),
            external_memory: u(h.external_memory),
            number_of_native_contexts: u(h.number_of_native_contexts),
            number_of_detached_contexts: u(h.number_of_detached_contexts),
            total_allocated_bytes: h.total_allocated_bytes.map(u),
            rss: h.rss.map(u),
            ..HeapFigures::default()
        }
    }
}

fn kind_figures(values: &[u64; 5], scale: f64) -> GcKindFigures {
    let v = |k: GcKind| values[k as usize] as f64 * scale;
    GcKindFigures {
        scavenge: v(GcKind::Scavenge),
        minor_mark_sweep: v(GcKind::MinorMarkSweep),
        mark_sweep_compact: v(GcKind::MarkSweepCompact),
        incremental_marking: v(GcKind::IncrementalMarking),
        process_weak_callbacks: v(GcKind::ProcessWeakCallbacks),
    }
}

impl From<memstats::StatsEvent> for GcStats {
    fn from(ev: memstats::StatsEvent) -> Self {
        let c = &ev.classic;
        let s = &ev.sample;
        GcStats {
            num_full_gc: c.num_full_gc as f64,
            num_inc_gc: c.num_inc_gc as f64,
            heap_compactions: c.heap_compactions as f64,
            estimated_base: c.estimated_base as f64,
            current_base: c.current_base as f64,
            min: c.min as f64,
            max: c.max as f64,
            usage_trend: c.usage_trend,
            external_estimated_base: ev.external.estimated_base as f64,
            external_usage_trend: ev.external.usage_trend,
            native_memory: s.heap.native_estimate().map(|b| b as f64),
            source: s.source.as_str().to_owned(),
            forced: s.forced,
            gc_time: s.time_ms,
            pause_ms: s.pause_ns as f64 / 1e6,
            heap: s.heap.into(),
            gc_counts: s.counters.into(),
            gc_pause_ms: kind_figures(&s.counters.pause_ns, 1e-6),
            dropped: ev.dropped as f64,
        }
    }
}

impl From<memstats::LeakEvent> for LeakEvent {
    fn from(r: memstats::LeakEvent) -> Self {
        LeakEvent {
            memory: r.memory.as_str().to_owned(),
            start_ms: r.start_ms,
            end_ms: r.end_ms,
            growth: r.growth as f64,
            gcs: r.gcs,
            reason: r.reason,
        }
    }
}

impl From<Event> for GcEvent {
    fn from(ev: Event) -> Self {
        match ev {
            Event::Stats(s) => GcEvent {
                kind: "stats".into(),
                stats: Some((*s).into()),
                leak: None,
            },
            Event::Leak(r) => GcEvent {
                kind: "leak".into(),
                stats: None,
                leak: Some(r.into()),
            },
        }
    }
}

/// What the JS dispatcher of `gcWatch` receives: the drained samples as events.
struct GcEvents;

impl Delivery for GcEvents {
    type Batch = Vec<GcEvent>;

    fn drain(state: &EnvState) -> Option<Vec<GcEvent>> {
        let events = drain_events(state);
        (!events.is_empty()).then_some(events)
    }
}

fn drain_events(state: &EnvState) -> Vec<GcEvent> {
    let (samples, dropped) = {
        let mut recorder = state.recorder();
        (recorder.drain(), recorder.dropped())
    };
    if samples.is_empty() {
        return Vec::new();
    }
    let events = {
        let mut watcher = state.watcher();
        let events = watcher.observe(samples, dropped);
        state.metrics.set_figures(watcher.figures());
        events
    };
    events.into_iter().map(GcEvent::from).collect()
}

/// Starts watching this thread's isolate and routes its events to `dispatch`. Idempotent per
/// environment; later calls only replace nothing and report the status.
#[napi(catch_unwind)]
pub fn gc_watch(env: Env, dispatch: Function<'_, Vec<GcEvent>, ()>) -> Result<HookStatus> {
    let state = env_state(&env)?;
    deliver::start::<GcEvents, _>(&env, state, &dispatch)?;
    Ok(status(state))
}

fn status(state: &EnvState) -> HookStatus {
    let api = crate::v8::api().ok();
    let counters = state.recorder().counters();
    HookStatus {
        installed: state.hook.is_ok(),
        reason: state.hook.as_ref().err().cloned(),
        native_gc: api.is_some_and(|a| a.low_memory_notification.is_ok()),
        native_snapshot: api.is_some_and(|a| a.snapshot.is_ok()),
        census: api.is_some_and(|a| a.census.is_ok()),
        v8_version: api.map(|a| a.v8_version.clone()),
        active: state.active.load(Ordering::Relaxed),
        counts: counters.into(),
        callbacks: state.callbacks.load(Ordering::Relaxed) as f64,
        callback_ms: state.callback_ns.load(Ordering::Relaxed) as f64 / 1e6,
        native_bytes: crate::alloc::live_bytes() as f64,
        native_peak_bytes: crate::alloc::peak_bytes() as f64,
    }
}

#[napi(catch_unwind)]
pub fn gc_status(env: Env) -> Result<HookStatus> {
    Ok(status(env_state(&env)?))
}

/// Heap figures are read inside GCs only while this is on (a `stats` or `leak` listener exists).
#[napi(catch_unwind)]
pub fn gc_set_active(env: Env, active: bool) -> Result<()> {
    env_state(&env)?.active.store(active, Ordering::Relaxed);
    Ok(())
}

/// A forced, compacting full GC via `LowMemoryNotification` (no `--expose-gc` needed). V8 runs
/// two mark-compacts for it; they are reported as one `stats` event, like one classic `gc()`.
/// Returns false where the entry point is missing (the JS layer then uses its fallback).
#[napi(catch_unwind)]
pub fn gc_force(env: Env) -> Result<bool> {
    let state = env_state(&env)?;
    let Ok(api) = crate::v8::api() else {
        return Ok(false);
    };
    if api.low_memory_notification.is_err() {
        return Ok(false);
    }
    let Some(isolate) = state.js_isolate(&env) else {
        return Ok(false);
    };
    state.recorder().forced_started();
    let start = now_ns();
    isolate.low_memory_notification();
    let wall = now_ns() - start;
    let record = state.hook.is_ok() && state.active.load(Ordering::Relaxed);
    let queued = state.recorder().forced_ended(wall, record, || {
        hook::read_heap(state.isolate).map(|heap| (now_ms(), heap))
    });
    if queued {
        state.ping();
    }
    Ok(true)
}

/// Feeds one `perf_hooks` GC entry where the V8 hook is not installed, so that the fallback
/// goes through the same recording, statistics and leak rule. `heap` is
/// `v8.getHeapStatistics()` for a major GC; for the others nothing needs reading.
#[napi(catch_unwind)]
pub fn gc_feed_perf_entry(
    env: Env,
    kind: u32,
    duration_ms: f64,
    heap: Option<HeapStatistics>,
) -> Result<()> {
    let state = env_state(&env)?;
    let Some(kind) = GcKind::from_bits(kind) else {
        return Ok(());
    };
    let pause_ns = (duration_ms.max(0.0) * 1e6) as u64;
    state.record_pause(kind, pause_ns);
    let active = state.active.load(Ordering::Relaxed);
    let queued = state
        .recorder()
        .gc_ended(kind, pause_ns, active, Source::PerfHooks, || {
            heap.map(|h| (now_ms(), h.into()))
        });
    if queued {
        state.ping();
    }
    Ok(())
}

/// Replaces the leak rule's options; resets its history.
#[napi(catch_unwind)]
pub fn gc_set_leak_options(env: Env, opts: LeakOptions) -> Result<()> {
    let state = env_state(&env)?;
    let bad = |e: BadOption| e.throw(&env);
    let opts = memstats::LeakOptions::try_from(opts).map_err(bad)?;
    let mut watcher = state.watcher();
    watcher
        .set_leak_options(opts)
        .map_err(|e| bad(out_of_range(e.option, e.requirement, e.got)))?;
    state.metrics.set_figures(watcher.figures());
    Ok(())
}

/// Every leak option at its default: the one place the JS layer and the docs' checks read them.
#[napi]
pub fn leak_option_defaults() -> LeakOptions {
    memstats::LeakOptions::default().into()
}
