//! Registering a thread's metrics with the process-wide readers: the list of the threads
//! whose [`ThreadMetrics`] the collecting thread reads, and the switch for the ring of raw
//! pauses OpenTelemetry drains. Each takes a thread's `EnvState`, which holds its metrics.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use memstats::PauseRing;

use super::metrics::{lock, ThreadMetrics};
use super::state::EnvState;

/// Raw pauses a thread keeps between two drains for OpenTelemetry: 8192 × 8 bytes. The JS side
/// drains at every collection and every second, so only a thread running more than 8192 GCs in
/// a second while its collector's event loop is blocked loses any (counted as dropped).
pub const RING_CAPACITY: usize = 8192;

/// Starts or stops keeping raw pauses for `state`'s thread; on its own JS thread only, so no GC
/// callback of that thread runs meanwhile.
pub fn set_ring(state: &EnvState, on: bool) {
    if on {
        if !state.ring.load(Ordering::Acquire).is_null() {
            return;
        }
        let ring = Arc::new(PauseRing::new(RING_CAPACITY));
        *lock(&state.metrics.ring) = Some(ring.clone());
        state
            .ring
            .store(Arc::into_raw(ring).cast_mut(), Ordering::Release);
    } else {
        let p = state.ring.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: the pointer came from `Arc::into_raw` above and is released once.
            drop(unsafe { Arc::from_raw(p) });
        }
        lock(&state.metrics.ring).take();
    }
}

struct Entry {
    /// The `EnvState`'s address: which environment published it.
    env: usize,
    thread: u32,
    /// Registrations on that thread (Prometheus and OpenTelemetry may both be).
    holders: u32,
    metrics: Arc<ThreadMetrics>,
}

static PUBLISHED: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn key(state: &EnvState) -> usize {
    state as *const EnvState as usize
}

/// One more registration on `state`'s thread (`thread` is its `worker_threads.threadId`).
pub fn publish(state: &EnvState, thread: u32) {
    let mut list = lock(&PUBLISHED);
    if let Some(e) = list.iter_mut().find(|e| e.env == key(state)) {
        e.holders += 1;
        return;
    }
    list.push(Entry {
        env: key(state),
        thread,
        holders: 1,
        metrics: state.metrics.clone(),
    });
}

/// One registration fewer; the thread's series go when none is left.
pub fn unpublish(state: &EnvState) {
    let mut list = lock(&PUBLISHED);
    if let Some(i) = list.iter().position(|e| e.env == key(state)) {
        list[i].holders -= 1;
        if list[i].holders == 0 {
            list.remove(i);
        }
    }
}

/// The environment is going away (worker exit): its series go whatever registered them.
pub fn teardown(state: &EnvState) {
    lock(&PUBLISHED).retain(|e| e.env != key(state));
    set_ring(state, false);
}

/// The registered threads, main thread first (lowest `threadId`).
pub fn published() -> Vec<(u32, Arc<ThreadMetrics>)> {
    let mut v: Vec<_> = lock(&PUBLISHED)
        .iter()
        .map(|e| (e.thread, e.metrics.clone()))
        .collect();
    v.sort_by_key(|e| e.0);
    v
}
