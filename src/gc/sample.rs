//! What one GC leaves behind for the JS thread to turn into events.

use crate::v8::heap_stats::HeapFigures;

/// GC kinds as V8's `GCType` bits; the same values on V8 11–14.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcKind {
    Scavenge = 0,
    MinorMarkSweep = 1,
    MarkSweepCompact = 2,
    IncrementalMarking = 3,
    ProcessWeakCallbacks = 4,
}

pub const GC_KINDS: usize = 5;

impl GcKind {
    pub fn from_v8_type(t: u32) -> Option<GcKind> {
        Some(match t {
            1 => GcKind::Scavenge,
            2 => GcKind::MinorMarkSweep,
            4 => GcKind::MarkSweepCompact,
            8 => GcKind::IncrementalMarking,
            16 => GcKind::ProcessWeakCallbacks,
            _ => return None,
        })
    }

    /// `perf_hooks` GC entry kinds (`NODE_PERFORMANCE_GC_*`) use the same bit values as V8.
    pub fn from_perf_hooks_kind(k: u32) -> Option<GcKind> {
        Self::from_v8_type(k)
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
    pub counts: [u64; GC_KINDS],
    pub pause_ns: [u64; GC_KINDS],
}

impl GcCounters {
    pub fn record(&mut self, kind: GcKind, pause_ns: u64) {
        self.counts[kind as usize] += 1;
        self.pause_ns[kind as usize] += pause_ns;
    }

    pub fn full(&self) -> u64 {
        self.counts[GcKind::MarkSweepCompact as usize]
    }

    /// The classic `num_inc_gc`: every GC that is not a mark-sweep-compact.
    pub fn other(&self) -> u64 {
        self.counts.iter().sum::<u64>() - self.full()
    }
}

/// Captured right after a full GC (or a forced `gc()`), delivered to JS later.
#[derive(Clone, Copy, Debug)]
pub struct FullGcSample {
    pub time_ms: f64,
    pub pause_ns: u64,
    pub forced: bool,
    pub source: Source,
    pub heap: HeapFigures,
    pub counters: GcCounters,
}
