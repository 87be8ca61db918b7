//! What `heapdiff/metrics` reads at scrape or collection time: every registered thread's
//! figures and pause histograms, and the raw pauses OpenTelemetry records. Conversion only: the
//! figures come from `memstats` (`Watcher::figures`, `PauseHistogram`, `PauseRing`), the
//! per-thread sharing from `gc::metrics` and `gc::registry`.

use memstats::{GC_TYPES, PAUSE_BOUNDS_NS, PAUSE_BUCKETS};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::env_state;
use crate::gc::{metrics, registry};

/// A top site of the last `leak` event (from the allocation sampler, where it is on).
#[napi(object, js_name = "LeakSiteJs")]
pub struct LeakSite {
    pub name: String,
    pub url: String,
    pub line: u32,
    pub column: u32,
    pub growth_bytes: f64,
    pub live_bytes: f64,
}

/// One registered thread's figures.
#[napi(object, js_name = "ThreadMetricsJs", use_nullable = true)]
pub struct ThreadMetrics {
    /// `worker_threads.threadId` (0 on the main thread).
    pub thread: u32,
    /// `current_base` of the newest full GC; null before the first.
    pub post_gc_used_bytes: Option<f64>,
    pub estimated_base_bytes: Option<f64>,
    /// `usage_trend / 100`.
    pub usage_trend_ratio: Option<f64>,
    pub leak_suspected: bool,
    /// Bytes per second the leak rule sees now (0 when not growing).
    pub growth_bytes_per_second: f64,
    pub leak_events: f64,
    /// External memory after the newest full GC; null before the first.
    pub external_post_gc_bytes: Option<f64>,
    /// The external leak rule's verdict, rate and events, as the heap's above.
    pub external_leak_suspected: bool,
    pub external_growth_bytes_per_second: f64,
    pub external_leak_events: f64,
    /// Resident memory that is neither heap nor external after the newest full GC (an
    /// estimate, never judged); null where unread.
    pub native_post_gc_bytes: Option<f64>,
    /// Pause histograms since the module loaded on that thread, flat (one typed array instead
    /// of ~80 JS values per thread keeps a scrape of many workers cheap): for each GC type in
    /// the order `major`, `minor`, `incremental`, `weakcb`, bounds + 3 numbers: the cumulative
    /// count per bound of `metricsPauseBounds()`, the `+Inf` count, the summed pause in seconds
    /// and the count.
    pub pauses: Float64Array,
    pub sites: Vec<LeakSite>,
}

/// Raw pauses of one thread since the last drain.
#[napi(object, js_name = "ThreadPausesJs")]
pub struct ThreadPauses {
    pub thread: u32,
    /// Index into `['major', 'minor', 'incremental', 'weakcb']`, one per pause.
    pub types: Uint8Array,
    /// Seconds, one per pause.
    pub seconds: Float64Array,
    /// Pauses lost so far to a full ring (the collector's event loop blocked too long).
    pub dropped: f64,
}

/// The pause buckets' upper bounds, seconds.
#[napi]
pub fn metrics_pause_bounds() -> Vec<f64> {
    PAUSE_BOUNDS_NS.iter().map(|&ns| ns as f64 / 1e9).collect()
}

/// A registration on this thread: its series appear in every thread's `metricsRead()`.
#[napi(catch_unwind)]
pub fn metrics_publish(env: Env, thread: u32) -> Result<()> {
    registry::publish(env_state(&env)?, thread);
    Ok(())
}

/// The registration ended; with none left on this thread, its series go.
#[napi(catch_unwind)]
pub fn metrics_unpublish(env: Env) -> Result<()> {
    registry::unpublish(env_state(&env)?);
    Ok(())
}

/// Starts or stops keeping this thread's raw pauses for `metricsDrainPauses()`.
#[napi(catch_unwind)]
pub fn metrics_keep_pauses(env: Env, on: bool) -> Result<()> {
    registry::set_ring(env_state(&env)?, on);
    Ok(())
}

impl From<LeakSite> for metrics::LeakSite {
    fn from(s: LeakSite) -> Self {
        metrics::LeakSite {
            name: s.name,
            url: s.url,
            line: s.line,
            column: s.column,
            growth_bytes: s.growth_bytes,
            live_bytes: s.live_bytes,
        }
    }
}

impl From<metrics::LeakSite> for LeakSite {
    fn from(s: metrics::LeakSite) -> Self {
        LeakSite {
            name: s.name,
            url: s.url,
            line: s.line,
            column: s.column,
            growth_bytes: s.growth_bytes,
            live_bytes: s.live_bytes,
        }
    }
}

/// Replaces this thread's top sites of the last leak.
#[napi(catch_unwind)]
pub fn metrics_set_sites(env: Env, sites: Vec<LeakSite>) -> Result<()> {
    let sites = sites.into_iter().map(metrics::LeakSite::from).collect();
    env_state(&env)?.metrics.set_sites(sites);
    Ok(())
}

/// Every registered thread's figures, main thread first.
#[napi(catch_unwind)]
pub fn metrics_read() -> Vec<ThreadMetrics> {
    registry::published()
        .into_iter()
        .map(|(thread, m)| {
            let f = m.figures();
            let mut pauses = Vec::with_capacity(GC_TYPES.len() * (PAUSE_BUCKETS + 2));
            for ty in GC_TYPES {
                let c = m.pauses.read(ty);
                pauses.extend(c.cumulative().iter().map(|&n| n as f64));
                pauses.push(c.sum_ns as f64 / 1e9);
                pauses.push(c.count() as f64);
            }
            let sites = m.sites().into_iter().map(LeakSite::from).collect();
            ThreadMetrics {
                thread,
                post_gc_used_bytes: f.last.map(|s| s.current_base as f64),
                estimated_base_bytes: f.last.map(|s| s.estimated_base as f64),
                usage_trend_ratio: f.last.map(|s| s.usage_trend / 100.0),
                leak_suspected: f.heap.suspected,
                growth_bytes_per_second: f.heap.growth_rate,
                leak_events: f.heap.events as f64,
                external_post_gc_bytes: f.external_last.map(|s| s.current_base as f64),
                external_leak_suspected: f.external.suspected,
                external_growth_bytes_per_second: f.external.growth_rate,
                external_leak_events: f.external.events as f64,
                native_post_gc_bytes: f.native.map(|b| b as f64),
                pauses: pauses.into(),
                sites,
            }
        })
        .collect()
}

/// The raw pauses every registered thread kept since the last drain.
#[napi(catch_unwind)]
pub fn metrics_drain_pauses() -> Vec<ThreadPauses> {
    registry::published()
        .into_iter()
        .filter_map(|(thread, m)| {
            let ring = m.ring()?;
            let (mut types, mut seconds) = (Vec::new(), Vec::new());
            ring.drain(|ty, ns| {
                types.push(ty as u8);
                seconds.push(ns as f64 / 1e9);
            });
            Some(ThreadPauses {
                thread,
                types: types.into(),
                seconds: seconds.into(),
                dropped: ring.dropped() as f64,
            })
        })
        .collect()
}
