//! Every GC's pause, kept for metrics systems without any work on the JS thread per GC.
//!
//! Two shapes, because the two systems take histograms differently:
//!
//! * [`PauseHistogram`]: cumulative bucket counts and sums per GC type, what Prometheus scrapes.
//!   Recording is a bucket search and two relaxed atomic additions inside the GC epilogue; any
//!   thread can read it at scrape time, so a worker's histogram is read from the main thread
//!   without a lock that the worker's GC could ever wait on (or skip a GC for).
//! * [`PauseRing`]: the raw pauses, for OpenTelemetry's record-only `Histogram` (whose
//!   aggregation the SDK's views decide). A bounded single-producer ring: the GC epilogue pushes,
//!   a collection drains; when full, pauses are counted as dropped, never blocking the GC.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::record::GcKind;

/// GC types as OpenTelemetry's semantic conventions name them (`v8js.gc.type`), which
/// prom-client's `kind` label also uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcType {
    /// Mark-sweep-compact.
    Major = 0,
    /// Scavenge or minor mark-sweep.
    Minor = 1,
    /// Incremental marking.
    Incremental = 2,
    /// Processing of weak callbacks.
    WeakCallbacks = 3,
}

/// Every type, in label order, for exporters that list them all.
pub const GC_TYPES: [GcType; 4] = [
    GcType::Major,
    GcType::Minor,
    GcType::Incremental,
    GcType::WeakCallbacks,
];

impl GcType {
    /// The `v8js.gc.type` / `kind` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            GcType::Major => "major",
            GcType::Minor => "minor",
            GcType::Incremental => "incremental",
            GcType::WeakCallbacks => "weakcb",
        }
    }

    fn from_index(i: u64) -> GcType {
        GC_TYPES[(i as usize).min(3)]
    }
}

impl From<GcKind> for GcType {
    /// A minor mark-sweep (V8's alternative young-generation collector) is a minor GC too.
    fn from(kind: GcKind) -> Self {
        match kind {
            GcKind::MarkSweepCompact => GcType::Major,
            GcKind::Scavenge | GcKind::MinorMarkSweep => GcType::Minor,
            GcKind::IncrementalMarking => GcType::Incremental,
            GcKind::ProcessWeakCallbacks => GcType::WeakCallbacks,
        }
    }
}

/// Upper bounds (inclusive, as Prometheus' `le`) of the pause buckets, ns: 0.1 ms to 5 s, dense
/// where scavenges (0.1–5 ms) and full GCs (5 ms–1 s) fall. One more bucket takes the rest.
pub const PAUSE_BOUNDS_NS: [u64; 15] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
];

/// Buckets per type: one per bound and one past the last.
pub const PAUSE_BUCKETS: usize = PAUSE_BOUNDS_NS.len() + 1;

/// One type's pauses as read: per-bucket (not cumulative) counts, the last one past every bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PauseCounts {
    /// Pauses per bucket, `PAUSE_BOUNDS_NS` order.
    pub buckets: [u64; PAUSE_BUCKETS],
    /// All pauses summed, ns (Prometheus' `_sum`).
    pub sum_ns: u64,
}

impl PauseCounts {
    /// Pauses counted (Prometheus' `_count`).
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Prometheus' cumulative counts, one per bound and a last one for `+Inf` (= `count()`).
    pub fn cumulative(&self) -> [u64; PAUSE_BUCKETS] {
        let mut acc = 0;
        self.buckets.map(|b| {
            acc += b;
            acc
        })
    }
}

/// The bucket a pause falls in: the first bound it does not exceed.
pub(crate) fn bucket_of(pause_ns: u64) -> usize {
    PAUSE_BOUNDS_NS.partition_point(|&bound| bound < pause_ns)
}

/// Pause counts per GC type, shared between the GC hook (writer) and metrics scrapes from
/// any thread (readers): relaxed atomics, so neither side ever waits.
#[derive(Debug, Default)]
pub struct PauseHistogram {
    buckets: [[AtomicU64; PAUSE_BUCKETS]; 4],
    sum_ns: [AtomicU64; 4],
}

impl PauseHistogram {
    /// Counts one pause of a GC of type `ty`.
    pub fn record(&self, ty: GcType, pause_ns: u64) {
        let t = ty as usize;
        self.buckets[t][bucket_of(pause_ns)].fetch_add(1, Ordering::Relaxed);
        self.sum_ns[t].fetch_add(pause_ns, Ordering::Relaxed);
    }

    /// The counts so far. Read from another thread while that thread collects, a GC may show in
    /// its bucket a moment before its sum; the count is the buckets' sum, so `+Inf` always
    /// equals `_count`.
    pub fn read(&self, ty: GcType) -> PauseCounts {
        let t = ty as usize;
        PauseCounts {
            buckets: std::array::from_fn(|b| self.buckets[t][b].load(Ordering::Relaxed)),
            sum_ns: self.sum_ns[t].load(Ordering::Relaxed),
        }
    }
}

/// Pauses above this are stored as this (2^62 ns is 146 years).
const MAX_PAUSE_NS: u64 = (1 << 62) - 1;

/// Raw pauses between two drains: the type in the top two bits, ns below.
pub struct PauseRing {
    slots: Box<[AtomicU64]>,
    /// Pushed so far (only the producer writes it).
    head: AtomicU64,
    /// Drained so far (only a consumer, holding `consumer`, writes it).
    tail: AtomicU64,
    dropped: AtomicU64,
    consumer: Mutex<()>,
}

impl PauseRing {
    /// A ring of `capacity` pauses (at least one); fixed, so `push` never allocates inside a GC.
    pub fn new(capacity: usize) -> Self {
        PauseRing {
            slots: (0..capacity.max(1)).map(|_| AtomicU64::new(0)).collect(),
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            consumer: Mutex::new(()),
        }
    }

    /// Pauses it holds between two drains.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Called by the one producer (the GC epilogue of the ring's thread). Never blocks; a full
    /// ring counts the pause as dropped.
    pub fn push(&self, ty: GcType, pause_ns: u64) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        if head - tail >= self.slots.len() as u64 {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let word = (ty as u64) << 62 | pause_ns.min(MAX_PAUSE_NS);
        self.slots[(head % self.slots.len() as u64) as usize].store(word, Ordering::Relaxed);
        self.head.store(head + 1, Ordering::Release);
        true
    }

    /// Hands every pause pushed so far, oldest first, to `f`, from any thread; consumers take
    /// turns. Returns how many.
    pub fn drain(&self, mut f: impl FnMut(GcType, u64)) -> usize {
        let _turn = self.consumer.lock().unwrap_or_else(|e| e.into_inner());
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        for i in tail..head {
            let word = self.slots[(i % self.slots.len() as u64) as usize].load(Ordering::Relaxed);
            f(GcType::from_index(word >> 62), word & MAX_PAUSE_NS);
        }
        self.tail.store(head, Ordering::Release);
        (head - tail) as usize
    }

    /// Pauses lost to a full ring so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn kinds_map_to_the_semantic_convention_types() {
        let names: Vec<_> = [
            GcKind::Scavenge,
            GcKind::MinorMarkSweep,
            GcKind::MarkSweepCompact,
            GcKind::IncrementalMarking,
            GcKind::ProcessWeakCallbacks,
        ]
        .map(|k| GcType::from(k).as_str())
        .to_vec();
        assert_eq!(names, ["minor", "minor", "major", "incremental", "weakcb"]);
    }

    #[test]
    fn a_pause_on_a_bound_counts_in_that_bucket() {
        // `le` is inclusive: 1 ms exactly is in the 1 ms bucket, 1 ms + 1 ns in the next.
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(100_000), 0);
        assert_eq!(bucket_of(100_001), 1);
        assert_eq!(PAUSE_BOUNDS_NS[bucket_of(1_000_000)], 1_000_000);
        assert_eq!(PAUSE_BOUNDS_NS[bucket_of(1_000_001)], 2_500_000);
        assert_eq!(bucket_of(5_000_000_000), PAUSE_BUCKETS - 2);
        assert_eq!(bucket_of(5_000_000_001), PAUSE_BUCKETS - 1);
        assert_eq!(bucket_of(u64::MAX), PAUSE_BUCKETS - 1);
    }

    #[test]
    fn histogram_matches_a_naive_count_per_type() {
        let h = PauseHistogram::default();
        let mut rng = 0x9e3779b97f4a7c15u64;
        let mut pauses = Vec::new();
        for _ in 0..10_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let ty = GC_TYPES[(rng % 4) as usize];
            // Log-spread over 1 µs .. ~10 s.
            let ns = 1_000u64 << ((rng >> 40) % 24);
            h.record(ty, ns);
            pauses.push((ty, ns));
        }
        for ty in GC_TYPES {
            let mine: Vec<u64> = pauses
                .iter()
                .filter(|(t, _)| *t == ty)
                .map(|p| p.1)
                .collect();
            let got = h.read(ty);
            assert_eq!(got.count(), mine.len() as u64);
            assert_eq!(got.sum_ns, mine.iter().sum::<u64>());
            let cum = got.cumulative();
            for (i, bound) in PAUSE_BOUNDS_NS.iter().enumerate() {
                let naive = mine.iter().filter(|&&p| p <= *bound).count() as u64;
                assert_eq!(cum[i], naive, "{ty:?} le {bound}");
            }
            assert_eq!(cum[PAUSE_BUCKETS - 1], mine.len() as u64);
        }
    }

    #[test]
    fn ring_hands_over_every_pause_in_order_and_counts_what_did_not_fit() {
        let r = PauseRing::new(4);
        for i in 1..=3 {
            assert!(r.push(GcType::Minor, i));
        }
        let mut got = Vec::new();
        assert_eq!(r.drain(|t, ns| got.push((t, ns))), 3);
        assert_eq!(
            got,
            [(GcType::Minor, 1), (GcType::Minor, 2), (GcType::Minor, 3)]
        );
        // Wraps around; the fifth push finds the ring full.
        for (i, ty) in GC_TYPES.iter().enumerate() {
            assert!(r.push(*ty, 10 + i as u64));
        }
        assert!(!r.push(GcType::Major, 99));
        assert_eq!(r.dropped(), 1);
        got.clear();
        r.drain(|t, ns| got.push((t, ns)));
        let want: Vec<_> = GC_TYPES
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, 10 + i as u64))
            .collect();
        assert_eq!(got, want);
        assert_eq!(r.drain(|_, _| panic!("nothing left")), 0);
        assert!(r.push(GcType::Major, u64::MAX));
        r.drain(|t, ns| assert_eq!((t, ns), (GcType::Major, MAX_PAUSE_NS)));
    }

    #[test]
    fn a_consumer_on_another_thread_loses_nothing_the_producer_kept() {
        let r = Arc::new(PauseRing::new(64));
        let consumer = {
            let r = r.clone();
            std::thread::spawn(move || {
                let (mut n, mut sum, mut last) = (0u64, 0u64, 0u64);
                while n + r.dropped() < 200_000 {
                    r.drain(|_, ns| {
                        assert!(ns > last, "out of order");
                        last = ns;
                        n += 1;
                        sum += ns;
                    });
                }
                (n, sum)
            })
        };
        let mut kept = (0u64, 0u64);
        for ns in 1..=200_000u64 {
            if r.push(GcType::Minor, ns) {
                kept.0 += 1;
                kept.1 += ns;
            }
        }
        assert_eq!(consumer.join().unwrap(), kept);
        assert_eq!(kept.0 + r.dropped(), 200_000);
    }
}
