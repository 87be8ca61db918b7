//! Turning queued GC samples into `stats` and `leak` events on the JS thread.
//!
//! The GC callback only queues; this runs later from a thread-safe function's JS callback (so
//! it is on the isolate's thread, outside the GC, with a handle scope open). The statistics and
//! the leak rule are plain Rust (the `memstats` crate); here they are only fed and converted.

use memstats::leak::LeakReport;
use memstats::stats::ClassicStats;

use super::sample::FullGcSample;
use super::state::EnvState;

/// One event for the JS layer, in order of occurrence.
pub enum GcEvent {
    Stats(Box<StatsEvent>),
    Leak(LeakReport),
}

pub struct StatsEvent {
    pub classic: ClassicStats,
    pub sample: FullGcSample,
}

/// Drains the queue and runs every full-GC sample through the classic statistics and the leak
/// rule. Holds no lock that a GC callback could need while JS values are later built.
pub fn drain(state: &EnvState) -> Vec<GcEvent> {
    let samples = {
        let mut gc = state.gc_side();
        // Copied out rather than taken, so the queue keeps its allocation for the callbacks.
        gc.queue.drain(..).collect::<Vec<_>>()
    };
    if samples.is_empty() {
        return Vec::new();
    }
    let mut js = state.js_side();
    let mut events = Vec::with_capacity(samples.len() + 1);
    for sample in samples {
        let mut classic = js.stats.record_full(sample.heap.used_heap_size);
        // The counters come from the hook, which sees every GC, not only those delivered while
        // someone listened.
        classic.num_full_gc = sample.counters.full();
        classic.num_inc_gc = sample.counters.other();
        let leak = js.leak.observe(sample.time_ms, sample.heap.used_heap_size);
        events.push(GcEvent::Stats(Box::new(StatsEvent { classic, sample })));
        events.extend(leak.map(GcEvent::Leak));
    }
    events
}
