//! What metrics read of each thread, from any thread.
//!
//! A process exposes one `/metrics` endpoint (or one OpenTelemetry `MeterProvider`), on its main
//! thread, while every worker has its own isolate and GC hook. So each environment's figures
//! live in a [`ThreadMetrics`] shared between its `EnvState` and a process-wide list of the
//! threads that registered (registry.rs): the collecting thread reads them all, and a worker's
//! exit only takes its entry off the list (the `Arc` keeps a read in progress safe).

use std::sync::{Arc, Mutex, MutexGuard};

use memstats::{PauseHistogram, PauseRing, WatchFigures};

/// One top site of the last `leak` event, as the allocation sampler names it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeakSite {
    pub name: String,
    pub url: String,
    pub line: u32,
    pub column: u32,
    pub growth_bytes: f64,
    pub live_bytes: f64,
}

#[derive(Default)]
pub struct ThreadMetrics {
    /// Every GC's pause on this thread, recorded in the GC epilogue.
    pub pauses: PauseHistogram,
    /// Copied from the thread's `Watcher` after each delivery (never touched inside a GC).
    figures: Mutex<WatchFigures>,
    sites: Mutex<Vec<LeakSite>>,
    /// The consumers' handle on the ring the epilogue pushes to while OpenTelemetry listens.
    pub(super) ring: Mutex<Option<Arc<PauseRing>>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain figures: a poisoned lock holds nothing worse than a stale value.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ThreadMetrics {
    pub fn figures(&self) -> WatchFigures {
        *lock(&self.figures)
    }

    pub fn set_figures(&self, f: WatchFigures) {
        *lock(&self.figures) = f;
    }

    pub fn sites(&self) -> Vec<LeakSite> {
        lock(&self.sites).clone()
    }

    pub fn set_sites(&self, sites: Vec<LeakSite>) {
        *lock(&self.sites) = sites;
    }

    pub fn ring(&self) -> Option<Arc<PauseRing>> {
        lock(&self.ring).clone()
    }
}
