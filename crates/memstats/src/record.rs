//! What the GC hook keeps of each collection until the JS thread turns it into events.
//!
//! The native module calls [`Recorder`] from inside V8's GC callbacks (and from `gc()` and the
//! `perf_hooks` fallback), so every method here is allocation-free on its common path, takes no
//! lock and never blocks: the caller holds the only reference. Which GCs make a `stats` sample,
//! how `gc()`'s collections fold into one, and what a stalled event loop costs are decided here,
//! where they can be tested without Node.

use std::collections::VecDeque;

/// Figures V8 reports about one isolate's heap, in bytes unless noted: one type for the hook's
/// native read, the fallback's `v8.getHeapStatistics()` and the `stats` event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapFigures {
    /// Memory V8 has reserved for the heap.
    pub total_heap_size: u64,
    /// The part of `total_heap_size` that holds code.
    pub total_heap_size_executable: u64,
    /// The part of `total_heap_size` backed by physical memory.
    pub total_physical_size: u64,
    /// How much more the heap may grow before it hits `heap_size_limit`.
    pub total_available_size: u64,
    /// Live objects: the figure the leak rules and `current_base` follow.
    pub used_heap_size: u64,
    /// The most the heap may reach (`--max-old-space-size`).
    pub heap_size_limit: u64,
    /// Memory V8 itself allocated with `malloc`, outside the heap.
    pub malloced_memory: u64,
    /// Memory outside the heap that objects hold (Buffers, ArrayBuffers).
    pub external_memory: u64,
    /// The highest `malloced_memory` so far.
    pub peak_malloced_memory: u64,
    /// Live top-level contexts (the main realm, `vm` contexts, iframes).
    pub number_of_native_contexts: u64,
    /// Contexts no longer in use but not yet collected; one that stays retained is a leak.
    pub number_of_detached_contexts: u64,
    /// Only V8 14+ (Node 26) reports it.
    pub total_allocated_bytes: Option<u64>,
    /// Not V8's: the process's resident set size, read at the same moment, so that what lies
    /// outside both the heap and external memory can be estimated (`None` where unread).
    pub rss: Option<u64>,
}

impl HeapFigures {
    /// Resident memory that is neither heap nor external: V8's own mallocs, Node's and native
    /// addons' allocations, thread stacks, code. The allocator keeps freed pages, so this
    /// follows the process's high-water mark more than its live allocations.
    pub fn native_estimate(&self) -> Option<u64> {
        let rss = self.rss?;
        Some(rss.saturating_sub(self.total_physical_size + self.external_memory))
    }
}

/// GC kinds as V8's `GCType` bits, which `perf_hooks` entries reuse; the same values on V8 11–14.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcKind {
    /// A young-generation copy (V8's minor GC).
    Scavenge = 0,
    /// V8's alternative young-generation collector (`--minor-ms`).
    MinorMarkSweep = 1,
    /// A full GC: the only kind that makes a `stats` sample.
    MarkSweepCompact = 2,
    /// Marking done in steps ahead of a full GC.
    IncrementalMarking = 3,
    /// A pass over weak handles' callbacks.
    ProcessWeakCallbacks = 4,
}

pub(crate) const GC_KINDS: usize = 5;

impl GcKind {
    /// From V8's `GCType` bit or a `perf_hooks` entry's `detail.kind`; `None` for anything else.
    pub fn from_bits(t: u32) -> Option<GcKind> {
        Some(match t {
            1 => GcKind::Scavenge,
            2 => GcKind::MinorMarkSweep,
            4 => GcKind::MarkSweepCompact,
            8 => GcKind::IncrementalMarking,
            16 => GcKind::ProcessWeakCallbacks,
            _ => return None,
        })
    }
}

/// Where a sample's figures came from; reported in every `stats` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Read inside V8's GC epilogue, before any JS ran: the figures the classic module promised.
    V8Callback,
    /// Read from a `perf_hooks` GC entry on the event loop, after the GC: a fallback where the V8
    /// hook cannot be installed. Figures include whatever JS allocated since.
    PerfHooks,
}

impl Source {
    /// The `source` string a `stats` event carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::V8Callback => "v8-gc-callback",
            Source::PerfHooks => "perf_hooks",
        }
    }
}

/// Per-kind counters, cumulative since the hook was installed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GcCounters {
    /// GCs of each kind, indexed by `GcKind as usize`.
    pub counts: [u64; GC_KINDS],
    /// Summed pauses of each kind, ns, indexed as `counts`.
    pub pause_ns: [u64; GC_KINDS],
}

impl GcCounters {
    /// Counts one GC of `kind` and its pause.
    pub fn record(&mut self, kind: GcKind, pause_ns: u64) {
        self.counts[kind as usize] += 1;
        self.pause_ns[kind as usize] += pause_ns;
    }

    /// The full (mark-sweep-compact) GCs: the classic `num_full_gc`.
    pub fn full(&self) -> u64 {
        self.counts[GcKind::MarkSweepCompact as usize]
    }

    /// The classic `num_inc_gc`: every GC that is not a mark-sweep-compact.
    pub fn other(&self) -> u64 {
        self.counts.iter().sum::<u64>() - self.full()
    }
}

/// Captured right after a full GC (or a forced `gc()`), delivered to JS later.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FullGcSample {
    /// Wall-clock time, ms since the epoch.
    pub time_ms: f64,
    /// The GC's pause, ns; for `gc()`, the sum of the GCs it ran.
    pub pause_ns: u64,
    /// Whether `gc()` caused it: the JS layer marks that event.
    pub forced: bool,
    /// Where the figures were read.
    pub source: Source,
    /// The heap right after the GC.
    pub heap: HeapFigures,
    /// The counters as of this GC.
    pub counters: GcCounters,
}

/// Samples kept while the JS thread is busy; beyond this the oldest are dropped (and counted)
/// so a stalled event loop cannot make the GC side grow without bound.
pub const QUEUE_CAP: usize = 1024;

/// One thread's GC record: counters for every GC, and the full-GC samples not yet delivered.
#[derive(Debug)]
pub struct Recorder {
    counters: GcCounters,
    /// >0 while `gc()` runs: its collections are summed into one sample.
    forced_depth: u32,
    forced_pause_ns: u64,
    /// Keeps its capacity across drains, so a callback only allocates when more samples pile
    /// up between two deliveries than ever before (at most `QUEUE_CAP`).
    queue: VecDeque<FullGcSample>,
    dropped: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            counters: GcCounters::default(),
            forced_depth: 0,
            forced_pause_ns: 0,
            queue: VecDeque::with_capacity(64),
            dropped: 0,
        }
    }
}

impl Recorder {
    /// The counters so far (a copy: the recorder keeps counting).
    pub fn counters(&self) -> GcCounters {
        self.counters
    }

    /// Samples lost to a full queue so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// One GC ended. Every GC is counted; a full GC outside `gc()` becomes a sample while someone
    /// listens (`active`), stamped with what `read` gives: the time (ms since the epoch) and the
    /// heap's figures (none: no sample). `read` runs only for a sample, so the common GC costs
    /// two additions. Returns whether a sample was queued, i.e. whether the JS thread has
    /// something to deliver.
    pub fn gc_ended(
        &mut self,
        kind: GcKind,
        pause_ns: u64,
        active: bool,
        source: Source,
        read: impl FnOnce() -> Option<(f64, HeapFigures)>,
    ) -> bool {
        self.counters.record(kind, pause_ns);
        if kind != GcKind::MarkSweepCompact {
            return false;
        }
        if self.forced_depth > 0 {
            self.forced_pause_ns += pause_ns;
            return false;
        }
        if !active {
            return false;
        }
        let Some((time_ms, heap)) = read() else {
            return false;
        };
        self.push(FullGcSample {
            time_ms,
            pause_ns,
            forced: false,
            source,
            heap,
            counters: self.counters,
        });
        true
    }

    /// `gc()` is about to run its collections (V8 runs two for `LowMemoryNotification`).
    pub fn forced_started(&mut self) {
        self.forced_depth += 1;
        self.forced_pause_ns = 0;
    }

    /// `gc()` returned after `wall_ns`. Its full GCs make one sample when `record` (someone
    /// listens and the hook saw them), paused for the GCs' own time or, where the hook measured
    /// none, the call's. Returns whether a sample was queued.
    pub fn forced_ended(
        &mut self,
        wall_ns: u64,
        record: bool,
        read: impl FnOnce() -> Option<(f64, HeapFigures)>,
    ) -> bool {
        self.forced_depth = self.forced_depth.saturating_sub(1);
        if !record {
            return false;
        }
        let Some((time_ms, heap)) = read() else {
            return false;
        };
        let pause_ns = if self.forced_pause_ns > 0 {
            self.forced_pause_ns
        } else {
            wall_ns
        };
        self.push(FullGcSample {
            time_ms,
            pause_ns,
            forced: true,
            source: Source::V8Callback,
            heap,
            counters: self.counters,
        });
        true
    }

    /// The samples queued so far, oldest first; the queue keeps its allocation.
    pub fn drain(&mut self) -> Vec<FullGcSample> {
        self.queue.drain(..).collect()
    }

    fn push(&mut self, sample: FullGcSample) {
        if self.queue.len() >= QUEUE_CAP {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(sample);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reading at `t` ms of a heap using `used` bytes.
    fn heap(t: f64, used: u64) -> Option<(f64, HeapFigures)> {
        Some((
            t,
            HeapFigures {
                used_heap_size: used,
                ..HeapFigures::default()
            },
        ))
    }

    #[test]
    fn kinds_follow_v8s_bits() {
        let kinds: Vec<_> = (0..32).filter_map(GcKind::from_bits).collect();
        assert_eq!(
            kinds,
            [
                GcKind::Scavenge,
                GcKind::MinorMarkSweep,
                GcKind::MarkSweepCompact,
                GcKind::IncrementalMarking,
                GcKind::ProcessWeakCallbacks
            ]
        );
        assert_eq!(GcKind::from_bits(4), Some(GcKind::MarkSweepCompact));
        assert_eq!(GcKind::from_bits(3), None);
    }

    #[test]
    fn every_gc_counts_but_only_listened_full_gcs_make_samples() {
        let mut r = Recorder::default();
        let src = Source::V8Callback;
        assert!(!r.gc_ended(GcKind::Scavenge, 10, true, src, || heap(1.0, 1)));
        assert!(!r.gc_ended(GcKind::MarkSweepCompact, 20, false, src, || heap(2.0, 2)));
        // Figures that cannot be read make no sample, but the GC still counts.
        assert!(!r.gc_ended(GcKind::MarkSweepCompact, 30, true, src, || None));
        assert!(r.gc_ended(GcKind::MarkSweepCompact, 40, true, src, || heap(4.0, 4)));
        let samples = r.drain();
        assert_eq!(samples.len(), 1);
        let s = samples[0];
        assert_eq!((s.time_ms, s.pause_ns, s.heap.used_heap_size), (4.0, 40, 4));
        assert!(!s.forced);
        assert_eq!((s.counters.full(), s.counters.other()), (3, 1));
        assert_eq!(s.counters.pause_ns[GcKind::MarkSweepCompact as usize], 90);
        assert!(r.drain().is_empty());
    }

    #[test]
    fn heap_is_not_read_unless_a_sample_is_due() {
        let mut r = Recorder::default();
        let src = Source::PerfHooks;
        let unread =
            || -> Option<(f64, HeapFigures)> { panic!("read for a GC that makes no sample") };
        r.gc_ended(GcKind::Scavenge, 1, true, src, unread);
        r.gc_ended(GcKind::MarkSweepCompact, 1, false, src, unread);
        r.forced_started();
        r.gc_ended(GcKind::MarkSweepCompact, 1, true, src, unread);
        r.forced_ended(5, false, unread);
    }

    #[test]
    fn a_forced_gc_is_one_sample_paused_for_its_collections() {
        let mut r = Recorder::default();
        let src = Source::V8Callback;
        r.forced_started();
        // LowMemoryNotification's two mark-compacts (and a scavenge) inside gc().
        assert!(!r.gc_ended(GcKind::MarkSweepCompact, 7, true, src, || heap(1.0, 1)));
        r.gc_ended(GcKind::Scavenge, 1, true, src, || heap(1.0, 1));
        assert!(!r.gc_ended(GcKind::MarkSweepCompact, 5, true, src, || heap(1.0, 1)));
        assert!(r.forced_ended(100, true, || heap(2.0, 9)));
        let s = r.drain();
        assert_eq!(s.len(), 1);
        assert!(s[0].forced);
        assert_eq!((s[0].pause_ns, s[0].heap.used_heap_size), (12, 9));
        assert_eq!(s[0].counters.full(), 2);
        // Where the hook saw none of its GCs, the call's own duration stands in.
        r.forced_started();
        assert!(r.forced_ended(100, true, || heap(3.0, 9)));
        assert_eq!(r.drain()[0].pause_ns, 100);
        // Afterwards full GCs are samples of their own again.
        assert!(r.gc_ended(GcKind::MarkSweepCompact, 3, true, src, || heap(4.0, 1)));
    }

    #[test]
    fn a_stalled_event_loop_drops_the_oldest_samples_and_counts_them() {
        let mut r = Recorder::default();
        let n = QUEUE_CAP + 10;
        for i in 0..n {
            r.gc_ended(
                GcKind::MarkSweepCompact,
                1,
                true,
                Source::V8Callback,
                || heap(i as f64, i as u64),
            );
        }
        assert_eq!(r.dropped(), 10);
        let s = r.drain();
        assert_eq!(s.len(), QUEUE_CAP);
        assert_eq!(s[0].heap.used_heap_size, 10);
        assert_eq!(s[QUEUE_CAP - 1].heap.used_heap_size, n as u64 - 1);
        assert_eq!(s[QUEUE_CAP - 1].counters.full(), n as u64);
    }
}
